/**
 * The statistical functions against SciPy (Debian's python3-scipy), on vectors
 * made by tools/scipy-vectors.py and stored in test/fixtures/stats. Tolerance 1e-9.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  benjaminiHochberg, betaI, binomTestP, compareRates, gammaQ, hodgesLehmann, logGamma, mannWhitney, minExactP, normIsf, normSf, power, tIsf, tSf, welchLog,
} from '../../../analysis/stats/index.js';

const V = JSON.parse(readFileSync('test/fixtures/stats/scipy-vectors.json', 'utf8'));
const close = (got: number, want: number, tol = 1e-9) => {
  // Absolute for small values, relative for large ones (gammaln of 2e5 is 2.2e6).
  const err = Math.abs(got - want) / Math.max(1, Math.abs(want));
  expect(err, `got ${got}, want ${want}`).toBeLessThan(tol);
};

describe('special functions agree with SciPy', () => {
  it('gammaln, gammaincc, betainc', () => {
    for (const [x, want] of V.special.gammaln) close(logGamma(x), want);
    for (const [a, x, want] of V.special.gammaincc) close(gammaQ(a, x), want);
    for (const [a, b, x, want] of V.special.betainc) close(betaI(x, a, b), want);
  });
  it('normal and Student t tails and their inverses', () => {
    for (const [z, want] of V.special.norm_sf) close(normSf(z), want);
    for (const [t, df, want] of V.special.t_sf) close(tSf(t, df), want);
    for (const [p, df, want] of V.special.t_isf) close(tIsf(p, df), want);
    for (const [p, want] of V.special.norm_isf) close(normIsf(p), want);
  });
});

describe('tests agree with SciPy', () => {
  it('Mann–Whitney U, exact and tie-corrected asymptotic', () => {
    for (const c of V.mannwhitneyu) {
      const r = mannWhitney(c.x, c.y);
      expect(r.method).toBe(c.method);
      close(r.u, c.u);
      close(r.p, c.p);
    }
  });
  it("Welch's t on logs", () => {
    for (const c of V.welch_log) {
      const r = welchLog(c.x, c.y)!;
      close(r.t, c.t);
      close(r.df, c.df);
      close(r.p, c.p);
    }
  });
  it('Hodges–Lehmann shift with the interval from the exact U distribution', () => {
    for (const c of V.hodges_lehmann) {
      const r = hodgesLehmann(c.x, c.y, c.level);
      close(r.estimate, c.estimate);
      close(r.lower, c.lower);
      close(r.upper, c.upper);
      close(r.confidence, c.confidence);
    }
  });
  it('Benjamini–Hochberg', () => {
    for (const c of V.benjamini_hochberg) {
      const q = benjaminiHochberg(c.p);
      c.q.forEach((want: number, i: number) => close(q[i]!, want));
    }
  });
  it('two-sided binomial test (minlike)', () => {
    for (const c of V.binomtest) close(binomTestP(c.k, c.n, c.p0), c.p);
  });
});

describe('what the tests can and cannot say', () => {
  it('3 repetitions a side can never reach p < 0.1 with the exact U test; 4 can', () => {
    expect(minExactP(3, 3)).toBeCloseTo(0.1, 12);
    expect(minExactP(4, 4)).toBeCloseTo(2 / 70, 12);
    const p = power(2, 3, 3, 0.05);
    expect(p).toMatchObject({ canReach: false, minRepsPerSide: 4 });
    expect(mannWhitney([1, 2, 3], [10, 11, 12]).p).toBeCloseTo(0.1, 12);
  });
  it('the minimum detectable effect grows with noise and shrinks with repetitions', () => {
    const a = power(2, 10, 10, 0.05).mdePct;
    expect(a).toBeGreaterThan(2);
    expect(a).toBeLessThan(4);
    expect(power(14, 10, 10, 0.05).mdePct).toBeGreaterThan(a * 5);
    expect(power(2, 20, 20, 0.05).mdePct).toBeLessThan(a);
  });
  it('NaN p-values stay NaN and do not count in BH', () => {
    expect(benjaminiHochberg([0.01, NaN, 0.04])).toEqual([0.02, NaN, 0.04]);
  });
  it('rates: strict against lazy IOTLB flushes, from the real traced counts', () => {
    // intel lazy: 1,096 sync flushes in 168,077 I/Os; strict: 134,803 in 134,803.
    const r = compareRates(1096, 168077, 134803, 134803);
    expect(r.ratio).toBeCloseTo(134803 / 134803 / (1096 / 168077), 9);
    expect(r.p).toBeLessThan(1e-300 + 1e-12);
    expect(r.lower).toBeLessThan(r.ratio);
    expect(r.upper).toBeGreaterThan(r.ratio);
    const same = compareRates(1000, 100000, 1010, 100000);
    expect(same.p).toBeGreaterThan(0.5);
    expect(same.lower).toBeLessThan(1);
    expect(same.upper).toBeGreaterThan(1);
  });
});
