/**
 * Stage 3 for a network cell: one iperf3 run over a test link of the guest
 * (docs/network.md). The link's second end (its own network namespace) runs a
 * one-off iperf3 server; the first end runs the client, detached and timed
 * like fio — QEMU at real-time priority under the virtual clock, the host's
 * load measured, a disturbed repetition run again. The plugin's window is
 * the client's run; the NICs' counters around it give its packets and bytes,
 * so every exact count is per packet and per MiB on the link.
 */
import type { Cell, NetworkJob } from '../cell/types.js';
import { timebaseOf } from '../core/clock.js';
import { InterruptedError, NetworkError } from '../core/errors.js';
import type { InventoryNic } from '../inventory/types.js';
import { PROFILE_FILE } from '../result/profile-table.js';
import { repId, type Check } from '../result/types.js';
import { shellQuote } from '../transport/ssh.js';
import type { DetachedResult } from './detached.js';
import { profiledWindow } from './exact.js';
import { failureOf } from './failure.js';
import type { LinkEndFacts } from './links.js';
import { iperf3Error, networkMetrics, windowTraffic } from './network-parse.js';
import type { RepExtra } from './record.js';
import type { ReadyTarget } from './target.js';
import { detachedWorkload, timedWorkload, type Measured, type RepetitionContext } from './timed.js';

/** iperf3's own port. The server listens only on the second end's address, inside its namespace. */
const PORT = 5201;
/** Tries (0.2 s apart, each ping waiting up to 1 s) for the link to carry a ping and the server to listen. The image has busybox's ping (no iputils). */
const READY_TRIES = 100;

const addressOf = (cidr: string) => cidr.split('/')[0]!;

/** The iperf3 client's arguments for a job (iperf3 3.12: -P, -l, -R, --bidir, -u -b, -O, -J). */
export function iperf3ClientArgs(job: NetworkJob, server: string): string[] {
  return [
    'iperf3', '--client', server, '--port', String(PORT), '--json',
    '--time', String(job.runtime), '--omit', String(job.omit),
    '--parallel', String(job.flows), '--length', String(job.message_size),
    ...(job.direction === 'receive' ? ['--reverse'] : job.direction === 'bidirectional' ? ['--bidir'] : []),
    ...(job.test === 'udp-stream' ? ['--udp', '--bitrate', job.udp_rate ?? '1M'] : []),
  ];
}

/** How far iperf3 ran past its measured seconds, in guest time (%): the virtual clock's jump check. */
export function iperf3OverrunPct(stdout: string, runtimeS: number): number | undefined {
  try {
    const j = JSON.parse(stdout.slice(stdout.indexOf('{'))) as { end?: { sum_sent?: { seconds?: number }; sum?: { seconds?: number } } };
    const s = j.end?.sum_sent?.seconds ?? j.end?.sum?.seconds;
    return s && s > 0 ? (100 * (s - runtimeS)) / runtimeS : undefined;
  } catch {
    return undefined;
  }
}

/** The link's two ends as the preflight found them, or why the cell cannot run on it. */
function endsOf(st: ReadyTarget, nic: InventoryNic | undefined, cell: Cell): readonly [LinkEndFacts, LinkEndFacts] | string {
  if (!nic) return `the target has no test link ${cell.disk}`;
  const ends = (['a', 'b'] as const).map((e) => st.extra.facts.links?.ends.find((x) => x.link === nic.name && x.end === e));
  if (!ends[0]?.ifname || !ends[1]?.ifname) return `the preflight did not find both NICs of test link ${nic.name}`;
  if (st.extra.facts.links?.iperf3 === 'missing') return 'iperf3 is not installed on the target (apt-get install iperf3; the lab\'s image has it)';
  return [ends[0], ends[1]];
}

/** Starts a one-off server on the second end and waits until the link carries a ping and the server listens. */
function serverStart(st: ReadyTarget, nic: InventoryNic): string {
  const q = shellQuote;
  const [a, b] = nic.ends;
  const addr = addressOf(b.address);
  const pid = `${st.remoteDir}/iperf3-${nic.name}.pid`;
  const log = `${st.remoteDir}/iperf3-${nic.name}.log`;
  return [
    `[ -f ${q(pid)} ] && kill "$(cat ${q(pid)})" 2>/dev/null; rm -f ${q(pid)}`,
    `ip netns exec ${q(b.namespace)} iperf3 --server --one-off --daemon --bind ${addr} --port ${PORT} --pidfile ${q(pid)} --logfile ${q(log)} || exit 3`,
    `i=0; while [ $i -lt ${READY_TRIES} ]; do ip netns exec ${q(a.namespace)} busybox ping -c 1 -W 1 -q ${addr} > /dev/null 2>&1 && ip netns exec ${q(b.namespace)} ss -Hltn 'sport = :${PORT}' | grep -q . && exit 0; i=$((i + 1)); sleep 0.2; done`,
    `echo "no ping from ${a.namespace} to ${addr}, or no server listening:"; cat ${q(log)} 2>/dev/null; ip -n ${q(a.namespace)} -s link; ip -n ${q(b.namespace)} -s link; exit 4`,
  ].join('\n');
}

export async function measureNetwork(ctx: RepetitionContext, job: NetworkJob): Promise<Measured> {
  const { target, st, task, signal } = ctx;
  const base: RepExtra = { ...st.extra };
  const fail = (e: unknown, files: Record<string, string> = {}): Measured => ({ outcome: { state: 'failed', failure: failureOf(e) }, extra: { ...base, files } });
  const nic = target.nics?.find((n) => n.name === task.cell.disk);
  const ends = endsOf(st, nic, task.cell);
  if (typeof ends === 'string') return fail(new NetworkError(`${target.name}: ${ends}`, { fix: 'look at the preflight (preflight.json beside the run)' }));
  const [a, b] = nic!.ends;
  const command = ['ip', 'netns', 'exec', a.namespace, ...iperf3ClientArgs(job, addressOf(b.address))];
  const files: Record<string, string> = { 'command.txt': `${command.join(' ')}\n` };
  const seconds = job.runtime + job.omit;
  const timeoutMs = (seconds + ctx.scenario.timeouts.cell_s) * 1000;
  const detached = detachedWorkload(ctx, command, { timeoutMs, expectedMs: seconds * 1000, window: true, devices: [`net/${a.namespace}/${ends[0].ifname}`, `net/${b.namespace}/${ends[1].ifname}`] });
  // Each attempt gets its own one-off server: a repetition measured again needs a new one.
  const workload = async (): Promise<DetachedResult> => {
    const ready = await st.link.session.exec(serverStart(st, nic!), { timeoutMs: 180_000, allowFailure: true });
    if (ready.code !== 0) throw new NetworkError(`${target.name}: test link ${nic!.name} is not ready: ${ready.code === 3 ? 'the iperf3 server did not start' : 'no packet crossed it, or the server did not listen'}`, { detail: `${ready.stdout}${ready.stderr}`, fix: 'the detail shows both ends\' counters; see docs/network.md' });
    return detached();
  };
  let timed;
  try {
    timed = await timedWorkload(ctx, workload, timebaseOf(target.vm?.clock) === 'virtual', job.runtime, (res, s) => iperf3OverrunPct(res.stdout, s));
  } catch (e) {
    if (e instanceof NetworkError) return fail(e, files);
    throw e;
  }
  timed.disturbed.forEach((out, i) => (files[`iperf3-disturbed-${i + 1}.json`] = out));
  const res = timed.kind === 'measured' ? timed.res : timed.last;
  const checks: Check[] = [];
  const exact = res.code === 0 ? await profiledWindow(ctx, res, checks, 'nic-stats') : undefined;
  if (exact) files[PROFILE_FILE] = exact.table;
  if (timed.kind === 'contended' && res.code === 0) {
    if (!exact) return { outcome: { state: 'failed', failure: { kind: 'host-contention', message: timed.message } }, extra: { ...base, files } };
    return { outcome: { state: 'passed', metrics: exact.metrics }, extra: { ...base, files, profile: exact.record, checks: [...checks, { name: 'timing-dropped', ok: false, detail: `${timed.message}; the exact counts of the last attempt stand` }] } };
  }
  if (signal?.aborted) throw new InterruptedError(`${target.name}: interrupted during ${task.cell.id} ${repId(task.rep)}`);
  files['iperf3.json'] = res.stdout;
  // The NICs' counters the packets and MiB come from, kept as read (provenance).
  if (res.diskStats) files['nic-stats.txt'] = `${res.diskStats.before}--\n${res.diskStats.after}`;
  if (res.stderr) files['stderr.txt'] = res.stderr;
  if (res.code !== 0) return fail(new NetworkError(`iperf3 exited with ${res.code}${iperf3Error(res.stdout) ? `: ${iperf3Error(res.stdout)}` : ''}`, { detail: res.stderr }), files);
  try {
    const traffic = res.diskStats ? windowTraffic(res.diskStats.before, res.diskStats.after) : undefined;
    if (!traffic) throw new NetworkError('the test NICs\' counters around the workload could not be read', { detail: res.diskStats ? `${res.diskStats.before}\n--\n${res.diskStats.after}` : 'none' });
    const metrics = { ...networkMetrics(res.stdout, job, traffic), ...exact?.metrics };
    return { outcome: { state: 'passed', metrics }, extra: { ...base, files, ...(exact ? { profile: exact.record } : {}), checks: [...(timed.kind === 'measured' ? timed.checks : []), ...checks] } };
  } catch (e) {
    return fail(e, files);
  }
}
