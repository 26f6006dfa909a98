/**
 * Comparisons and verdicts. One comparison is one metric of one candidate cell
 * against one reference cell: either the same cell in a baseline run, or
 * another IOMMU configuration of the same workload, disk and profile in the same
 * run ("what strict costs against lazy").
 *
 * The unit of replication is the repetition: each repetition contributes one
 * value per metric, never its individual I/Os. Timings: two-sided Mann–Whitney
 * U (exact without ties up to 30 a side) with Welch's t on logs beside it, the
 * effect as a ratio (Hodges–Lehmann on logs, interval from inverting the U
 * test, distribution-free and exact for the few repetitions a lab can afford; a
 * bootstrap over 3–10 values would understate the spread). Counts: the
 * conditional Poisson rate test on events and I/Os. Benjamini–Hochberg over
 * every test of the comparison set. Verdicts need significance and an effect of
 * at least the scenario's min_effect_pct, and say when they cannot be reached.
 */
import { describeMetric, type MetricDescription } from '../core/metrics.js';
import type { Timebase } from '../core/clock.js';
import type { Cell } from '../cell/types.js';
import type { Thresholds } from '../scenario/types.js';
import type { LoadedRun } from './load.js';
import { samples, timebaseOfCell } from './load.js';
import { benjaminiHochberg, compareRates, cvPct, hodgesLehmann, mannWhitney, median, power, welchLog } from './stats/index.js';

export type Verdict = 'regression' | 'improvement' | 'no-change' | 'inconclusive';

export interface SampleSummary {
  readonly n: number;
  readonly median: number;
  readonly cvPct: number;
  readonly values: readonly number[];
}

export interface Comparison {
  readonly kind: 'baseline' | 'modes';
  /** Candidate cell, and the cell it is compared with (the same id against a baseline). */
  readonly cell: string;
  readonly reference: string;
  /** e.g. "intel-strict vs intel-lazy" or "candidate vs baseline". */
  readonly label: string;
  readonly group: string;
  /** What the timings measured; reports say "virtual time" where it is virtual. Absent means wall-clock time. */
  readonly timebase?: Timebase;
  readonly metric: string;
  readonly metricKind: 'timing' | 'count';
  readonly unit: string;
  readonly better: 'higher' | 'lower';
  readonly ref: SampleSummary;
  readonly cand: SampleSummary;
  /** candidate / reference, with its interval and the confidence the interval really has. */
  readonly ratio: number;
  readonly lower: number;
  readonly upper: number;
  readonly confidence: number;
  readonly test: 'mann-whitney-exact' | 'mann-whitney-asymptotic' | 'poisson-rate' | 'none';
  readonly p: number;
  readonly pWelch?: number;
  /** Benjamini–Hochberg adjusted p over the comparison set. */
  readonly q: number;
  readonly mdePct?: number;
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

/** Compares one metric of two samples; undefined when there is nothing to compare (with the reason). */
export function compareSamples(
  base: { values: number[]; exposures: number[] },
  cand: { values: number[]; exposures: number[] },
  d: MetricDescription,
  t: Thresholds,
  head: Pick<Comparison, 'kind' | 'cell' | 'reference' | 'label' | 'group' | 'timebase'>,
): Pending | string {
  if (base.values.length === 0 || cand.values.length === 0) return `no passed repetitions with ${d.name} on ${base.values.length === 0 ? 'the reference' : 'the candidate'} side`;
  const common = { ...head, metric: d.name, unit: d.unit, better: d.better, ref: summary(base.values), cand: summary(cand.values) };
  if (d.kind === 'count') {
    const e1 = base.exposures.reduce((s, x) => s + x, 0);
    const e2 = cand.exposures.reduce((s, x) => s + x, 0);
    if (!(e1 > 0) || !(e2 > 0)) return 'no I/O count (ios) beside the per-I/O counts';
    // Events back from per-I/O rates and the I/Os of the same repetition.
    const k1 = base.values.reduce((s, v, i) => s + v * base.exposures[i]!, 0);
    const k2 = cand.values.reduce((s, v, i) => s + v * cand.exposures[i]!, 0);
    const r = compareRates(k1, e1, k2, e2);
    return { ...common, metricKind: 'count', ratio: r.ratio, lower: r.lower, upper: r.upper, confidence: 0.95, test: 'poisson-rate', p: r.p, noisy: false };
  }
  if (base.values.some((v) => !(v > 0)) || cand.values.some((v) => !(v > 0))) return 'timing values must be positive to compare as ratios';
  const logB = base.values.map(Math.log);
  const logC = cand.values.map(Math.log);
  const mw = mannWhitney(logB, logC);
  const hl = hodgesLehmann(logB, logC, 0.95);
  const w = welchLog(base.values, cand.values);
  const cv = Math.max(summary(base.values).cvPct, summary(cand.values).cvPct);
  const pw = Number.isFinite(cv) ? power(cv, base.values.length, cand.values.length, t.alpha) : undefined;
  return {
    ...common, metricKind: 'timing',
    ratio: Math.exp(hl.estimate), lower: Math.exp(hl.lower), upper: Math.exp(hl.upper), confidence: hl.confidence,
    test: mw.method === 'exact' ? 'mann-whitney-exact' : 'mann-whitney-asymptotic', p: mw.p,
    ...(w ? { pWelch: w.p } : {}), ...(pw ? { mdePct: pw.mdePct } : {}),
    noisy: Number.isFinite(cv) && cv > maxCv(t, d.name),
  };
}

/** A ratio as a signed percentage change: 0.923 → "-7.7 %"; an infinite ratio (from zero) is "new". */
export const fmtPct = (r: number) => (Number.isFinite(r) ? `${r >= 1 ? '+' : ''}${((r - 1) * 100).toFixed(1)} %` : 'new');

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
  if (c.metricKind === 'count') {
    if (c.ref.median === 0 && c.cand.median === 0 && c.ref.values.every((v) => v === 0) && c.cand.values.every((v) => v === 0)) {
      return { verdict: 'no-change', reason: 'no events on either side' };
    }
    if (sig && big) return { verdict: direction(), reason: `per-I/O rate ${rateChange(c)} (exact counts, q ${fmtP(q)})` };
    if (inside || (sig && !big)) return { verdict: 'no-change', reason: `per-I/O rate within ±${minEffect(t, c.metric)} %` };
    return { verdict: 'inconclusive', reason: `too few events to bound the rate within ±${minEffect(t, c.metric)} %` };
  }
  if (c.ref.n < 2 || c.cand.n < 2) return { verdict: 'inconclusive', reason: `needs at least 2 timing repetitions a side (has ${c.ref.n} and ${c.cand.n})` };
  if (c.noisy) return { verdict: 'inconclusive', reason: `noisy: CV ${Math.max(c.ref.cvPct, c.cand.cvPct).toFixed(1)} % above max_cv_pct ${maxCv(t, c.metric)} %; not trusted` };
  const pw = power(1, c.ref.n, c.cand.n, t.alpha);
  if (!pw.canReach && c.test === 'mann-whitney-exact') {
    return { verdict: 'inconclusive', reason: `${c.ref.n} vs ${c.cand.n} repetitions: the exact U test cannot go below p = ${pw.minP.toPrecision(2)}, so nothing is significant at α = ${t.alpha}; use ≥ ${pw.minRepsPerSide} a side (effect ${fmtPct(c.ratio)})` };
  }
  if (sig && big) return { verdict: direction(), reason: `${fmtPct(c.ratio)} [${fmtPct(c.lower)}, ${fmtPct(c.upper)}], q ${fmtP(q)}` };
  if (sig && !big) return { verdict: 'no-change', reason: `significant but ${fmtPct(c.ratio)} is below the ${minEffect(t, c.metric)} % minimum effect` };
  if (inside) return { verdict: 'no-change', reason: `interval [${fmtPct(c.lower)}, ${fmtPct(c.upper)}] within ±${minEffect(t, c.metric)} %` };
  return { verdict: 'inconclusive', reason: `not significant (q ${fmtP(q)}); this noise and n detect ≥ ${c.mdePct?.toFixed(1) ?? '?'} % with 80 % power` };
}

export function fmtP(p: number): string {
  if (!Number.isFinite(p)) return 'n/a';
  if (p < 1e-4) return p.toExponential(1);
  return p.toPrecision(2);
}

export function judgeAll(pending: readonly Pending[], leftOut: ComparisonSet['leftOut'], t: Thresholds): ComparisonSet {
  const q = benjaminiHochberg(pending.map((c) => c.p));
  const comparisons = pending.map((c, i) => ({ ...c, q: q[i]!, ...judge(c, q[i]!, t) }));
  return { comparisons, leftOut, thresholds: t };
}

/** The metrics a run compares: the scenario's list, plus the counts the traced repetitions produced. */
export function metricsOf(run: LoadedRun): MetricDescription[] {
  const names = new Set(run.scenario.metrics);
  for (const reps of run.reps.values()) {
    for (const r of reps) if (r.outcome.state === 'passed') for (const m of Object.keys(r.outcome.metrics)) if (describeMetric(m)?.kind === 'count') names.add(m);
  }
  return [...names].map((n) => describeMetric(n)).filter((d): d is MetricDescription => d !== undefined && d.kind !== 'exposure');
}

/** The same cells of two runs of one scenario. */
export function compareRuns(base: LoadedRun, cand: LoadedRun): ComparisonSet {
  const t = cand.scenario.thresholds;
  const pending: Pending[] = [];
  const leftOut: { cell: string; metric?: string; reason: string }[] = [];
  for (const id of base.cells.keys()) if (!cand.cells.has(id)) leftOut.push({ cell: id, reason: 'in the baseline only' });
  for (const [id, cell] of cand.cells) {
    if (!base.cells.has(id)) {
      leftOut.push({ cell: id, reason: 'not in the baseline' });
      continue;
    }
    // Virtual time and wall-clock time measure different things: a baseline taken with the other clock compares counts only.
    const baseCell = base.cells.get(id)!;
    const clocksDiffer = timebaseOfCell(base, baseCell) !== timebaseOfCell(cand, cell);
    for (const d of metricsOf(cand)) {
      if (clocksDiffer && d.kind === 'timing') {
        leftOut.push({ cell: id, metric: d.name, reason: `the baseline measured ${timebaseOfCell(base, baseCell)} time and this run ${timebaseOfCell(cand, cell)} time: timings are not comparable (counts are)` });
        continue;
      }
      const r = compareSamples(samples(base, id, d.name), samples(cand, id, d.name), d, t, { kind: 'baseline', cell: id, reference: id, label: 'candidate vs baseline', group: groupKey(cell), timebase: timebaseOfCell(cand, cell) });
      if (typeof r === 'string') leftOut.push({ cell: id, metric: d.name, reason: r });
      else pending.push(r);
    }
  }
  return judgeAll(pending, leftOut, t);
}

/** What makes cells comparable across IOMMU configurations: everything but the configuration. */
export function groupKey(cell: Cell): string {
  const parts = cell.id.split('__');
  // A static host runs in one configuration; comparable hosts (one per mode) share disk names.
  if (cell.target.kind === 'static') return [parts[0], 'hosts', cell.disk].join('__');
  return [parts[0], ...parts.slice(2)].join('__');
}

export const configName = (c: Cell) => `${c.iommu.device}-${c.iommu.mode}`;

const MODE_RANK: Record<string, number> = { off: 0, passthrough: 1, lazy: 2, strict: 3 };

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
      const ra = MODE_RANK[a.iommu.mode]!;
      const rb = MODE_RANK[b.iommu.mode]!;
      const sameDevice = a.iommu.device === b.iommu.device;
      if (sameDevice && ra < rb) pairs.push([a, b]);
      else if (!sameDevice && a.iommu.device === 'none' && b.iommu.device !== 'none') pairs.push([a, b]);
      else if (!sameDevice && a.iommu.mode === b.iommu.mode && a.iommu.device === 'intel' && b.iommu.device === 'virtio') pairs.push([a, b]);
    }
  }
  return pairs;
}

/** Configurations against each other within one run. */
export function compareModes(run: LoadedRun): ComparisonSet {
  const t = run.scenario.thresholds;
  const groups = new Map<string, Cell[]>();
  for (const c of run.cells.values()) groups.set(groupKey(c), [...(groups.get(groupKey(c)) ?? []), c]);
  const pending: Pending[] = [];
  const leftOut: { cell: string; metric?: string; reason: string }[] = [];
  for (const [group, cells] of groups) {
    for (const [a, b] of modePairs(cells)) {
      for (const d of metricsOf(run)) {
        const r = compareSamples(samples(run, a.id, d.name), samples(run, b.id, d.name), d, t, { kind: 'modes', cell: b.id, reference: a.id, label: `${configName(b)} vs ${configName(a)}`, group, timebase: timebaseOfCell(run, b) });
        if (typeof r === 'string') leftOut.push({ cell: b.id, metric: d.name, reason: `${configName(b)} vs ${configName(a)}: ${r}` });
        else pending.push(r);
      }
    }
  }
  return judgeAll(pending, leftOut, t);
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
  const byPair = new Map<string, Comparison[]>();
  for (const c of set.comparisons) {
    const k = `${c.group}|${c.label}`;
    byPair.set(k, [...(byPair.get(k) ?? []), c]);
  }
  const out: PairFinding[] = [];
  for (const [k, cs] of byPair) {
    const [group, label] = k.split('|') as [string, string];
    const counts = cs.filter((c) => c.metricKind === 'count');
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

export function fmtNum(v: number): string {
  if (!Number.isFinite(v)) return String(v);
  const a = Math.abs(v);
  if (a === 0) return '0';
  if (a >= 1000) return v.toFixed(0);
  if (a >= 10) return v.toFixed(1);
  if (a >= 0.01) return v.toFixed(3);
  return v.toExponential(2);
}

export function hasRegression(set: ComparisonSet): boolean {
  return set.comparisons.some((c) => c.verdict === 'regression');
}
