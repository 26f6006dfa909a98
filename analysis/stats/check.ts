/**
 * Input checks for the public statistical functions. A library user who passes
 * a NaN, an empty sample or a level of 1.5 gets a RangeError that names the
 * function, the argument and the value, never a plausible wrong answer (a
 * p-value of 1, a reversed interval) that would pass for a result.
 */

const show = (v: unknown) => (typeof v === 'number' ? String(v) : JSON.stringify(v));

/** A sample of finite numbers with at least `min` values. */
export function checkSample(fn: string, arg: string, x: readonly number[], min = 1): void {
  if (!Array.isArray(x)) throw new RangeError(`${fn}: ${arg} must be an array of numbers, got ${show(x)}`);
  if (x.length < min) throw new RangeError(`${fn}: ${arg} needs at least ${min} value${min === 1 ? '' : 's'}, got ${x.length}`);
  for (let i = 0; i < x.length; i++) {
    const v = x[i];
    if (typeof v !== 'number' || !Number.isFinite(v)) throw new RangeError(`${fn}: ${arg}[${i}] must be a finite number, got ${show(v)}`);
  }
}

/** A probability in [lo, hi] (open or closed ends as asked). */
export function checkProbability(fn: string, arg: string, p: number, o: { open?: boolean } = {}): void {
  const ok = typeof p === 'number' && (o.open ? p > 0 && p < 1 : p >= 0 && p <= 1);
  if (!ok) throw new RangeError(`${fn}: ${arg} must be a probability ${o.open ? 'strictly between 0 and 1' : 'in [0, 1]'}, got ${show(p)}`);
}

/** A whole number ≥ min. */
export function checkCount(fn: string, arg: string, k: number, min = 0): void {
  if (typeof k !== 'number' || !Number.isInteger(k) || k < min) throw new RangeError(`${fn}: ${arg} must be a whole number ≥ ${min}, got ${show(k)}`);
}

/** A finite number > 0 (or ≥ 0). */
export function checkPositive(fn: string, arg: string, v: number, o: { orZero?: boolean } = {}): void {
  const ok = typeof v === 'number' && Number.isFinite(v) && (o.orZero ? v >= 0 : v > 0);
  if (!ok) throw new RangeError(`${fn}: ${arg} must be a finite number ${o.orZero ? '≥ 0' : '> 0'}, got ${show(v)}`);
}

export function checkFinite(fn: string, arg: string, v: number): void {
  if (typeof v !== 'number' || !Number.isFinite(v)) throw new RangeError(`${fn}: ${arg} must be a finite number, got ${show(v)}`);
}
