/**
 * Measurement quality of the analysis, on synthetic data with realistic noise:
 *   1. false positives on A/A comparisons (per comparison, and false discoveries over a matrix);
 *   2. power for 2 %, 5 % and 10 % changes at n = 5, 10, 20;
 *   3. nightly time to detect an injected step, against an E-divisive (Otava-style) baseline;
 *   4. speed of a 1,000-cell × 20-repetition comparison.
 * Noise: lognormal repetitions (CV 1–5 %), a slow linear drift within a run
 * (0.5 % over its length, shared by interleaved cells), and between nights a
 * boot-to-boot offset (sd 0.3 %). Usage: npm run bench:analysis [-- --quick]
 */
import { describeMetric } from '../core/metrics.js';
import { compareSamples, judgeAll, type Pending } from '../analysis/compare.js';
import { detectChanges, type Night } from '../analysis/changepoint.js';
import { median } from '../analysis/stats/describe.js';
import { gaussian, lognormal } from '../analysis/synthetic.js';
import { prng } from '../runner/order.js';
import type { Thresholds } from '../scenario/types.js';

const quick = process.argv.includes('--quick');
const TRIALS = quick ? 300 : 2000;
const normal = gaussian(prng(20261124));
const IOPS = describeMetric('iops')!;
const T: Thresholds = { alpha: 0.05, min_effect_pct: 1, max_cv_pct: 10 };

/** n interleaved repetitions of A and B: drift is a slow ramp over the run, shared by both. */
function pair(n: number, cvPct: number, change: number): { a: number[]; b: number[] } {
  const a: number[] = [];
  const b: number[] = [];
  for (let i = 0; i < n; i++) {
    const drift = 1 + 0.005 * (i / Math.max(1, n - 1) - 0.5);
    a.push(lognormal(normal, 10000 * drift, cvPct / 100));
    b.push(lognormal(normal, 10000 * drift * (1 + change), cvPct / 100));
  }
  return { a, b };
}

function pending(a: number[], b: number[]): Pending {
  const r = compareSamples({ values: a, exposures: a.map(() => 1), boots: a.map(() => 'b') }, { values: b, exposures: b.map(() => 1), boots: b.map(() => 'b') }, IOPS, T, { kind: 'baseline', cell: 'c', reference: 'c', label: 'b vs a', group: 'g' });
  if (typeof r === 'string') throw new Error(r);
  return r;
}

const changed = (v: string) => v === 'regression' || v === 'improvement';
const fmt = (x: number) => `${(100 * x).toFixed(1)} %`;

// 1. A/A.
console.log(`\n## A/A false positives (${TRIALS} comparisons each, α = ${T.alpha}, min effect ${T.min_effect_pct} %)\n`);
console.log('| CV | n | p < α (raw) | verdict changed | matrix of 100 cells: runs with ≥ 1 false discovery (BH) |');
console.log('| --- | --- | --- | --- | --- |');
for (const cv of [1, 2, 5]) {
  for (const n of [5, 10, 20]) {
    let raw = 0;
    let verdicts = 0;
    for (let t = 0; t < TRIALS; t++) {
      const { a, b } = pair(n, cv, 0);
      const p = pending(a, b);
      if (p.p < T.alpha) raw++;
      if (changed(judgeAll([p], [], T).comparisons[0]!.verdict)) verdicts++;
    }
    let fdRuns = 0;
    const matrices = quick ? 30 : 100;
    for (let m = 0; m < matrices; m++) {
      const set = judgeAll(Array.from({ length: 100 }, () => { const { a, b } = pair(n, cv, 0); return pending(a, b); }), [], T);
      if (set.comparisons.some((c) => changed(c.verdict))) fdRuns++;
    }
    console.log(`| ${cv} % | ${n} | ${fmt(raw / TRIALS)} | ${fmt(verdicts / TRIALS)} | ${fmt(fdRuns / matrices)} |`);
  }
}

// 2. Power.
console.log(`\n## Power: share of true changes found as a regression (${TRIALS} trials each)\n`);
console.log('| CV | n | 2 % | 5 % | 10 % |');
console.log('| --- | --- | --- | --- | --- |');
for (const cv of [1, 2, 5]) {
  for (const n of [5, 10, 20]) {
    const cells = [0.02, 0.05, 0.1].map((d) => {
      let hit = 0;
      for (let t = 0; t < TRIALS; t++) {
        const { a, b } = pair(n, cv, -d);
        if (judgeAll([pending(a, b)], [], T).comparisons[0]!.verdict === 'regression') hit++;
      }
      return fmt(hit / TRIALS);
    });
    console.log(`| ${cv} % | ${n} | ${cells.join(' | ')} |`);
  }
}

// 3. Nightly time to detect.
/** E-divisive with means (energy statistic, α = 1) and a permutation test, as Otava / Hunter use; medians of nights. */
function eDivisive(x: readonly number[], permutations = 99, pLimit = 0.05): number[] {
  const random = prng(x.length * 7919);
  const stat = (v: readonly number[], tau: number) => {
    const a = v.slice(0, tau);
    const b = v.slice(tau);
    let ab = 0;
    for (const p of a) for (const q of b) ab += Math.abs(p - q);
    let aa = 0;
    for (const p of a) for (const q of a) aa += Math.abs(p - q);
    let bb = 0;
    for (const p of b) for (const q of b) bb += Math.abs(p - q);
    const e = (2 * ab) / (a.length * b.length) - aa / (a.length * a.length) - bb / (b.length * b.length);
    return ((a.length * b.length) / (a.length + b.length)) * e;
  };
  const best = (v: readonly number[]) => {
    let bt = -1;
    let bs = -Infinity;
    for (let tau = 2; tau <= v.length - 2; tau++) {
      const s = stat(v, tau);
      if (s > bs) { bs = s; bt = tau; }
    }
    return { tau: bt, s: bs };
  };
  if (x.length < 5) return [];
  const { tau, s } = best(x);
  let exceed = 0;
  for (let i = 0; i < permutations; i++) {
    const v = [...x];
    for (let j = v.length - 1; j > 0; j--) { const k = Math.floor(random() * (j + 1)); [v[j], v[k]] = [v[k]!, v[j]!]; }
    if (best(v).s >= s) exceed++;
  }
  return (exceed + 1) / (permutations + 1) < pLimit ? [tau] : [];
}

function nightSeries(nights: number, stepAt: number, step: number, cvPct: number, reps: number): Night[] {
  return Array.from({ length: nights }, (_, i) => {
    const offset = Math.exp(0.003 * normal());
    const level = 10000 * offset * (i >= stepAt ? 1 - step : 1);
    return { run: `n${i}`, created: String(i), values: Array.from({ length: reps }, () => lognormal(normal, level, cvPct / 100)) };
  });
}

const STEP_AT = 20;
const trialsTtd = quick ? 60 : 300;
console.log(`\n## Nightly time to detect (${trialsTtd} series each; 10 repetitions a night, step at night ${STEP_AT + 1}; min effect ${T.min_effect_pct} %)\n`);
console.log('| step | CV | lab: flagged after 1 night (suspect) | lab: confirmed within 2 / 7 nights | E-divisive: found within 1 / 7 nights |');
console.log('| --- | --- | --- | --- | --- |');
for (const step of [0.05, 0.02]) {
  for (const cv of [1, 2, 5]) {
    let suspect1 = 0;
    let confirmed2 = 0;
    let confirmed7 = 0;
    let ed1 = 0;
    let ed7 = 0;
    for (let t = 0; t < trialsTtd; t++) {
      const series = nightSeries(STEP_AT + 7, STEP_AT, step, cv, 10);
      const o = { alpha: T.alpha, minEffectPct: T.min_effect_pct };
      // A point placed up to 3 nights early or 1 late counts as this step (same tolerance for both methods).
      const near = (i: number) => i >= STEP_AT - 3 && i <= STEP_AT + 1;
      const first = detectChanges(series.slice(0, STEP_AT + 1), o).latest.state;
      if (first === 'suspect' || first === 'changed') suspect1++;
      // Nightly: an alert raised on any night up to k stays raised.
      let labNight = Infinity;
      let edNight = Infinity;
      const med = series.map((n) => median(n.values));
      for (let k = 1; k <= 7; k++) {
        if (labNight === Infinity && detectChanges(series.slice(0, STEP_AT + k), o).points.some((p) => near(p.index))) labNight = k;
        if (edNight === Infinity && eDivisive(med.slice(0, STEP_AT + k)).some(near)) edNight = k;
      }
      if (labNight <= 2) confirmed2++;
      if (labNight <= 7) confirmed7++;
      if (edNight <= 1) ed1++;
      if (edNight <= 7) ed7++;
    }
    console.log(`| ${step * 100} % | ${cv} % | ${fmt(suspect1 / trialsTtd)} | ${fmt(confirmed2 / trialsTtd)} / ${fmt(confirmed7 / trialsTtd)} | ${fmt(ed1 / trialsTtd)} / ${fmt(ed7 / trialsTtd)} |`);
  }
}

// False alarms on flat series.
{
  const nightsN = 60;
  const series = quick ? 50 : 200;
  let labAlarms = 0;
  let labSuspects = 0;
  let edAlarms = 0;
  for (let s = 0; s < series; s++) {
    const x = nightSeries(nightsN, Infinity, 0, 2, 10);
    labAlarms += detectChanges(x, { alpha: T.alpha, minEffectPct: T.min_effect_pct }).points.length;
    for (let k = 10; k <= nightsN; k += 10) if (detectChanges(x.slice(0, k), { alpha: T.alpha, minEffectPct: T.min_effect_pct }).latest.state === 'suspect') labSuspects++;
    edAlarms += eDivisive(x.map((n) => median(n.values))).length;
  }
  console.log(`\nFlat series (CV 2 %, ${nightsN} nights × ${series}): lab confirmed change points ${(labAlarms / series).toFixed(3)} per series (${((100 * labAlarms) / (series * nightsN)).toFixed(2)} per 100 nights); latest-night suspects ${fmt(labSuspects / (series * 6))} of nights; E-divisive ${(edAlarms / series).toFixed(3)} per series.`);
}

// 4. Speed.
{
  const cells = 1000;
  const n = 20;
  const data = Array.from({ length: cells }, () => pair(n, 2, 0));
  const t0 = performance.now();
  const set = judgeAll(data.map(({ a, b }) => pending(a, b)), [], T);
  const ms = performance.now() - t0;
  console.log(`\nSpeed: ${cells} cells × ${n} repetitions a side compared and judged (U test, HL interval, Welch, BH) in ${ms.toFixed(0)} ms (${set.comparisons.length} comparisons).`);
}
