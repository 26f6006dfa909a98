/**
 * Welch's t test (unequal variances), as SciPy's `ttest_ind(a, b, equal_var=False)`.
 * The lab applies it to log values: timings are multiplicative (a mode costs a
 * share of throughput), and logs make the effect a ratio and the noise symmetric.
 */
import { checkSample } from './check.js';
import { mean, variance } from './describe.js';
import { tSf } from './special.js';

export interface Welch {
  /** t = (mean(a) − mean(b)) / se. */
  readonly t: number;
  readonly df: number;
  readonly p: number;
}

export function welch(a: readonly number[], b: readonly number[]): Welch {
  checkSample('welch', 'a', a, 2);
  checkSample('welch', 'b', b, 2);
  const va = variance(a) / a.length;
  const vb = variance(b) / b.length;
  const diff = mean(a) - mean(b);
  const se2 = va + vb;
  // Both samples constant: the difference is exact (a count, not a timing).
  if (se2 === 0) return { t: diff === 0 ? 0 : Math.sign(diff) * Infinity, df: a.length + b.length - 2, p: diff === 0 ? 1 : 0 };
  const t = diff / Math.sqrt(se2);
  const df = (se2 * se2) / ((va * va) / (a.length - 1) + (vb * vb) / (b.length - 1));
  return { t, df, p: Math.min(1, 2 * tSf(Math.abs(t), df)) };
}

export function welchLog(a: readonly number[], b: readonly number[]): Welch {
  checkSample('welchLog', 'a', a, 2);
  checkSample('welchLog', 'b', b, 2);
  const bad = [...a, ...b].find((v) => !(v > 0));
  if (bad !== undefined) throw new RangeError(`welchLog: every value must be > 0 to take its log, got ${bad}`);
  return welch(a.map(Math.log), b.map(Math.log));
}
