/**
 * How a bisect step is called good, bad or skipped, from the statistics
 * (analysis/compare.ts) and never from a raw threshold: the step is compared
 * with both endpoints, each comparison judged on its own.
 *
 * - bad: it differs from the good endpoint in the direction the bad one does,
 *   and shows no change against the bad endpoint;
 * - good: no change against the good endpoint, and it differs from the bad one;
 * - skip (git bisect's exit 125): anything else — inconclusive, or between the
 *   two, or a change the other way. Skipping is honest: git then tests a
 *   neighbour, and says so if the first bad commit cannot be pinned down.
 *
 * Exact metrics (the QEMU plugin's instructions and calls per I/O, e.g.
 * insn_iommu_per_io, calls_sync_inval_per_io) are the natural bisect metric on
 * emulated guests: one timing repetition a side decides, on any clock, because
 * they are compared above a known floor (docs/statistics.md, "Exact metrics").
 * bpftrace counts need one traced repetition a side. Timings need
 * the virtual clock and repetitions enough for the U test, and boots: 2 or more
 * when a step is compared across boots.
 */
import type { Comparison } from '../analysis/compare/index.js';

export type StepVerdict = 'good' | 'bad' | 'skip';

export interface StepCall {
  readonly verdict: StepVerdict;
  readonly reason: string;
}

const changed = (c: Comparison) => c.verdict === 'regression' || c.verdict === 'improvement';
const say = (what: string, c: Comparison | string) => (typeof c === 'string' ? `${what}: ${c}` : `${what}: ${c.verdict} (${c.reason})`);

/** Why the endpoints cannot drive a bisection, or undefined when they differ. */
export function endpointsProblem(badVsGood: Comparison | string, metric: string): string | undefined {
  if (typeof badVsGood === 'string') return `the endpoints cannot be compared on ${metric}: ${badVsGood}`;
  if (!changed(badVsGood)) return `the bad commit does not differ from the good one in ${metric} (${badVsGood.verdict}: ${badVsGood.reason})`;
  return undefined;
}

export function callStep(vsGood: Comparison | string, vsBad: Comparison | string, badVsGood: Comparison): StepCall {
  const both = `${say('against good', vsGood)}; ${say('against bad', vsBad)}`;
  if (typeof vsGood === 'string' || typeof vsBad === 'string') return { verdict: 'skip', reason: both };
  const sameWay = (vsGood.ratio > 1) === (badVsGood.ratio > 1);
  if (changed(vsGood) && sameWay && vsBad.verdict === 'no-change') return { verdict: 'bad', reason: both };
  if (vsGood.verdict === 'no-change' && changed(vsBad)) return { verdict: 'good', reason: both };
  return { verdict: 'skip', reason: both };
}
