/**
 * The Mann–Whitney U test and the Hodges–Lehmann shift with its confidence
 * interval from inverting the same test.
 *
 * Conventions follow SciPy's `mannwhitneyu` (two-sided): the statistic is U of
 * the first sample; the p-value uses max(U1, U2). Exact when there are no ties
 * and both samples have at most EXACT_MAX values; otherwise the normal
 * approximation with the tie correction and a continuity correction.
 */
import { checkCount, checkProbability, checkSample } from './check.js';
import { prng } from '../../core/random.js';
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
  checkSample('ranks', 'values', values, 0);
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
  checkCount('exactUDistribution', 'n1', n1, 1);
  checkCount('exactUDistribution', 'n2', n2, 1);
  if (n1 > 200 || n2 > 200) throw new RangeError(`exactUDistribution: n1 and n2 must be at most 200 (the table has n1·n2 entries per size pair), got ${n1} and ${n2}`);
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
  checkSample('mannWhitney', 'x', x);
  checkSample('mannWhitney', 'y', y);
  const n1 = x.length;
  const n2 = y.length;
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
  checkCount('minExactP', 'n1', n1, 1);
  checkCount('minExactP', 'n2', n2, 1);
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
 *
 * The differences are never built: with x and y sorted, y_j − x_i grows along
 * each row and column, so "how many differences are ≤ t" is one O(n1 + n2)
 * walk, and the k-th smallest is found by selection over that matrix
 * (O((n1 + n2) log(n1·n2)) expected, O(n1 + n2) memory): 10⁵ values a side in
 * well under a second, where building all 10¹⁰ differences cannot be done.
 */
export function hodgesLehmann(x: readonly number[], y: readonly number[], level = 0.95): ShiftEstimate {
  checkSample('hodgesLehmann', 'x', x);
  checkSample('hodgesLehmann', 'y', y);
  checkProbability('hodgesLehmann', 'level', level, { open: true });
  const n1 = x.length;
  const n2 = y.length;
  const m = new DifferenceMatrix(x, y);
  const N = n1 * n2;
  const mid = N % 2 ? m.kth((N + 1) / 2) : (m.kth(N / 2) + m.kth(N / 2 + 1)) / 2;
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
  return { estimate: mid, lower: m.kth(k), upper: m.kth(N - k + 1), confidence };
}

/** The n1 × n2 matrix of differences y_j − x_i, sorted along rows and columns, never materialised. */
class DifferenceMatrix {
  private readonly x: Float64Array;
  private readonly y: Float64Array;
  constructor(x: readonly number[], y: readonly number[]) {
    this.x = Float64Array.from(x).sort();
    this.y = Float64Array.from(y).sort();
  }

  /**
   * For each row i (x_i), the first column whose difference exceeds t, and the
   * total number of differences ≤ t. The comparison uses the difference exactly
   * as it is computed (y_j − x_i rounded), which is monotone in i and j.
   */
  private cut(t: number, out: Int32Array): number {
    const { x, y } = this;
    let j = 0;
    let total = 0;
    // As x_i grows, y_j − x_i shrinks, so the cut only moves right: one walk over y for all rows.
    for (let i = 0; i < x.length; i++) {
      while (j < y.length && y[j]! - x[i]! <= t) j++;
      out[i] = j;
      total += j;
    }
    return total;
  }

  /** The k-th smallest difference (1-based). */
  kth(k: number): number {
    const { x, y } = this;
    const n1 = x.length;
    const n2 = y.length;
    // Invariant: count(≤ lo) < k ≤ count(≤ hi); per row, the cuts at lo and hi bound the differences in play.
    let loCut = new Int32Array(n1);
    let hiCut = new Int32Array(n1).fill(n2);
    let loCount = 0;
    let hiCount = n1 * n2;
    const random = prng(0x5eed ^ k);
    let a = new Int32Array(n1);
    let b = new Int32Array(n1);
    for (;;) {
      const inside = hiCount - loCount;
      if (inside <= Math.max(64, (n1 + n2) >> 2)) {
        const between = new Float64Array(inside);
        let w = 0;
        for (let i = 0; i < n1; i++) for (let j = loCut[i]!; j < hiCut[i]!; j++) between[w++] = y[j]! - x[i]!;
        return between.sort()[k - loCount - 1]!;
      }
      // A pivot drawn uniformly among the differences in play: expected O(log N) rounds.
      let r = Math.floor(random() * inside);
      let pivot = NaN;
      for (let i = 0; i < n1; i++) {
        const w = hiCut[i]! - loCut[i]!;
        if (r < w) { pivot = y[loCut[i]! + r]! - x[i]!; break; }
        r -= w;
      }
      const atMost = this.cut(pivot, a);
      if (atMost < k) {
        loCount = atMost;
        [loCut, a] = [a, loCut];
        continue;
      }
      // The pivot leaves play either way, so every round makes progress even with many ties.
      const below = this.cut(nextDown(pivot), b);
      if (below < k) return pivot;
      hiCount = below;
      [hiCut, b] = [b, hiCut];
    }
  }
}

const f64 = new Float64Array(1);
const i64 = new BigInt64Array(f64.buffer);
/** The largest double below v (v finite). */
function nextDown(v: number): number {
  if (v === 0) return -Number.MIN_VALUE;
  f64[0] = v;
  i64[0] = v > 0 ? i64[0]! - 1n : i64[0]! + 1n;
  return f64[0]!;
}
