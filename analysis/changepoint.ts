/**
 * Change points over nightly history, per cell and metric.
 *
 * Each night is one point: the median of its repetitions (one night is one
 * boot, so its repetitions share that boot's offset; the night is the unit).
 * The whole history is segmented at once — penalised optimal partitioning, the
 * exact minimum of
 *     Σ segment cost / σ² + β · (number of change points)
 * over every segmentation — where a segment is either a level or a straight
 * line (a drift), whichever costs less once a line pays β_slope for its slope.
 * So a slow drift is one drifting segment, reported as a drift with its rate,
 * not a staircase of steps; a trend that runs through the whole history is not
 * cut at all.
 *
 *  - σ, the night-to-night noise, comes from the nights' first differences
 *    (median absolute difference), which a step or a slow drift barely moves.
 *  - A single bad night (far from the nights on both sides of it, in the same
 *    direction) is set aside as an outlier and named; it never makes a change.
 *  - Scale: logs where every night is positive and the series stays away from
 *    zero (effects are ratios, `min_effect_pct` applies); otherwise the values
 *    themselves, where a ratio means nothing: counts near zero or series that
 *    cross it are judged by the penalty alone and their changes are differences.
 *  - A step smaller than `min_effect_pct` is merged away; a drift whose total
 *    change is below it is a level.
 *  - Missing nights are simply absent: the series is the runs that exist.
 *  - The latest night alone is only a **suspect** (prediction interval against
 *    the current segment at α): one bad night is never a change point, and a
 *    real step is flagged after one night and confirmed after two (a segment
 *    needs two nights).
 *
 * Measured against the method that reports nothing and against E-divisive on
 * a labelled suite of every shape a nightly history has (bench/changepoint.ts,
 * docs/statistics.md).
 */
import { median } from './stats/describe.js';
import { checkProbability } from './stats/check.js';
import { normSf, tSf } from './stats/special.js';

export interface Night {
  readonly run: string;
  readonly created: string;
  readonly values: readonly number[];
}

export interface ChangePointOptions {
  /** Level of the latest-night suspect test. */
  readonly alpha: number;
  /** Smallest step (and smallest total drift) worth reporting, in % (log scale only). */
  readonly minEffectPct: number;
  /** Penalty per change point in units of ln(n) (default 3; docs/statistics.md says how it was chosen). */
  readonly penalty?: number;
  /** Nights a new level needs before it is a change point (default 2). */
  readonly minSegment?: number;
}

export interface ChangePoint {
  /** Index of the first night of the new level. */
  readonly index: number;
  readonly run: string;
  readonly created: string;
  /** New level / old level at the change (NaN on the linear scale). */
  readonly ratio: number;
  /** New level − old level at the change, on the series' own scale (medians). */
  readonly delta: number;
  /** Two-sided p of the step against the night-to-night noise (information). */
  readonly p: number;
  /** Nights of the new segment so far. */
  readonly nights: number;
}

export interface Drift {
  /** First and last night (indices) of the drifting segment. */
  readonly from: number;
  readonly to: number;
  /** Change per night: in % on the log scale, else in the series' units. */
  readonly perNight: number;
  /** Level at the end / level at the start of the segment (NaN on the linear scale). */
  readonly totalRatio: number;
}

export interface ChangeReport {
  readonly medians: readonly number[];
  readonly scale: 'log' | 'linear';
  readonly points: readonly ChangePoint[];
  readonly drifts: readonly Drift[];
  /** Nights set aside as single bad nights. */
  readonly outliers: readonly number[];
  /**
   * The latest night against the current level: `changed` when it completes a
   * change point the history without it did not have, `suspect` when it alone
   * deviates.
   */
  readonly latest: { readonly state: 'stable' | 'suspect' | 'changed' | 'too-short'; readonly ratio?: number; readonly p?: number };
}

const DEFAULT_PENALTY = 3;
const OUTLIER_SIGMAS = 5;

function checkNights(nights: readonly Night[]): void {
  if (!Array.isArray(nights)) throw new RangeError(`detectChanges: nights must be an array, got ${String(nights)}`);
  nights.forEach((n, i) => {
    if (!n || !Array.isArray(n.values) || n.values.length === 0) throw new RangeError(`detectChanges: nights[${i}] (${n?.run ?? '?'}) has no values`);
    n.values.forEach((v: number, j: number) => {
      if (typeof v !== 'number' || !Number.isFinite(v)) throw new RangeError(`detectChanges: nights[${i}].values[${j}] (${n.run}) must be a finite number, got ${v}`);
    });
  });
}

export function detectChanges(nights: readonly Night[], o: ChangePointOptions): ChangeReport {
  checkNights(nights);
  checkProbability('detectChanges', 'alpha', o.alpha, { open: true });
  if (!(o.minEffectPct >= 0) || !Number.isFinite(o.minEffectPct)) throw new RangeError(`detectChanges: minEffectPct must be a finite number ≥ 0, got ${o.minEffectPct}`);
  if (o.penalty !== undefined && !(o.penalty > 0)) throw new RangeError(`detectChanges: penalty must be > 0, got ${o.penalty}`);
  const full = segmentHistory(nights, o);
  const n = nights.length;
  if (n < 5) return { ...full, latest: { state: 'too-short' } };
  // Online view: what the newest night added. A point the history without it lacked is new.
  const before = segmentHistory(nights.slice(0, -1), o);
  const fresh = full.points.find((p) => !before.points.some((q) => Math.abs(q.index - p.index) <= 2));
  if (fresh && fresh.index + fresh.nights === n) return { ...full, latest: { state: 'changed', ratio: fresh.ratio, p: fresh.p } };
  return { ...full, latest: latestNight(full.medians, before, o) };
}

interface Series {
  readonly x: Float64Array;
  readonly scale: 'log' | 'linear';
  readonly sigma: number;
  /** From the segmentation's scale back to the values'. */
  readonly back: (v: number) => number;
}

/**
 * Small counts (whole numbers ≥ 0 near zero: faults a night) are Poisson-like:
 * their spread grows with their level and their few large values are not
 * outliers. Anscombe's transform 2√(x + 3/8) makes them nearly normal with
 * variance 1, so a run of ones among zeros is not a step.
 */
const anscombe = (v: number) => 2 * Math.sqrt(v + 0.375);
const fromAnscombe = (a: number) => Math.max(0, (a / 2) ** 2 - 0.375);

function seriesOf(medians: readonly number[]): Series {
  const positive = medians.length > 0 && medians.every((v) => v > 0);
  // Away from zero: the smallest night at least a tenth of the typical one, else ratios blow up near zero.
  const log = positive && Math.min(...medians) >= 0.1 * median(medians);
  const counts = !log && medians.length > 0 && medians.every((v) => v >= 0 && Number.isInteger(v));
  const f = log ? Math.log : counts ? anscombe : (v: number) => v;
  const x = Float64Array.from(medians, f);
  return { x, scale: log ? 'log' : 'linear', sigma: noiseOf(x) * persistence(x), back: log ? Math.exp : counts ? fromAnscombe : (v: number) => v };
}

/**
 * Nights scatter independently around their level: their first differences
 * then have a lag-1 autocorrelation of −½ (a step adds one large difference,
 * which the winsorising below ignores). A series whose differences are less
 * anti-correlated wanders by itself (a random walk: 0; a smooth curve: > 0),
 * and its level moves more between two windows than independent noise would
 * allow. The noise is inflated by the long-run factor √((1+ρ)/(1−ρ)) of an AR(1)
 * with ρ = 1 + 2·ρ_diff (clamped to [0, 0.95]), so wandering is not cut into
 * steps. Series shorter than 12 nights keep the factor 1.
 */
function persistence(x: Float64Array): number {
  if (x.length < 12) return 1;
  const d = Array.from({ length: x.length - 1 }, (_, i) => x[i + 1]! - x[i]!);
  const med = median(d);
  const sd = median(d.map((v) => Math.abs(v - med))) / 0.6744897501960817;
  if (!(sd > 0)) return 1;
  const w = d.map((v) => Math.min(med + 3 * sd, Math.max(med - 3 * sd, v)) - med);
  let num = 0;
  let den = 0;
  for (let i = 0; i < w.length; i++) {
    den += w[i]! * w[i]!;
    if (i + 1 < w.length) num += w[i]! * w[i + 1]!;
  }
  // Only wandering beyond chance counts: the estimate's standard error under independent
  // nights is √(0.5/n); two of them are taken off, so short flat histories keep the factor 1.
  const rhoDiff = (den > 0 ? num / den : -0.5) - 2 * Math.sqrt(0.5 / w.length);
  const rho = Math.min(0.95, Math.max(0, 1 + 2 * rhoDiff));
  return Math.sqrt((1 + rho) / (1 - rho));
}

/**
 * Night-to-night noise from first differences: MAD/0.6745/√2. Where most
 * differences are 0 (small counts: 0, 0, 1, 0, 2 faults a night) the MAD is 0
 * though the series is noisy: then the root mean square difference without
 * the largest one (a single step) stands in. A floor keeps exact series finite.
 */
function noiseOf(x: Float64Array): number {
  const scale = Math.max(1e-12, ...Array.from(x, Math.abs)) * 1e-9;
  if (x.length < 3) return scale;
  const d = Array.from({ length: x.length - 1 }, (_, i) => x[i + 1]! - x[i]!);
  const med = median(d);
  const mad = median(d.map((v) => Math.abs(v - med)));
  if (mad > 0) return Math.max(scale, mad / 0.6744897501960817 / Math.SQRT2);
  const sq = d.map((v) => v * v).sort((a, b) => a - b).slice(0, -1);
  const rms = sq.length ? Math.sqrt(sq.reduce((a, v) => a + v, 0) / sq.length) : 0;
  return Math.max(scale, rms / Math.SQRT2);
}

/** Single bad nights: far from the median of the (up to) 3 nights before and of the 3 after, on the same side. */
function outliersOf(x: Float64Array, sigma: number): Set<number> {
  const out = new Set<number>();
  for (let t = 1; t < x.length - 1; t++) {
    const before = median(Array.from(x.slice(Math.max(0, t - 3), t)));
    const after = median(Array.from(x.slice(t + 1, Math.min(x.length, t + 4))));
    const a = x[t]! - before;
    const b = x[t]! - after;
    if (Math.sign(a) === Math.sign(b) && Math.min(Math.abs(a), Math.abs(b)) > OUTLIER_SIGMAS * sigma) out.add(t);
  }
  return out;
}

interface Segment {
  readonly start: number;
  /** Exclusive. */
  readonly end: number;
  readonly linear: boolean;
  /** Fitted value at t: a + b·t. */
  readonly a: number;
  readonly b: number;
}

/** Prefix sums over the kept nights, so any segment's level and line fit cost O(1). */
class Sums {
  private readonly c: Float64Array[];
  constructor(x: Float64Array, keep: (t: number) => boolean) {
    const n = x.length;
    this.c = Array.from({ length: 6 }, () => new Float64Array(n + 1));
    for (let t = 0; t < n; t++) {
      const w = keep(t) ? 1 : 0;
      const v = [w, w * t, w * t * t, w * x[t]!, w * t * x[t]!, w * x[t]! * x[t]!];
      for (let k = 0; k < 6; k++) this.c[k]![t + 1] = this.c[k]![t]! + v[k]!;
    }
  }
  private s(k: number, i: number, j: number): number {
    return this.c[k]![j]! - this.c[k]![i]!;
  }
  count(i: number, j: number): number {
    return this.s(0, i, j);
  }
  level(i: number, j: number): { rss: number; a: number } {
    const n = this.s(0, i, j);
    const sx = this.s(3, i, j);
    return { rss: Math.max(0, this.s(5, i, j) - (sx * sx) / n), a: sx / n };
  }
  line(i: number, j: number): { rss: number; a: number; b: number } {
    const n = this.s(0, i, j);
    const st = this.s(1, i, j);
    const stt = this.s(2, i, j);
    const sx = this.s(3, i, j);
    const stx = this.s(4, i, j);
    const sxx = this.s(5, i, j);
    const vt = stt - (st * st) / n;
    if (vt <= 0) return { rss: Math.max(0, sxx - (sx * sx) / n), a: sx / n, b: 0 };
    const b = (stx - (st * sx) / n) / vt;
    const a = (sx - b * st) / n;
    return { rss: Math.max(0, sxx - (sx * sx) / n - b * b * vt), a, b };
  }
}

/** The best segmentation of a series: exact optimal partitioning with level or line segments. */
function segment(x: Float64Array, sigma: number, outliers: Set<number>, penalty: number, minSegment: number, lockedLevels = false): Segment[] {
  const n = x.length;
  const sums = new Sums(x, (t) => !outliers.has(t));
  const logN = Math.log(Math.max(n, 3));
  const beta = penalty * logN;
  // A slope is one more parameter: a line must save more than ln(n)·2 in cost to be preferred.
  const betaSlope = 2 * logN;
  const s2 = sigma * sigma;
  const cost = (i: number, j: number): { c: number; seg: Segment } => {
    const lv = sums.level(i, j);
    const best = { c: lv.rss / s2, seg: { start: i, end: j, linear: false, a: lv.a, b: 0 } as Segment };
    if (!lockedLevels && sums.count(i, j) >= 4) {
      const ln = sums.line(i, j);
      const c = ln.rss / s2 + betaSlope;
      if (c < best.c) return { c, seg: { start: i, end: j, linear: true, a: ln.a, b: ln.b } };
    }
    return best;
  };
  const F = new Float64Array(n + 1).fill(Infinity);
  const from = new Int32Array(n + 1).fill(-1);
  const segs: (Segment | undefined)[] = new Array(n + 1);
  F[0] = -beta;
  for (let j = 1; j <= n; j++) {
    for (let i = 0; i < j; i++) {
      if (!Number.isFinite(F[i]!)) continue;
      // A segment needs minSegment nights that count (outliers do not); the first one may be shorter only if it is the whole series.
      const kept = sums.count(i, j);
      if (kept < minSegment && !(i === 0 && j === n)) continue;
      if (kept === 0) continue;
      const { c, seg } = cost(i, j);
      const v = F[i]! + c + beta;
      if (v < F[j]!) {
        F[j] = v;
        from[j] = i;
        segs[j] = seg;
      }
    }
  }
  const out: Segment[] = [];
  for (let j = n; j > 0; j = from[j]!) {
    if (from[j]! < 0) return [{ start: 0, end: n, linear: false, a: sums.level(0, n).a, b: 0 }];
    out.unshift(segs[j]!);
  }
  return out;
}

const fitAt = (s: Segment, t: number) => s.a + s.b * t;

function segmentHistory(nights: readonly Night[], o: ChangePointOptions): Omit<ChangeReport, 'latest'> {
  const medians = nights.map((n) => median(n.values));
  if (medians.length === 0) return { medians, scale: 'log', points: [], drifts: [], outliers: [] };
  const s = seriesOf(medians);
  const penalty = o.penalty ?? DEFAULT_PENALTY;
  const minSegment = o.minSegment ?? 2;
  const outliers = outliersOf(s.x, s.sigma);
  const effect = s.scale === 'log' ? Math.log1p(o.minEffectPct / 100) : 0;
  let segs = segment(s.x, s.sigma, outliers, penalty, minSegment);
  // Steps below the minimum effect are not changes: merge the smallest away and fit again, until none is left.
  for (let guard = 0; guard < 100 && segs.length > 1; guard++) {
    let smallest = -1;
    let size = Infinity;
    for (let k = 1; k < segs.length; k++) {
      const jump = Math.abs(fitAt(segs[k]!, segs[k]!.start) - fitAt(segs[k - 1]!, segs[k]!.start - 1));
      if (jump < size) { size = jump; smallest = k; }
    }
    if (size >= effect) break;
    const a = segs[smallest - 1]!;
    const b = segs[smallest]!;
    const sub = refit(s.x, s.sigma, outliers, a.start, b.end);
    segs = [...segs.slice(0, smallest - 1), sub, ...segs.slice(smallest + 1)];
  }
  // A drift whose whole change is below the minimum effect is a level.
  segs = segs.map((g) => (g.linear && Math.abs(g.b * (g.end - 1 - g.start)) < effect ? refit(s.x, s.sigma, outliers, g.start, g.end, true) : g));
  const back = s.back;
  const points: ChangePoint[] = [];
  for (let k = 1; k < segs.length; k++) {
    const g = segs[k]!;
    const prev = segs[k - 1]!;
    const before = fitAt(prev, g.start - 1);
    const after = fitAt(g, g.start);
    const n1 = prev.end - prev.start;
    const n2 = g.end - g.start;
    const z = (after - before) / (s.sigma * Math.sqrt(1 / n1 + 1 / n2));
    points.push({
      index: g.start, run: nights[g.start]!.run, created: nights[g.start]!.created,
      ratio: s.scale === 'log' ? Math.exp(after - before) : NaN, delta: back(after) - back(before),
      p: Math.min(1, 2 * normSf(Math.abs(z))), nights: n2,
    });
  }
  const drifts: Drift[] = segs.filter((g) => g.linear).map((g) => ({
    from: g.start, to: g.end - 1,
    perNight: s.scale === 'log' ? 100 * (Math.exp(g.b) - 1) : g.b,
    totalRatio: s.scale === 'log' ? Math.exp(g.b * (g.end - 1 - g.start)) : NaN,
  }));
  return { medians, scale: s.scale, points, drifts, outliers: [...outliers].sort((a, b) => a - b) };
}

/** The best single level or line over [start, end) (outliers left out). */
function refit(x: Float64Array, sigma: number, outliers: Set<number>, start: number, end: number, levelOnly = false): Segment {
  const sums = new Sums(x, (t) => !outliers.has(t));
  const lv = sums.level(start, end);
  if (levelOnly || sums.count(start, end) < 4) return { start, end, linear: false, a: lv.a, b: 0 };
  const ln = sums.line(start, end);
  const betaSlope = 2 * Math.log(Math.max(x.length, 3));
  return ln.rss / (sigma * sigma) + betaSlope < lv.rss / (sigma * sigma) ? { start, end, linear: true, a: ln.a, b: ln.b } : { start, end, linear: false, a: lv.a, b: 0 };
}

/**
 * The latest night against the current segment: a prediction-interval t test,
 * with the nights' spread around the segment's level (or line) as the noise.
 */
function latestNight(m: readonly number[], before: Omit<ChangeReport, 'latest'>, o: ChangePointOptions): ChangeReport['latest'] {
  const last = m.length - 1;
  const start = before.points.at(-1)?.index ?? 0;
  const ref = Array.from({ length: last - start }, (_, i) => start + i).filter((t) => !before.outliers.includes(t));
  if (ref.length < 4) return { state: 'too-short' };
  const log = before.scale === 'log' && m[last]! > 0;
  const f = log ? Math.log : (v: number) => v;
  const y = ref.map((t) => f(m[t]!));
  const drifting = before.drifts.some((d) => d.to === last - 1);
  // Level (or line, where the segment drifts) fitted to the reference nights, and their residual spread.
  const tm = ref.reduce((a, t) => a + t, 0) / ref.length;
  const ym = y.reduce((a, v) => a + v, 0) / y.length;
  let slope = 0;
  if (drifting) {
    let sxy = 0;
    let sxx = 0;
    ref.forEach((t, i) => { sxy += (t - tm) * (y[i]! - ym); sxx += (t - tm) ** 2; });
    slope = sxx > 0 ? sxy / sxx : 0;
  }
  const resid = ref.map((t, i) => y[i]! - (ym + slope * (t - tm)));
  const df = ref.length - (drifting ? 2 : 1);
  const sd = Math.sqrt(resid.reduce((a, r) => a + r * r, 0) / Math.max(1, df));
  const predicted = ym + slope * (last - tm);
  const x = f(m[last]!);
  const ratio = log ? Math.exp(x - predicted) : NaN;
  const big = log ? Math.abs(ratio - 1) >= o.minEffectPct / 100 : true;
  let p: number;
  if (sd > 0) p = Math.min(1, 2 * tSf(Math.abs((x - predicted) / (sd * Math.sqrt(1 + 1 / ref.length))), Math.max(1, df)));
  else p = x === predicted ? 1 : 0;
  return { state: p < o.alpha && big ? 'suspect' : 'stable', ...(Number.isFinite(ratio) ? { ratio } : {}), p };
}
