/**
 * What a comparison is: one metric of one candidate cell against one reference
 * cell, tested, then judged. The test that applies decides which fields a
 * comparison has (a union on `test`): a rate test has no boots, a boot t test
 * always has its boot-to-boot noise, only a comparison without a valid test
 * can need more repetitions.
 */
import type { Timebase } from '../../core/clock.js';
import type { CountVariation } from '../../core/metrics.js';
import type { Thresholds } from '../../scenario/types.js';
import type { BootNoise } from '../boots.js';

export type Verdict = 'regression' | 'improvement' | 'no-change' | 'inconclusive';

export interface SampleSummary {
  readonly n: number;
  readonly median: number;
  readonly cvPct: number;
  readonly values: readonly number[];
}

/** What is compared: every comparison has these, whatever its test. */
export interface Compared {
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
  readonly unit: string;
  readonly better: 'higher' | 'lower';
  readonly ref: SampleSummary;
  readonly cand: SampleSummary;
}

/** The effect: candidate / reference, with its interval and the confidence the interval really has. */
export interface Effect {
  readonly metricKind: 'timing' | 'count' | 'exact';
  readonly ratio: number;
  readonly lower: number;
  readonly upper: number;
  readonly confidence: number;
  readonly p: number;
  /** Timings whose CV exceeds max_cv_pct: not trusted. */
  readonly noisy: boolean;
}

export interface BootCounts {
  readonly ref: number;
  readonly cand: number;
}

/** The effect within the sides' own boots alone (information, not a verdict). */
export interface WithinBoots {
  readonly ratio: number;
  readonly lower: number;
  readonly upper: number;
  readonly p: number;
}

/** A count that varies from run to run (a timer in lazy mode, or a partial traced window), compared over repetitions. */
interface MaybeVarying {
  readonly variation?: 'varies';
  readonly variesWhy?: string;
}

/** Exact or per-repetition counts: the conditional Poisson rate test on events and exposures. */
export interface RateTest {
  readonly test: 'poisson-rate';
  readonly metricKind: 'count';
  readonly variation: Extract<CountVariation, 'exact' | 'poisson'>;
}

/** An exact metric that is zero on one side (or both) and not on the other: a difference no noise explains. */
export interface ZeroTest {
  readonly test: 'zero';
  readonly metricKind: 'exact';
  readonly boots: BootCounts;
}

/** Both sides ran in the same boots: repetitions as units (two-sided Mann–Whitney U, Hodges–Lehmann interval). */
export interface RankTest extends MaybeVarying {
  readonly test: 'mann-whitney-exact' | 'mann-whitney-asymptotic';
  readonly boots: BootCounts;
  readonly pWelch?: number;
  /** The smallest effect this noise and n detect with 80 % power. */
  readonly mdePct?: number;
}

/** Boot means against the boot-to-boot noise (t test with that estimate's df). */
export interface BootTTest extends MaybeVarying {
  readonly test: 'boot-t';
  readonly boots: BootCounts & { readonly noise: BootNoise };
  readonly pWelch?: number;
  readonly mdePct?: number;
  readonly within?: WithinBoots;
}

/** No valid test: the boot-to-boot noise is unknown, or a varying count has too few repetitions. */
export interface NoTest extends MaybeVarying {
  readonly test: 'none';
  readonly boots: BootCounts;
  readonly pWelch?: number;
  readonly within?: WithinBoots;
  /** Repetitions a side a varying count needs before it can be compared. */
  readonly needsReps?: number;
}

export type TestResult = RateTest | ZeroTest | RankTest | BootTTest | NoTest;

/** A comparison tested but not yet judged (its q comes from the whole set). */
export type Pending = Compared & Effect & TestResult;

export interface Judged {
  /** Benjamini–Hochberg adjusted p over the comparison set. */
  readonly q: number;
  readonly verdict: Verdict;
  readonly reason: string;
}

export type Comparison = Pending & Judged;

export interface ComparisonSet {
  readonly comparisons: readonly Comparison[];
  /** Cells or metrics that could not be compared, and why. */
  readonly leftOut: readonly { readonly cell: string; readonly metric?: string; readonly reason: string }[];
  readonly thresholds: Thresholds;
}

/** One side's values of a metric, each with its exposure (I/Os) and the boot it ran in. */
export interface Side {
  readonly values: readonly number[];
  readonly exposures: readonly number[];
  /** The boot each value ran in (provenance boot_id, else run and target). */
  readonly boots: readonly string[];
}

/** What the samples alone do not say. */
export interface CompareContext {
  /** How a count behaves on each side (from the cells' IOMMU modes); exact when absent. */
  readonly variation?: { readonly ref: CountVariation; readonly cand: CountVariation };
  /** The boot-to-boot noise of this metric, when something estimates it. */
  readonly bootNoise?: BootNoise;
  /** Why a varying count varies, for the verdict's reason. */
  readonly variesWhy?: string;
}
