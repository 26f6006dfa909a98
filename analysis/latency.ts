/**
 * Completion-latency distributions. fio's json+ output (stored with every
 * timing repetition as fio.json) carries the whole completion-latency
 * histogram: `clat_ns.bins`, fio's bucket value in ns → I/Os, buckets about
 * 1.6 % wide. The repetitions of one boot are merged (counts add), then drawn
 * as a CDF with its tail, and compared with the reference configuration
 * quantile by quantile: the shift of the distribution, not two percentiles.
 */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { siblingKey } from '../cell/expand.js';
import { configName, configOrder } from '../core/iommu.js';
import { repId } from '../result/types.js';
import { bootOf, timebaseOfCell, type LoadedRun } from './load.js';
import type { Timebase } from '../core/clock.js';

/** Sorted by latency: [ns, I/Os]. */
export type Histogram = readonly (readonly [number, number])[];

/** The quantiles a report names, as fractions. */
export const LATENCY_QUANTILES = [0.5, 0.9, 0.99, 0.999] as const;
/** The key a quantile is stored under (`p999`), and how reports write it (`p99.9`). */
export const quantileName = (q: number) => `p${String(q * 100).replace('.', '')}`;
export const quantileLabel = (q: number) => `p${q * 100}`;

/** fio json+ text → every job's read, write and trim completion histograms added together; undefined without bins. */
export function histogramOfFio(text: string): Histogram | undefined {
  let doc: { jobs?: { [dir: string]: unknown }[] };
  try {
    doc = JSON.parse(text) as typeof doc;
  } catch {
    return undefined;
  }
  const sums = new Map<number, number>();
  for (const job of doc.jobs ?? []) {
    for (const dir of ['read', 'write', 'trim']) {
      const bins = (job[dir] as { clat_ns?: { bins?: Record<string, number> } } | undefined)?.clat_ns?.bins;
      for (const [ns, n] of Object.entries(bins ?? {})) sums.set(Number(ns), (sums.get(Number(ns)) ?? 0) + n);
    }
  }
  return sums.size ? [...sums].sort((a, b) => a[0] - b[0]) : undefined;
}

export function mergeHistograms(hs: readonly Histogram[]): Histogram {
  const sums = new Map<number, number>();
  for (const h of hs) for (const [ns, n] of h) sums.set(ns, (sums.get(ns) ?? 0) + n);
  return [...sums].sort((a, b) => a[0] - b[0]);
}

export const totalOf = (h: Histogram) => h.reduce((s, [, n]) => s + n, 0);

/** The smallest bucket value with at least q of the I/Os at or below it (fio's own percentile rule), in ns. */
export function quantile(h: Histogram, q: number): number {
  const total = totalOf(h);
  let seen = 0;
  for (const [ns, n] of h) {
    seen += n;
    if (seen >= q * total) return ns;
  }
  return h.at(-1)?.[0] ?? NaN;
}

/**
 * The CDF as [µs, fraction at or below] points, thin enough to embed: the body
 * in steps of at least 1/`steps` of the I/Os, every bucket of the top 1 %
 * (where the tail's shape is), and the last.
 */
export function cdfPoints(h: Histogram, steps = 200): [number, number][] {
  const total = totalOf(h);
  const out: [number, number][] = [];
  let seen = 0;
  let last = -1;
  h.forEach(([ns, n], i) => {
    seen += n;
    const f = seen / total;
    if (f - last >= 1 / steps || f > 0.99 || i === h.length - 1) {
      out.push([ns / 1000, Number(f.toFixed(6))]);
      last = f;
    }
  });
  return out;
}

export interface LatencyBoot {
  readonly boot: string;
  readonly ios: number;
  /** quantile name (p50, p90, p99, p999) → µs. */
  readonly quantiles: Readonly<Record<string, number>>;
  readonly cdf: readonly [number, number][];
}

export interface LatencyCell {
  readonly cell: string;
  readonly group: string;
  readonly config: string;
  readonly configOrder: number;
  readonly timebase: Timebase;
  /** All boots merged. */
  readonly ios: number;
  readonly quantiles: Readonly<Record<string, number>>;
  /** One per boot, in the order the boots ran. */
  readonly boots: readonly LatencyBoot[];
}

/** A candidate's distribution against the reference's: candidate / reference per quantile, with the range over boots. */
export interface LatencyShift {
  readonly group: string;
  readonly cell: string;
  readonly config: string;
  readonly reference: string;
  readonly ratios: Readonly<Record<string, { readonly ratio: number; readonly min: number; readonly max: number }>>;
}

const quantilesOf = (h: Histogram) => Object.fromEntries(LATENCY_QUANTILES.map((q) => [quantileName(q), quantile(h, q) / 1000]));

/** The passed timing repetitions' histograms of every fio cell, merged per boot. Cells without json+ bins are left out. */
export async function loadLatency(run: LoadedRun): Promise<LatencyCell[]> {
  const out: LatencyCell[] = [];
  for (const c of run.cells.values()) {
    const byBoot = new Map<string, Histogram[]>();
    for (const r of run.reps.get(c.id) ?? []) {
      if (r.rep.kind !== 'timing' || !r.files['fio']) continue;
      const file = join(run.dir, 'cells', c.id, repId(r.rep), r.files['fio']);
      if (!existsSync(file)) continue;
      const h = histogramOfFio(await readFile(file, 'utf8'));
      if (h) byBoot.set(bootOf(r), [...(byBoot.get(bootOf(r)) ?? []), h]);
    }
    if (!byBoot.size) continue;
    const boots = [...byBoot].map(([boot, hs]) => {
      const h = mergeHistograms(hs);
      return { boot, ios: totalOf(h), quantiles: quantilesOf(h), cdf: cdfPoints(h) };
    });
    const all = mergeHistograms([...byBoot.values()].flat());
    out.push({ cell: c.id, group: siblingKey(c), config: configName(c.iommu), configOrder: configOrder(c.iommu), timebase: timebaseOfCell(run, c), ios: totalOf(all), quantiles: quantilesOf(all), boots });
  }
  return out.sort((a, b) => a.group.localeCompare(b.group) || a.configOrder - b.configOrder);
}

/** Every cell of a group against the group's reference configuration (`references`: group → config). */
export function latencyShifts(cells: readonly LatencyCell[], references: ReadonlyMap<string, string>): LatencyShift[] {
  const out: LatencyShift[] = [];
  for (const c of cells) {
    const refConfig = references.get(c.group);
    const ref = cells.find((x) => x.group === c.group && x.config === refConfig);
    if (!ref || ref === c) continue;
    const ratios = Object.fromEntries(LATENCY_QUANTILES.map((q) => {
      const k = quantileName(q);
      // Per boot against the reference's merged distribution: how far the boots alone spread the shift.
      const perBoot = c.boots.map((b) => b.quantiles[k]! / ref.quantiles[k]!);
      return [k, { ratio: c.quantiles[k]! / ref.quantiles[k]!, min: Math.min(...perBoot), max: Math.max(...perBoot) }];
    }));
    out.push({ group: c.group, cell: c.cell, config: c.config, reference: ref.config, ratios });
  }
  return out;
}
