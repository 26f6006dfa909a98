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
import { FioError, InterruptedError } from '../core/errors.js';
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
import { type TraceRun } from './traced.js';
import { traceWorkload, tracedMetrics } from './traced-rep.js';

export { HOST_LOAD_LIMIT_CPUS, hostLoadCheck, type Measured, type RepetitionContext } from './timed.js';

export function diskOf(target: InventoryTarget, cell: Cell): InventoryDisk {
  return target.disks.find((d) => d.name === cell.disk)!;
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
  let traces: readonly TraceRun[] = [];
  let tracing: Record<string, TraceRecord> | undefined;
  const checks: Check[] = [];
  if (shape.traced) {
    const out = await traceWorkload(ctx, shape.scripts, workload, timeoutMs, checks);
    res = out.res;
    traces = out.traces;
    tracing = out.tracing;
    Object.assign(files, out.files);
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
    Object.assign(metrics, tracedMetrics(traces, { ios, ...(facts?.pci ? { pci: facts.pci } : {}) }));
    for (const t of traces) if (t.name === 'block-io' && facts?.majmin) checks.push(checkIoPattern(t.output, facts.majmin, cellJob));
    return { outcome: { state: 'passed', metrics }, extra: { ...extra, checks } };
  } catch (e) {
    return { outcome: { state: 'failed', failure: failureOf(e) }, extra };
  }
}

