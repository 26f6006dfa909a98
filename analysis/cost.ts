/**
 * Where the time goes: what each IOMMU event costs.
 *
 * From the QEMU plugin's exact counts wherever a cell has them (any clock):
 * the extra IOMMU-path instructions per I/O between two modes, divided by the
 * extra events per I/O, is the instructions of one event; at the virtual
 * clock's definition (one instruction is 8 ns of guest time) that is its
 * guest time. Exact on both sides, so no interval.
 *
 * Otherwise, from virtual time per I/O and the exact counts of the traced
 * repetitions:
 *
 * Under the virtual clock the test disk completes at once, so the guest is
 * never waiting on a device: 1 / IOPS is the guest's own work per I/O (in
 * virtual µs, all vCPUs together). Between two modes of one IOMMU device that
 * differ in one kind of event, the difference in that time divided by the
 * difference in events per I/O is the cost of one event:
 *  - passthrough → lazy: the I/O is translated (IOVA allocation, page-table
 *    update, deferred invalidation); cost per translated DMA map;
 *  - lazy → strict: every unmap waits for a synchronous IOTLB invalidation;
 *    cost per synchronous invalidation.
 * The interval is the Hodges–Lehmann interval of the time difference (from the
 * U test, as for every timing) divided by the count difference, which is
 * exact — but only when the counts are proven complete (runner/traced.ts): a
 * count that missed events would inflate the cost by the same factor, so
 * without that proof the step says why no cost is given. Only virtual-time cells are decomposed: wall-clock timings under
 * emulation are too noisy for a difference of differences.
 */
import type { Cell } from '../cell/types.js';
import { siblingKey } from '../cell/expand.js';
import { configName } from '../core/iommu.js';
import { VIRTUAL_ICOUNT_SHIFT } from '../core/clock.js';
import { completeCounts, samples, timebaseOfCell, type LoadedRun } from './load.js';
import { hodgesLehmann, mean, median } from './stats/index.js';

export interface CostStep {
  readonly group: string;
  readonly device: string;
  /** e.g. "intel-passthrough → intel-lazy". */
  readonly step: string;
  /** What the extra events are. */
  readonly event: 'translated DMA map' | 'synchronous IOTLB invalidation';
  readonly from: string;
  readonly to: string;
  /** Guest time per I/O on each side (virtual µs), medians. */
  readonly usPerIoFrom: number;
  readonly usPerIoTo: number;
  /** The difference with its interval (virtual µs per I/O). */
  readonly deltaUs: number;
  readonly deltaLower: number;
  readonly deltaUpper: number;
  readonly confidence: number;
  /** Extra events per I/O (exact counts from traced repetitions). */
  readonly eventsPerIo: number;
  /** Cost of one event (virtual ns) with its interval; undefined when the counts do not differ. */
  readonly nsPerEvent?: number;
  readonly nsLower?: number;
  readonly nsUpper?: number;
  /** Why no cost per event is given: the counts are absent or not proven complete. */
  readonly countsMissing?: string;
  /** From the plugin's exact counts (instructions at 8 ns each), or from virtual time and traced counts. */
  readonly basis: 'exact counts' | 'virtual time';
  readonly summary: string;
}

const STEPS = [
  { from: 'passthrough', to: 'lazy', event: 'translated DMA map', metric: 'dma_map_per_io', exact: 'calls_iova_alloc_per_io', counted: 'to' },
  { from: 'lazy', to: 'strict', event: 'synchronous IOTLB invalidation', metric: 'iotlb_sync_flush_per_io', exact: 'calls_sync_inval_per_io', counted: 'delta' },
] as const;

/** Guest time of one instruction at the virtual clock's rate (core/clock.ts): 2^3 ns. */
const NS_PER_INSN = 2 ** VIRTUAL_ICOUNT_SHIFT;
const meanOf = (run: LoadedRun, cell: Cell, metric: string) => {
  const v = samples(run, cell.id, metric).values;
  return v.length ? mean(v) : undefined;
};

/** A step from the plugin's exact counts, or undefined when either cell lacks them. */
function exactStep(run: LoadedRun, group: string, device: string, a: Cell, b: Cell, s: (typeof STEPS)[number]): CostStep | undefined {
  const ia = meanOf(run, a, 'insn_iommu_per_io');
  const ib = meanOf(run, b, 'insn_iommu_per_io');
  const ea = meanOf(run, a, s.exact);
  const eb = meanOf(run, b, s.exact);
  if (ia === undefined || ib === undefined || ea === undefined || eb === undefined) return undefined;
  const events = eb - ea;
  const delta = ib - ia;
  const us = (insns: number) => (insns * NS_PER_INSN) / 1000;
  const step = `${configName(a.iommu)} → ${configName(b.iommu)}`;
  const per = events > 0.05 ? { nsPerEvent: (delta * NS_PER_INSN) / events, nsLower: (delta * NS_PER_INSN) / events, nsUpper: (delta * NS_PER_INSN) / events } : {};
  const summary = `${step}: ${delta >= 0 ? '+' : ''}${f1(delta)} IOMMU-path instructions per I/O (${f1(ia)} → ${f1(ib)}, exact counts)` +
    (per.nsPerEvent !== undefined
      ? `; ${events.toFixed(3)} more ${s.event}s per I/O, so ${f1(delta / events)} instructions each: ${f1(per.nsPerEvent / 1000)} µs at the virtual clock's ${NS_PER_INSN} ns per instruction`
      : `; the counts of ${s.event}s do not differ, so the difference is not theirs`);
  return {
    group, device, step, event: s.event, from: configName(a.iommu), to: configName(b.iommu),
    usPerIoFrom: us(ia), usPerIoTo: us(ib), deltaUs: us(delta), deltaLower: us(delta), deltaUpper: us(delta), confidence: 1,
    eventsPerIo: events, ...per, summary, basis: 'exact counts',
  };
}

const usPerIo = (iops: readonly number[]) => iops.filter((v) => v > 0).map((v) => 1e6 / v);

/** The median count, or why there is none that can be trusted. */
function countOf(run: LoadedRun, cell: Cell, metric: string): { readonly value: number } | { readonly missing: string } {
  const c = completeCounts(run, cell.id, metric);
  return 'missing' in c ? { missing: `${configName(cell.iommu)}: ${c.missing}` } : { value: median(c.values) };
}

const f1 = (x: number) => (Math.abs(x) >= 100 ? x.toFixed(0) : x.toFixed(1));

export function costDecomposition(run: LoadedRun): CostStep[] {
  const groups = new Map<string, Cell[]>();
  for (const c of run.cells.values()) {
    if (c.target.kind !== 'vm') continue;
    groups.set(siblingKey(c), [...(groups.get(siblingKey(c)) ?? []), c]);
  }
  const out: CostStep[] = [];
  for (const [group, cells] of groups) {
    for (const device of [...new Set(cells.map((c) => c.iommu.device))]) {
      for (const s of STEPS) {
        const a = cells.find((c) => c.iommu.device === device && c.iommu.mode === s.from);
        const b = cells.find((c) => c.iommu.device === device && c.iommu.mode === s.to);
        if (!a || !b) continue;
        const exact = exactStep(run, group, device, a, b, s);
        if (exact) {
          out.push(exact);
          continue;
        }
        if (timebaseOfCell(run, a) !== 'virtual' || timebaseOfCell(run, b) !== 'virtual') continue;
        const ta = usPerIo(samples(run, a.id, 'iops').values);
        const tb = usPerIo(samples(run, b.id, 'iops').values);
        if (ta.length < 2 || tb.length < 2) continue;
        const hl = hodgesLehmann(ta, tb, 0.95);
        const ca = countOf(run, a, s.metric);
        const cb = countOf(run, b, s.metric);
        const missing = 'missing' in cb ? cb.missing : s.counted === 'delta' && 'missing' in ca ? ca.missing : undefined;
        const events = 'value' in cb ? (s.counted === 'to' ? cb.value : 'value' in ca ? cb.value - ca.value : undefined) : undefined;
        const step = `${configName(a.iommu)} → ${configName(b.iommu)}`;
        const per = events !== undefined && events > 0.05 ? { nsPerEvent: (hl.estimate * 1000) / events, nsLower: (hl.lower * 1000) / events, nsUpper: (hl.upper * 1000) / events } : {};
        const conf = `${Math.round(hl.confidence * 100)} % CI`;
        const summary = `${step}: +${f1(hl.estimate)} µs of guest time per I/O [${f1(hl.lower)}, ${f1(hl.upper)}] (${f1(median(ta))} → ${f1(median(tb))} µs)` +
          (per.nsPerEvent !== undefined
            ? `; ${events!.toFixed(3)} more ${s.event}s per I/O, so about ${f1(per.nsPerEvent / 1000)} µs each [${f1(per.nsLower! / 1000)}, ${f1(per.nsUpper! / 1000)}] (${conf}, virtual time)`
            : events === undefined ? `; no cost per ${s.event}: ${missing ?? `no complete ${s.metric}`}` : `; the counts of ${s.event}s do not differ, so the difference is not theirs`);
        out.push({
          group, device, step, event: s.event, from: configName(a.iommu), to: configName(b.iommu),
          usPerIoFrom: median(ta), usPerIoTo: median(tb), deltaUs: hl.estimate, deltaLower: hl.lower, deltaUpper: hl.upper, confidence: hl.confidence,
          eventsPerIo: events ?? NaN, ...per, ...(events === undefined && missing ? { countsMissing: missing } : {}), summary, basis: 'virtual time',
        });
      }
    }
  }
  return out;
}
