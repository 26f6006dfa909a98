/**
 * The per-repetition rule, in one place: which bpftrace scripts a repetition
 * runs, the fio job it runs (a traced one has no ramp), and the fio seconds it
 * takes. `plan` (its estimate), the runner (what it runs) and the sweep (the
 * fio time it reports) all read it.
 */
import type { TracingSpec } from '../scenario/types.js';
import { isDmaMapJob, isFioJob, isNetworkJob, type Cell, type Job } from './types.js';

export type RepKind = 'timing' | 'traced';

/** One repetition of a cell: timing repetitions run untraced, traced ones under bpftrace. */
export interface RepRef {
  readonly kind: RepKind;
  /** 1-based. */
  readonly index: number;
}

export interface RepetitionShape<J extends Job = Job> {
  /** The bpftrace scripts attached during the repetition (none for a plain timing repetition). */
  readonly scripts: readonly string[];
  readonly traced: boolean;
  /** The job as it runs in this repetition. */
  readonly job: J;
  /** The workload's own time (fio's runtime plus ramp; the DMA-map benchmark's runtime). */
  readonly workloadSeconds: number;
}

type Tracing = Pick<TracingSpec, 'scripts' | 'in_timing_repetitions'>;

/**
 * The bpftrace scripts of one repetition. A traced repetition runs one script:
 * BPF programs do not nest on a CPU, so a probe that fires in an interrupt
 * (NVMe completions unmap there) while another script's program runs is
 * silently missed. With five scripts attached at once, a 6.1 guest counted
 * 0.63 IOTLB flushes per I/O where one script alone counted 0.99. Timing
 * repetitions that a scenario explicitly traces get every script.
 */
export function tracedScripts(tracing: Tracing, rep: RepRef): readonly string[] {
  if (tracing.scripts.length === 0) return [];
  if (rep.kind === 'timing') return tracing.in_timing_repetitions ? tracing.scripts : [];
  return [tracing.scripts[(rep.index - 1) % tracing.scripts.length]!];
}

/** Traced repetitions per cell: each script gets `tracing.repetitions` of its own (none when timing repetitions trace). */
export function tracedRepetitionCount(tracing: Pick<TracingSpec, 'scripts' | 'in_timing_repetitions' | 'repetitions'>): number {
  return tracing.scripts.length > 0 && !tracing.in_timing_repetitions ? tracing.repetitions * tracing.scripts.length : 0;
}

/**
 * Traced repetitions of one cell: fio's, and a static host's network cells
 * (bpftrace is their only count). The DMA-map benchmark has none: it times
 * the mapping path inside the kernel, and a probe on that path would be in its
 * own measurement. A guest's network cells have none either: their counts come
 * from the QEMU plugin in every repetition (docs/network.md).
 */
export function tracedRepetitionsOf(cell: Pick<Cell, 'job' | 'target'>, traced: number): number {
  return isFioJob(cell.job) || (isNetworkJob(cell.job) && cell.target.kind === 'static') ? traced : 0;
}

export function repetitionShape<J extends Job>(cell: Omit<Cell, 'job'> & { readonly job: J }, rep: RepRef, tracing: Tracing): RepetitionShape<J> {
  const j: Job = cell.job;
  if (isDmaMapJob(j)) return { scripts: [], traced: false, job: cell.job, workloadSeconds: j.runtime };
  // iperf3 runs its omitted seconds first; sockperf its own warm-up (under a second).
  if (isNetworkJob(j)) {
    const scripts = tracedRepetitionsOf(cell, 1) > 0 ? tracedScripts(tracing, rep) : [];
    return { scripts, traced: scripts.length > 0, job: cell.job, workloadSeconds: j.runtime + (j.test === 'tcp-rr' ? 1 : j.omit) };
  }
  const scripts = tracedScripts(tracing, rep);
  const traced = scripts.length > 0;
  // Traced repetitions count events from attach to detach: without a ramp, fio's I/O count covers the same window.
  const job: J = traced ? { ...cell.job, ramp_time: 0 } : cell.job;
  return { scripts, traced, job, workloadSeconds: j.runtime + (traced ? 0 : j.ramp_time) };
}

/** The repetitions a cell has (timing, then traced). */
export function repetitionsOf(cell: Cell, reps: { readonly timing: number; readonly traced: number }): RepRef[] {
  return [
    ...Array.from({ length: reps.timing }, (_, i) => ({ kind: 'timing' as const, index: i + 1 })),
    ...Array.from({ length: tracedRepetitionsOf(cell, reps.traced) }, (_, i) => ({ kind: 'traced' as const, index: i + 1 })),
  ];
}

/** Seconds the cell's workload runs over all its repetitions (before boots, preflight and the lab's own overhead). */
export function cellWorkloadSeconds(cell: Cell, reps: { readonly timing: number; readonly traced: number }, tracing: Tracing): number {
  return repetitionsOf(cell, reps).reduce((n, r) => n + repetitionShape(cell, r, tracing).workloadSeconds, 0);
}
