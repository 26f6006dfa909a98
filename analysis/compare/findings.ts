/**
 * Findings per pair of configurations: one line that says what the exact
 * counts and the timings found together — a difference the counts show but the
 * noisy timings cannot is said as such, never as "no change".
 */
import { fmtNum, fmtPct } from '../format.js';
import type { Comparison, ComparisonSet } from './types.js';

export interface PairFinding {
  readonly group: string;
  readonly label: string;
  readonly counts: readonly Comparison[];
  readonly timings: readonly Comparison[];
  readonly summary: string;
}

/**
 * One line per pair of configurations: a difference the exact counts show but
 * the noisy timings cannot is said as such, never as "no change".
 */
export function pairFindings(set: ComparisonSet): PairFinding[] {
  const byPair = new Map<string, { group: string; label: string; cs: Comparison[] }>();
  for (const c of set.comparisons) {
    const k = JSON.stringify([c.group, c.label]);
    if (!byPair.has(k)) byPair.set(k, { group: c.group, label: c.label, cs: [] });
    byPair.get(k)!.cs.push(c);
  }
  const out: PairFinding[] = [];
  for (const { group, label, cs } of byPair.values()) {
    // The plugin's exact metrics speak as counts do: what changed, exactly.
    const counts = cs.filter((c) => c.metricKind === 'count' || c.metricKind === 'exact');
    const timings = cs.filter((c) => c.metricKind === 'timing');
    const countChanges = counts.filter((c) => c.verdict === 'regression' || c.verdict === 'improvement');
    const timingChanges = timings.filter((c) => c.verdict === 'regression' || c.verdict === 'improvement');
    const timingUnsure = timings.filter((c) => c.verdict === 'inconclusive');
    const describeCount = (c: Comparison) => `${c.metric} ${fmtNum(c.ref.median)} → ${fmtNum(c.cand.median)}`;
    // Virtual-time timings say so wherever they are quoted: they count the guest's own work, not wall-clock time.
    const tm = (c: Comparison) => `${c.timebase === 'virtual' ? 'virtual-time ' : ''}${c.metric} ${fmtPct(c.ratio)}${c.timebase === 'virtual' ? ` [${fmtPct(c.lower)}, ${fmtPct(c.upper)}]` : ''}`;
    let summary: string;
    if (countChanges.length && timingChanges.length) summary = `counts and timings differ: ${countChanges.map(describeCount).join(', ')}; ${timingChanges.map(tm).join(', ')}`;
    else if (countChanges.length && timingUnsure.length) summary = `the exact counts differ (${countChanges.map(describeCount).join(', ')}); the timings cannot tell under this noise (${timingUnsure[0]!.reason})`;
    else if (countChanges.length) summary = `the exact counts differ (${countChanges.map(describeCount).join(', ')}); timings show no change`;
    else if (timingChanges.length) summary = `timings differ: ${timingChanges.map(tm).join(', ')}`;
    else if (timingUnsure.length) summary = `no difference shown; the timings are inconclusive (${timingUnsure[0]!.reason})`;
    else summary = 'no change';
    out.push({ group, label, counts, timings, summary });
  }
  return out;
}
