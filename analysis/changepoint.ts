/**
 * Change points over nightly history, per cell and metric.
 *
 * Each night is one point: the median of that night's repetitions (a night is
 * one boot, so its repetitions share its boot-to-boot offset; the night, not the
 * repetition, is the unit here). A change is **confirmed** at night τ when, for
 * some k = 2…max_confirm, the k nights from τ on all lie on the same side of the
 * reference level (the median of up to `window` nights before τ, since the last
 * change), a t test of the mean log night median of those k nights against the
 * reference, with the night-to-night noise taken from the reference (shiftP),
 * gives p < α / (max_confirm − 1) (Bonferroni over the k tried), the shift
 * of medians is at least min_effect_pct, and no single night carries the
 * result (carriedByOneNight). A rank test cannot serve here: 2 nights
 * against 14 can never go below p = 0.017. The latest
 * night alone can only be a **suspect** (prediction-interval t test against the
 * reference): one bad night never raises an alarm that vanishes the next night,
 * and a real step is flagged after one night and confirmed after two.
 * Missing nights are simply absent: the series is the runs that exist.
 */
import { mean, median, variance } from './stats/describe.js';
import { tSf } from './stats/special.js';

export interface Night {
  readonly run: string;
  readonly created: string;
  readonly values: readonly number[];
}

export interface ChangePointOptions {
  readonly alpha: number;
  readonly minEffectPct: number;
  /** Reference nights at most (default 14). */
  readonly window?: number;
  /** Reference nights at least before anything is judged (default 4). */
  readonly minReference?: number;
  /** Longest trailing segment tested (default 7 nights). */
  readonly maxConfirm?: number;
}

export interface ChangePoint {
  /** Index of the first night of the new level. */
  readonly index: number;
  readonly run: string;
  readonly created: string;
  /** new level / old level (medians of night medians). */
  readonly ratio: number;
  readonly p: number;
  /** Nights it took to confirm (k). */
  readonly nights: number;
}

export interface ChangeReport {
  readonly medians: readonly number[];
  readonly points: readonly ChangePoint[];
  /** The latest night against the current level. */
  /**
   * The latest night against the current level: `changed` when it completes a
   * newly confirmed change point, `suspect` when it alone deviates.
   */
  readonly latest: { readonly state: 'stable' | 'suspect' | 'changed' | 'too-short'; readonly ratio?: number; readonly p?: number };
}

export function detectChanges(nights: readonly Night[], o: ChangePointOptions): ChangeReport {
  const window = o.window ?? 14;
  const minRef = o.minReference ?? 4;
  const maxK = o.maxConfirm ?? 7;
  const eff = o.minEffectPct / 100;
  const m = nights.map((n) => median(n.values));
  const points: ChangePoint[] = [];
  let start = 0;
  for (let tau = start + minRef; tau < m.length; tau++) {
    if (tau - start < minRef) continue;
    const ref = m.slice(Math.max(start, tau - window), tau);
    const level = median(ref);
    let found: ChangePoint | undefined;
    for (let k = 2; k <= maxK && tau + k <= m.length; k++) {
      const after = m.slice(tau, tau + k);
      // A night back on the old side of the level ends this candidate: longer segments cannot fix it.
      if (!(after.every((v) => v > level) || after.every((v) => v < level))) break;
      const ratio = median(after) / level;
      if (!(Math.abs(ratio - 1) >= eff)) continue;
      // Bonferroni over the k tried: looking at 6 segment lengths must not add false alarms.
      const p = shiftP(ref, after);
      const limit = o.alpha / (maxK - 1);
      if (p < limit && !carriedByOneNight(ref, after, level, eff, limit)) {
        found = { index: tau, run: nights[tau]!.run, created: nights[tau]!.created, ratio, p, nights: k };
        break;
      }
    }
    if (found) {
      // The first split that passes tends to sit early: a low night just before a step joins the
      // segment. Place the change where the two-segment fit is best (the binary-segmentation
      // statistic n1·n2/(n1+n2)·(mean1 − mean2)² on log night medians) among the splits that
      // keep at least 2 nights after it.
      const end = found.index + found.nights;
      const lo = Math.max(start, found.index - window);
      const f = m.slice(lo, end).every((v) => v > 0) ? Math.log : (v: number) => v;
      let bestScore = -Infinity;
      let bestTau = found.index;
      for (let t2 = found.index; t2 <= end - 2; t2++) {
        const a = m.slice(lo, t2).map(f);
        const b = m.slice(t2, end).map(f);
        const score = ((a.length * b.length) / (a.length + b.length)) * (mean(a) - mean(b)) ** 2;
        if (score > bestScore) { bestScore = score; bestTau = t2; }
      }
      if (bestTau !== found.index) {
        const ref2 = m.slice(Math.max(start, bestTau - window), bestTau);
        const after2 = m.slice(bestTau, end);
        found = { index: bestTau, run: nights[bestTau]!.run, created: nights[bestTau]!.created, ratio: median(after2) / median(ref2), p: shiftP(ref2, after2), nights: end - bestTau };
      }
      tau = found.index;
      points.push(found);
      start = tau;
      tau = start + minRef - 1;
    }
  }
  // The latest night, against the level since the last change.
  const last = m.length - 1;
  const ref = m.slice(Math.max(start, last - window), last);
  const newest = points.at(-1);
  if (newest && newest.index + newest.nights === m.length) return { medians: m, points, latest: { state: 'changed', ratio: newest.ratio, p: newest.p } };
  if (ref.length < minRef || last < 0) return { medians: m, points, latest: { state: 'too-short' } };
  // Logs make the interval a ratio; counts can be 0, and then the scale stays linear.
  const positive = ref.every((v) => v > 0) && m[last]! > 0;
  const f = positive ? Math.log : (v: number) => v;
  const logs = ref.map(f);
  const sd = Math.sqrt(variance(logs));
  const x = f(m[last]!);
  const t = (x - mean(logs)) / (sd * Math.sqrt(1 + 1 / logs.length));
  const p = sd === 0 ? (x === mean(logs) ? 1 : 0) : 2 * tSf(Math.abs(t), logs.length - 1);
  const ratio = m[last]! / median(ref);
  const suspect = p < o.alpha && Math.abs(ratio - 1) >= eff;
  return { medians: m, points, latest: { state: suspect ? 'suspect' : 'stable', ratio, p } };
}

/**
 * Mean of the new nights against the reference, with the noise of a night taken
 * from the reference alone: t = (mean(after) − mean(ref)) / (s_ref · √(1/k + 1/n)),
 * df = n − 1. A step moves the level, not the night-to-night noise, and two new
 * nights that happen to agree closely must not look like certainty (as Welch's
 * variance from k = 2 would make them).
 */
function shiftP(ref: readonly number[], after: readonly number[]): number {
  const positive = ref.every((v) => v > 0) && after.every((v) => v > 0);
  const f = positive ? Math.log : (v: number) => v;
  const a = ref.map(f);
  const b = after.map(f);
  const s = Math.sqrt(variance(a));
  const d = mean(b) - mean(a);
  if (!(s > 0)) return d === 0 ? 1 : 0;
  const t = d / (s * Math.sqrt(1 / b.length + 1 / a.length));
  return 2 * tSf(Math.abs(t), a.length - 1);
}

/**
 * A segment must not owe its significance to one night: one bad night at the
 * end of a flat stretch would otherwise confirm a "change" that began nights
 * earlier. With k = 2 both nights must show the effect on their own; with
 * k ≥ 3 the test must still pass without the night farthest from the level.
 */
function carriedByOneNight(ref: readonly number[], after: readonly number[], level: number, eff: number, limit: number): boolean {
  if (after.length === 2) return !after.every((v) => Math.abs(v / level - 1) >= eff);
  let far = 0;
  after.forEach((v, i) => { if (Math.abs(v - level) > Math.abs(after[far]! - level)) far = i; });
  return shiftP(ref, after.filter((_, i) => i !== far)) >= limit;
}
