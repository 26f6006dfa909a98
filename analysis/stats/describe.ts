/**
 * Summaries of one sample (one cell's repetitions of one metric). Every value
 * must be finite and the sample non-empty (RangeError otherwise); a spread of
 * fewer than 2 values is NaN, "not measured", never 0.
 */
import { checkProbability, checkSample } from './check.js';

export function mean(x: readonly number[]): number {
  checkSample('mean', 'x', x);
  let s = 0;
  for (const v of x) s += v;
  return s / x.length;
}

/** Sample variance (n − 1 in the denominator, as SciPy's ddof=1). */
export function variance(x: readonly number[]): number {
  checkSample('variance', 'x', x);
  if (x.length < 2) return NaN;
  const m = mean(x);
  let s = 0;
  for (const v of x) s += (v - m) ** 2;
  return s / (x.length - 1);
}

export function median(x: readonly number[]): number {
  checkSample('median', 'x', x);
  return quantile(x, 0.5);
}

/** Linear interpolation between order statistics (NumPy's default). */
export function quantile(x: readonly number[], q: number): number {
  checkSample('quantile', 'x', x);
  checkProbability('quantile', 'q', q);
  const s = [...x].sort((a, b) => a - b);
  const h = (s.length - 1) * q;
  const lo = Math.floor(h);
  return s[lo]! + (h - lo) * ((s[Math.min(lo + 1, s.length - 1)] ?? s[lo]!) - s[lo]!);
}

/** Coefficient of variation, sd / mean, in percent. */
export function cvPct(x: readonly number[]): number {
  checkSample('cvPct', 'x', x);
  if (x.length < 2) return NaN;
  return (100 * Math.sqrt(variance(x))) / Math.abs(mean(x));
}
