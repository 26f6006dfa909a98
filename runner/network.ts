/**
 * Stage 3 for a network cell: one run over a test link of the guest
 * (docs/network.md) — iperf3 for streams, sockperf ping-pong for
 * request/response. The link's second end (its own network namespace) runs
 * the server; the first end runs the client, detached and timed
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
import { iperf3Error, networkMetrics, requestResponseMetrics, sockperfOverrunPct, windowTraffic, type Traffic } from './network-parse.js';
import { sizeBytes } from '../scenario/network.js';
import type { RepExtra } from './record.js';
import type { ReadyTarget } from './target.js';
import { detachedWorkload, timedWorkload, type Measured, type RepetitionContext } from './timed.js';

/** The servers' ports (iperf3's and sockperf's own). A server listens only on the second end's address, inside its namespace. */
const PORT = 5201;
const RR_PORT = 11111;
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

/** sockperf's client arguments for a request/response job: round-trip times, the guest's own clock (no TSC reads). */
export function sockperfClientArgs(job: NetworkJob, server: string): string[] {
  return ['sockperf', 'ping-pong', '--ip', server, '--port', String(RR_PORT), '--tcp', '--msg-size', String(sizeBytes(job.message_size)), '--time', String(job.runtime), '--full-rtt', '--no-rdtsc'];
}

/** What differs between the network tools: the server, the client, and what their output says. */
interface NetworkTool {
  readonly name: string;
  readonly port: number;
  server(addr: string): string;
  client(job: NetworkJob, addr: string): string[];
  metrics(stdout: string, job: NetworkJob, traffic: Traffic): Record<string, number>;
  overrunPct(stdout: string, runtimeS: number): number | undefined;
  /** The file its output is kept as. */
  readonly output: string;
}

const IPERF3: NetworkTool = {
  name: 'iperf3', port: PORT, output: 'iperf3.json',
  server: (addr) => `iperf3 --server --one-off --daemon --bind ${addr} --port ${PORT}`,
  client: iperf3ClientArgs,
  metrics: networkMetrics,
  overrunPct: (stdout, s) => iperf3OverrunPct(stdout, s),
};

const SOCKPERF: NetworkTool = {
  name: 'sockperf', port: RR_PORT, output: 'sockperf.txt',
  server: (addr) => `sockperf server --ip ${addr} --port ${RR_PORT} --tcp --daemonize`,
  client: sockperfClientArgs,
  metrics: (stdout, _job, traffic) => requestResponseMetrics(stdout, traffic),
  overrunPct: sockperfOverrunPct,
};

export const toolOfJob = (job: Pick<NetworkJob, 'test'>): NetworkTool => (job.test === 'tcp-rr' ? SOCKPERF : IPERF3);

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

/** Ends whatever runs in the second end's namespace (servers of earlier attempts): the namespace is the lab's. */
const stopServers = (nic: InventoryNic) => `ip netns pids ${shellQuote(nic.ends[1].namespace)} | xargs -r kill 2>/dev/null; true`;

/** Starts the tool's server on the second end and waits until the link carries a ping and the server listens. */
function serverStart(nic: InventoryNic, tool: NetworkTool): string {
  const q = shellQuote;
  const [a, b] = nic.ends;
  const addr = addressOf(b.address);
  return [
    stopServers(nic),
    // Every stream of the daemon away from the SSH channel, or the command waits for it to close.
    `ip netns exec ${q(b.namespace)} ${tool.server(addr)} < /dev/null > /dev/null 2>&1 || exit 3`,
    `i=0; while [ $i -lt ${READY_TRIES} ]; do ip netns exec ${q(a.namespace)} busybox ping -c 1 -W 1 -q ${addr} > /dev/null 2>&1 && ip netns exec ${q(b.namespace)} ss -Hltn 'sport = :${tool.port}' | grep -q . && exit 0; i=$((i + 1)); sleep 0.2; done`,
    `echo "no ping from ${a.namespace} to ${addr}, or no ${tool.name} server listening:"; ip -n ${q(a.namespace)} -s link; ip -n ${q(b.namespace)} -s link; exit 4`,
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
  const tool = toolOfJob(job);
  const command = ['ip', 'netns', 'exec', a.namespace, ...tool.client(job, addressOf(b.address))];
  const files: Record<string, string> = { 'command.txt': `${command.join(' ')}\n` };
  const seconds = job.runtime + (tool === IPERF3 ? job.omit : 1);
  const timeoutMs = (seconds + ctx.scenario.timeouts.cell_s) * 1000;
  const detached = detachedWorkload(ctx, command, { timeoutMs, expectedMs: seconds * 1000, window: true, devices: [`net/${a.namespace}/${ends[0].ifname}`, `net/${b.namespace}/${ends[1].ifname}`] });
  // Each attempt gets its own one-off server: a repetition measured again needs a new one.
  const workload = async (): Promise<DetachedResult> => {
    const ready = await st.link.session.exec(serverStart(nic!, tool), { timeoutMs: 180_000, allowFailure: true });
    if (ready.code !== 0) throw new NetworkError(`${target.name}: test link ${nic!.name} is not ready: ${ready.code === 3 ? `the ${tool.name} server did not start` : 'no packet crossed it, or the server did not listen'}`, { detail: `${ready.stdout}${ready.stderr}`, fix: 'the detail shows both ends\' counters; see docs/network.md' });
    try {
      return await detached();
    } finally {
      // No server stays behind to run during another cell's window.
      await st.link.session.exec(stopServers(nic!), { timeoutMs: 60_000, allowFailure: true }).catch(() => undefined);
    }
  };
  let timed;
  try {
    timed = await timedWorkload(ctx, workload, timebaseOf(target.vm?.clock) === 'virtual', job.runtime, (res, s) => tool.overrunPct(res.stdout, s));
  } catch (e) {
    if (e instanceof NetworkError) return fail(e, files);
    throw e;
  }
  timed.disturbed.forEach((out, i) => (files[`${tool.name}-disturbed-${i + 1}.${tool.output.split('.').pop()}`] = out));
  const res = timed.kind === 'measured' ? timed.res : timed.last;
  const checks: Check[] = [];
  const exact = res.code === 0 ? await profiledWindow(ctx, res, checks, 'nic-stats') : undefined;
  if (exact) files[PROFILE_FILE] = exact.table;
  if (timed.kind === 'contended' && res.code === 0) {
    if (!exact) return { outcome: { state: 'failed', failure: { kind: 'host-contention', message: timed.message } }, extra: { ...base, files } };
    return { outcome: { state: 'passed', metrics: exact.metrics }, extra: { ...base, files, profile: exact.record, checks: [...checks, { name: 'timing-dropped', ok: false, detail: `${timed.message}; the exact counts of the last attempt stand` }] } };
  }
  if (signal?.aborted) throw new InterruptedError(`${target.name}: interrupted during ${task.cell.id} ${repId(task.rep)}`);
  files[tool.output] = res.stdout;
  // The NICs' counters the packets and MiB come from, kept as read (provenance).
  if (res.diskStats) files['nic-stats.txt'] = `${res.diskStats.before}--\n${res.diskStats.after}`;
  if (res.stderr) files['stderr.txt'] = res.stderr;
  if (res.code !== 0) return fail(new NetworkError(`${tool.name} exited with ${res.code}${iperf3Error(res.stdout) ? `: ${iperf3Error(res.stdout)}` : ''}`, { detail: res.stderr }), files);
  try {
    const traffic = res.diskStats ? windowTraffic(res.diskStats.before, res.diskStats.after) : undefined;
    if (!traffic) throw new NetworkError('the test NICs\' counters around the workload could not be read', { detail: res.diskStats ? `${res.diskStats.before}\n--\n${res.diskStats.after}` : 'none' });
    const metrics = { ...tool.metrics(res.stdout, job, traffic), ...exact?.metrics };
    return { outcome: { state: 'passed', metrics }, extra: { ...base, files, ...(exact ? { profile: exact.record } : {}), checks: [...(timed.kind === 'measured' ? timed.checks : []), ...checks] } };
  } catch (e) {
    return fail(e, files);
  }
}
