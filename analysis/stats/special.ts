/**
 * Special functions the tests need: log-gamma, the regularized incomplete
 * gamma and beta functions, and from them the normal, Student t and binomial
 * distributions. Written for double precision (agreement with SciPy to 1e-9 is
 * tested on stored vectors); nothing here allocates in a loop.
 */
import { checkPositive, checkProbability } from './check.js';

const LANCZOS = [
  0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059, 12.507343278686905,
  -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7,
];

/** ln Γ(x) for x > 0 (Lanczos, g = 7; relative error about 1e-15). */
export function logGamma(x: number): number {
  checkPositive('logGamma', 'x', x);
  if (x < 0.5) return Math.log(Math.PI / Math.abs(Math.sin(Math.PI * x))) - logGamma(1 - x);
  const z = x - 1;
  let a = LANCZOS[0]!;
  const t = z + 7.5;
  for (let i = 1; i < 9; i++) a += LANCZOS[i]! / (z + i);
  return 0.5 * Math.log(2 * Math.PI) + (z + 0.5) * Math.log(t) - t + Math.log(a);
}

const EPS = 1e-16;
const TINY = 1e-300;

/** Regularized upper incomplete gamma Q(a, x) = 1 − P(a, x), accurate in the tail. */
export function gammaQ(a: number, x: number): number {
  checkPositive('gammaQ', 'a', a);
  checkPositive('gammaQ', 'x', x, { orZero: true });
  if (x <= 0) return 1;
  return x < a + 1 ? 1 - gammaSeries(a, x) : gammaContinuedFraction(a, x);
}

function gammaSeries(a: number, x: number): number {
  let term = 1 / a;
  let sum = term;
  for (let n = 1; n < 10_000; n++) {
    term *= x / (a + n);
    sum += term;
    if (Math.abs(term) < Math.abs(sum) * EPS) break;
  }
  return sum * Math.exp(-x + a * Math.log(x) - logGamma(a));
}

/** Q(a, x) by the continued fraction, evaluated with the modified Lentz method. */
function gammaContinuedFraction(a: number, x: number): number {
  let b = x + 1 - a;
  let c = 1 / TINY;
  let d = 1 / b;
  let h = d;
  for (let i = 1; i < 10_000; i++) {
    const an = -i * (i - a);
    b += 2;
    d = an * d + b;
    if (Math.abs(d) < TINY) d = TINY;
    c = b + an / c;
    if (Math.abs(c) < TINY) c = TINY;
    d = 1 / d;
    const delta = d * c;
    h *= delta;
    if (Math.abs(delta - 1) < EPS) break;
  }
  return Math.exp(-x + a * Math.log(x) - logGamma(a)) * h;
}

/** Regularized incomplete beta I_x(a, b). */
export function betaI(x: number, a: number, b: number): number {
  checkProbability('betaI', 'x', x);
  checkPositive('betaI', 'a', a);
  checkPositive('betaI', 'b', b);
  if (x <= 0) return 0;
  if (x >= 1) return 1;
  // The continued fraction converges fast for x < (a+1)/(a+b+2); use the symmetry otherwise.
  if (x > (a + 1) / (a + b + 2)) return 1 - betaI(1 - x, b, a);
  const front = Math.exp(logGamma(a + b) - logGamma(a) - logGamma(b) + a * Math.log(x) + b * Math.log1p(-x)) / a;
  return front * betaContinuedFraction(x, a, b);
}

function betaContinuedFraction(x: number, a: number, b: number): number {
  let c = 1;
  let d = 1 - ((a + b) * x) / (a + 1);
  if (Math.abs(d) < TINY) d = TINY;
  d = 1 / d;
  let h = d;
  for (let m = 1; m < 10_000; m++) {
    const m2 = 2 * m;
    // even step
    let num = (m * (b - m) * x) / ((a + m2 - 1) * (a + m2));
    d = 1 + num * d;
    if (Math.abs(d) < TINY) d = TINY;
    c = 1 + num / c;
    if (Math.abs(c) < TINY) c = TINY;
    d = 1 / d;
    h *= d * c;
    // odd step
    num = (-(a + m) * (a + b + m) * x) / ((a + m2) * (a + m2 + 1));
    d = 1 + num * d;
    if (Math.abs(d) < TINY) d = TINY;
    c = 1 + num / c;
    if (Math.abs(c) < TINY) c = TINY;
    d = 1 / d;
    const delta = d * c;
    h *= delta;
    if (Math.abs(delta - 1) < EPS) break;
  }
  return h;
}

/** Standard normal survival function P(Z > z). */
export function normSf(z: number): number {
  if (Number.isNaN(z)) throw new RangeError('normSf: z must be a number, got NaN');
  if (z < 0) return 1 - normSf(-z);
  // erfc(z/√2)/2, with erfc(y) = Q(1/2, y²).
  return 0.5 * gammaQ(0.5, (z * z) / 2);
}

/** Student t survival function P(T > t) with df degrees of freedom (df may be fractional). */
export function tSf(t: number, df: number): number {
  if (Number.isNaN(t)) throw new RangeError('tSf: t must be a number, got NaN');
  checkPositive('tSf', 'df', df);
  if (!Number.isFinite(t)) return t > 0 ? 0 : 1;
  const x = df / (df + t * t);
  const tail = 0.5 * betaI(x, df / 2, 0.5);
  return t > 0 ? tail : 1 - tail;
}

/** Inverse of a decreasing survival function by bisection (60 halvings reach double precision). */
function invertSf(sf: (x: number) => number, p: number, lo: number, hi: number): number {
  for (let i = 0; i < 200; i++) {
    const mid = (lo + hi) / 2;
    if (sf(mid) > p) lo = mid;
    else hi = mid;
    if (hi - lo <= 1e-15 * Math.max(1, Math.abs(mid))) break;
  }
  return (lo + hi) / 2;
}

/** z such that P(Z > z) = p. */
export function normIsf(p: number): number {
  checkProbability('normIsf', 'p', p);
  if (p <= 0) return Infinity;
  if (p >= 1) return -Infinity;
  return invertSf(normSf, p, -40, 40);
}

/** t such that P(T > t) = p. */
export function tIsf(p: number, df: number): number {
  checkProbability('tIsf', 'p', p);
  checkPositive('tIsf', 'df', df);
  if (p <= 0) return Infinity;
  if (p >= 1) return -Infinity;
  let hi = 1;
  while (tSf(hi, df) > p) hi *= 2;
  let lo = -1;
  while (tSf(lo, df) < p) lo *= 2;
  return invertSf((t) => tSf(t, df), p, lo, hi);
}

/** ln C(n, k). */
export function logChoose(n: number, k: number): number {
  return logGamma(n + 1) - logGamma(k + 1) - logGamma(n - k + 1);
}

export function binomLogPmf(k: number, n: number, p: number): number {
  if (p === 0) return k === 0 ? 0 : -Infinity;
  if (p === 1) return k === n ? 0 : -Infinity;
  return logChoose(n, k) + k * Math.log(p) + (n - k) * Math.log1p(-p);
}

/** x such that I_x(a, b) = q, by bisection (for Clopper–Pearson bounds). */
export function betaIinv(q: number, a: number, b: number): number {
  checkProbability('betaIinv', 'q', q);
  checkPositive('betaIinv', 'a', a);
  checkPositive('betaIinv', 'b', b);
  let lo = 0;
  let hi = 1;
  for (let i = 0; i < 200; i++) {
    const mid = (lo + hi) / 2;
    if (betaI(mid, a, b) < q) lo = mid;
    else hi = mid;
    if (hi - lo < 1e-16) break;
  }
  return (lo + hi) / 2;
}
