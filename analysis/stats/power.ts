/**
 * What a comparison can detect. With the CV measured on the repetitions, the
 * minimum detectable effect (MDE) is the smallest true change a two-sided test
 * at α finds with the given power; a measured "no change" smaller than the MDE
 * says nothing. Computed for Welch's t on logs (σ_log = √ln(1 + CV²)) and
 * scaled by 1/√(3/π) for the U test, whose efficiency against t is 3/π for
 * normal data. Separately, the exact U test has a floor: with 3 repetitions a
 * side its smallest p-value is 0.1, so nothing is ever significant at 0.05.
 */
import { minExactP } from './mann-whitney.js';
import { tIsf } from './special.js';

export interface Power {
  /** Smallest change (in %) detected with the given power. */
  readonly mdePct: number;
  /** Smallest p-value the exact U test can give with these sizes. */
  readonly minP: number;
  /** False when the test can never be significant at α with these sizes. */
  readonly canReach: boolean;
  /** Repetitions per side needed for the U test to be able to reach α. */
  readonly minRepsPerSide: number;
}

export function power(cvPct: number, n1: number, n2: number, alpha: number, targetPower = 0.8): Power {
  const minP = minExactP(n1, n2);
  let need = 2;
  while (minExactP(need, need) > alpha && need < 100) need++;
  const df = Math.max(1, n1 + n2 - 2);
  const sigma = Math.sqrt(Math.log(1 + (cvPct / 100) ** 2));
  const mdeLog = (tIsf(alpha / 2, df) + tIsf(1 - targetPower, df)) * sigma * Math.sqrt(1 / n1 + 1 / n2) / Math.sqrt(3 / Math.PI);
  return { mdePct: 100 * (Math.exp(mdeLog) - 1), minP, canReach: minP <= alpha, minRepsPerSide: need };
}
