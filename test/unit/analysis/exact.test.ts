import { describe, expect, it } from 'vitest';
import { compareSamples, EXACT_FLOOR_PCT, judgeAll, type Pending } from '../../../analysis/compare/index.js';
import { describeMetric } from '../../../core/metrics.js';

const T = { alpha: 0.05, min_effect_pct: 1, max_cv_pct: 2 };
const head = { kind: 'kernels' as const, cell: 'c', reference: 'c', label: 'patched vs base', group: 'g' };
const side = (values: number[], boot: string) => ({ values, exposures: values.map(() => 30_000), boots: values.map(() => boot) });
const insns = describeMetric('insn_iommu_per_io')!;
const syncs = describeMetric('calls_sync_inval_per_io')!;

function verdict(p: Pending | string) {
  if (typeof p === 'string') throw new Error(p);
  return judgeAll([p], [], T).comparisons[0]!;
}

describe('exact metrics: boot means against the spread across boots, never below the floor', () => {
  it('one repetition and one boot a side are enough for a 2 % change', () => {
    const c = verdict(compareSamples(side([2273.0], 'b1'), side([2318.5], 'b2'), insns, T, head));
    expect(c.metricKind).toBe('exact');
    expect(c.test).toBe('boot-t');
    expect(c).toMatchObject({ boots: { noise: { source: 'the exact floor' } } });
    expect(c.verdict).toBe('regression');
    expect(c.ratio).toBeCloseTo(2318.5 / 2273, 6);
  });

  it('a wobble below the floor is never a finding, however steady each side is', () => {
    const c = verdict(compareSamples(side([2273.001, 2273.001, 2273.001], 'b1'), side([2273.035, 2273.035, 2273.035], 'b2'), insns, T, head));
    expect(c.verdict).toBe('no-change');
    // The interval is as wide as the floor says: ±1.96·√2·0.05 % around the difference.
    expect(c.upper / c.lower).toBeGreaterThan(1 + (2 * 1.9 * Math.SQRT2 * EXACT_FLOOR_PCT) / 100);
  });

  it('uses the measured boot-to-boot spread where it is larger than the floor', () => {
    const noise = { tau2: Math.log1p(0.01) ** 2, df: 10, source: 'replicate boots' as const };
    const c = verdict(compareSamples(side([1000], 'b1'), side([1015], 'b2'), insns, T, head, { bootNoise: noise }));
    expect(c).toMatchObject({ boots: { noise: { source: 'replicate boots' } } });
    expect(c.verdict).toBe('inconclusive');
  });

  it('zero against non-zero is a difference no spread explains; zero against zero is no change', () => {
    const strict = verdict(compareSamples(side([0, 0], 'b1'), side([1, 1], 'b2'), syncs, T, head));
    expect(strict.test).toBe('zero');
    expect(strict.verdict).toBe('regression');
    const none = verdict(compareSamples(side([0], 'b1'), side([0], 'b2'), syncs, T, head));
    expect(none.verdict).toBe('no-change');
  });

  it('repetitions of one boot on both sides still get the floor (the boot offsets cancel, the floor does not)', () => {
    const c = verdict(compareSamples(side([2273.0, 2273.0], 'b1'), side([2273.2, 2273.2], 'b1'), insns, T, head));
    expect(c.test).toBe('boot-t');
    expect(c.verdict).toBe('no-change');
  });
});
