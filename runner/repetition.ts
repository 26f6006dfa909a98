/**
 * Stage 3: one repetition on a ready target. A DMA-map benchmark cell runs
 * in runner/dma-map.ts, a network cell in runner/network.ts; a fio cell here: uploads the job, runs fio (with
 * its bpftrace scripts attached in a traced repetition, detached from the SSH
 * session so a dropped connection does not lose it), keeps the raw outputs as
 * files, turns them into metrics (core/metrics.ts) and checks. A timing
 * repetition of a virtual-clock guest beside too much host load, or whose
 * guest clock jumped, is measured again (runner/timed.ts); three disturbed
 * attempts fail it as host-contention.
 *
 * It returns the outcome to record; it throws what the caller handles: a lost
 * connection (reconnect and retry), a guest that died (heal), an interruption.
 */
import { repetitionShape } from '../cell/repetition.js';
import { isDmaMapJob, isNetworkJob, type Cell } from '../cell/types.js';
import { timebaseOf } from '../core/clock.js';
import { BpftraceError, FioError, InterruptedError, TraceMissedError } from '../core/errors.js';
import { EXPOSURE_METRIC } from '../core/metrics.js';
import type { InventoryDisk, InventoryTarget } from '../inventory/types.js';
import { repId, type Check, type TraceRecord } from '../result/types.js';
import { measureDmaMap } from './dma-map.js';
import { measureNetwork } from './network.js';
import { failureOf } from './failure.js';
import { buildJobFile } from './fio-job.js';
import { parseFio } from './fio-parse.js';
import { checkIoPattern } from './io-pattern.js';
import type { RepExtra } from './record.js';
import type { DetachedResult } from './detached.js';
import { profiledWindow } from './exact.js';
import type { Profiled } from './profile/guest.js';
import { PROFILE_FILE } from '../result/profile-table.js';
import { scriptsFor } from './target.js';
import { detachedWorkload, timedWorkload, type Measured, type RepetitionContext } from './timed.js';
import { runTraced, type TraceRun } from './traced.js';
import { traceMetrics } from './tracing.js';

export { HOST_LOAD_LIMIT_CPUS, hostLoadCheck, type Measured, type RepetitionContext } from './timed.js';

export function diskOf(target: InventoryTarget, cell: Cell): InventoryDisk {
  return target.disks.find((d) => d.name === cell.disk)!;
}

/** Attempts of a traced repetition whose programs missed events, before it fails as trace-incomplete. */
const TRACED_ATTEMPTS = 3;

/**
 * A traced repetition run again while its programs missed events (rare: an interrupt calling the traced
 * function while its own program runs on that CPU): its counts are never recorded short. The misses of
 * the attempts set aside are kept as a check.
 */
async function tracedUntilComplete<T>(ctx: RepetitionContext, attempt: () => Promise<T>, checks: Check[]): Promise<T> {
  for (let n = 1; ; n++) {
    try {
      return await attempt();
    } catch (e) {
      if (!(e instanceof TraceMissedError) || n >= TRACED_ATTEMPTS || ctx.signal?.aborted) throw e;
      ctx.onState(`${ctx.task.cell.id} ${repId(ctx.task.rep)}: ${e.message}; tracing again (${n + 1}/${TRACED_ATTEMPTS})`);
      checks.push({ name: 'trace-missed-events', ok: false, detail: `attempt ${n} set aside: ${e.message}` });
    }
  }
}

export async function measureRepetition(ctx: RepetitionContext): Promise<Measured> {
  const { target, st, task, signal } = ctx;
  const cellJob = task.cell.job;
  if (isDmaMapJob(cellJob)) return measureDmaMap(ctx, cellJob);
  if (isNetworkJob(cellJob)) return measureNetwork(ctx, cellJob);
  const shape = repetitionShape({ ...task.cell, job: cellJob }, task.rep, ctx.scenario.tracing);
  const disk = diskOf(target, task.cell);
  const job = buildJobFile({ ...task.cell, job: shape.job }, { run: ctx.run, rep: repId(task.rep), path: disk.path });
  const jobPath = `${st.remoteDir}/${task.cell.id}-${repId(task.rep)}.fio`;
  // Budget: the job's own length plus the scenario's per-cell allowance.
  const timeoutMs = (shape.workloadSeconds + ctx.scenario.timeouts.cell_s) * 1000;
  const virtualTime = timebaseOf(target.vm?.clock) === 'virtual';
  const files: Record<string, string> = { 'fio.job': job };
  const base: RepExtra = { ...st.extra, job };
  const workload = detachedWorkload(ctx, ['fio', '--output-format=json+', jobPath], { timeoutMs, expectedMs: shape.workloadSeconds * 1000, window: !shape.traced });

  await st.link.session.upload(jobPath, job);
  let res: DetachedResult;
  let exact: Profiled | undefined;
  let traces: TraceRun[] = [];
  let tracing: Record<string, TraceRecord> | undefined;
  const checks: Check[] = [];
  if (shape.traced) {
    const scripts = (await scriptsFor(st, ctx.scenario.tracing.scripts)).filter((x) => shape.scripts.includes(x.name));
    const runnable = scripts.filter((x) => x.prepared.probes.length > 0);
    const out = await tracedUntilComplete(ctx, () => runTraced(st.link.session, st.remoteDir, runnable, workload, timeoutMs, signal), checks);
    res = out.fio;
    traces = out.traces;
    tracing = Object.fromEntries(scripts.map((x) => {
      const t = traces.find((y) => y.name === x.name);
      return [x.name, {
        probes: x.prepared.probes, skipped: x.prepared.skipped,
        ...(t && Number.isFinite(t.attachSeconds) ? { attach_seconds: t.attachSeconds } : {}),
        ...(t && !t.unproven ? { complete: { probes_announced: t.probesAnnounced, probes_in_kernel: t.probesInKernel, recursion_misses: t.recursionMisses, ...(Object.keys(t.missesAdded).length ? { misses_added: t.missesAdded } : {}), ...(t.sampledMisses ? { sampled_misses: t.sampledMisses } : {}) } } : {}),
      }];
    }));
    for (const t of traces) {
      // Counts the kernel cannot vouch for stay, flagged: the analysis derives nothing from them (analysis/load.ts).
      if (t.unproven) checks.push({ name: `trace-complete:${t.name}`, ok: false, detail: t.unproven });
      files[`bpftrace-${t.name}.json`] = t.stdout;
      if (t.stderr.trim()) files[`bpftrace-${t.name}.stderr.txt`] = t.stderr;
    }
  } else {
    const timed = await timedWorkload(ctx, workload, virtualTime, cellJob.runtime);
    timed.disturbed.forEach((out, i) => (files[`fio-disturbed-${i + 1}.json`] = out));
    res = timed.kind === 'measured' ? timed.res : timed.last;
    // A workload that failed is named for itself (fio, with its status), never for the window it
    // cut short; a window it left is dropped by the next take (GuestProfiler.takeWindow).
    exact = res.code === 0 ? await profiledWindow(ctx, res, checks) : undefined;
    if (exact) files[PROFILE_FILE] = exact.table;
    if (timed.kind === 'contended' && res.code === 0) {
      // Host load voids a timing, never an exact count: the repetition keeps its counts and says which timing it dropped.
      if (!exact) return { outcome: { state: 'failed', failure: { kind: 'host-contention', message: timed.message } }, extra: { ...base, files } };
      return { outcome: { state: 'passed', metrics: exact.metrics }, extra: { ...base, files, profile: exact.record, checks: [...checks, { name: 'timing-dropped', ok: false, detail: `${timed.message}; the exact counts of the last attempt stand` }] } };
    }
    if (timed.kind === 'measured') checks.push(...timed.checks);
  }
  if (signal?.aborted) throw new InterruptedError(`${target.name}: interrupted during ${task.cell.id} ${repId(task.rep)}`);
  files['fio.json'] = res.stdout;
  if (res.stderr) files['stderr.txt'] = res.stderr;
  const extra: RepExtra = { ...base, files, ...(tracing ? { tracing } : {}), ...(exact ? { profile: exact.record } : {}) };
  if (res.code !== 0) {
    return { outcome: { state: 'failed', failure: failureOf(new FioError(`fio exited with ${res.code}`, { detail: res.stderr })) }, extra };
  }
  try {
    const { metrics } = parseFio(res.stdout);
    if (exact) Object.assign(metrics, exact.metrics);
    const ios = metrics[EXPOSURE_METRIC] ?? 0;
    const facts = st.extra.facts.disks.find((d) => d.name === task.cell.disk);
    for (const t of traces) {
      if (t.output.errors.length) throw new BpftraceError(`bpftrace ${t.name}: ${t.output.errors.join('; ')}`, { detail: t.stderr });
      Object.assign(metrics, traceMetrics(t.name, t.output, { ios, ...(facts?.pci ? { pci: facts.pci } : {}) }));
      if (t.name === 'block-io' && facts?.majmin) checks.push(checkIoPattern(t.output, facts.majmin, cellJob));
    }
    return { outcome: { state: 'passed', metrics }, extra: { ...extra, checks } };
  } catch (e) {
    return { outcome: { state: 'failed', failure: failureOf(e) }, extra };
  }
}

