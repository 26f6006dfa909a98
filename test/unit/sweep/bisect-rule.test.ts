import { describe, expect, it } from 'vitest';
import type { Comparison, Verdict } from '../../../analysis/compare/index.js';
import { callStep, endpointsProblem } from '../../../sweep/bisect-rule.js';

/** A judged comparison of an exact count (per-I/O IOTLB flushes) with the fields the rule reads. */
function cmp(ref: number, cand: number, verdict: Verdict): Comparison {
  const s = (v: number) => ({ n: 1, median: v, cvPct: 0, values: [v] });
  return {
    kind: 'kernels', cell: 'c', reference: 'c', label: 'x', group: 'g', metric: 'iotlb_sync_flush_per_io', metricKind: 'count', unit: 'per I/O', better: 'lower',
    ref: s(ref), cand: s(cand), ratio: cand / ref, lower: cand / ref, upper: cand / ref, confidence: 0.95, test: 'poisson-rate', variation: 'exact', p: verdict === 'no-change' ? 1 : 1e-9, q: verdict === 'no-change' ? 1 : 1e-9,
    noisy: false, verdict, reason: verdict,
  };
}

const badVsGood = cmp(1, 2, 'regression');

describe('calling a bisect step', () => {
  it('bad: moved from good the way bad did, and no change against bad', () => {
    expect(callStep(cmp(1, 2, 'regression'), cmp(2, 2, 'no-change'), badVsGood).verdict).toBe('bad');
  });
  it('good: no change against good, and different from bad', () => {
    expect(callStep(cmp(1, 1, 'no-change'), cmp(2, 1, 'improvement'), badVsGood).verdict).toBe('good');
  });
  it('skip (exit 125) when inconclusive, halfway, or moved the other way, and says both comparisons', () => {
    const inconclusive = callStep(cmp(1, 1.5, 'inconclusive'), cmp(2, 1.5, 'inconclusive'), badVsGood);
    expect(inconclusive).toEqual({ verdict: 'skip', reason: 'against good: inconclusive (inconclusive); against bad: inconclusive (inconclusive)' });
    expect(callStep(cmp(1, 1.5, 'regression'), cmp(2, 1.5, 'improvement'), badVsGood).verdict).toBe('skip');
    expect(callStep(cmp(1, 0.5, 'improvement'), cmp(2, 0.5, 'improvement'), badVsGood).verdict).toBe('skip');
    expect(callStep('no passed repetitions', cmp(2, 2, 'no-change'), badVsGood)).toEqual({ verdict: 'skip', reason: 'against good: no passed repetitions; against bad: no-change (no-change)' });
  });
  it('refuses endpoints that do not differ', () => {
    expect(endpointsProblem(cmp(1, 1, 'no-change'), 'm')).toMatch(/does not differ from the good one in m/);
    expect(endpointsProblem(badVsGood, 'm')).toBeUndefined();
  });
});
