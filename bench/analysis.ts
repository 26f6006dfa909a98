/**
 * Measurement quality of the analysis, on synthetic data with realistic noise:
 *   0. boots as a level: A/A matrices and power with a boot-to-boot offset in both arms;
 *   1. false positives on A/A comparisons within one boot (per comparison, and false discoveries over a matrix);
 *   2. power for 2 %, 5 % and 10 % changes at n = 5, 10, 20 (within one boot), against the stated MDE;
 *   3. nightly time to detect an injected step, against an E-divisive (Otava-style) baseline;
 *   4. speed of a 1,000-cell × 20-repetition comparison.
 * Noise: lognormal repetitions (CV 1–5 %), a slow linear drift within a run
 * (0.5 % over its length, shared by interleaved cells), and between nights a
 * boot-to-boot offset (sd 0.3 %). Usage: npm run bench:analysis [-- --quick]
 */
import { describeMetric } from '../core/metrics.js';
import { compareSamples, judgeAll, type Pending } from '../analysis/compare/index.js';
import { acrossCellNoise, byBoot, replicateBootNoise, type BootNoise } from '../analysis/boots.js';
import { hodgesLehmann, power } from '../analysis/stats/index.js';
import { eDivisive } from './changepoint-score.js';
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

// 0. Boots as a level of noise: a matrix of 100 cells, each its own boot (or boots), the same
// noise in both arms; the comparison estimates the boot-to-boot noise as the lab does.
{
  const CELLS = 100;
  const MATRICES = quick ? 4 : 20;
  const side = (n: number, boots: number, cvPct: number, bootSd: number, level: number, tag: string) => {
    const values: number[] = [];
    const bootIds: string[] = [];
    for (let b = 0; b < boots; b++) {
      const offset = lognormal(normal, 1, bootSd / 100);
      for (let i = 0; i < n / boots; i++) {
        values.push(lognormal(normal, level * offset, cvPct / 100));
        bootIds.push(`${tag}${b}`);
      }
    }
    return { values, exposures: values.map(() => 1), boots: bootIds };
  };
  const matrix = (n: number, boots: number, cvPct: number, bootSd: number, change: number) => {
    const cells = Array.from({ length: CELLS }, (_, c) => ({ a: side(n, boots, cvPct, bootSd, 10000, `a${c}-`), b: side(n, boots, cvPct, bootSd, 10000 * (1 + change), `b${c}-`) }));
    const logMeans = (x: { values: number[]; boots: string[] }) => byBoot(x.values.map(Math.log), x.boots);
    let noise: BootNoise | undefined;
    if (boots >= 2) noise = replicateBootNoise(cells.flatMap((c) => [logMeans(c.a), logMeans(c.b)]));
    else noise = acrossCellNoise(cells.map((c) => (Math.log(median(c.b.values)) - Math.log(median(c.a.values)))));
    const T1: Thresholds = { alpha: 0.05, min_effect_pct: 1, max_cv_pct: 10 };
    const pend = cells.map((c) => {
      const r = compareSamples(c.a, c.b, IOPS, T1, { kind: 'baseline', cell: 'c', reference: 'c', label: 'b vs a', group: 'g' }, noise ? { bootNoise: noise } : {});
      if (typeof r === 'string') throw new Error(r);
      return r;
    });
    return judgeAll(pend, [], T1).comparisons;
  };
  console.log(`\n## Boots as a level of noise (${MATRICES} matrices of ${CELLS} cells, 10 repetitions a cell and side, repetition CV 0.3 %, min effect 1 %)\n`);
  console.log('| boots a side | boot SD | A/A: cells with a changed verdict | 10 % change: found | 5 % change: found | per-repetition verdicts (boots ignored): A/A changed |');
  console.log('| --- | --- | --- | --- | --- | --- |');
  for (const boots of [1, 2]) {
    for (const sd of [0.3, 1, 2]) {
      let aa = 0;
      let ten = 0;
      let five = 0;
      let naive = 0;
      for (let m = 0; m < MATRICES; m++) {
        aa += matrix(10, boots, 0.3, sd, 0).filter((c) => changed(c.verdict)).length;
        ten += matrix(10, boots, 0.3, sd, -0.1).filter((c) => c.verdict === 'regression').length;
        five += matrix(10, boots, 0.3, sd, -0.05).filter((c) => c.verdict === 'regression').length;
        // What the lab did before: every repetition an independent sample, same boots on both sides in effect.
        const cells = Array.from({ length: CELLS }, (_, c) => {
          const a = side(10, boots, 0.3, sd, 10000, 'x');
          const b = side(10, boots, 0.3, sd, 10000, 'x');
          const r = compareSamples({ ...a, boots: a.values.map(() => 'same') }, { ...b, boots: b.values.map(() => 'same') }, IOPS, { alpha: 0.05, min_effect_pct: 1, max_cv_pct: 10 }, { kind: 'baseline', cell: `c${c}`, reference: 'c', label: 'b vs a', group: 'g' });
          if (typeof r === 'string') throw new Error(r);
          return r;
        });
        naive += judgeAll(cells, [], { alpha: 0.05, min_effect_pct: 1, max_cv_pct: 10 }).comparisons.filter((c) => changed(c.verdict)).length;
      }
      const per = (k: number) => fmt(k / (MATRICES * CELLS));
      console.log(`| ${boots} | ${sd} % | ${per(aa)} | ${per(ten)} | ${per(five)} | ${per(naive)} |`);
    }
  }
}

// Power as stated: the MDE the lab reports, checked by simulating the U test at that effect.
{
  console.log('\n## Stated power: simulated power of the U test at the MDE the lab states (CV 1 %, 10,000 trials)\n');
  console.log('| n a side | stated MDE | simulated power at it |');
  console.log('| --- | --- | --- |');
  for (const n of [4, 5, 7, 10, 20]) {
    const pw = power(1, n, n, 0.05);
    let hit = 0;
    const trials = quick ? 1000 : 10_000;
    for (let t = 0; t < trials; t++) {
      const a = Array.from({ length: n }, () => lognormal(normal, 10000, 0.01));
      const b = Array.from({ length: n }, () => lognormal(normal, 10000 * (1 + pw.mdePct / 100), 0.01));
      const r = compareSamples({ values: a, exposures: a.map(() => 1), boots: a.map(() => 'b') }, { values: b, exposures: b.map(() => 1), boots: b.map(() => 'b') }, IOPS, T, { kind: 'baseline', cell: 'c', reference: 'c', label: 'b vs a', group: 'g' });
      if (typeof r !== 'string' && r.p < 0.05) hit++;
    }
    console.log(`| ${n} | ${pw.mdePct.toFixed(2)} % | ${fmt(hit / trials)} |`);
  }
}

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
  const big = Array.from({ length: 100_000 }, () => normal());
  const big2 = Array.from({ length: 100_000 }, () => normal() + 0.1);
  const h0 = performance.now();
  hodgesLehmann(big, big2);
  console.log(`\nHodges–Lehmann with its interval, 10⁵ values a side: ${(performance.now() - h0).toFixed(0)} ms.`);
  console.log(`\nSpeed: ${cells} cells × ${n} repetitions a side compared and judged (U test, HL interval, Welch, BH) in ${ms.toFixed(0)} ms (${set.comparisons.length} comparisons).`);
}
