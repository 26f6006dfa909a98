/**
 * What a comparison can detect: the minimum detectable effect (MDE), the
 * smallest true change the lab's own test finds with the stated power (80 %
 * unless asked otherwise). A measured "no change" smaller than the MDE says
 * nothing.
 *
 * Computed for the test the lab really runs, not from an approximation:
 *  - the two-sided Mann–Whitney U test on log values (`power`): its power at a
 *    shift δ (in standard deviations of the logs) is simulated with the exact
 *    rejection rule of `mannWhitney` (exact null distribution up to 30 a side,
 *    the normal approximation beyond) on 20,000 seeded normal samples, the same
 *    samples for every δ, and δ is found by bisection (aimed 1 % above the
 *    target power); above 60 values in all,
 *    Noether's formula, which is accurate there. The t-test-on-logs
 *    approximation scaled by √(3/π) overstated the power for small n (64.5 %
 *    instead of 80 % at 4 a side).
 *  - the t test on boot means (`tTestMde`): the power of a t test with a
 *    variance estimated on df degrees of freedom, integrated over that
 *    estimate's distribution.
 * The exact U test also has a floor: with 3 repetitions a side its smallest
 * p-value is 0.1, so nothing is ever significant at 0.05.
 */
import { gaussian, prng } from '../../core/random.js';
import { checkCount, checkPositive, checkProbability } from './check.js';
import { EXACT_MAX, exactUDistribution, minExactP } from './mann-whitney.js';
import { normIsf, normSf, tIsf } from './special.js';

export interface Power {
  /** Smallest change (in %) detected with the given power; Infinity when the test can never reach α. */
  readonly mdePct: number;
  /** Smallest p-value the exact U test can give with these sizes. */
  readonly minP: number;
  /** False when the test can never be significant at α with these sizes. */
  readonly canReach: boolean;
  /** Repetitions per side needed for the U test to be able to reach α. */
  readonly minRepsPerSide: number;
}

const SIMULATIONS = 20_000;

export function power(cvPct: number, n1: number, n2: number, alpha: number, targetPower = 0.8): Power {
  checkPositive('power', 'cvPct', cvPct, { orZero: true });
  checkCount('power', 'n1', n1, 1);
  checkCount('power', 'n2', n2, 1);
  checkProbability('power', 'alpha', alpha, { open: true });
  checkProbability('power', 'targetPower', targetPower, { open: true });
  const floor = exactFloor(n1, n2, alpha);
  const sigma = Math.sqrt(Math.log(1 + (cvPct / 100) ** 2));
  const delta = floor.canReach ? uTestMdeSigma(n1, n2, alpha, targetPower) : Infinity;
  return { mdePct: 100 * (Math.exp(delta * sigma) - 1), ...floor };
}

/**
 * The exact U test's floor alone, without the power simulation: its smallest
 * p-value for these sizes, whether that is below α, and the repetitions a side
 * it needs to be (4 at α = 0.05).
 */
export function exactFloor(n1: number, n2: number, alpha: number): Omit<Power, 'mdePct'> {
  checkCount('exactFloor', 'n1', n1, 1);
  checkCount('exactFloor', 'n2', n2, 1);
  checkProbability('exactFloor', 'alpha', alpha, { open: true });
  const minP = minExactP(n1, n2);
  let need = 2;
  while (minExactP(need, need) >= alpha && need < 100) need++;
  return { minP, canReach: n1 > EXACT_MAX || n2 > EXACT_MAX || minP < alpha, minRepsPerSide: need };
}

const uCache = new Map<string, number>();

/** The shift, in standard deviations, that the two-sided U test at α detects with the target power. */
export function uTestMdeSigma(n1: number, n2: number, alpha: number, targetPower = 0.8): number {
  checkCount('uTestMdeSigma', 'n1', n1, 1);
  checkCount('uTestMdeSigma', 'n2', n2, 1);
  checkProbability('uTestMdeSigma', 'alpha', alpha, { open: true });
  checkProbability('uTestMdeSigma', 'targetPower', targetPower, { open: true });
  const key = `${n1},${n2},${alpha},${targetPower}`;
  const hit = uCache.get(key);
  if (hit !== undefined) return hit;
  let delta: number;
  if (n1 + n2 > 60) {
    // Noether: P(Y > X) − 1/2 = (z_{α/2} + z_β)·√((n1 + n2 + 1) / (12·n1·n2)), with P(Y > X) = Φ(δ/√2).
    const excess = (normIsf(alpha / 2) + normIsf(1 - targetPower)) * Math.sqrt((n1 + n2 + 1) / (12 * n1 * n2));
    delta = excess >= 0.5 ? Infinity : Math.SQRT2 * normIsf(0.5 - excess);
  } else {
    const rejects = rejectionRule(n1, n2, alpha);
    if (!rejects) delta = Infinity;
    else {
      const normal = gaussian(prng(0x90e1 + 131 * n1 + n2));
      const xs: Float64Array[] = [];
      const ys: Float64Array[] = [];
      for (let s = 0; s < SIMULATIONS; s++) {
        xs.push(Float64Array.from({ length: n1 }, normal).sort());
        ys.push(Float64Array.from({ length: n2 }, normal).sort());
      }
      const powerAt = (d: number) => {
        let hits = 0;
        for (let s = 0; s < SIMULATIONS; s++) if (rejects(uOf(xs[s]!, ys[s]!, d))) hits++;
        return hits / SIMULATIONS;
      };
      // Aimed 1 % above the target (over three standard errors of the simulation), so the stated power holds.
      const aim = Math.min(0.999, targetPower + 0.01);
      let lo = 0;
      let hi = 1;
      while (powerAt(hi) < aim && hi < 64) hi *= 2;
      for (let i = 0; i < 40 && hi - lo > 1e-4; i++) {
        const mid = (lo + hi) / 2;
        if (powerAt(mid) >= aim) hi = mid;
        else lo = mid;
      }
      delta = hi;
    }
  }
  uCache.set(key, delta);
  return delta;
}

/** U of x against y + d: pairs with x > y + d (both sorted; continuous draws have no ties). */
function uOf(x: Float64Array, y: Float64Array, d: number): number {
  let u = 0;
  let j = 0;
  for (let i = 0; i < x.length; i++) {
    while (j < y.length && y[j]! + d < x[i]!) j++;
    u += j;
  }
  return u;
}

/** Whether `mannWhitney` would give p < α for a given U of the first sample (no ties). */
function rejectionRule(n1: number, n2: number, alpha: number): ((u: number) => boolean) | undefined {
  const N = n1 * n2;
  if (n1 <= EXACT_MAX && n2 <= EXACT_MAX) {
    const d = exactUDistribution(n1, n2);
    // Smallest big = max(U1, U2) with 2·P(U ≥ big) < α.
    let tail = 0;
    let crit = Infinity;
    for (let u = N; u >= 0; u--) {
      tail += d[u]!;
      if (2 * tail < alpha) crit = u;
      else break;
    }
    if (!Number.isFinite(crit)) return undefined;
    return (u) => Math.max(u, N - u) >= crit;
  }
  const s = Math.sqrt((N * (n1 + n2 + 1)) / 12);
  const z = normIsf(alpha / 2);
  return (u) => (Math.max(u, N - u) - N / 2 - 0.5) / s > z;
}

const tCache = new Map<string, number>();

/**
 * The shift, in standard errors, that a two-sided t test at α with df degrees
 * of freedom detects with the target power: P(|λ + Z| > t_c·S) = power, S² the
 * variance estimate's ratio to the truth (χ²_df / df), averaged over 20,000
 * seeded draws of S (the same for every λ). df is rounded down (conservative).
 */
export function tTestMde(df: number, alpha: number, targetPower = 0.8): number {
  checkPositive('tTestMde', 'df', df);
  checkProbability('tTestMde', 'alpha', alpha, { open: true });
  checkProbability('tTestMde', 'targetPower', targetPower, { open: true });
  const k = Math.max(1, Math.min(500, Math.floor(df)));
  const key = `${k},${alpha},${targetPower}`;
  const hit = tCache.get(key);
  if (hit !== undefined) return hit;
  const c = tIsf(alpha / 2, k);
  const normal = gaussian(prng(0x7e57 + k));
  const S = new Float64Array(SIMULATIONS);
  for (let i = 0; i < SIMULATIONS; i++) {
    let v = 0;
    for (let j = 0; j < k; j++) v += normal() ** 2;
    S[i] = Math.sqrt(v / k);
  }
  const powerAt = (lambda: number) => {
    let p = 0;
    for (let i = 0; i < SIMULATIONS; i++) p += normSf(c * S[i]! - lambda) + normSf(c * S[i]! + lambda);
    return p / SIMULATIONS;
  };
  let lo = 0;
  let hi = 2;
  while (powerAt(hi) < targetPower) hi *= 2;
  for (let i = 0; i < 50 && hi - lo > 1e-6; i++) {
    const mid = (lo + hi) / 2;
    if (powerAt(mid) >= targetPower) hi = mid;
    else lo = mid;
  }
  tCache.set(key, hi);
  return hi;
}
