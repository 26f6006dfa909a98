/**
 * The Mann–Whitney U test and the Hodges–Lehmann shift with its confidence
 * interval from inverting the same test.
 *
 * Conventions follow SciPy's `mannwhitneyu` (two-sided): the statistic is U of
 * the first sample; the p-value uses max(U1, U2). Exact when there are no ties
 * and both samples have at most EXACT_MAX values; otherwise the normal
 * approximation with the tie correction and a continuity correction.
 */
import { normIsf, normSf } from './special.js';

export const EXACT_MAX = 30;

export interface MannWhitney {
  /** U of the first sample: the number of pairs (x, y) with x > y, ties counting one half. */
  readonly u: number;
  readonly p: number;
  readonly method: 'exact' | 'asymptotic';
  readonly ties: boolean;
}

/** Average ranks (1-based) of the pooled sample, and the tie term Σ(t³ − t). */
export function ranks(values: readonly number[]): { ranks: number[]; tieTerm: number } {
  const order = values.map((v, i) => [v, i] as const).sort((a, b) => a[0] - b[0]);
  const r = new Array<number>(values.length);
  let tieTerm = 0;
  for (let i = 0; i < order.length; ) {
    let j = i;
    while (j + 1 < order.length && order[j + 1]![0] === order[i]![0]) j++;
    const avg = (i + j + 2) / 2;
    for (let k = i; k <= j; k++) r[order[k]![1]] = avg;
    const t = j - i + 1;
    tieTerm += t * t * t - t;
    i = j + 1;
  }
  return { ranks: r, tieTerm };
}

const exactCache = new Map<string, Float64Array>();

/**
 * The null distribution of U for sample sizes n1, n2 without ties: P(U = u),
 * u = 0…n1·n2. Counts from the recurrence c(n, m, u) = c(n−1, m, u−m) + c(n, m−1, u),
 * divided by C(n1+n2, n1). Only additions, so no cancellation; cached per size pair.
 */
export function exactUDistribution(n1: number, n2: number): Float64Array {
  const key = `${n1},${n2}`;
  const hit = exactCache.get(key);
  if (hit) return hit;
  const size = n1 * n2 + 1;
  // prev[m] = counts for (n − 1, m); cur[m] for (n, m).
  let prev: Float64Array[] = [];
  for (let m = 0; m <= n2; m++) {
    const a = new Float64Array(size);
    a[0] = 1;
    prev.push(a);
  }
  for (let n = 1; n <= n1; n++) {
    const cur: Float64Array[] = [];
    const base = new Float64Array(size);
    base[0] = 1; // c(n, 0, 0) = 1
    cur.push(base);
    for (let m = 1; m <= n2; m++) {
      const a = new Float64Array(size);
      const left = prev[m]!;
      const down = cur[m - 1]!;
      for (let u = 0; u <= n * m; u++) a[u] = (u >= m ? left[u - m]! : 0) + down[u]!;
      cur.push(a);
    }
    prev = cur;
  }
  const counts = prev[n2]!;
  let total = 0;
  for (let u = 0; u < size; u++) total += counts[u]!;
  const dist = new Float64Array(size);
  for (let u = 0; u < size; u++) dist[u] = counts[u]! / total;
  exactCache.set(key, dist);
  return dist;
}

/** P(U ≥ u) under the null, exact. */
function exactSf(u: number, n1: number, n2: number): number {
  const d = exactUDistribution(n1, n2);
  let s = 0;
  for (let k = Math.ceil(u); k < d.length; k++) s += d[k]!;
  return s;
}

export function mannWhitney(x: readonly number[], y: readonly number[]): MannWhitney {
  const n1 = x.length;
  const n2 = y.length;
  if (n1 === 0 || n2 === 0) throw new RangeError('mannWhitney: both samples need at least one value');
  const { ranks: r, tieTerm } = ranks([...x, ...y]);
  let r1 = 0;
  for (let i = 0; i < n1; i++) r1 += r[i]!;
  const u1 = r1 - (n1 * (n1 + 1)) / 2;
  const u2 = n1 * n2 - u1;
  const big = Math.max(u1, u2);
  const ties = tieTerm > 0;
  if (!ties && n1 <= EXACT_MAX && n2 <= EXACT_MAX) {
    return { u: u1, p: Math.min(1, 2 * exactSf(big, n1, n2)), method: 'exact', ties };
  }
  const n = n1 + n2;
  const mu = (n1 * n2) / 2;
  const s = Math.sqrt(((n1 * n2) / 12) * (n + 1 - tieTerm / (n * (n - 1))));
  if (s === 0) return { u: u1, p: 1, method: 'asymptotic', ties };
  const z = (big - mu - 0.5) / s;
  return { u: u1, p: Math.min(1, 2 * normSf(z)), method: 'asymptotic', ties };
}

/** The smallest two-sided p-value the exact U test can give for these sizes: 2 / C(n1+n2, n1). */
export function minExactP(n1: number, n2: number): number {
  let c = 1;
  for (let i = 1; i <= n1; i++) c = (c * (n2 + i)) / i;
  return Math.min(1, 2 / c);
}

export interface ShiftEstimate {
  /** Hodges–Lehmann estimate: median of all differences y_j − x_i. */
  readonly estimate: number;
  readonly lower: number;
  readonly upper: number;
  /** Confidence the interval actually has: with few repetitions the exact U test cannot reach the nominal level. */
  readonly confidence: number;
}

/**
 * Hodges–Lehmann shift of y against x with the distribution-free interval from
 * inverting the U test: [d_(k), d_(N−k+1)] of the N = n1·n2 sorted differences,
 * k the largest with P(U ≤ k−1) ≤ (1 − level)/2. With few repetitions no k
 * reaches the level; the interval is then the full range, with the confidence it has.
 */
export function hodgesLehmann(x: readonly number[], y: readonly number[], level = 0.95): ShiftEstimate {
  const n1 = x.length;
  const n2 = y.length;
  const d: number[] = [];
  for (const a of x) for (const b of y) d.push(b - a);
  d.sort((a, b) => a - b);
  const N = d.length;
  const mid = N % 2 ? d[(N - 1) / 2]! : (d[N / 2 - 1]! + d[N / 2]!) / 2;
  const alphaHalf = (1 - level) / 2;
  let k: number;
  let confidence: number;
  if (n1 <= EXACT_MAX && n2 <= EXACT_MAX) {
    const dist = exactUDistribution(n1, n2);
    let cdf = 0;
    k = 0;
    // cdf after the loop body at step j is P(U ≤ j); k − 1 = j is allowed while P(U ≤ j) ≤ α/2.
    for (let j = 0; j < N; j++) {
      if (cdf + dist[j]! > alphaHalf) break;
      cdf += dist[j]!;
      k = j + 1;
    }
    if (k === 0) {
      k = 1;
      confidence = 1 - 2 * dist[0]!;
    } else {
      confidence = 1 - 2 * cdf;
    }
  } else {
    const z = normIsf(alphaHalf);
    k = Math.max(1, Math.floor(N / 2 - z * Math.sqrt((n1 * n2 * (n1 + n2 + 1)) / 12)));
    confidence = level;
  }
  return { estimate: mid, lower: d[k - 1]!, upper: d[N - k]!, confidence };
}
