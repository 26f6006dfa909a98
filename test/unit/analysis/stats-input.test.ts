/**
 * Bad input to the public statistical functions: a RangeError that names the
 * function, the argument and the value, never a plausible wrong answer (issue
 * #12 listed each of these returning a p-value or an interval).
 */
import { describe, expect, it } from 'vitest';
import {
  EXACT_MAX, benjaminiHochberg, betaI, binomTestP, compareRates, cvPct, exactUDistribution, gammaQ, hodgesLehmann, logGamma, mannWhitney, mean, median, minExactP, normIsf, normSf, power, quantile, tIsf, tSf, tTestMde, variance, welch, welchLog,
} from '../../../analysis/stats/index.js';
import { prng } from '../../../core/random.js';

const bad = (f: () => unknown, ...parts: string[]) => {
  let err: unknown;
  try {
    f();
  } catch (e) {
    err = e;
  }
  expect(err, `expected a RangeError mentioning ${parts.join(', ')}`).toBeInstanceOf(RangeError);
  for (const p of parts) expect((err as Error).message).toContain(p);
};

describe('the issue\'s list: each returned a plausible wrong answer', () => {
  it('welch with a NaN (was p = 1)', () => bad(() => welch([1, 2, NaN], [3, 4, 5]), 'welch', 'a[2]', 'NaN'));
  it('mannWhitney of all-NaN samples (was p = 0.1 "exact")', () => bad(() => mannWhitney([NaN, NaN, NaN], [NaN, NaN, NaN]), 'mannWhitney', 'x[0]'));
  it('median with a NaN (was order-dependent)', () => {
    bad(() => median([1, NaN, 3]), 'median', 'x[1]');
    bad(() => median([NaN, 1, 3]), 'median', 'x[0]');
  });
  it('binomTestP with k > n, k < 0 or p₀ NaN (was p = 0)', () => {
    bad(() => binomTestP(5, 3, 0.5), 'binomTestP', 'k must be at most n (3), got 5');
    bad(() => binomTestP(-1, 3, 0.5), 'binomTestP', 'k', '-1');
    bad(() => binomTestP(1, 3, NaN), 'binomTestP', 'p', 'NaN');
  });
  it('compareRates with NaN or zero exposure (was p = 0)', () => {
    bad(() => compareRates(10, NaN, 12, 100), 'compareRates', 'exposure1', 'NaN');
    bad(() => compareRates(10, 100, 12, 0), 'compareRates', 'exposure2', '0');
    bad(() => compareRates(NaN, 100, 12, 100), 'compareRates', 'events1');
    bad(() => compareRates(-3, 100, 12, 100), 'compareRates', 'events1', '-3');
  });
  it('Benjamini–Hochberg with a p below 0 (was q = −1.5) or above 1', () => {
    bad(() => benjaminiHochberg([0.01, -0.5]), 'benjaminiHochberg', 'p[1]', '-0.5');
    bad(() => benjaminiHochberg([1.2]), 'benjaminiHochberg', 'p[0]', '1.2');
    bad(() => benjaminiHochberg([Infinity]), 'benjaminiHochberg', 'Infinity');
    // NaN stays the documented "test that could not run".
    expect(benjaminiHochberg([NaN, 0.01])[0]).toBeNaN();
  });
  it('hodgesLehmann with level NaN or 1.5 (was a reversed interval or a confidence outside [0, 1])', () => {
    bad(() => hodgesLehmann([1, 2, 3], [4, 5, 6], NaN), 'hodgesLehmann', 'level', 'NaN');
    bad(() => hodgesLehmann([1, 2, 3], [4, 5, 6], 1.5), 'hodgesLehmann', 'level', '1.5');
    bad(() => hodgesLehmann([1, 2, 3], [4, 5, 6], 0), 'hodgesLehmann', 'level');
  });
});

describe('every public function checks its input', () => {
  it('empty or too small samples', () => {
    bad(() => mean([]), 'mean', 'at least 1');
    bad(() => median([]), 'median');
    bad(() => mannWhitney([], [1]), 'mannWhitney', 'x');
    bad(() => hodgesLehmann([1], []), 'hodgesLehmann', 'y');
    bad(() => welch([1], [2, 3]), 'welch', 'at least 2');
    bad(() => welchLog([1, 2], [0, 3]), 'welchLog', '> 0');
  });
  it('infinities', () => {
    bad(() => variance([1, Infinity]), 'variance', 'x[1]', 'Infinity');
    bad(() => cvPct([-Infinity, 1]), 'cvPct');
    bad(() => mannWhitney([1, 2], [Infinity, 3]), 'mannWhitney', 'y[0]');
    bad(() => hodgesLehmann([1, Infinity], [2]), 'hodgesLehmann', 'x[1]');
  });
  it('out-of-range levels, probabilities and sizes', () => {
    bad(() => quantile([1, 2], 1.1), 'quantile', 'q');
    bad(() => power(2, 5, 5, 0), 'power', 'alpha');
    bad(() => power(2, 5, 5, 0.05, 1), 'power', 'targetPower');
    bad(() => power(NaN, 5, 5, 0.05), 'power', 'cvPct');
    bad(() => power(2, 0, 5, 0.05), 'power', 'n1');
    bad(() => power(2, 2.5, 5, 0.05), 'power', 'n1');
    bad(() => tTestMde(0, 0.05), 'tTestMde', 'df');
    bad(() => minExactP(0, 3), 'minExactP', 'n1');
    bad(() => exactUDistribution(3, -1), 'exactUDistribution', 'n2');
    bad(() => compareRates(1, 10, 2, 10, 1), 'compareRates', 'level');
  });
  it('special functions', () => {
    bad(() => logGamma(0), 'logGamma', 'x');
    bad(() => gammaQ(-1, 2), 'gammaQ', 'a');
    bad(() => betaI(1.5, 1, 1), 'betaI', 'x');
    bad(() => normSf(NaN), 'normSf');
    bad(() => tSf(1, 0), 'tSf', 'df');
    bad(() => normIsf(2), 'normIsf', 'p');
    bad(() => tIsf(0.5, NaN), 'tIsf', 'df');
  });
});

/** The rank k of the interval's lower end, as the sorted-differences implementation chose it. */
function rankOfBound(n1: number, n2: number, level: number): number {
  const a = (1 - level) / 2;
  if (n1 <= EXACT_MAX && n2 <= EXACT_MAX) {
    const dist = exactUDistribution(n1, n2);
    let cdf = 0;
    let k = 0;
    for (let j = 0; j < n1 * n2; j++) {
      if (cdf + dist[j]! > a) break;
      cdf += dist[j]!;
      k = j + 1;
    }
    return Math.max(1, k);
  }
  return Math.max(1, Math.floor((n1 * n2) / 2 - normIsf(a) * Math.sqrt((n1 * n2 * (n1 + n2 + 1)) / 12)));
}

describe('Hodges–Lehmann without the n·m differences', () => {
  it('gives the same estimate and interval as sorting every difference, with and without ties', () => {
    const r = prng(11);
    for (let t = 0; t < 300; t++) {
      const n1 = 1 + Math.floor(r() * 45);
      const n2 = 1 + Math.floor(r() * 45);
      const tie = t % 2 === 0;
      const g = () => (tie ? Math.floor(r() * 4) : r() * 100 - 50);
      const x = Array.from({ length: n1 }, g);
      const y = Array.from({ length: n2 }, g);
      const d = x.flatMap((a) => y.map((b) => b - a)).sort((a, b) => a - b);
      const N = d.length;
      const h = hodgesLehmann(x, y);
      expect(h.estimate).toBe(N % 2 ? d[(N - 1) / 2] : (d[N / 2 - 1]! + d[N / 2]!) / 2);
      const k = rankOfBound(n1, n2, 0.95);
      expect(h.lower).toBe(d[k - 1]);
      expect(h.upper).toBe(d[N - k]);
    }
  });

  it('handles 10⁵ values a side (it used to abort Node with "invalid size")', () => {
    const r = prng(3);
    const x = Array.from({ length: 100_000 }, () => r());
    const y = Array.from({ length: 100_000 }, () => r() + 0.1);
    const h = hodgesLehmann(x, y);
    expect(h.estimate).toBeCloseTo(0.1, 2);
    expect(h.lower).toBeLessThan(h.estimate);
    expect(h.upper).toBeGreaterThan(h.estimate);
  });
});
