/**
 * A traced repetition of any workload (fio, or a static host's network run):
 * the scenario's scripts cut to the target's kernel, attached before the
 * workload starts and proven complete (runner/traced.ts), run again while
 * their programs missed events; what the result records of each script, and
 * the metrics its maps give over the workload's I/Os.
 */
import { BpftraceError, TraceMissedError } from '../core/errors.js';
import { repId, type Check, type TraceRecord } from '../result/types.js';
import type { DetachedResult } from './detached.js';
import { scriptsFor } from './target.js';
import type { RepetitionContext } from './timed.js';
import { runTraced, type TraceRun } from './traced.js';
import { traceMetrics } from './tracing.js';

/** Attempts of a traced repetition whose programs missed events, before it fails as trace-incomplete. */
const TRACED_ATTEMPTS = 3;

/**
 * A traced repetition run again while its programs missed events (rare: an interrupt calling the traced
 * function while its own program runs on that CPU): its counts are never recorded short. The misses of
 * the attempts set aside are kept as a check.
 */
export async function tracedUntilComplete<T>(ctx: RepetitionContext, attempt: () => Promise<T>, checks: Check[]): Promise<T> {
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

export interface TracedWorkload {
  readonly res: DetachedResult;
  readonly traces: readonly TraceRun[];
  /** Per script, what the result records: its probes, how long attaching took, the proof of completeness. */
  readonly tracing: Record<string, TraceRecord>;
  /** The raw outputs to keep beside the result. */
  readonly files: Record<string, string>;
}

/** Runs the workload with the repetition's scripts attached (one at a time: runner/traced.ts says why). */
export async function traceWorkload(ctx: RepetitionContext, names: readonly string[], workload: () => Promise<DetachedResult>, timeoutMs: number, checks: Check[]): Promise<TracedWorkload> {
  const { st, signal } = ctx;
  const scripts = (await scriptsFor(st, ctx.scenario.tracing.scripts)).filter((x) => names.includes(x.name));
  const runnable = scripts.filter((x) => x.prepared.probes.length > 0);
  const out = await tracedUntilComplete(ctx, () => runTraced(st.link.session, st.remoteDir, runnable, workload, timeoutMs, signal), checks);
  const tracing = Object.fromEntries(scripts.map((x) => {
    const t = out.traces.find((y) => y.name === x.name);
    return [x.name, {
      probes: x.prepared.probes, skipped: x.prepared.skipped,
      ...(t && Number.isFinite(t.attachSeconds) ? { attach_seconds: t.attachSeconds } : {}),
      ...(t && !t.unproven ? { complete: { probes_announced: t.probesAnnounced, probes_in_kernel: t.probesInKernel, recursion_misses: t.recursionMisses, ...(Object.keys(t.missesAdded).length ? { misses_added: t.missesAdded } : {}), ...(t.sampledMisses ? { sampled_misses: t.sampledMisses } : {}) } } : {}),
    }];
  }));
  const files: Record<string, string> = {};
  for (const t of out.traces) {
    // Counts the kernel cannot vouch for stay, flagged: the analysis derives nothing from them (analysis/load.ts).
    if (t.unproven) checks.push({ name: `trace-complete:${t.name}`, ok: false, detail: t.unproven });
    files[`bpftrace-${t.name}.json`] = t.stdout;
    if (t.stderr.trim()) files[`bpftrace-${t.name}.stderr.txt`] = t.stderr;
  }
  return { res: out.fio, traces: out.traces, tracing, files };
}

/** The traced metrics of the repetition's scripts over its I/Os (per-device maps: the test device's PCI address). */
export function tracedMetrics(traces: readonly TraceRun[], ctx: { readonly ios: number; readonly pci?: string }): Record<string, number> {
  const metrics: Record<string, number> = {};
  for (const t of traces) {
    if (t.output.errors.length) throw new BpftraceError(`bpftrace ${t.name}: ${t.output.errors.join('; ')}`, { detail: t.stderr });
    Object.assign(metrics, traceMetrics(t.name, t.output, ctx));
  }
  return metrics;
}
