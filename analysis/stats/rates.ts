/**
 * Comparing per-I/O event rates (DMA maps, IOTLB flushes) between two
 * configurations. Counts are not timings: their spread across repetitions is
 * that of a count process, not machine noise, so the test is the exact
 * conditional test for two Poisson rates: given k = k1 + k2 events, k2 is
 * Binomial(k, e2 / (e1 + e2)) under equal rates (e = I/Os, the exposure). The
 * two-sided p-value sums the outcomes no more likely than the observed one, as
 * SciPy's `binomtest`. The ratio's interval comes from Clopper–Pearson bounds on
 * the binomial proportion.
 */
import { checkCount, checkPositive, checkProbability } from './check.js';
import { betaIinv, binomLogPmf } from './special.js';

export interface RateComparison {
  readonly rate1: number;
  readonly rate2: number;
  /** rate2 / rate1 (Infinity when rate1 is 0 and rate2 is not). */
  readonly ratio: number;
  readonly lower: number;
  readonly upper: number;
  readonly p: number;
}

/** Two-sided binomial test p-value, SciPy's "minlike" rule with its relative tolerance 1 + 1e-7. */
export function binomTestP(k: number, n: number, p: number): number {
  checkCount('binomTestP', 'n', n);
  checkCount('binomTestP', 'k', k);
  if (k > n) throw new RangeError(`binomTestP: k must be at most n (${n}), got ${k}`);
  checkProbability('binomTestP', 'p', p);
  if (n === 0) return 1;
  const logD = binomLogPmf(k, n, p);
  const limit = logD + Math.log1p(1e-7);
  // Sum, in log space around the mode, every outcome with pmf ≤ pmf(k).
  let total = 0;
  for (let i = 0; i <= n; i++) {
    const l = binomLogPmf(i, n, p);
    if (l <= limit) total += Math.exp(l);
  }
  return Math.min(1, total);
}

export function compareRates(events1: number, exposure1: number, events2: number, exposure2: number, level = 0.95): RateComparison {
  checkPositive('compareRates', 'events1', events1, { orZero: true });
  checkPositive('compareRates', 'events2', events2, { orZero: true });
  checkPositive('compareRates', 'exposure1', exposure1);
  checkPositive('compareRates', 'exposure2', exposure2);
  checkProbability('compareRates', 'level', level, { open: true });
  const k1 = Math.round(events1);
  const k2 = Math.round(events2);
  const rate1 = k1 / exposure1;
  const rate2 = k2 / exposure2;
  const n = k1 + k2;
  const share = exposure2 / (exposure1 + exposure2);
  const p = binomTestP(k2, n, share);
  const a = (1 - level) / 2;
  // Clopper–Pearson bounds on π = k2 / n, turned into bounds on the rate ratio.
  const piLo = k2 === 0 ? 0 : betaIinv(a, k2, n - k2 + 1);
  const piHi = k2 === n ? 1 : betaIinv(1 - a, k2 + 1, n - k2);
  const toRatio = (pi: number) => (pi >= 1 ? Infinity : (pi / (1 - pi)) * (exposure1 / exposure2));
  return { rate1, rate2, ratio: rate1 === 0 ? (rate2 === 0 ? 1 : Infinity) : rate2 / rate1, lower: toRatio(piLo), upper: toRatio(piHi), p };
}
