/**
 * The tests: one metric of two samples, by the model of the metric
 * (core/metrics.ts). Counts by the conditional Poisson rate test on events and
 * I/Os; exact metrics by boot means against the boot-to-boot spread, never
 * below a floor; timings and counts that vary over repetitions, with boots as a
 * level (analysis/boots.ts): repetitions as units only where both sides ran in
 * the same boots.
 */
import { EXPOSURE_METRIC, isNormalised, MIB_EXPOSURE_METRIC, type MetricDescription } from '../../core/metrics.js';
import type { Thresholds } from '../../scenario/types.js';
import { bootTest, byBoot, sameBoots, type BootNoise } from '../boots.js';
import { compareRates, cvPct, exactFloor, hodgesLehmann, mannWhitney, mean, median, power, tTestMde, welchLog } from '../stats/index.js';
import { maxCv } from './thresholds.js';
import type { BootTTest, Compared, CompareContext, NoTest, Pending, RankTest, SampleSummary, Side } from './types.js';

function summary(values: readonly number[]): SampleSummary {
  return { n: values.length, median: median(values), cvPct: cvPct(values), values };
}

const sum = (x: readonly number[]) => x.reduce((s, v) => s + v, 0);

/** Compares one metric of two samples; a string says why there is nothing to compare. */
export function compareSamples(
  base: Side,
  cand: Side,
  d: MetricDescription,
  t: Thresholds,
  head: Pick<Compared, 'kind' | 'cell' | 'reference' | 'label' | 'group' | 'timebase'>,
  ctx: CompareContext = {},
): Pending | string {
  if (base.values.length === 0 || cand.values.length === 0) return `no passed repetitions with ${d.name} on ${base.values.length === 0 ? 'the reference' : 'the candidate'} side`;
  const compared: Compared = { ...head, metric: d.name, unit: d.unit, better: d.better, ref: summary(base.values), cand: summary(cand.values) };
  if (d.kind === 'count') {
    const v = ctx.variation ?? { ref: d.count?.variation ?? 'exact', cand: d.count?.variation ?? 'exact' };
    if (v.ref === 'varies' || v.cand === 'varies') return compareOverRepetitions(base, cand, d, t, compared, ctx, 'varies');
    return compareCounts(base, cand, d, compared);
  }
  if (d.kind === 'exact') return compareExact(base, cand, d, t, compared, ctx);
  if (base.values.some((x) => !(x > 0)) || cand.values.some((x) => !(x > 0))) return 'timing values must be positive to compare as ratios';
  return compareOverRepetitions(base, cand, d, t, compared, ctx, undefined);
}

/**
 * Counts that follow the I/Os (or occur per repetition): events back from each
 * repetition's value and its exposure (core/metrics.ts exposureOf), per-I/O
 * rates weighed by the repetition's I/Os, per-repetition counts by one.
 */
function compareCounts(base: Side, cand: Side, d: MetricDescription, compared: Compared): Pending | string {
  const weight = (side: Side) => (isNormalised(d) ? side.exposures : side.values.map(() => 1));
  const [w1, w2] = [weight(base), weight(cand)];
  const e1 = sum(w1);
  const e2 = sum(w2);
  if (!(e1 > 0) || !(e2 > 0)) return `no exposure (${d.per === 'mib' ? MIB_EXPOSURE_METRIC : EXPOSURE_METRIC}) beside the per-${d.per === 'mib' ? 'MiB' : 'I/O'} counts`;
  const k1 = base.values.reduce((s, x, i) => s + x * w1[i]!, 0);
  const k2 = cand.values.reduce((s, x, i) => s + x * w2[i]!, 0);
  const r = compareRates(Math.round(k1), e1, Math.round(k2), e2);
  return { ...compared, metricKind: 'count', test: 'poisson-rate', variation: d.count?.variation === 'poisson' ? 'poisson' : 'exact', ratio: r.ratio, lower: r.lower, upper: r.upper, confidence: 0.95, p: r.p, noisy: false };
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
function compareExact(base: Side, cand: Side, d: MetricDescription, t: Thresholds, compared: Compared, ctx: CompareContext): Pending {
  const zeroA = base.values.every((x) => x === 0);
  const zeroB = cand.values.every((x) => x === 0);
  const boots = { ref: byBoot(base.values, base.boots).length, cand: byBoot(cand.values, cand.boots).length };
  if (zeroA || zeroB || base.values.some((x) => !(x > 0)) || cand.values.some((x) => !(x > 0))) {
    const same = zeroA && zeroB;
    const ratio = same ? 1 : mean(cand.values) / mean(base.values);
    return { ...compared, metricKind: 'exact', test: 'zero', boots, ratio, lower: ratio, upper: ratio, confidence: 1, p: same ? 1 : 0, noisy: false };
  }
  const measured = ctx.bootNoise;
  const bootNoise: BootNoise = measured && measured.tau2 >= EXACT_FLOOR_TAU2
    ? measured
    : { tau2: EXACT_FLOOR_TAU2, df: measured?.df ?? 1000, source: measured ? `${measured.source}, raised to the exact floor` : 'the exact floor' };
  const r = compareOverRepetitions(base, cand, d, t, compared, { ...ctx, bootNoise }, undefined);
  if (r.test === 'boot-t' || r.test === 'none') return { ...r, metricKind: 'exact', noisy: false };
  // Same boots on both sides (one guest measured twice): the boot offsets cancel, but an exact metric's
  // repetitions may not vary at all, so the floor still sets the interval.
  const bt = bootTest(byBoot(base.values.map(Math.log), base.boots), byBoot(cand.values.map(Math.log), cand.boots), bootNoise, 0.95);
  return { ...r, metricKind: 'exact', test: 'boot-t', ratio: Math.exp(bt.diff), lower: Math.exp(bt.lower), upper: Math.exp(bt.upper), confidence: 0.95, p: bt.p, noisy: false, boots: { ...boots, noise: bootNoise } };
}

/**
 * Timings, and counts that vary from run to run: repetitions within a boot,
 * boots between sides. On logs (effects as ratios) when every value is
 * positive; a varying count that reaches zero is compared on its own scale.
 */
function compareOverRepetitions(
  base: Side, cand: Side, d: MetricDescription, t: Thresholds, compared: Compared, ctx: CompareContext, variation: 'varies' | undefined,
): Pending & (RankTest | BootTTest | NoTest) {
  const metricKind = d.kind === 'count' ? 'count' : d.kind === 'exact' ? 'exact' : 'timing';
  const positive = base.values.every((x) => x > 0) && cand.values.every((x) => x > 0);
  const f = positive ? Math.log : (x: number) => x;
  const back = (shift: number) => (positive ? Math.exp(shift) : (median(base.values) + shift) / median(base.values));
  const A = byBoot(base.values.map(f), base.boots);
  const B = byBoot(cand.values.map(f), cand.boots);
  const cv = Math.max(compared.ref.cvPct, compared.cand.cvPct);
  // max_cv_pct judges the machine's noise on timings; a varying count's spread is its nature, tested as such.
  const noisy = metricKind === 'timing' && Number.isFinite(cv) && cv > maxCv(t, d.name);
  const boots = { ref: A.length, cand: B.length };
  const head = { ...compared, ...(variation ? { variation, ...(ctx.variesWhy ? { variesWhy: ctx.variesWhy } : {}) } : {}), metricKind, noisy } as const;
  if (variation) {
    // A count that varies has no exactness to lean on: without enough repetitions there is no test.
    const need = exactFloor(2, 2, t.alpha).minRepsPerSide;
    if (base.values.length < need || cand.values.length < need) {
      return { ...head, test: 'none', boots, ratio: back(median(cand.values.map(f)) - median(base.values.map(f))), lower: NaN, upper: NaN, confidence: NaN, p: NaN, needsReps: need };
    }
  }
  const logB = base.values.map(f);
  const logC = cand.values.map(f);
  const mw = mannWhitney(logB, logC);
  const hl = hodgesLehmann(logB, logC, 0.95);
  const w = positive && base.values.length >= 2 && cand.values.length >= 2 ? welchLog(base.values, cand.values) : undefined;
  const pWelch = w ? { pWelch: w.p } : {};
  const within = { ratio: back(hl.estimate), lower: back(hl.lower), upper: back(hl.upper), p: mw.p };
  if (sameBoots(A, B)) {
    // The boot offsets cancel: repetitions are the units.
    const pw = Number.isFinite(cv) ? power(cv, base.values.length, cand.values.length, t.alpha) : undefined;
    return {
      ...head, ...pWelch, test: mw.method === 'exact' ? 'mann-whitney-exact' : 'mann-whitney-asymptotic', boots,
      ratio: within.ratio, lower: within.lower, upper: within.upper, confidence: hl.confidence, p: mw.p, ...(pw ? { mdePct: pw.mdePct } : {}),
    };
  }
  if (!ctx.bootNoise) return { ...head, ...pWelch, test: 'none', boots, ratio: within.ratio, lower: NaN, upper: NaN, confidence: NaN, p: NaN, within };
  const bt = bootTest(A, B, ctx.bootNoise, 0.95);
  const mde = tTestMde(bt.df, t.alpha) * bt.se;
  return {
    ...head, ...pWelch, test: 'boot-t', boots: { ...boots, noise: ctx.bootNoise },
    ratio: back(bt.diff), lower: back(bt.lower), upper: back(bt.upper), confidence: 0.95, p: bt.p,
    ...(positive ? { mdePct: 100 * (Math.exp(mde) - 1) } : {}), within,
  };
}
