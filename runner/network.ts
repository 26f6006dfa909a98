/**
 * Stage 3 for a network cell: one run over a test NIC (docs/network.md) —
 * iperf3 for streams, sockperf ping-pong for request/response. Its path
 * (runner/test-path.ts: a guest's link, or a static host's NIC and its peer)
 * runs the server; the client runs detached and timed like fio — QEMU at
 * real-time priority under the virtual clock, the host's load measured, a
 * disturbed repetition run again. The plugin's window is the client's run;
 * the NICs' counters around it give its packets and bytes, so every exact
 * count is per packet and per MiB on the link.
 */
import type { Cell, NetworkJob } from '../cell/types.js';
import { timebaseOf } from '../core/clock.js';
import { InterruptedError, NetworkError } from '../core/errors.js';
import type { InventoryNic } from '../inventory/types.js';
import { GuestLinkPath, PeerPath, type TestPath } from './test-path.js';
import { repetitionShape } from '../cell/repetition.js';
import { traceWorkload, tracedMetrics } from './traced-rep.js';
import { PROFILE_FILE } from '../result/profile-table.js';
import { repId, type Check } from '../result/types.js';
import type { DetachedResult } from './detached.js';
import { profiledWindow } from './exact.js';
import { failureOf } from './failure.js';
import { iperf3Error, windowTraffic, type Traffic } from './network-parse.js';
import { IPERF3, toolOfJob, type NetworkTool } from './network-tools.js';
import type { RepExtra } from './record.js';
import type { ReadyTarget } from './target.js';
import { detachedWorkload, timedWorkload, type Measured, type RepetitionContext } from './timed.js';

/** A NetworkError of the path (its server, its link) named with the target it ran for. */
const ofTarget = (target: string, e: InstanceType<typeof NetworkError>) => new NetworkError(`${target}: ${e.message}`, { ...(e.fix ? { fix: e.fix } : {}), ...(e.detail ? { detail: e.detail } : {}) });

/** The client's non-zero exit, with iperf3's own error where its JSON has one. */
const exitedError = (tool: NetworkTool, res: DetachedResult) => new NetworkError(`${tool.name} exited with ${res.code}${iperf3Error(res.stdout) ? `: ${iperf3Error(res.stdout)}` : ''}`, { detail: res.stderr });

/** The NICs' counters as read around the workload (kept beside the result: the packets and MiB come from them). */
const nicStats = (res: DetachedResult) => (res.diskStats ? `${res.diskStats.before}--\n${res.diskStats.after}` : undefined);

/** The window's packets and bytes on the link; a NetworkError when the counters could not be read. */
function trafficOf(res: DetachedResult): Traffic {
  const t = res.diskStats ? windowTraffic(res.diskStats.before, res.diskStats.after) : undefined;
  if (!t) throw new NetworkError("the test NICs' counters around the workload could not be read", { detail: nicStats(res) ?? 'none' });
  return t;
}

/** A traced repetition of a static host's network cell: bpftrace's counts over the host NIC's packets. */
async function measureTraced(ctx: RepetitionContext, o: { job: NetworkJob; tool: NetworkTool; path: TestPath; scripts: readonly string[]; workload: () => Promise<DetachedResult>; timeoutMs: number; files: Record<string, string> }): Promise<Measured> {
  const { target, st } = ctx;
  const checks: Check[] = [];
  const fail = (e: unknown): Measured => ({ outcome: { state: 'failed', failure: failureOf(e) }, extra: { ...st.extra, files: o.files, checks } });
  let out;
  try {
    out = await traceWorkload(ctx, o.scripts, o.workload, o.timeoutMs, checks);
  } catch (e) {
    if (e instanceof NetworkError) return fail(ofTarget(target.name, e));
    throw e;
  }
  const res = out.res;
  const stats = nicStats(res);
  Object.assign(o.files, out.files, { [o.tool.output]: res.stdout }, stats ? { 'nic-stats.txt': stats } : {});
  if (res.code !== 0) return fail(exitedError(o.tool, res));
  try {
    const traffic = trafficOf(res);
    const metrics = { ...o.tool.metrics(res.stdout, o.job, traffic), ...tracedMetrics(out.traces, { ios: traffic.packets, ...(o.path.pci ? { pci: o.path.pci } : {}) }) };
    return { outcome: { state: 'passed', metrics }, extra: { ...st.extra, files: o.files, tracing: out.tracing, checks } };
  } catch (e) {
    return fail(e);
  }
}

/** The cell's path (a guest's link, or a host's NIC and its peer) as the preflight found it, or why the cell cannot run on it. */
function pathOf(st: ReadyTarget, nic: InventoryNic | undefined, cell: Cell): TestPath | string {
  if (!nic) return `the target has no test NIC ${cell.disk}`;
  if (st.extra.facts.links?.iperf3 === 'missing') return "iperf3 is not installed on the target (apt-get install iperf3; the lab's image has it)";
  const end = (e: 'a' | 'b') => st.extra.facts.links?.ends.find((x) => x.link === nic.name && x.end === e);
  const [a, b] = [end('a'), end('b')];
  if (nic.kind === 'peer') return a?.ifname ? new PeerPath(nic, a) : `the preflight did not find interface ${nic.interface} of test NIC ${nic.name}`;
  if (!a?.ifname || !b?.ifname) return `the preflight did not find both NICs of test link ${nic.name}`;
  return new GuestLinkPath(() => st.link.session, nic, [a, b]);
}

export async function measureNetwork(ctx: RepetitionContext, job: NetworkJob): Promise<Measured> {
  const { target, st, task } = ctx;
  const path = pathOf(st, target.nics?.find((n) => n.name === task.cell.disk), task.cell);
  if (typeof path === 'string') return { outcome: { state: 'failed', failure: failureOf(new NetworkError(`${target.name}: ${path}`, { fix: 'look at the preflight (preflight.json beside the run)' })) }, extra: { ...st.extra, files: {} } };
  try {
    return await measureOnPath(ctx, job, path);
  } finally {
    path.close();
  }
}

async function measureOnPath(ctx: RepetitionContext, job: NetworkJob, path: TestPath): Promise<Measured> {
  const { target, st, task, signal } = ctx;
  const base: RepExtra = { ...st.extra };
  const fail = (e: unknown, files: Record<string, string> = {}): Measured => ({ outcome: { state: 'failed', failure: failureOf(e) }, extra: { ...base, files } });
  const tool = toolOfJob(job);
  const command = [...path.clientPrefix, ...tool.client(job, path.serverAddress, path.clientAddress)];
  const files: Record<string, string> = { 'command.txt': `${command.join(' ')}\n` };
  const seconds = job.runtime + (tool === IPERF3 ? job.omit : 1);
  const timeoutMs = (seconds + ctx.scenario.timeouts.cell_s) * 1000;
  const shape = repetitionShape(task.cell, task.rep, ctx.scenario.tracing);
  const detached = detachedWorkload(ctx, command, { timeoutMs, expectedMs: seconds * 1000, window: !shape.traced, devices: path.devices });
  // Each attempt gets its own server: a repetition measured again needs a new one.
  const workload = async (): Promise<DetachedResult> => {
    await path.startServer(tool);
    try {
      return await detached();
    } finally {
      // No server stays behind to run during another cell's window.
      await path.stopServer(tool);
    }
  };
  if (shape.traced) return measureTraced(ctx, { job, tool, path, scripts: shape.scripts, workload, timeoutMs, files });
  let timed;
  try {
    timed = await timedWorkload(ctx, workload, timebaseOf(target.vm?.clock) === 'virtual', job.runtime, (res, s) => tool.overrunPct(res.stdout, s));
  } catch (e) {
    if (e instanceof NetworkError) return fail(ofTarget(target.name, e), files);
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
  const stats = nicStats(res);
  if (stats) files['nic-stats.txt'] = stats;
  if (res.stderr) files['stderr.txt'] = res.stderr;
  if (res.code !== 0) return fail(exitedError(tool, res), files);
  try {
    const traffic = trafficOf(res);
    const metrics = { ...tool.metrics(res.stdout, job, traffic), ...exact?.metrics };
    return { outcome: { state: 'passed', metrics }, extra: { ...base, files, ...(exact ? { profile: exact.record } : {}), checks: [...(timed.kind === 'measured' ? timed.checks : []), ...checks] } };
  } catch (e) {
    return fail(e, files);
  }
}
