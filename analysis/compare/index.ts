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
 *
 * By job: types.ts (what a comparison is), samples.ts (the tests),
 * verdict.ts (judging), pairs.ts (what is compared with what), findings.ts
 * (one line per pair); the boot-to-boot noise is in analysis/boots.ts and the
 * number formats in analysis/format.ts.
 */
export type { BootCounts, Compared, CompareContext, Comparison, ComparisonSet, Effect, Pending, SampleSummary, Side, TestResult, Verdict, WithinBoots } from './types.js';
export { compareSamples, EXACT_FLOOR_PCT } from './samples.js';
export { hasRegression, judge, judgeAll } from './verdict.js';
export { compareCellAcross, compareKernels, compareModes, compareRuns, compareToReference, metricsOf, modePairs, referenceOf, siblingGroups, type CompareOptions } from './pairs.js';
export { pairFindings, type PairFinding } from './findings.js';
