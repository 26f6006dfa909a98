/**
 * How change-point detectors are scored, with TCPDBench's definitions (van den
 * Burg & Williams, "An evaluation of change point detection algorithms", 2020):
 *  - F1 with a margin of 5: 0 is a change point in every set; a prediction is a
 *    true positive for at most one annotated point within the margin; precision
 *    over the union of the annotators' points, recall averaged over annotators.
 *  - Cover: the predicted segmentation against each annotator's, the size-
 *    weighted best Jaccard overlap of each predicted segment, averaged over
 *    annotators.
 * And the two reference methods: the one that reports nothing, and E-divisive
 * with means (Matteson & James 2014, as the ecp package runs it: energy
 * statistic with exponent 1, hierarchical bisection, permutation test at 0.05
 * with 199 permutations), the detector Otava and Hunter use for nightly
 * performance data.
 */
import { prng } from '../core/random.js';

function truePositives(T: readonly number[], X: readonly number[], margin: number): number {
  const left = new Set(X);
  let tp = 0;
  for (const tau of T) {
    let best: number | undefined;
    for (const x of left) if (Math.abs(tau - x) <= margin && (best === undefined || Math.abs(tau - x) < Math.abs(tau - best) || (Math.abs(tau - x) === Math.abs(tau - best) && x < best))) best = x;
    if (best !== undefined) {
      tp++;
      left.delete(best);
    }
  }
  return tp;
}

export function f1(annotations: readonly (readonly number[])[], predictions: readonly number[], margin = 5): number {
  const Tks = annotations.map((a) => [...new Set([0, ...a])]);
  const X = [...new Set([0, ...predictions])];
  const Tstar = [...new Set(Tks.flat())];
  const P = truePositives(Tstar, X, margin) / X.length;
  const R = Tks.reduce((s, Tk) => s + truePositives(Tk, X, margin) / Tk.length, 0) / Tks.length;
  return P + R === 0 ? 0 : (2 * P * R) / (P + R);
}

function partition(cps: readonly number[], n: number): Set<number>[] {
  const all = new Set(cps);
  const out: Set<number>[] = [];
  let cur = new Set<number>();
  for (let i = 0; i < n; i++) {
    if (all.has(i) && cur.size) {
      out.push(cur);
      cur = new Set();
    }
    cur.add(i);
  }
  if (cur.size) out.push(cur);
  return out;
}

function jaccard(a: Set<number>, b: Set<number>): number {
  let inter = 0;
  for (const v of a) if (b.has(v)) inter++;
  return inter / (a.size + b.size - inter);
}

export function cover(annotations: readonly (readonly number[])[], predictions: readonly number[], n: number): number {
  const pred = partition(predictions, n);
  const scores = annotations.map((a) => {
    const truth = partition(a, n);
    let c = 0;
    for (const r of pred) c += r.size * Math.max(...truth.map((t) => jaccard(r, t)));
    return c / n;
  });
  return scores.reduce((s, v) => s + v, 0) / scores.length;
}

/** E-divisive with means: hierarchical, energy statistic (α = 1), permutation test. */
export function eDivisive(x: readonly number[], o: { sigLevel?: number; permutations?: number; minSize?: number; seed?: number } = {}): number[] {
  const sig = o.sigLevel ?? 0.05;
  const R = o.permutations ?? 199;
  const minSize = o.minSize ?? 5;
  const random = prng(o.seed ?? 1);
  const n = x.length;
  const cps: number[] = [];
  const bestSplit = (v: readonly number[]): { tau: number; q: number } => {
    const m = v.length;
    if (m < 2 * minSize) return { tau: -1, q: -Infinity };
    const d = (i: number, j: number) => Math.abs(v[i]! - v[j]!);
    // Sums over ordered pairs, updated as the split moves right.
    let sa = 0;
    let sb = 0;
    let ab = 0;
    for (let i = 0; i < m; i++) for (let j = 0; j < m; j++) sb += d(i, j);
    let best = { tau: -1, q: -Infinity };
    for (let tau = 1; tau < m; tau++) {
      // Move point tau − 1 from B to A.
      const p = tau - 1;
      let toA = 0;
      let toB = 0;
      for (let i = 0; i < p; i++) toA += d(i, p);
      for (let j = p + 1; j < m; j++) toB += d(p, j);
      sa += 2 * toA;
      sb -= 2 * toB;
      ab += toB - toA;
      const a = tau;
      const b = m - tau;
      if (a < minSize || b < minSize) continue;
      const e = (2 * ab) / (a * b) - sa / (a * (a - 1)) - sb / (b * (b - 1));
      const q = ((a * b) / (a + b)) * e;
      if (q > best.q) best = { tau, q };
    }
    return best;
  };
  for (;;) {
    const bounds = [0, ...[...cps].sort((a, b) => a - b), n];
    let found = { seg: -1, tau: -1, q: -Infinity };
    for (let s = 0; s + 1 < bounds.length; s++) {
      const r = bestSplit(x.slice(bounds[s]!, bounds[s + 1]!));
      if (r.q > found.q) found = { seg: s, tau: bounds[s]! + r.tau, q: r.q };
    }
    if (found.seg < 0) break;
    let exceed = 0;
    for (let k = 0; k < R; k++) {
      let maxQ = -Infinity;
      for (let s = 0; s + 1 < bounds.length; s++) {
        const v = x.slice(bounds[s]!, bounds[s + 1]!);
        for (let i = v.length - 1; i > 0; i--) {
          const j = Math.floor(random() * (i + 1));
          [v[i], v[j]] = [v[j]!, v[i]!];
        }
        maxQ = Math.max(maxQ, bestSplit(v).q);
      }
      if (maxQ >= found.q) exceed++;
    }
    if ((exceed + 1) / (R + 1) >= sig) break;
    cps.push(found.tau);
  }
  return cps.sort((a, b) => a - b);
}
