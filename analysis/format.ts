/**
 * How the analysis writes numbers for people: percentages, effects with their
 * intervals, p values, plain values. One home, for the reports, the CLI and
 * bisect (they are no statistics).
 */

/** A ratio as a signed percentage change: 0.923 → "-7.7 %"; an infinite ratio (from zero) is "new"; NaN (no ratio) "n/a". */
export const fmtPct = (r: number) => (Number.isNaN(r) ? 'n/a' : Number.isFinite(r) ? `${r >= 1 ? '+' : ''}${((r - 1) * 100).toFixed(1)} %` : 'new');

/** What an effect is written from: a comparison's ratio and interval, or why it has none. */
export interface EffectLike {
  readonly ratio: number;
  readonly lower: number;
  readonly upper: number;
  readonly within?: { readonly ratio: number };
  readonly needsReps?: number;
}

/** The effect with its interval; without a valid test, the effect within the boots and why there is no interval. */
export function fmtEffect(c: EffectLike): string {
  if (Number.isFinite(c.lower) && Number.isFinite(c.upper)) return `${fmtPct(c.ratio)} [${fmtPct(c.lower)}, ${fmtPct(c.upper)}]`;
  if (c.within) return `${fmtPct(c.within.ratio)} within its boots (no interval: boot-to-boot noise unknown)`;
  return `${fmtPct(c.ratio)} (no interval${c.needsReps ? `: needs ${c.needsReps} repetitions a side` : ''})`;
}

export function fmtP(p: number): string {
  if (!Number.isFinite(p)) return 'n/a';
  if (p < 1e-4) return p.toExponential(1);
  return p.toPrecision(2);
}

export function fmtNum(v: number): string {
  if (!Number.isFinite(v)) return String(v);
  const a = Math.abs(v);
  if (a === 0) return '0';
  if (a >= 1000) return v.toFixed(0);
  if (a >= 10) return v.toFixed(1);
  if (a >= 0.01) return v.toFixed(3);
  return v.toExponential(2);
}
