/**
 * Change points over nightly history (analysis/changepoint.ts): steps, drifts,
 * bad nights, counts near zero, exact counts, bad input, and the labelled
 * suite against the method that reports nothing and E-divisive.
 */
import { describe, expect, it } from 'vitest';
import { detectChanges, type Night } from '../../../analysis/changepoint.js';
import { gaussian, lognormal } from '../../../analysis/synthetic.js';
import { prng } from '../../../core/random.js';
import { cover, eDivisive, f1 } from '../../../bench/changepoint-score.js';
import { labelledSuite } from '../../../bench/changepoint-suite.js';

const nights = (levels: number[], seed = 5, cv = 0.02, reps = 10): Night[] => {
  const n = gaussian(prng(seed));
  return levels.map((l, i) => ({ run: `r${i}`, created: `2026-10-${String(i + 1).padStart(2, '0')}`, values: Array.from({ length: reps }, () => lognormal(n, l, cv)) }));
};
const raw = (v: number[]): Night[] => v.map((x, i) => ({ run: `r${i}`, created: String(i), values: [x] }));
const o = { alpha: 0.05, minEffectPct: 2 };

describe('change points over nightly history', () => {
  it('a 5 % step is suspect after one night and confirmed after two', () => {
    const flat = Array(12).fill(100);
    const one = detectChanges(nights([...flat, 95]), o);
    expect(one.points).toEqual([]);
    expect(one.latest.state).toBe('suspect');
    const two = detectChanges(nights([...flat, 95, 95]), o);
    expect(two.points).toHaveLength(1);
    expect(two.points[0]).toMatchObject({ index: 12, nights: 2 });
    expect(two.points[0]!.ratio).toBeCloseTo(0.95, 1);
    expect(two.latest.state).toBe('changed');
  });

  it('one bad night never becomes a change point, and a missing night changes nothing', () => {
    const series = nights([...Array(10).fill(100), 90, 100, 100, 100]);
    expect(detectChanges(series, o).points).toEqual([]);
    const gap = series.filter((_, i) => i !== 4);
    expect(detectChanges(gap, o).points).toEqual([]);
  });

  it('a slow drift is one drift, not a staircase of steps', () => {
    const r = detectChanges(nights(Array.from({ length: 60 }, (_, i) => 100 * 0.999 ** i), 7), { alpha: 0.05, minEffectPct: 1 });
    expect(r.points).toEqual([]);
    expect(r.drifts).toHaveLength(1);
    expect(r.drifts[0]!.perNight).toBeCloseTo(-0.1, 1);
    expect(r.drifts[0]!.totalRatio).toBeCloseTo(0.999 ** 59, 2);
  });

  it('a step after a drift is found at its night', () => {
    const r = detectChanges(nights(Array.from({ length: 50 }, (_, i) => 100 * 0.999 ** i * (i >= 35 ? 0.93 : 1)), 9), o);
    expect(r.points.map((p) => p.index)).toEqual([35]);
  });

  it('counts near zero are judged on their own scale, not as ratios', () => {
    const flat = [0, 0, 1, 0, 0, 2, 0, 1, 0, 0, 0, 1, 0, 0, 1, 0, 0, 0, 2, 0, 0, 1, 0, 0, 0];
    const r = detectChanges(raw(flat), o);
    expect(r.scale).toBe('linear');
    expect(r.points).toEqual([]);
    const step = [...flat, 4, 5, 3, 6, 4, 5, 4, 3, 5];
    const s = detectChanges(raw(step), o);
    expect(s.points.map((p) => p.index)).toEqual([flat.length]);
    expect(s.points[0]!.ratio).toBeNaN();
    expect(s.points[0]!.delta).toBeGreaterThan(3);
  });

  it('an exact count that halves is a change at once', () => {
    const r = detectChanges(raw([...Array(20).fill(1), 0.5, 0.5]), o);
    expect(r.points).toMatchObject([{ index: 20, ratio: 0.5 }]);
  });

  it('refuses bad input with a RangeError that names it (an empty or infinite night used to read "stable", p = 2)', () => {
    expect(() => detectChanges([...raw([1, 2, 3]), { run: 'bad', created: 'x', values: [] }], o)).toThrow(/nights\[3\] \(bad\) has no values/);
    expect(() => detectChanges(raw([1, Infinity, 3]), o)).toThrow(/nights\[1\]\.values\[0\] .* finite number, got Infinity/);
    expect(() => detectChanges(raw([1, 2, 3]), { alpha: NaN, minEffectPct: 2 })).toThrow(RangeError);
    expect(() => detectChanges(raw([1, 2, 3]), { alpha: 0.05, minEffectPct: -1 })).toThrow(RangeError);
  });
});

describe('the labelled suite', () => {
  it('beats the no-change baseline and E-divisive on F1 and cover (margin 5) at the defaults', () => {
    const suite = labelledSuite(2, 77);
    const score = (pred: (v: readonly number[]) => number[]) => {
      let F = 0;
      let C = 0;
      for (const s of suite) {
        const p = pred(s.values);
        F += f1([s.labels], p);
        C += cover([s.labels], p, s.values.length);
      }
      return { f1: F / suite.length, cover: C / suite.length };
    };
    const lab = score((v) => detectChanges(raw([...v]), { alpha: 0.05, minEffectPct: 5 }).points.map((p) => p.index));
    const none = score(() => []);
    const ed = score((v) => eDivisive(v, { permutations: 99 }));
    expect(lab.f1).toBeGreaterThan(none.f1);
    expect(lab.cover).toBeGreaterThan(none.cover);
    expect(lab.f1).toBeGreaterThan(ed.f1);
    expect(lab.cover).toBeGreaterThan(ed.cover);
  }, 60_000);

  it('scores as TCPDBench does: 0 counts as a change point, one match per annotation within the margin', () => {
    expect(f1([[]], [])).toBe(1);
    expect(f1([[50]], [])).toBeCloseTo(2 / 3, 10);
    expect(f1([[50]], [53])).toBe(1);
    expect(f1([[50]], [56])).toBeCloseTo(0.5, 10);
    expect(cover([[50]], [50], 100)).toBe(1);
    expect(cover([[]], [50], 100)).toBeCloseTo(0.5, 10);
  });
});
