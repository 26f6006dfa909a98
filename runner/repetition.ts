/**
 * Stage 3: one repetition on a ready target. Uploads the job, runs fio (with
 * its bpftrace scripts attached in a traced repetition, detached from the SSH
 * session so a dropped connection does not lose it), keeps the raw outputs as
 * files, turns them into metrics (core/metrics.ts) and checks. A timing
 * repetition of a virtual-clock guest beside too much host load, or whose
 * guest clock jumped, is measured again (infra/isolation.ts); three disturbed
 * attempts fail it as host-contention.
 *
 * It returns the outcome to record; it throws what the caller handles: a lost
 * connection (reconnect and retry), a guest that died (heal), an interruption.
 */
import { repetitionShape } from '../cell/repetition.js';
import type { Cell } from '../cell/types.js';
import { timebaseOf } from '../core/clock.js';
import { BpftraceError, FioError, InterruptedError } from '../core/errors.js';
import { EXPOSURE_METRIC } from '../core/metrics.js';
import { sleep } from '../core/sleep.js';
import { consoleLogOf, guestDeath } from '../infra/guest.js';
import { GUEST_DEATH, Isolation, waitForConsoleLine, type LoadReport, type RealtimeState } from '../infra/isolation.js';
import type { InventoryDisk, InventoryTarget } from '../inventory/types.js';
import { repId, type Check, type RepOutcome, type TraceRecord } from '../result/types.js';
import type { Scenario } from '../scenario/types.js';
import { runDetached } from './detached.js';
import { failureOf } from './failure.js';
import { buildJobFile } from './fio-job.js';
import { parseFio } from './fio-parse.js';
import { checkIoPattern } from './io-pattern.js';
import type { Task } from './order.js';
import type { RepExtra } from './record.js';
import type { SshSession, ExecResult } from './ssh.js';
import { scriptsFor, type ReadyTarget } from './target.js';
import { runTraced, type TraceRun } from './traced.js';
import { traceMetrics } from './tracing.js';

/**
 * A virtual-time repetition beside more than this much other host work (CPUs,
 * averaged over the measurement) is contaminated: it is run again, and never
 * reported. A quiet host measured 0.0–0.1 here (the runner itself, sshd).
 */
export const HOST_LOAD_LIMIT_CPUS = 0.25;
/** Attempts at a contaminated repetition before it fails as host-contention. */
export const CONTAMINATED_ATTEMPTS = 3;
/** Guest time a virtual-time repetition may run past its runtime before it counts as disturbed. */
export const MAX_OVERRUN_PCT = 2;

/**
 * How far a time-based fio job overran its runtime, in guest time (%), or
 * undefined when the output does not say. Under the virtual clock an overrun
 * means the guest's clock jumped while it waited (an I/O whose completion
 * reached the guest late): the repetition is disturbed and run again.
 */
export function runtimeOverrunPct(fioStdout: string, runtimeS: number): number | undefined {
  try {
    const j = JSON.parse(fioStdout.slice(fioStdout.indexOf('{'))) as { jobs?: { job_runtime?: number }[] };
    const ms = Math.max(...(j.jobs ?? []).map((x) => x.job_runtime ?? 0));
    return ms > 0 ? (100 * (ms - runtimeS * 1000)) / (runtimeS * 1000) : undefined;
  } catch {
    return undefined;
  }
}

export function hostLoadCheck(load: LoadReport, realtime: RealtimeState, limit = HOST_LOAD_LIMIT_CPUS, discarded: readonly LoadReport[] = []): Check {
  const rt = realtime.state === 'on' ? `QEMU at SCHED_FIFO ${realtime.priority}${realtime.budgetUs ? ` (cgroup budget ${realtime.budgetUs / 1000} ms/s)` : ''}` : `QEMU at normal priority (${realtime.why})`;
  const earlier = discarded.length ? `; ${discarded.length} earlier attempt(s) discarded (other load ${discarded.map((d) => d.otherCpus.toFixed(2)).join(', ')} CPUs)` : '';
  return {
    name: 'host-load',
    ok: load.otherCpus <= Math.min(limit, HOST_LOAD_LIMIT_CPUS),
    detail: `other processes used ${load.otherCpus.toFixed(2)} CPUs during ${load.seconds.toFixed(1)} s (limit ${limit}); QEMU ${load.qemuCpus.toFixed(2)} CPUs; ${rt}${earlier}`,
  };
}

/** True while a lab guest lives (paused counts: parked guests are alive), else why it died (libvirt's state and reason). */
async function guestAlive(target: InventoryTarget): Promise<true | string> {
  const death = await guestDeath(target);
  return death ? death.why : true;
}

export function diskOf(target: InventoryTarget, cell: Cell): InventoryDisk {
  return target.disks.find((d) => d.name === cell.disk)!;
}

export interface RepetitionContext {
  readonly run: string;
  readonly scenario: Pick<Scenario, 'tracing' | 'timeouts'>;
  readonly target: InventoryTarget;
  readonly st: ReadyTarget;
  readonly task: Task;
  /** Other host load (CPUs) above which a virtual-time repetition is run again. */
  readonly loadLimit: number;
  readonly signal?: AbortSignal;
  /** A new session when the workload's connection is lost (the workload keeps running detached). */
  readonly reconnect: () => Promise<SshSession>;
  readonly onState: (state: string) => void;
}

export interface Measured {
  readonly outcome: RepOutcome;
  readonly extra: RepExtra;
}

export async function measureRepetition(ctx: RepetitionContext): Promise<Measured> {
  const { target, st, task, signal } = ctx;
  const shape = repetitionShape(task.cell, task.rep, ctx.scenario.tracing);
  const disk = diskOf(target, task.cell);
  const job = buildJobFile({ ...task.cell, job: shape.job }, { run: ctx.run, rep: repId(task.rep), path: disk.path });
  const jobPath = `${st.remoteDir}/${task.cell.id}-${repId(task.rep)}.fio`;
  // Budget: the job's own length plus the scenario's per-cell allowance.
  const timeoutMs = (task.cell.job.runtime + task.cell.job.ramp_time + ctx.scenario.timeouts.cell_s) * 1000;
  const consoleLog = consoleLogOf(target);
  const virtualTime = timebaseOf(target.vm?.clock) === 'virtual';
  const files: Record<string, string> = { 'fio.job': job };
  const base: RepExtra = { ...st.extra, job };
  const workload = () => runDetached({
    remoteDir: st.remoteDir, name: `${task.cell.id}.${repId(task.rep)}`, command: ['fio', '--output-format=json+', jobPath],
    timeoutMs, expectedMs: shape.fioSeconds * 1000,
    ...(signal ? { signal } : {}),
    ...(consoleLog ? { waitForConsole: (line: string, ms: number, sig?: AbortSignal) => waitForConsoleLine(consoleLog, line, { timeoutMs: ms, failOn: GUEST_DEATH, isAlive: () => guestAlive(target), ...(sig ? { signal: sig } : {}) }) } : {}),
    session: () => st.session,
    reconnect: async () => (st.session = await ctx.reconnect()),
  });

  await st.session.upload(jobPath, job);
  let res: ExecResult;
  let traces: TraceRun[] = [];
  let tracing: Record<string, TraceRecord> | undefined;
  const checks: Check[] = [];
  if (shape.traced) {
    const scripts = (await scriptsFor(st, ctx.scenario.tracing.scripts)).filter((x) => shape.scripts.includes(x.name));
    const runnable = scripts.filter((x) => x.prepared.probes.length > 0);
    const out = await runTraced(st.session, st.remoteDir, runnable, workload, timeoutMs, signal);
    res = out.fio;
    traces = out.traces;
    tracing = Object.fromEntries(scripts.map((x) => {
      const t = traces.find((y) => y.name === x.name);
      return [x.name, { probes: x.prepared.probes, skipped: x.prepared.skipped, ...(t && Number.isFinite(t.attachSeconds) ? { attach_seconds: t.attachSeconds } : {}) }];
    }));
    for (const t of traces) {
      files[`bpftrace-${t.name}.json`] = t.stdout;
      if (t.stderr.trim()) files[`bpftrace-${t.name}.stderr.txt`] = t.stderr;
    }
  } else {
    const timed = await timedWorkload(ctx, workload, virtualTime, shape.job.runtime);
    if (timed.kind === 'contended') return { outcome: { state: 'failed', failure: { kind: 'host-contention', message: timed.message } }, extra: { ...base, files } };
    res = timed.res;
    checks.push(...timed.checks);
  }
  if (signal?.aborted) throw new InterruptedError(`${target.name}: interrupted during ${task.cell.id} ${repId(task.rep)}`);
  files['fio.json'] = res.stdout;
  if (res.stderr) files['stderr.txt'] = res.stderr;
  const extra: RepExtra = { ...base, files, ...(tracing ? { tracing } : {}) };
  if (res.code !== 0) {
    return { outcome: { state: 'failed', failure: failureOf(new FioError(`fio exited with ${res.code}`, { detail: res.stderr })) }, extra };
  }
  try {
    const { metrics } = parseFio(res.stdout);
    const ios = metrics[EXPOSURE_METRIC] ?? 0;
    const facts = st.extra.facts.disks.find((d) => d.name === task.cell.disk);
    for (const t of traces) {
      if (t.output.errors.length) throw new BpftraceError(`bpftrace ${t.name}: ${t.output.errors.join('; ')}`, { detail: t.stderr });
      Object.assign(metrics, traceMetrics(t.name, t.output, { ios, ...(facts?.pci ? { pci: facts.pci } : {}) }));
      if (t.name === 'block-io' && facts?.majmin) checks.push(checkIoPattern(t.output, facts.majmin, task.cell.job));
    }
    return { outcome: { state: 'passed', metrics }, extra: { ...extra, checks } };
  } catch (e) {
    return { outcome: { state: 'failed', failure: failureOf(e) }, extra };
  }
}

type Timed = { readonly kind: 'measured'; readonly res: ExecResult; readonly checks: readonly Check[] } | { readonly kind: 'contended'; readonly message: string };

/**
 * A timing repetition: on a guest of this machine, QEMU at real-time priority
 * under the virtual clock and the host's other load measured; a contaminated
 * virtual-time repetition is run again.
 */
async function timedWorkload(ctx: RepetitionContext, workload: () => Promise<ExecResult>, virtualTime: boolean, runtimeS: number): Promise<Timed> {
  const { target, task, signal } = ctx;
  const discarded: LoadReport[] = [];
  for (;;) {
    const checks: Check[] = [];
    const iso = target.vm ? await Isolation.begin(target.vm.domain, { realtime: virtualTime }) : undefined;
    let load: LoadReport | undefined;
    let res: ExecResult;
    try {
      res = await workload();
    } finally {
      load = await iso?.end();
    }
    const overrun = virtualTime && res.code === 0 ? runtimeOverrunPct(res.stdout, runtimeS) : undefined;
    const jumped = overrun !== undefined && overrun > MAX_OVERRUN_PCT;
    if (jumped) checks.push({ name: 'virtual-clock', ok: false, detail: `the job ran ${overrun.toFixed(1)} % past its ${runtimeS} s of guest time: the guest's clock jumped during the measurement` });
    if (!iso || !load) {
      if (!jumped || !virtualTime) return { kind: 'measured', res, checks };
    } else {
      const check = hostLoadCheck(load, iso.realtime, ctx.loadLimit, discarded);
      if ((load.otherCpus <= ctx.loadLimit && !jumped) || !virtualTime || signal?.aborted) return { kind: 'measured', res, checks: [...checks, check] };
    }
    const why = jumped ? `the guest clock jumped (${overrun!.toFixed(1)} % overrun)` : `host busy (other load ${load!.otherCpus.toFixed(2)} CPUs)`;
    discarded.push(load ?? { seconds: 0, otherCpus: 0, qemuCpus: 0 });
    if (discarded.length >= CONTAMINATED_ATTEMPTS) {
      return { kind: 'contended', message: `${CONTAMINATED_ATTEMPTS} attempts were disturbed (last: ${why}; other host load ${discarded.map((d) => d.otherCpus.toFixed(2)).join(', ')} CPUs, limit ${ctx.loadLimit}): a virtual-time result would not be trustworthy` };
    }
    ctx.onState(`${task.cell.id} ${repId(task.rep)}: ${why}, measuring again`);
    await sleep(jumped ? 0 : 5000, signal);
  }
}
