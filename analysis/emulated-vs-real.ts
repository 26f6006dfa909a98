/**
 * Emulated against real: where a scenario measures the same workload and the
 * same pair of IOMMU configurations on VM targets and on static hosts, set the
 * two effects side by side and say whether the effect seen on the emulated
 * IOMMU has the same sign, and a compatible magnitude, on the real one.
 */
import { variantOf } from '../cell/expand.js';
import { type Comparison, type ComparisonSet } from './compare/index.js';
import { fmtPct } from './format.js';
import type { LoadedRun } from './load.js';

export interface CrossCheck {
  readonly workload: string;
  readonly label: string;
  readonly metric: string;
  readonly vm: Pick<Comparison, 'cell' | 'ratio' | 'lower' | 'upper' | 'verdict'>;
  readonly host: Pick<Comparison, 'cell' | 'ratio' | 'lower' | 'upper' | 'verdict'>;
  readonly sameSign: boolean;
  /** Do the two intervals overlap? */
  readonly magnitudesAgree: boolean;
  readonly summary: string;
}

/** Changes under half a percent have no sign worth comparing. */
const sign = (r: number) => (Math.abs(r - 1) < 0.005 ? 0 : Math.sign(r - 1));

export function emulatedVsReal(set: ComparisonSet, run: LoadedRun): CrossCheck[] {
  const kindOf = (cellId: string) => run.cells.get(cellId)?.target.kind;
  const workloadOf = (cellId: string) => { const c = run.cells.get(cellId); return c ? variantOf(c) : cellId; };
  const vms = set.comparisons.filter((c) => kindOf(c.cell) === 'vm');
  const hosts = set.comparisons.filter((c) => kindOf(c.cell) === 'static');
  const out: CrossCheck[] = [];
  for (const v of vms) {
    for (const h of hosts) {
      if (h.label !== v.label || h.metric !== v.metric || workloadOf(h.cell) !== workloadOf(v.cell)) continue;
      const sameSign = sign(v.ratio) === sign(h.ratio);
      const magnitudesAgree = v.lower <= h.upper && h.lower <= v.upper;
      const summary = `${v.label} ${v.metric}: emulated ${fmtPct(v.ratio)} [${fmtPct(v.lower)}, ${fmtPct(v.upper)}], real ${fmtPct(h.ratio)} [${fmtPct(h.lower)}, ${fmtPct(h.upper)}] — ${sameSign ? 'same sign' : 'opposite or no sign'}, ${magnitudesAgree ? 'magnitudes compatible (intervals overlap)' : 'magnitudes differ (intervals apart)'}`;
      const pick = (c: Comparison) => ({ cell: c.cell, ratio: c.ratio, lower: c.lower, upper: c.upper, verdict: c.verdict });
      out.push({ workload: workloadOf(v.cell), label: v.label, metric: v.metric, vm: pick(v), host: pick(h), sameSign, magnitudesAgree, summary });
    }
  }
  return out;
}
