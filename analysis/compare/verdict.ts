/**
 * Verdicts: a tested comparison judged against the scenario's thresholds,
 * after Benjamini–Hochberg over every test of its set. A verdict needs
 * significance and an effect of at least min_effect_pct, and says why when it
 * cannot be reached.
 */
import type { Thresholds } from '../../scenario/types.js';
import { fmtNum, fmtP, fmtPct } from '../format.js';
import { benjaminiHochberg, exactFloor } from '../stats/index.js';
import { maxCv, minEffect } from './thresholds.js';
import type { Comparison, ComparisonSet, Pending, RateTest, Verdict } from './types.js';

interface Judgement {
  readonly verdict: Verdict;
  readonly reason: string;
}

/** What every verdict weighs: significance, size, the interval inside the no-change band, and the direction. */
interface Weighed {
  readonly q: number;
  readonly sig: boolean;
  readonly big: boolean;
  readonly inside: boolean;
  readonly direction: Verdict;
  readonly minEffectPct: number;
}

/** A count's change as people say it: "0 → 1.000 per I/O", "×159", "−16.5 %". */
function rateChange(c: Pending): string {
  if (c.ref.median === 0 || !Number.isFinite(c.ratio)) return `${fmtNum(c.ref.median)} → ${fmtNum(c.cand.median)} per I/O`;
  if (c.ratio >= 2) return `×${fmtNum(c.ratio)} (${fmtNum(c.ref.median)} → ${fmtNum(c.cand.median)} per I/O)`;
  if (c.ratio > 0 && c.ratio <= 0.5) return `÷${fmtNum(1 / c.ratio)} (${fmtNum(c.ref.median)} → ${fmtNum(c.cand.median)} per I/O)`;
  return fmtPct(c.ratio);
}

/** Counts by their rate: the exact test's verdict, or "too few events". */
function judgeRate(c: Pending & RateTest, w: Weighed): Judgement {
  if (c.ref.values.every((v) => v === 0) && c.cand.values.every((v) => v === 0)) return { verdict: 'no-change', reason: 'no events on either side' };
  const what = c.variation === 'poisson' ? 'rate per repetition' : 'per-I/O rate';
  const change = c.variation === 'poisson' ? `${fmtNum(c.ref.median)} → ${fmtNum(c.cand.median)} per repetition` : rateChange(c);
  if (w.sig && w.big) return { verdict: w.direction, reason: `${what} ${change} (${c.variation === 'poisson' ? 'Poisson' : 'exact counts'}, q ${fmtP(w.q)})` };
  if (w.inside || (w.sig && !w.big)) return { verdict: 'no-change', reason: `${what} within ±${w.minEffectPct} %` };
  return { verdict: 'inconclusive', reason: `too few events to bound the ${what} within ±${w.minEffectPct} %` };
}

/** Why a comparison cannot give a verdict before its effect is weighed; undefined when it can. */
function cannotJudge(c: Pending, t: Thresholds): Judgement | undefined {
  if (c.test === 'none' && c.needsReps !== undefined) {
    return { verdict: 'inconclusive', reason: `varies from run to run (${c.variesWhy ?? 'driven by a timer or a queue, not by the I/Os'}), so it is compared over traced repetitions: needs ≥ ${c.needsReps} a side, has ${c.ref.n} and ${c.cand.n}` };
  }
  if (c.ref.n < 2 && c.cand.n < 2 && c.test !== 'boot-t') return { verdict: 'inconclusive', reason: `needs at least 2 repetitions a side (has ${c.ref.n} and ${c.cand.n})` };
  if (c.noisy) return { verdict: 'inconclusive', reason: `noisy: CV ${Math.max(c.ref.cvPct, c.cand.cvPct).toFixed(1)} % above max_cv_pct ${maxCv(t, c.metric)} %; not trusted` };
  if (c.test === 'none' && c.within) {
    return {
      verdict: 'inconclusive',
      reason: `${fmtPct(c.within.ratio)} [${fmtPct(c.within.lower)}, ${fmtPct(c.within.upper)}] within these boots, but the two sides ran in different boots (${c.boots.ref} and ${c.boots.cand}) and nothing estimates how much boots differ: set boots: 2 (or more) in the VM profile, or compare once the scenario has history`,
    };
  }
  if (c.test === 'mann-whitney-exact') {
    // The floor only: the power simulation is not needed to say that α cannot be reached.
    const pw = exactFloor(c.ref.n, c.cand.n, t.alpha);
    if (!pw.canReach) return { verdict: 'inconclusive', reason: `${c.ref.n} vs ${c.cand.n} repetitions: the exact U test cannot go below p = ${pw.minP.toPrecision(2)}, so nothing is significant at α = ${t.alpha}; use ≥ ${pw.minRepsPerSide} a side (effect ${fmtPct(c.ratio)})` };
  }
  return undefined;
}

export function judge(c: Pending, q: number, t: Thresholds): Judgement {
  const eff = minEffect(t, c.metric) / 100;
  const worse = c.better === 'higher' ? c.ratio < 1 : c.ratio > 1;
  const w: Weighed = {
    q, sig: q < t.alpha, minEffectPct: minEffect(t, c.metric), direction: worse ? 'regression' : 'improvement',
    big: Math.abs(c.ratio - 1) >= eff || !Number.isFinite(c.ratio),
    inside: c.lower >= 1 - eff && c.upper <= 1 + eff,
  };
  if (c.test === 'poisson-rate') return judgeRate(c, w);
  if (c.test === 'zero') return c.p === 1 ? { verdict: 'no-change', reason: 'zero on both sides (exact)' } : { verdict: w.direction, reason: `${fmtNum(c.ref.median)} → ${fmtNum(c.cand.median)} ${c.unit} (exact: zero on one side only)` };
  const early = cannotJudge(c, t);
  if (early) return early;
  const level = c.test === 'boot-t' ? ` (${c.boots.ref} vs ${c.boots.cand} boots, boot noise from ${c.boots.noise.source})` : '';
  if (w.sig && w.big) return { verdict: w.direction, reason: `${fmtPct(c.ratio)} [${fmtPct(c.lower)}, ${fmtPct(c.upper)}], q ${fmtP(q)}${level}` };
  if (w.sig && !w.big) return { verdict: 'no-change', reason: `significant but ${fmtPct(c.ratio)} is below the ${w.minEffectPct} % minimum effect` };
  if (w.inside) return { verdict: 'no-change', reason: `interval [${fmtPct(c.lower)}, ${fmtPct(c.upper)}] within ±${w.minEffectPct} %${level}` };
  const mde = c.test !== 'none' ? c.mdePct : undefined;
  return { verdict: 'inconclusive', reason: `not significant (q ${fmtP(q)}); this noise and n detect ≥ ${mde !== undefined && Number.isFinite(mde) ? mde.toFixed(1) : '?'} % with 80 % power${level}` };
}

/** Every comparison of a set judged, with q from Benjamini–Hochberg over the set's p values. */
export function judgeAll(pending: readonly Pending[], leftOut: ComparisonSet['leftOut'], t: Thresholds): ComparisonSet {
  const q = benjaminiHochberg(pending.map((c) => c.p));
  const comparisons = pending.map((c, i): Comparison => ({ ...c, q: q[i]!, ...judge(c, q[i]!, t) }));
  return { comparisons, leftOut, thresholds: t };
}

export function hasRegression(set: ComparisonSet): boolean {
  return set.comparisons.some((c) => c.verdict === 'regression');
}
