/**
 * Pairing: which cells are compared with which, one metric at a time — a run
 * against its baseline (the same cells), the IOMMU configurations of one run
 * against each other (modePairs) or against one reference, the kernels of a
 * VM profile, and one cell across two runs (a bisect step). Every pairing
 * shares one body (comparePair) and one history preparation (historyUpTo).
 */
import { countVariation, describeMetric, measuredVariation, workloadToolsOf, type MetricDescription } from '../../core/metrics.js';
import type { Timebase } from '../../core/clock.js';
import { toolOf, type Cell } from '../../cell/types.js';
import { kernelSiblingKey, siblingKey } from '../../cell/expand.js';
import { configName, configOrder, MODES } from '../../core/iommu.js';
import type { Thresholds } from '../../scenario/types.js';
import type { LoadedRun } from '../load.js';
import { completeCounts, samples, timebaseOfCell } from '../load.js';
import { acrossCellsOfRuns, bootNoiseOf, type BootNoise } from '../boots.js';
import { compareSamples } from './samples.js';
import { judge, judgeAll } from './verdict.js';
import type { Compared, Comparison, ComparisonSet, Pending } from './types.js';

/**
 * The metrics a run compares: the scenario's list, plus the counts the traced
 * repetitions produced; for one cell, those its workload's tool gives (a fio
 * cell has no DMA-map benchmark metric, and the other way round).
 */
export function metricsOf(run: LoadedRun, cell?: Cell): MetricDescription[] {
  const names = new Set(run.scenario.metrics);
  for (const reps of run.reps.values()) {
    for (const r of reps) if (r.outcome.state === 'passed') for (const m of Object.keys(r.outcome.metrics)) if (describeMetric(m)?.kind === 'count') names.add(m);
  }
  return [...names].map((n) => describeMetric(n)).filter((d): d is MetricDescription => d !== undefined && d.kind !== 'exposure' && (!cell || workloadToolsOf(d).includes(toolOf(cell.job))));
}

/** One side of a comparison: its cell, its clock, and whether its traced counts of the metric were proven complete. */
interface ComparedSide {
  readonly cell: Cell;
  readonly timebase: Timebase;
  readonly provenComplete: boolean;
}

/** Why a count varies on these sides: the kernel (a timer, a queue) or the measurement (counts not proven complete). */
function variesWhy(d: MetricDescription, sides: readonly ComparedSide[]): string | undefined {
  const measured = sides.filter((x) => measuredVariation(d, x.cell.iommu.mode, x) === 'varies');
  if (!measured.length) return undefined;
  return measured.every((x) => countVariation(d, x.cell.iommu.mode) === 'exact')
    ? 'under the virtual clock, traced repetitions recorded before the lab proved its counts complete may have counted only part of their I/Os'
    : 'driven by a timer or a queue, not by the I/Os';
}

/** Metrics compared over repetitions with boots as a level: timings, and counts that vary. */
function overRepetitions(d: MetricDescription, sides: readonly ComparedSide[]): boolean {
  return d.kind === 'timing' || d.kind === 'exact' || sides.some((x) => measuredVariation(d, x.cell.iommu.mode, x) === 'varies');
}

function sideOf(run: LoadedRun, cell: Cell, d: MetricDescription): ComparedSide {
  return { cell, timebase: timebaseOfCell(run, cell), provenComplete: d.kind === 'count' && 'values' in completeCounts(run, cell.id, d.name) };
}

/** Options of the comparisons: earlier runs of the scenario, oldest first, for the boot-to-boot noise. */
export interface CompareOptions {
  readonly history?: readonly LoadedRun[];
}

/** A cell and the run it is in. */
interface CellIn {
  readonly run: LoadedRun;
  readonly cell: Cell;
}

/** The boot-to-boot noise of a metric on a clock, estimated once per pair. */
type NoiseFor = (d: MetricDescription, tb: Timebase) => BootNoise | undefined;
function memoNoise(estimate: NoiseFor): NoiseFor {
  const cache = new Map<string, BootNoise | undefined>();
  return (d, tb) => {
    const key = `${d.name}|${tb}`;
    if (!cache.has(key)) cache.set(key, estimate(d, tb));
    return cache.get(key);
  };
}

/**
 * The runs that tell how much boots differ for a comparison made in `run`: the
 * given history up to the run (never the run itself when it is the candidate:
 * its difference is under test), with `reference` added, oldest first.
 */
function historyUpTo(run: LoadedRun, o: CompareOptions, reference: LoadedRun): LoadedRun[] {
  const history = (o.history ?? []).filter((r) => (r.dir !== run.dir || r === reference) && r.manifest.created <= run.manifest.created);
  if (!history.some((r) => r.dir === reference.dir)) history.push(reference);
  return history.sort((a, b) => a.manifest.created.localeCompare(b.manifest.created));
}

/**
 * One metric of two cells (in one run or two), the body every kind of
 * comparison shares: how the count behaves on each side (from its mode and
 * whether its counts were proven complete), the boot-to-boot noise when the metric is compared over repetitions,
 * why a count varies; then compareSamples.
 */
function comparePair(ref: CellIn, cand: CellIn, d: MetricDescription, t: Thresholds, head: Pick<Compared, 'kind' | 'label' | 'group'>, noiseFor: NoiseFor): Pending | string {
  const sides = [sideOf(ref.run, ref.cell, d), sideOf(cand.run, cand.cell, d)] as const;
  const tb = sides[1].timebase;
  const variation = { ref: measuredVariation(d, ref.cell.iommu.mode, sides[0]) ?? 'exact', cand: measuredVariation(d, cand.cell.iommu.mode, sides[1]) ?? 'exact' };
  const noise = overRepetitions(d, sides) ? noiseFor(d, tb) : undefined;
  const why = variesWhy(d, sides);
  return compareSamples(samples(ref.run, ref.cell.id, d.name), samples(cand.run, cand.cell.id, d.name), d, t, { ...head, cell: cand.cell.id, reference: ref.cell.id, timebase: tb }, { variation, ...(noise ? { bootNoise: noise } : {}), ...(why ? { variesWhy: why } : {}) });
}

export function compareRuns(base: LoadedRun, cand: LoadedRun, o: CompareOptions = {}): ComparisonSet {
  const t = cand.scenario.thresholds;
  const pending: Pending[] = [];
  const leftOut: { cell: string; metric?: string; reason: string }[] = [];
  for (const id of base.cells.keys()) if (!cand.cells.has(id)) leftOut.push({ cell: id, reason: 'in the baseline only' });
  // The candidate's link to earlier runs is the difference under test: history stops before it.
  const history = historyUpTo(cand, o, base);
  const metrics = metricsOf(cand);
  const noiseFor = memoNoise((d, tb) => bootNoiseOf(d.name, tb, [cand], history) ?? acrossCellsOfRuns(base, cand, d.name, tb));
  for (const [id, cell] of cand.cells) {
    if (!base.cells.has(id)) {
      leftOut.push({ cell: id, reason: 'not in the baseline' });
      continue;
    }
    // Virtual time and wall-clock time measure different things: a baseline taken with the other clock compares counts only.
    const baseCell = base.cells.get(id)!;
    const tb = timebaseOfCell(cand, cell);
    const clocksDiffer = timebaseOfCell(base, baseCell) !== tb;
    for (const d of metrics.filter((x) => workloadToolsOf(x).includes(toolOf(cell.job)))) {
      // Exact counts differ between clocks too: the virtual clock boots with other kernel arguments (nokaslr, nohz=off).
      if (clocksDiffer && (d.kind === 'timing' || d.kind === 'exact')) {
        leftOut.push({ cell: id, metric: d.name, reason: d.kind === 'exact'
          ? `the baseline ran on the ${timebaseOfCell(base, baseCell)} clock and this run on the ${tb} clock: the guests booted with other kernel arguments, so their instruction counts are not comparable (2,343 against 2,273 IOMMU-path instructions per I/O in intel strict)`
          : `the baseline measured ${timebaseOfCell(base, baseCell)} time and this run ${tb} time: timings are not comparable (counts are)` });
        continue;
      }
      const r = comparePair({ run: base, cell: baseCell }, { run: cand, cell }, d, t, { kind: 'baseline', label: 'candidate vs baseline', group: siblingKey(cell) }, clocksDiffer ? () => undefined : noiseFor);
      if (typeof r === 'string') leftOut.push({ cell: id, metric: d.name, reason: r });
      else pending.push(r);
    }
  }
  return judgeAll(pending, leftOut, t);
}

/**
 * The pairs of configurations worth a comparison, cheaper one as reference:
 * within a device, each mode against the less protective ones (strict vs lazy,
 * passthrough); no IOMMU against every device's modes; and the same mode on
 * two devices (virtio against intel).
 */
export function modePairs(cells: readonly Cell[]): [Cell, Cell][] {
  const pairs: [Cell, Cell][] = [];
  for (const a of cells) {
    for (const b of cells) {
      if (a === b) continue;
      const ra = MODES[a.iommu.mode].rank;
      const rb = MODES[b.iommu.mode].rank;
      const sameDevice = a.iommu.device === b.iommu.device;
      if (sameDevice && ra < rb) pairs.push([a, b]);
      else if (!sameDevice && a.iommu.device === 'none' && b.iommu.device !== 'none') pairs.push([a, b]);
      else if (!sameDevice && a.iommu.mode === b.iommu.mode && a.iommu.device === 'intel' && b.iommu.device === 'virtio') pairs.push([a, b]);
    }
  }
  return pairs;
}

/** Configurations against each other within one run. */
export function compareModes(run: LoadedRun, o: CompareOptions = {}): ComparisonSet {
  return compareConfigPairs(run, o, modePairs);
}

/**
 * The configuration a group's rows are relative to: `named` where the group has it, else the
 * group's first in rank order (no IOMMU, or passthrough: the untranslated one).
 */
export function referenceOf(cells: readonly Cell[], named?: string): Cell {
  const ranked = [...cells].sort((a, b) => configOrder(a.iommu) - configOrder(b.iommu));
  return ranked.find((c) => configName(c.iommu) === named) ?? ranked[0]!;
}

/**
 * Every configuration of a group against its reference (referenceOf), for tables relative to it
 * (the text report): the same comparison as compareModes, over other pairs.
 */
export function compareToReference(run: LoadedRun, o: CompareOptions & { readonly reference?: string } = {}): ComparisonSet {
  return compareConfigPairs(run, o, (cells) => {
    const ref = referenceOf(cells, o.reference);
    return cells.filter((c) => c !== ref).sort((a, b) => configOrder(a.iommu) - configOrder(b.iommu)).map((c) => [ref, c] as [Cell, Cell]);
  });
}

/** The cells of a run by comparison group (siblingKey: everything but the IOMMU configuration). */
export function siblingGroups(run: LoadedRun): Map<string, Cell[]> {
  const groups = new Map<string, Cell[]>();
  for (const c of run.cells.values()) groups.set(siblingKey(c), [...(groups.get(siblingKey(c)) ?? []), c]);
  return groups;
}

/** Pairs of configurations within each group of one run ([reference, candidate]), every metric of each. */
function compareConfigPairs(run: LoadedRun, o: CompareOptions, pairsOf: (cells: readonly Cell[]) => [Cell, Cell][]): ComparisonSet {
  const t = run.scenario.thresholds;
  const history = historyUpTo(run, o, run);
  const noiseFor = memoNoise((d, tb) => bootNoiseOf(d.name, tb, [run], history));
  const pending: Pending[] = [];
  const leftOut: { cell: string; metric?: string; reason: string }[] = [];
  for (const [group, cells] of siblingGroups(run)) {
    for (const [a, b] of pairsOf(cells)) {
      const label = `${configName(b.iommu)} vs ${configName(a.iommu)}`;
      for (const d of metricsOf(run, a)) {
        const r = comparePair({ run, cell: a }, { run, cell: b }, d, t, { kind: 'modes', label, group }, noiseFor);
        if (typeof r === 'string') leftOut.push({ cell: b.id, metric: d.name, reason: `${label}: ${r}` });
        else pending.push(r);
      }
    }
  }
  return judgeAll(pending, leftOut, t);
}

/**
 * Kernels against each other within each IOMMU configuration (a VM profile
 * whose kernel: is a list): every kernel against the first one listed, the
 * reference ("patched vs base"). Counts and timings, as configurations are.
 */
export function compareKernels(run: LoadedRun, o: CompareOptions = {}): ComparisonSet {
  const t = run.scenario.thresholds;
  const history = historyUpTo(run, o, run);
  const groups = new Map<string, Cell[]>();
  for (const c of run.cells.values()) {
    const k = kernelSiblingKey(c);
    if (k) groups.set(k, [...(groups.get(k) ?? []), c]);
  }
  const order = (c: Cell) => {
    const vm = run.scenario.targets.vms.find((v) => c.target.kind === 'vm' && v.name === c.target.profile);
    const list = vm && Array.isArray(vm.kernel) ? (vm.kernel as readonly string[]) : [];
    return c.target.kind === 'vm' ? list.indexOf(c.target.kernel) : -1;
  };
  const kernelOf = (c: Cell) => (c.target.kind === 'vm' ? c.target.kernel : '');
  const noiseFor = memoNoise((d, tb) => bootNoiseOf(d.name, tb, [run], history));
  const pending: Pending[] = [];
  const leftOut: { cell: string; metric?: string; reason: string }[] = [];
  for (const [group, cells] of groups) {
    const sorted = [...cells].sort((a, b) => order(a) - order(b));
    const ref = sorted[0]!;
    for (const b of sorted.slice(1)) {
      for (const d of metricsOf(run, ref)) {
        const label = `${kernelOf(b)} vs ${kernelOf(ref)} (${configName(b.iommu)})`;
        const r = comparePair({ run, cell: ref }, { run, cell: b }, d, t, { kind: 'kernels', label, group }, noiseFor);
        if (typeof r === 'string') leftOut.push({ cell: b.id, metric: d.name, reason: `${label}: ${r}` });
        else pending.push(r);
      }
    }
  }
  return judgeAll(pending, leftOut, t);
}

/**
 * One metric of one cell in two runs, judged on its own (no multiple-comparison
 * set): a bisect step against an endpoint. Boot-to-boot noise comes from the
 * runs' replicate boots, when they have them. A string says why there is
 * nothing to compare.
 */
export function compareCellAcross(ref: CellIn, cand: CellIn, metric: string, label: string): Comparison | string {
  const d = describeMetric(metric);
  if (!d) return `unknown metric ${metric}`;
  const t = cand.run.scenario.thresholds;
  const r = comparePair(ref, cand, d, t, { kind: 'kernels', label, group: siblingKey(cand.cell) }, (m, tb) => bootNoiseOf(m.name, tb, [ref.run, cand.run], []));
  if (typeof r === 'string') return r;
  return { ...r, q: r.p, ...judge(r, r.p, t) };
}
