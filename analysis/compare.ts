/**
 * Comparisons and verdicts. One comparison is one metric of one candidate cell
 * against one reference cell: either the same cell in a baseline run, or
 * another IOMMU configuration of the same workload, disk and profile in the same
 * run ("what strict costs against lazy").
 *
 * Two levels of noise: repetitions inside a boot, and boots (analysis/boots.ts).
 * Two sides are two different boots, so timings are compared by their boot
 * means with the boot-to-boot noise (t test, df of that estimate), never by
 * treating repetitions of one boot as independent samples of the difference;
 * where no estimate of that noise exists the verdict says so. Only two sides
 * that ran in the same boots use the repetitions as units (two-sided
 * Mann–Whitney U, exact without ties up to 30 a side, with the Hodges–Lehmann
 * shift and the interval from inverting the test).
 *
 * Counts follow their model in core/metrics.ts: exact ones by the conditional
 * Poisson rate test on events and I/Os, rare per-repetition events as a rate
 * per repetition, and counts that vary from run to run (timer-driven flushes
 * in lazy mode) over repetitions like timings, with too few repetitions an
 * inconclusive verdict that says how many are needed. Benjamini–Hochberg over
 * every test of the comparison set. Verdicts need significance and an effect of
 * at least the scenario's min_effect_pct, and say when they cannot be reached.
 */
import { countVariation, describeMetric, EXPOSURE_METRIC, measuredVariation, workloadToolsOf, type CountVariation, type MetricDescription } from '../core/metrics.js';
import type { Timebase } from '../core/clock.js';
import { toolOf, type Cell } from '../cell/types.js';
import { kernelSiblingKey, siblingKey } from '../cell/expand.js';
import { configName, configOrder, MODES } from '../core/iommu.js';
import type { Thresholds } from '../scenario/types.js';
import { fmtNum, fmtP, fmtPct } from './format.js';
import type { LoadedRun } from './load.js';
import { completeCounts, samples, timebaseOfCell } from './load.js';
import { acrossCellNoise, bootMeans, bootTest, byBoot, historyBootNoise, replicateBootNoise, sameBoots, withinFloor, type BootGroup, type BootNoise } from './boots.js';
import { benjaminiHochberg, compareRates, cvPct, exactFloor, hodgesLehmann, mannWhitney, mean, median, power, tTestMde, welchLog } from './stats/index.js';

export type Verdict = 'regression' | 'improvement' | 'no-change' | 'inconclusive';

export interface SampleSummary {
  readonly n: number;
  readonly median: number;
  readonly cvPct: number;
  readonly values: readonly number[];
}

export interface Comparison {
  readonly kind: 'baseline' | 'modes' | 'kernels';
  /** Candidate cell, and the cell it is compared with (the same id against a baseline). */
  readonly cell: string;
  readonly reference: string;
  /** e.g. "intel-strict vs intel-lazy" or "candidate vs baseline". */
  readonly label: string;
  readonly group: string;
  /** What the timings measured; reports say "virtual time" where it is virtual. Absent means wall-clock time. */
  readonly timebase?: Timebase;
  readonly metric: string;
  readonly metricKind: 'timing' | 'count' | 'exact';
  readonly unit: string;
  readonly better: 'higher' | 'lower';
  readonly ref: SampleSummary;
  readonly cand: SampleSummary;
  /** candidate / reference, with its interval and the confidence the interval really has. */
  readonly ratio: number;
  readonly lower: number;
  readonly upper: number;
  readonly confidence: number;
  /**
   * boot-t: t test of boot means with the boot-to-boot noise; mann-whitney-*: repetitions as units
   * (same boots on both sides); poisson-rate: exact or per-repetition counts; none: no valid test
   * (boot-to-boot noise unknown, or too few repetitions of a varying count); zero: an exact metric that
   * is zero on one side (or both) and not on the other: a difference no noise explains.
   */
  readonly test: 'boot-t' | 'mann-whitney-exact' | 'mann-whitney-asymptotic' | 'poisson-rate' | 'zero' | 'none';
  readonly p: number;
  readonly pWelch?: number;
  /** Benjamini–Hochberg adjusted p over the comparison set. */
  readonly q: number;
  readonly mdePct?: number;
  /** Boots on each side, and where the boot-to-boot noise came from (timings and varying counts). */
  readonly boots?: { readonly ref: number; readonly cand: number; readonly noise?: BootNoise };
  /** The effect within these boots alone, when the boot-to-boot noise is unknown (information, not a verdict). */
  readonly within?: { readonly ratio: number; readonly lower: number; readonly upper: number; readonly p: number };
  /** How the count behaves (core/metrics.ts), for counts. */
  readonly variation?: CountVariation;
  /** Repetitions a side a varying count needs before it can be compared, when it has fewer. */
  readonly needsReps?: number;
  /** Why the count varies (a timer in lazy mode, or a partial traced window under the virtual clock). */
  readonly variesWhy?: string;
  readonly noisy: boolean;
  readonly verdict: Verdict;
  readonly reason: string;
}

export interface ComparisonSet {
  readonly comparisons: readonly Comparison[];
  /** Cells or metrics that could not be compared, and why. */
  readonly leftOut: readonly { readonly cell: string; readonly metric?: string; readonly reason: string }[];
  readonly thresholds: Thresholds;
}

export type Pending = Omit<Comparison, 'q' | 'verdict' | 'reason'>;

function summary(values: readonly number[]): SampleSummary {
  return { n: values.length, median: median(values), cvPct: cvPct(values), values };
}

function minEffect(t: Thresholds, metric: string): number {
  return t.metrics?.[metric]?.min_effect_pct ?? t.min_effect_pct;
}
function maxCv(t: Thresholds, metric: string): number {
  return t.metrics?.[metric]?.max_cv_pct ?? t.max_cv_pct;
}

export interface Side {
  readonly values: readonly number[];
  readonly exposures: readonly number[];
  /** The boot each value ran in (provenance boot_id, else run and target). */
  readonly boots: readonly string[];
}

export interface CompareContext {
  /** How a count behaves on each side (from the cells' IOMMU modes); exact when absent. */
  readonly variation?: { readonly ref: CountVariation; readonly cand: CountVariation };
  /** The boot-to-boot noise of this metric, when something estimates it. */
  readonly bootNoise?: BootNoise;
  /** Why a varying count varies, for the verdict's reason. */
  readonly variesWhy?: string;
}

const sum = (x: readonly number[]) => x.reduce((s, v) => s + v, 0);

/** Compares one metric of two samples; a string says why there is nothing to compare. */
export function compareSamples(
  base: Side,
  cand: Side,
  d: MetricDescription,
  t: Thresholds,
  head: Pick<Comparison, 'kind' | 'cell' | 'reference' | 'label' | 'group' | 'timebase'>,
  ctx: CompareContext = {},
): Pending | string {
  if (base.values.length === 0 || cand.values.length === 0) return `no passed repetitions with ${d.name} on ${base.values.length === 0 ? 'the reference' : 'the candidate'} side`;
  const common = { ...head, metric: d.name, unit: d.unit, better: d.better, ref: summary(base.values), cand: summary(cand.values) };
  if (d.kind === 'count') {
    const v = ctx.variation ?? { ref: d.count?.variation ?? 'exact', cand: d.count?.variation ?? 'exact' };
    if (v.ref === 'varies' || v.cand === 'varies') return compareOverRepetitions(base, cand, d, t, common, ctx, 'varies');
    // Events back from each repetition's value and its exposure (core/metrics.ts exposureOf):
    // per-I/O rates weigh by the repetition's I/Os, per-repetition counts by one repetition.
    const weight = (side: Side) => (d.per === 'io' ? side.exposures : side.values.map(() => 1));
    const [w1, w2] = [weight(base), weight(cand)];
    const e1 = sum(w1);
    const e2 = sum(w2);
    if (!(e1 > 0) || !(e2 > 0)) return `no I/O count (${EXPOSURE_METRIC}) beside the per-I/O counts`;
    const k1 = base.values.reduce((s, x, i) => s + x * w1[i]!, 0);
    const k2 = cand.values.reduce((s, x, i) => s + x * w2[i]!, 0);
    const r = compareRates(Math.round(k1), e1, Math.round(k2), e2);
    return { ...common, metricKind: 'count', variation: d.count?.variation === 'poisson' ? 'poisson' : 'exact', ratio: r.ratio, lower: r.lower, upper: r.upper, confidence: 0.95, test: 'poisson-rate', p: r.p, noisy: false };
  }
  if (d.kind === 'exact') return compareExact(base, cand, d, t, common, ctx);
  if (base.values.some((x) => !(x > 0)) || cand.values.some((x) => !(x > 0))) return 'timing values must be positive to compare as ratios';
  return compareOverRepetitions(base, cand, d, t, common, ctx, undefined);
}

/**
 * The smallest boot-to-boot spread an exact metric is credited with: one boot
 * mean's relative standard deviation (0.05 %, bench:profiler's bound across
 * boots and under host load). Within a boot an exact metric may not vary at
 * all, and its boots may happen to agree to the last digit: without a floor,
 * any difference would be infinitely significant.
 */
export const EXACT_FLOOR_PCT = 0.05;
const EXACT_FLOOR_TAU2 = Math.log1p(EXACT_FLOOR_PCT / 100) ** 2;

/**
 * Exact metrics (the QEMU plugin's counts, core/metrics.ts): boot means against boot means, with the
 * boot-to-boot spread the lab measures (replicate boots, history) but never less than the floor; so one
 * repetition and one boot a side are enough once the metric is known to repeat (docs/statistics.md).
 * Zero on one side only is a difference no spread explains; zero on both is no change.
 */
function compareExact(
  base: Side, cand: Side, d: MetricDescription, t: Thresholds,
  common: Omit<Pending, 'metricKind' | 'ratio' | 'lower' | 'upper' | 'confidence' | 'test' | 'p' | 'noisy'>, ctx: CompareContext,
): Pending {
  const zeroA = base.values.every((x) => x === 0);
  const zeroB = cand.values.every((x) => x === 0);
  const boots = { ref: byBoot(base.values, base.boots).length, cand: byBoot(cand.values, cand.boots).length };
  if (zeroA || zeroB || base.values.some((x) => !(x > 0)) || cand.values.some((x) => !(x > 0))) {
    const same = zeroA && zeroB;
    const ratio = same ? 1 : mean(cand.values) / mean(base.values);
    return { ...common, metricKind: 'exact', boots, ratio, lower: ratio, upper: ratio, confidence: 1, test: 'zero', p: same ? 1 : 0, noisy: false };
  }
  const measured = ctx.bootNoise;
  const bootNoise: BootNoise = measured && measured.tau2 >= EXACT_FLOOR_TAU2
    ? measured
    : { tau2: EXACT_FLOOR_TAU2, df: measured?.df ?? 1000, source: measured ? `${measured.source}, raised to the exact floor` : 'the exact floor' };
  const r = compareOverRepetitions(base, cand, d, t, common, { ...ctx, bootNoise }, undefined);
  if (r.test === 'boot-t') return { ...r, metricKind: 'exact', noisy: false };
  // Same boots on both sides (one guest measured twice): the boot offsets cancel, but an exact metric's
  // repetitions may not vary at all, so the floor still sets the interval.
  const A = byBoot(base.values.map(Math.log), base.boots);
  const B = byBoot(cand.values.map(Math.log), cand.boots);
  const bt = bootTest(A, B, bootNoise, 0.95);
  return { ...r, metricKind: 'exact', test: 'boot-t', ratio: Math.exp(bt.diff), lower: Math.exp(bt.lower), upper: Math.exp(bt.upper), confidence: 0.95, p: bt.p, noisy: false, boots: { ...boots, noise: bootNoise } };
}

/**
 * Timings, and counts that vary from run to run: repetitions within a boot,
 * boots between sides. On logs (effects as ratios) when every value is
 * positive; a varying count that reaches zero is compared on its own scale.
 */
function compareOverRepetitions(
  base: Side, cand: Side, d: MetricDescription, t: Thresholds,
  common: Omit<Pending, 'metricKind' | 'ratio' | 'lower' | 'upper' | 'confidence' | 'test' | 'p' | 'noisy'>,
  ctx: CompareContext, variation: 'varies' | undefined,
): Pending {
  const metricKind = d.kind === 'count' ? 'count' : d.kind === 'exact' ? 'exact' : 'timing';
  const positive = base.values.every((x) => x > 0) && cand.values.every((x) => x > 0);
  const f = positive ? Math.log : (x: number) => x;
  const back = (shift: number) => (positive ? Math.exp(shift) : (median(base.values) + shift) / median(base.values));
  const A = byBoot(base.values.map(f), base.boots);
  const B = byBoot(cand.values.map(f), cand.boots);
  const cv = Math.max(common.ref.cvPct, common.cand.cvPct);
  // max_cv_pct judges the machine's noise on timings; a varying count's spread is its nature, tested as such.
  const noisy = metricKind === 'timing' && Number.isFinite(cv) && cv > maxCv(t, d.name);
  const boots = { ref: A.length, cand: B.length };
  const extra = variation ? { variation, ...(ctx.variesWhy ? { variesWhy: ctx.variesWhy } : {}) } : {};
  if (variation) {
    // A count that varies has no exactness to lean on: without enough repetitions there is no test.
    const need = exactFloor(2, 2, t.alpha).minRepsPerSide;
    if (base.values.length < need || cand.values.length < need) {
      return { ...common, ...extra, metricKind, ratio: back(median(cand.values.map(f)) - median(base.values.map(f))), lower: NaN, upper: NaN, confidence: NaN, test: 'none', p: NaN, noisy, needsReps: need, boots };
    }
  }
  const logB = base.values.map(f);
  const logC = cand.values.map(f);
  const mw = mannWhitney(logB, logC);
  const hl = hodgesLehmann(logB, logC, 0.95);
  const w = positive && base.values.length >= 2 && cand.values.length >= 2 ? welchLog(base.values, cand.values) : undefined;
  if (sameBoots(A, B)) {
    // The boot offsets cancel: repetitions are the units.
    const pw = Number.isFinite(cv) ? power(cv, base.values.length, cand.values.length, t.alpha) : undefined;
    return {
      ...common, ...extra, metricKind, boots,
      ratio: back(hl.estimate), lower: back(hl.lower), upper: back(hl.upper), confidence: hl.confidence,
      test: mw.method === 'exact' ? 'mann-whitney-exact' : 'mann-whitney-asymptotic', p: mw.p,
      ...(w ? { pWelch: w.p } : {}), ...(pw ? { mdePct: pw.mdePct } : {}), noisy,
    };
  }
  if (!ctx.bootNoise) {
    return {
      ...common, ...extra, metricKind, boots,
      ratio: back(hl.estimate), lower: NaN, upper: NaN, confidence: NaN, test: 'none', p: NaN,
      within: { ratio: back(hl.estimate), lower: back(hl.lower), upper: back(hl.upper), p: mw.p },
      ...(w ? { pWelch: w.p } : {}), noisy,
    };
  }
  const bt = bootTest(A, B, ctx.bootNoise, 0.95);
  const mde = tTestMde(bt.df, t.alpha) * bt.se;
  return {
    ...common, ...extra, metricKind, boots: { ...boots, noise: ctx.bootNoise },
    ratio: back(bt.diff), lower: back(bt.lower), upper: back(bt.upper), confidence: 0.95,
    test: 'boot-t', p: bt.p, ...(w ? { pWelch: w.p } : {}),
    ...(positive ? { mdePct: 100 * (Math.exp(mde) - 1) } : {}),
    within: { ratio: back(hl.estimate), lower: back(hl.lower), upper: back(hl.upper), p: mw.p },
    noisy,
  };
}

/** A count's change as people say it: "0 → 1.000 per I/O", "×159", "−16.5 %". */
function rateChange(c: Pending): string {
  if (c.ref.median === 0 || !Number.isFinite(c.ratio)) return `${fmtNum(c.ref.median)} → ${fmtNum(c.cand.median)} per I/O`;
  if (c.ratio >= 2) return `×${fmtNum(c.ratio)} (${fmtNum(c.ref.median)} → ${fmtNum(c.cand.median)} per I/O)`;
  if (c.ratio > 0 && c.ratio <= 0.5) return `÷${fmtNum(1 / c.ratio)} (${fmtNum(c.ref.median)} → ${fmtNum(c.cand.median)} per I/O)`;
  return fmtPct(c.ratio);
}

export function judge(c: Pending, q: number, t: Thresholds): { verdict: Verdict; reason: string } {
  const eff = minEffect(t, c.metric) / 100;
  const worse = c.better === 'higher' ? c.ratio < 1 : c.ratio > 1;
  const big = Math.abs(c.ratio - 1) >= eff || !Number.isFinite(c.ratio);
  const inside = c.lower >= 1 - eff && c.upper <= 1 + eff;
  const sig = q < t.alpha;
  const direction = (): Verdict => (worse ? 'regression' : 'improvement');
  if (c.metricKind === 'count' && c.test === 'poisson-rate') {
    if (c.ref.values.every((v) => v === 0) && c.cand.values.every((v) => v === 0)) {
      return { verdict: 'no-change', reason: 'no events on either side' };
    }
    const what = c.variation === 'poisson' ? 'rate per repetition' : 'per-I/O rate';
    const change = c.variation === 'poisson' ? `${fmtNum(c.ref.median)} → ${fmtNum(c.cand.median)} per repetition` : rateChange(c);
    if (sig && big) return { verdict: direction(), reason: `${what} ${change} (${c.variation === 'poisson' ? 'Poisson' : 'exact counts'}, q ${fmtP(q)})` };
    if (inside || (sig && !big)) return { verdict: 'no-change', reason: `${what} within ±${minEffect(t, c.metric)} %` };
    return { verdict: 'inconclusive', reason: `too few events to bound the ${what} within ±${minEffect(t, c.metric)} %` };
  }
  if (c.needsReps !== undefined) {
    return { verdict: 'inconclusive', reason: `varies from run to run (${c.variesWhy ?? 'driven by a timer or a queue, not by the I/Os'}), so it is compared over traced repetitions: needs ≥ ${c.needsReps} a side, has ${c.ref.n} and ${c.cand.n}` };
  }
  if (c.test === 'zero') return c.p === 1 ? { verdict: 'no-change', reason: 'zero on both sides (exact)' } : { verdict: direction(), reason: `${fmtNum(c.ref.median)} → ${fmtNum(c.cand.median)} ${c.unit} (exact: zero on one side only)` };
  if (c.ref.n < 2 && c.cand.n < 2 && c.test !== 'boot-t') return { verdict: 'inconclusive', reason: `needs at least 2 repetitions a side (has ${c.ref.n} and ${c.cand.n})` };
  if (c.noisy) return { verdict: 'inconclusive', reason: `noisy: CV ${Math.max(c.ref.cvPct, c.cand.cvPct).toFixed(1)} % above max_cv_pct ${maxCv(t, c.metric)} %; not trusted` };
  if (c.test === 'none' && c.within) {
    return {
      verdict: 'inconclusive',
      reason: `${fmtPct(c.within.ratio)} [${fmtPct(c.within.lower)}, ${fmtPct(c.within.upper)}] within these boots, but the two sides ran in different boots (${c.boots?.ref ?? 1} and ${c.boots?.cand ?? 1}) and nothing estimates how much boots differ: set boots: 2 (or more) in the VM profile, or compare once the scenario has history`,
    };
  }
  if (c.test === 'mann-whitney-exact') {
    // The floor only: the power simulation is not needed to say that α cannot be reached.
    const pw = exactFloor(c.ref.n, c.cand.n, t.alpha);
    if (!pw.canReach) return { verdict: 'inconclusive', reason: `${c.ref.n} vs ${c.cand.n} repetitions: the exact U test cannot go below p = ${pw.minP.toPrecision(2)}, so nothing is significant at α = ${t.alpha}; use ≥ ${pw.minRepsPerSide} a side (effect ${fmtPct(c.ratio)})` };
  }
  const level = c.test === 'boot-t' ? ` (${c.boots!.ref} vs ${c.boots!.cand} boots, boot noise from ${c.boots!.noise!.source})` : '';
  if (sig && big) return { verdict: direction(), reason: `${fmtPct(c.ratio)} [${fmtPct(c.lower)}, ${fmtPct(c.upper)}], q ${fmtP(q)}${level}` };
  if (sig && !big) return { verdict: 'no-change', reason: `significant but ${fmtPct(c.ratio)} is below the ${minEffect(t, c.metric)} % minimum effect` };
  if (inside) return { verdict: 'no-change', reason: `interval [${fmtPct(c.lower)}, ${fmtPct(c.upper)}] within ±${minEffect(t, c.metric)} %${level}` };
  return { verdict: 'inconclusive', reason: `not significant (q ${fmtP(q)}); this noise and n detect ≥ ${c.mdePct !== undefined && Number.isFinite(c.mdePct) ? c.mdePct.toFixed(1) : '?'} % with 80 % power${level}` };
}

export function judgeAll(pending: readonly Pending[], leftOut: ComparisonSet['leftOut'], t: Thresholds): ComparisonSet {
  const q = benjaminiHochberg(pending.map((c) => c.p));
  const comparisons = pending.map((c, i) => ({ ...c, q: q[i]!, ...judge(c, q[i]!, t) }));
  return { comparisons, leftOut, thresholds: t };
}

/**
 * The metrics a run compares: the scenario's list, plus the counts the traced
 * repetitions produced; for one cell, those its workload's tool gives (a fio
 * cell has no DMA-map benchmark metric, and the other way round).
 */
export function metricsOf(run: LoadedRun, cell?: Cell): MetricDescription[] {
  const names = new Set(run.scenario.metrics);
  for (const reps of run.reps.values()) {
    for (const r of reps) if (r.outcome.state === 'passed') for (const m of Object.keys(r.outcome.metrics)) if (describeMetric(m)?.kind === 'count') names.add(m);
  }
  return [...names].map((n) => describeMetric(n)).filter((d): d is MetricDescription => d !== undefined && d.kind !== 'exposure' && (!cell || workloadToolsOf(d).includes(toolOf(cell.job))));
}

/** Values of one metric in one cell of one run, as boot groups on the log scale; undefined when a value is not positive. */
function logGroups(run: LoadedRun, cellId: string, metric: string): BootGroup[] | undefined {
  const x = samples(run, cellId, metric);
  if (x.values.length === 0 || x.values.some((v) => !(v > 0))) return undefined;
  return byBoot(x.values.map(Math.log), x.boots);
}

/** One side of a comparison: its cell, its clock, and whether its traced counts of the metric were proven complete. */
interface ComparedSide {
  readonly cell: Cell;
  readonly timebase: Timebase;
  readonly provenComplete: boolean;
}

/** Why a count varies on these sides: the kernel (a timer, a queue) or the measurement (counts not proven complete). */
function variesWhy(d: MetricDescription, sides: readonly ComparedSide[]): string | undefined {
  const measured = sides.filter((x) => measuredVariation(d, x.cell.iommu.mode, x) === 'varies');
  if (!measured.length) return undefined;
  return measured.every((x) => countVariation(d, x.cell.iommu.mode) === 'exact')
    ? 'under the virtual clock, traced repetitions recorded before the lab proved its counts complete may have counted only part of their I/Os'
    : 'driven by a timer or a queue, not by the I/Os';
}

/** Metrics compared over repetitions with boots as a level: timings, and counts that vary. */
function overRepetitions(d: MetricDescription, sides: readonly ComparedSide[]): boolean {
  return d.kind === 'timing' || d.kind === 'exact' || sides.some((x) => measuredVariation(d, x.cell.iommu.mode, x) === 'varies');
}

function sideOf(run: LoadedRun, cell: Cell, d: MetricDescription): ComparedSide {
  return { cell, timebase: timebaseOfCell(run, cell), provenComplete: d.kind === 'count' && 'values' in completeCounts(run, cell.id, d.name) };
}

/**
 * The boot-to-boot noise of one metric on one clock, pooled over cells: from
 * replicate boots within runs and from the history of each cell (analysis/boots.ts),
 * never smaller than the repetitions alone imply. `history` is oldest first and
 * must not contain a run whose difference is being tested against another.
 */
export function bootNoiseOf(metric: string, timebase: Timebase, runs: readonly LoadedRun[], history: readonly LoadedRun[]): BootNoise | undefined {
  const replicate: BootGroup[][] = [];
  const all: BootGroup[][] = [];
  const series = new Map<string, number[]>();
  const seen = new Set<string>();
  for (const run of [...runs, ...history]) {
    if (seen.has(run.dir)) continue;
    seen.add(run.dir);
    for (const c of run.cells.values()) {
      if (timebaseOfCell(run, c) !== timebase) continue;
      const g = logGroups(run, c.id, metric);
      if (!g) continue;
      all.push(g);
      if (g.length >= 2) replicate.push(g);
    }
  }
  for (const run of history) {
    for (const c of run.cells.values()) {
      if (timebaseOfCell(run, c) !== timebase) continue;
      const g = logGroups(run, c.id, metric);
      // One boot per run: the first, so every point of the series has one boot mean's variance.
      if (g) series.set(c.id, [...(series.get(c.id) ?? []), bootMeans(g.slice(0, 1))[0]!]);
    }
  }
  const rep = replicateBootNoise(replicate);
  const hist = historyBootNoise([...series.values()].filter((s) => s.length >= 2));
  let noise: BootNoise | undefined;
  if (rep && hist) noise = { tau2: (rep.tau2 * rep.df + hist.tau2 * hist.df) / (rep.df + hist.df), df: rep.df + hist.df, source: 'replicate boots and history' };
  else noise = rep ?? hist;
  if (!noise) return undefined;
  return { ...noise, tau2: Math.max(noise.tau2, withinFloor(all)) };
}

/** Options of the comparisons: earlier runs of the scenario, oldest first, for the boot-to-boot noise. */
export interface CompareOptions {
  readonly history?: readonly LoadedRun[];
}

/** The same cells of two runs of one scenario. */
/** A cell and the run it is in. */
interface CellIn {
  readonly run: LoadedRun;
  readonly cell: Cell;
}

/** The boot-to-boot noise of a metric on a clock, estimated once per pair. */
type NoiseFor = (d: MetricDescription, tb: Timebase) => BootNoise | undefined;
function memoNoise(estimate: NoiseFor): NoiseFor {
  const cache = new Map<string, BootNoise | undefined>();
  return (d, tb) => {
    const key = `${d.name}|${tb}`;
    if (!cache.has(key)) cache.set(key, estimate(d, tb));
    return cache.get(key);
  };
}

/**
 * One metric of two cells (in one run or two), the body every kind of
 * comparison shares: how the count behaves on each side (from its mode and
 * whether its counts were proven complete), the boot-to-boot noise when the metric is compared over repetitions,
 * why a count varies; then compareSamples.
 */
function comparePair(ref: CellIn, cand: CellIn, d: MetricDescription, t: Thresholds, head: Pick<Comparison, 'kind' | 'label' | 'group'>, noiseFor: NoiseFor): Pending | string {
  const sides = [sideOf(ref.run, ref.cell, d), sideOf(cand.run, cand.cell, d)] as const;
  const tb = sides[1].timebase;
  const variation = { ref: measuredVariation(d, ref.cell.iommu.mode, sides[0]) ?? 'exact', cand: measuredVariation(d, cand.cell.iommu.mode, sides[1]) ?? 'exact' };
  const noise = overRepetitions(d, sides) ? noiseFor(d, tb) : undefined;
  const why = variesWhy(d, sides);
  return compareSamples(samples(ref.run, ref.cell.id, d.name), samples(cand.run, cand.cell.id, d.name), d, t, { ...head, cell: cand.cell.id, reference: ref.cell.id, timebase: tb }, { variation, ...(noise ? { bootNoise: noise } : {}), ...(why ? { variesWhy: why } : {}) });
}

export function compareRuns(base: LoadedRun, cand: LoadedRun, o: CompareOptions = {}): ComparisonSet {
  const t = cand.scenario.thresholds;
  const pending: Pending[] = [];
  const leftOut: { cell: string; metric?: string; reason: string }[] = [];
  for (const id of base.cells.keys()) if (!cand.cells.has(id)) leftOut.push({ cell: id, reason: 'in the baseline only' });
  // The candidate's link to earlier runs is the difference under test: history stops before it.
  const history = (o.history ?? []).filter((r) => r.dir !== cand.dir && r.manifest.created <= cand.manifest.created);
  if (!history.some((r) => r.dir === base.dir)) history.push(base);
  history.sort((a, b) => a.manifest.created.localeCompare(b.manifest.created));
  const metrics = metricsOf(cand);
  const noiseFor = memoNoise((d, tb) => bootNoiseOf(d.name, tb, [cand], history) ?? acrossCells(base, cand, d.name, tb));
  for (const [id, cell] of cand.cells) {
    if (!base.cells.has(id)) {
      leftOut.push({ cell: id, reason: 'not in the baseline' });
      continue;
    }
    // Virtual time and wall-clock time measure different things: a baseline taken with the other clock compares counts only.
    const baseCell = base.cells.get(id)!;
    const tb = timebaseOfCell(cand, cell);
    const clocksDiffer = timebaseOfCell(base, baseCell) !== tb;
    for (const d of metrics.filter((x) => workloadToolsOf(x).includes(toolOf(cell.job)))) {
      // Exact counts differ between clocks too: the virtual clock boots with other kernel arguments (nokaslr, nohz=off).
      if (clocksDiffer && (d.kind === 'timing' || d.kind === 'exact')) {
        leftOut.push({ cell: id, metric: d.name, reason: d.kind === 'exact'
          ? `the baseline ran on the ${timebaseOfCell(base, baseCell)} clock and this run on the ${tb} clock: the guests booted with other kernel arguments, so their instruction counts are not comparable (2,343 against 2,273 IOMMU-path instructions per I/O in intel strict)`
          : `the baseline measured ${timebaseOfCell(base, baseCell)} time and this run ${tb} time: timings are not comparable (counts are)` });
        continue;
      }
      const r = comparePair({ run: base, cell: baseCell }, { run: cand, cell }, d, t, { kind: 'baseline', label: 'candidate vs baseline', group: siblingKey(cell) }, clocksDiffer ? () => undefined : noiseFor);
      if (typeof r === 'string') leftOut.push({ cell: id, metric: d.name, reason: r });
      else pending.push(r);
    }
  }
  return judgeAll(pending, leftOut, t);
}

/** The boot-to-boot noise from the spread of every cell's difference between two runs (analysis/boots.ts, source 3). */
function acrossCells(base: LoadedRun, cand: LoadedRun, metric: string, tb: Timebase): BootNoise | undefined {
  const diffs: number[] = [];
  for (const [id, cell] of cand.cells) {
    const baseCell = base.cells.get(id);
    if (!baseCell || timebaseOfCell(cand, cell) !== tb || timebaseOfCell(base, baseCell) !== tb) continue;
    const a = logGroups(base, id, metric);
    const b = logGroups(cand, id, metric);
    if (!a || !b || sameBoots(a, b)) continue;
    // Scaled to one boot a side: Var(diff) = τ² (1/k₁ + 1/k₂).
    diffs.push((mean(bootMeans(b)) - mean(bootMeans(a))) / Math.sqrt((1 / a.length + 1 / b.length) / 2));
  }
  return acrossCellNoise(diffs);
}

/**
 * The pairs of configurations worth a comparison, cheaper one as reference:
 * within a device, each mode against the less protective ones (strict vs lazy,
 * passthrough); no IOMMU against every device's modes; and the same mode on
 * two devices (virtio against intel).
 */
export function modePairs(cells: readonly Cell[]): [Cell, Cell][] {
  const pairs: [Cell, Cell][] = [];
  for (const a of cells) {
    for (const b of cells) {
      if (a === b) continue;
      const ra = MODES[a.iommu.mode].rank;
      const rb = MODES[b.iommu.mode].rank;
      const sameDevice = a.iommu.device === b.iommu.device;
      if (sameDevice && ra < rb) pairs.push([a, b]);
      else if (!sameDevice && a.iommu.device === 'none' && b.iommu.device !== 'none') pairs.push([a, b]);
      else if (!sameDevice && a.iommu.mode === b.iommu.mode && a.iommu.device === 'intel' && b.iommu.device === 'virtio') pairs.push([a, b]);
    }
  }
  return pairs;
}

/** Configurations against each other within one run. */
export function compareModes(run: LoadedRun, o: CompareOptions = {}): ComparisonSet {
  return compareConfigPairs(run, o, modePairs);
}

/**
 * The configuration a group's rows are relative to: `named` where the group has it, else the
 * group's first in rank order (no IOMMU, or passthrough: the untranslated one).
 */
export function referenceOf(cells: readonly Cell[], named?: string): Cell {
  const ranked = [...cells].sort((a, b) => configOrder(a.iommu) - configOrder(b.iommu));
  return ranked.find((c) => configName(c.iommu) === named) ?? ranked[0]!;
}

/**
 * Every configuration of a group against its reference (referenceOf), for tables relative to it
 * (the text report): the same comparison as compareModes, over other pairs.
 */
export function compareToReference(run: LoadedRun, o: CompareOptions & { readonly reference?: string } = {}): ComparisonSet {
  return compareConfigPairs(run, o, (cells) => {
    const ref = referenceOf(cells, o.reference);
    return cells.filter((c) => c !== ref).sort((a, b) => configOrder(a.iommu) - configOrder(b.iommu)).map((c) => [ref, c] as [Cell, Cell]);
  });
}

/** The cells of a run by comparison group (siblingKey: everything but the IOMMU configuration). */
export function siblingGroups(run: LoadedRun): Map<string, Cell[]> {
  const groups = new Map<string, Cell[]>();
  for (const c of run.cells.values()) groups.set(siblingKey(c), [...(groups.get(siblingKey(c)) ?? []), c]);
  return groups;
}

/** Pairs of configurations within each group of one run ([reference, candidate]), every metric of each. */
function compareConfigPairs(run: LoadedRun, o: CompareOptions, pairsOf: (cells: readonly Cell[]) => [Cell, Cell][]): ComparisonSet {
  const t = run.scenario.thresholds;
  const history = (o.history ?? []).filter((r) => r.manifest.created <= run.manifest.created);
  if (!history.some((r) => r.dir === run.dir)) history.push(run);
  history.sort((a, b) => a.manifest.created.localeCompare(b.manifest.created));
  const noiseFor = memoNoise((d, tb) => bootNoiseOf(d.name, tb, [run], history));
  const pending: Pending[] = [];
  const leftOut: { cell: string; metric?: string; reason: string }[] = [];
  for (const [group, cells] of siblingGroups(run)) {
    for (const [a, b] of pairsOf(cells)) {
      const label = `${configName(b.iommu)} vs ${configName(a.iommu)}`;
      for (const d of metricsOf(run, a)) {
        const r = comparePair({ run, cell: a }, { run, cell: b }, d, t, { kind: 'modes', label, group }, noiseFor);
        if (typeof r === 'string') leftOut.push({ cell: b.id, metric: d.name, reason: `${label}: ${r}` });
        else pending.push(r);
      }
    }
  }
  return judgeAll(pending, leftOut, t);
}

/**
 * Kernels against each other within each IOMMU configuration (a VM profile
 * whose kernel: is a list): every kernel against the first one listed, the
 * reference ("patched vs base"). Counts and timings, as configurations are.
 */
export function compareKernels(run: LoadedRun, o: CompareOptions = {}): ComparisonSet {
  const t = run.scenario.thresholds;
  const history = (o.history ?? []).filter((r) => r.manifest.created <= run.manifest.created);
  if (!history.some((r) => r.dir === run.dir)) history.push(run);
  const groups = new Map<string, Cell[]>();
  for (const c of run.cells.values()) {
    const k = kernelSiblingKey(c);
    if (k) groups.set(k, [...(groups.get(k) ?? []), c]);
  }
  const order = (c: Cell) => {
    const vm = run.scenario.targets.vms.find((v) => c.target.kind === 'vm' && v.name === c.target.profile);
    const list = vm && Array.isArray(vm.kernel) ? (vm.kernel as readonly string[]) : [];
    return c.target.kind === 'vm' ? list.indexOf(c.target.kernel) : -1;
  };
  const kernelOf = (c: Cell) => (c.target.kind === 'vm' ? c.target.kernel : '');
  const noiseFor = memoNoise((d, tb) => bootNoiseOf(d.name, tb, [run], history));
  const pending: Pending[] = [];
  const leftOut: { cell: string; metric?: string; reason: string }[] = [];
  for (const [group, cells] of groups) {
    const sorted = [...cells].sort((a, b) => order(a) - order(b));
    const ref = sorted[0]!;
    for (const b of sorted.slice(1)) {
      for (const d of metricsOf(run, ref)) {
        const label = `${kernelOf(b)} vs ${kernelOf(ref)} (${configName(b.iommu)})`;
        const r = comparePair({ run, cell: ref }, { run, cell: b }, d, t, { kind: 'kernels', label, group }, noiseFor);
        if (typeof r === 'string') leftOut.push({ cell: b.id, metric: d.name, reason: `${label}: ${r}` });
        else pending.push(r);
      }
    }
  }
  return judgeAll(pending, leftOut, t);
}

/**
 * One metric of one cell in two runs, judged on its own (no multiple-comparison
 * set): a bisect step against an endpoint. Boot-to-boot noise comes from the
 * runs' replicate boots, when they have them. A string says why there is
 * nothing to compare.
 */
export function compareCellAcross(ref: CellIn, cand: CellIn, metric: string, label: string): Comparison | string {
  const d = describeMetric(metric);
  if (!d) return `unknown metric ${metric}`;
  const t = cand.run.scenario.thresholds;
  const r = comparePair(ref, cand, d, t, { kind: 'kernels', label, group: siblingKey(cand.cell) }, (m, tb) => bootNoiseOf(m.name, tb, [ref.run, cand.run], []));
  if (typeof r === 'string') return r;
  return { ...r, q: r.p, ...judge(r, r.p, t) };
}

export interface PairFinding {
  readonly group: string;
  readonly label: string;
  readonly counts: readonly Comparison[];
  readonly timings: readonly Comparison[];
  readonly summary: string;
}

/**
 * One line per pair of configurations: a difference the exact counts show but
 * the noisy timings cannot is said as such, never as "no change".
 */
export function pairFindings(set: ComparisonSet): PairFinding[] {
  const byPair = new Map<string, { group: string; label: string; cs: Comparison[] }>();
  for (const c of set.comparisons) {
    const k = JSON.stringify([c.group, c.label]);
    if (!byPair.has(k)) byPair.set(k, { group: c.group, label: c.label, cs: [] });
    byPair.get(k)!.cs.push(c);
  }
  const out: PairFinding[] = [];
  for (const { group, label, cs } of byPair.values()) {
    // The plugin's exact metrics speak as counts do: what changed, exactly.
    const counts = cs.filter((c) => c.metricKind === 'count' || c.metricKind === 'exact');
    const timings = cs.filter((c) => c.metricKind === 'timing');
    const countChanges = counts.filter((c) => c.verdict === 'regression' || c.verdict === 'improvement');
    const timingChanges = timings.filter((c) => c.verdict === 'regression' || c.verdict === 'improvement');
    const timingUnsure = timings.filter((c) => c.verdict === 'inconclusive');
    const describeCount = (c: Comparison) => `${c.metric} ${fmtNum(c.ref.median)} → ${fmtNum(c.cand.median)}`;
    // Virtual-time timings say so wherever they are quoted: they count the guest's own work, not wall-clock time.
    const tm = (c: Comparison) => `${c.timebase === 'virtual' ? 'virtual-time ' : ''}${c.metric} ${fmtPct(c.ratio)}${c.timebase === 'virtual' ? ` [${fmtPct(c.lower)}, ${fmtPct(c.upper)}]` : ''}`;
    let summary: string;
    if (countChanges.length && timingChanges.length) summary = `counts and timings differ: ${countChanges.map(describeCount).join(', ')}; ${timingChanges.map(tm).join(', ')}`;
    else if (countChanges.length && timingUnsure.length) summary = `the exact counts differ (${countChanges.map(describeCount).join(', ')}); the timings cannot tell under this noise (${timingUnsure[0]!.reason})`;
    else if (countChanges.length) summary = `the exact counts differ (${countChanges.map(describeCount).join(', ')}); timings show no change`;
    else if (timingChanges.length) summary = `timings differ: ${timingChanges.map(tm).join(', ')}`;
    else if (timingUnsure.length) summary = `no difference shown; the timings are inconclusive (${timingUnsure[0]!.reason})`;
    else summary = 'no change';
    out.push({ group, label, counts, timings, summary });
  }
  return out;
}

export function hasRegression(set: ComparisonSet): boolean {
  return set.comparisons.some((c) => c.verdict === 'regression');
}
