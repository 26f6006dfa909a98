/**
 * Everything a report shows, computed once: the renderers (HTML, Markdown,
 * JUnit, JSON) only format it.
 */
import { describeMetric, METRICS, type WorkloadKind } from '../../core/metrics.js';
import { toolOf } from '../../cell/types.js';
import { detectChanges, type ChangeReport, type Night } from '../changepoint.js';
import { siblingKey } from '../../cell/expand.js';
import { configName, configOrder } from '../../core/iommu.js';
import { adviseModes, type Advice } from '../advice.js';
import { compareKernels, compareModes, compareRuns, compareToReference, hasRegression, metricsOf, pairFindings, referenceOf, siblingGroups, type ComparisonSet, type PairFinding } from '../compare/index.js';
import { latencyShifts, type LatencyCell, type LatencyShift } from '../latency.js';
import { emulatedVsReal, type CrossCheck } from '../emulated-vs-real.js';
import { costDecomposition, type CostStep } from '../cost.js';
import { whereTheWorkGoes, type WorkReport } from '../work.js';
import type { Timebase } from '../../core/clock.js';
import { nightsOf } from '../history.js';
import { samples, timebaseOfCell, type LoadedRun, type LoadProblem } from '../load.js';
import { cvPct, median } from '../stats/describe.js';
import { repId } from '../../result/types.js';

export interface CellStats {
  readonly cell: string;
  readonly group: string;
  readonly config: string;
  /** Where the configuration sorts in reports (core/iommu.ts configOrder). */
  readonly configOrder: number;
  readonly target: string;
  readonly workload: string;
  /** The workload's tool: fio, the DMA-map benchmark, or network (whose I/Os are packets). */
  readonly tool: WorkloadKind;
  /** The test device: a disk, or a network cell's test link. */
  readonly disk: string;
  readonly profile: string;
  /** What its timings measured: guest virtual time or wall-clock time. */
  readonly timebase: Timebase;
  readonly axes: Readonly<Record<string, string | number>>;
  /** metric → summary over this run's repetitions. */
  readonly metrics: Readonly<Record<string, { readonly n: number; readonly median: number; readonly cvPct: number; readonly values: readonly number[] }>>;
}

export interface Trend {
  readonly cell: string;
  readonly metric: string;
  readonly nights: readonly Night[];
  readonly changes: ChangeReport;
}

export interface Report {
  readonly title: string;
  readonly generated: string;
  readonly run: { readonly id: string; readonly dir: string; readonly scenario: string; readonly created: string; readonly host: string; readonly labVersion: string; readonly repetitions: { timing: number; traced: number } };
  readonly baseline?: { readonly id: string; readonly dir: string; readonly set: ComparisonSet };
  readonly modes: ComparisonSet;
  readonly findings: readonly PairFinding[];
  /** Kernels against the first one listed, within each IOMMU configuration (when a profile lists several). */
  readonly kernels: ComparisonSet;
  /** Every configuration against one reference per comparison group (the text report's tables). */
  readonly reference: { readonly named?: string; readonly set: ComparisonSet; /** group → reference configuration */ readonly byGroup: Readonly<Record<string, string>> };
  /** Completion-latency distributions per cell (fio's json+ histograms), and their shift against the reference. */
  readonly latency: { readonly cells: readonly LatencyCell[]; readonly shifts: readonly LatencyShift[] };
  /** What ran: guest kernels, QEMU versions and clocks seen in the results. */
  readonly versions: { readonly kernels: readonly string[]; readonly qemu: readonly string[]; readonly clocks: readonly string[] };
  /** The commands that measure it again. */
  readonly reproduce: { readonly sweep: string; readonly cell?: string };
  readonly kernelFindings: readonly PairFinding[];
  /** Which mode to run per workload, what it costs and what it buys (analysis/advice.ts). */
  readonly advice: readonly Advice[];
  /** The same configuration pair on VM targets and on static hosts. */
  readonly crossChecks: readonly CrossCheck[];
  /** Where the work goes: instructions per I/O by subsystem and the functions that differ most (the QEMU plugin's exact counts). */
  readonly work: WorkReport;
  /** What each IOMMU event costs, from virtual time and exact counts (virtual-clock cells only). */
  readonly costs: readonly CostStep[];
  readonly cells: readonly CellStats[];
  readonly trends: readonly Trend[];
  readonly failures: readonly { readonly cell: string; readonly rep: string; readonly kind: string; readonly message: string }[];
  readonly problems: readonly LoadProblem[];
  readonly regression: boolean;
  /** What the report says first, in every format; its exit code is the sweep's (cli/commands/sweep.ts). */
  readonly headline: Headline;
  readonly metrics: readonly { readonly name: string; readonly title: string; readonly unit: string; readonly better: string; readonly kind: string; /** What one value is per (core/metrics.ts). */ readonly per: string }[];
}

/**
 * history: earlier runs of the scenario (oldest first), for the boot-to-boot
 * noise and, unless `trends` is false, for change points.
 */
export function buildReport(run: LoadedRun, options: { baseline?: LoadedRun; history?: readonly LoadedRun[]; trends?: boolean; latency?: readonly LatencyCell[]; reference?: string } = {}): Report {
  // Earlier runs of the scenario tell how much boots differ (analysis/boots.ts).
  const history = options.history ?? [];
  const modes = compareModes(run, { history });
  const kernels = compareKernels(run, { history });
  const reference = compareToReference(run, { history, ...(options.reference ? { reference: options.reference } : {}) });
  const references = new Map([...siblingGroups(run)].map(([g, cs]) => [g, configName(referenceOf(cs, options.reference).iommu)]));
  const latencyCells = options.latency ?? [];
  const baselineSet = options.baseline ? compareRuns(options.baseline, run, { history }) : undefined;
  const metricDescs = metricsOf(run);
  const cells: CellStats[] = [...run.cells.values()].map((c) => ({
    cell: c.id,
    group: siblingKey(c),
    config: configName(c.iommu),
    configOrder: configOrder(c.iommu),
    target: c.target.name,
    workload: c.job.workload,
    tool: toolOf(c.job),
    disk: c.disk,
    profile: c.target.kind === 'vm' ? c.target.profile : c.target.host,
    timebase: timebaseOfCell(run, c),
    axes: c.axes,
    metrics: Object.fromEntries(
      metricDescs
        .map((d) => [d.name, samples(run, c.id, d.name).values] as const)
        .filter(([, v]) => v.length > 0)
        .map(([name, v]) => [name, { n: v.length, median: median(v), cvPct: cvPct(v), values: v }]),
    ),
  }));
  const trends: Trend[] = [];
  if (history.length >= 3 && options.trends !== false) {
    const t = run.scenario.thresholds;
    for (const c of run.cells.values()) {
      for (const d of metricDescs) {
        const nights = nightsOf(history, c.id, d.name);
        if (nights.length < 3) continue;
        const minEffectPct = t.metrics?.[d.name]?.min_effect_pct ?? t.min_effect_pct;
        trends.push({ cell: c.id, metric: d.name, nights, changes: detectChanges(nights, { alpha: t.alpha, minEffectPct }) });
      }
    }
  }
  const failures = [...run.failed.entries()].flatMap(([cell, rs]) =>
    rs.filter((r) => !run.reps.get(cell)?.some((p) => p.rep.kind === r.rep.kind && p.rep.index === r.rep.index)).map((r) => ({
      cell, rep: repId(r.rep),
      kind: r.outcome.state === 'failed' ? r.outcome.failure.kind : 'internal',
      message: r.outcome.state === 'failed' ? r.outcome.failure.message : '',
    })),
  );
  const report: Omit<Report, 'headline'> = {
    title: `iommu-lab: ${run.manifest.scenario.name} — ${run.manifest.id}`,
    generated: new Date().toISOString(),
    run: {
      id: run.manifest.id, dir: run.dir, scenario: run.manifest.scenario.name, created: run.manifest.created, host: run.manifest.host,
      labVersion: run.manifest.lab_version, repetitions: run.manifest.repetitions,
    },
    ...(options.baseline && baselineSet ? { baseline: { id: options.baseline.manifest.id, dir: options.baseline.dir, set: baselineSet } } : {}),
    modes,
    findings: pairFindings(modes),
    kernels,
    kernelFindings: pairFindings(kernels),
    reference: { ...(options.reference ? { named: options.reference } : {}), set: reference, byGroup: Object.fromEntries(references) },
    latency: { cells: latencyCells, shifts: latencyShifts(latencyCells, references) },
    versions: versionsOf(run),
    reproduce: { sweep: `iommu-lab sweep ${run.manifest.scenario.file}`, ...(cells[0] ? { cell: `iommu-lab repro ${run.dir}/${cells[0].cell}` } : {}) },
    advice: adviseModes(modes, run.cells),
    crossChecks: emulatedVsReal(modes, run),
    work: whereTheWorkGoes(run),
    costs: costDecomposition(run),
    cells,
    trends,
    failures,
    problems: [...run.problems, ...(options.baseline?.problems ?? [])],
    // A regression: against the baseline, or a worse change point confirmed by the latest night.
    regression: (baselineSet ? hasRegression(baselineSet) : false) || trends.some((t) => newlyConfirmedWorse(t)),
    metrics: METRICS.filter((m) => metricDescs.some((d) => d.name === m.name)).map((m) => ({ name: m.name, title: m.title, unit: m.unit, better: m.better, kind: m.kind, per: m.per })),
  };
  return { ...report, headline: headlineOf(report) };
}

/**
 * The report's first line: a regression, or repetitions that failed (the sweep then exits 1 too), or
 * neither, with what stayed unsure. It never says "no regression" alone above failures.
 */
export type Headline =
  | { readonly state: 'regression'; readonly exitCode: 1; readonly text: string }
  | { readonly state: 'failed'; readonly exitCode: 1; readonly text: string }
  | { readonly state: 'clean'; readonly exitCode: 0; readonly text: string };

export function headlineOf(r: Pick<Report, 'regression' | 'failures' | 'baseline' | 'modes' | 'cells'>): Headline {
  const inconclusive = (r.baseline?.set.comparisons ?? r.modes.comparisons).filter((c) => c.verdict === 'inconclusive').length;
  const unsure = inconclusive ? `; ${inconclusive} comparison${inconclusive === 1 ? '' : 's'} inconclusive` : '';
  const failed = r.failures.length;
  const failedText = `${failed} repetition${failed === 1 ? '' : 's'} failed`;
  if (r.regression) return { state: 'regression', exitCode: 1, text: `Regression${failed ? `; ${failedText}` : ''}${unsure} (exit 1)` };
  if (failed) return { state: 'failed', exitCode: 1, text: `${failedText}: no regression among the rest${unsure} (exit 1)` };
  return { state: 'clean', exitCode: 0, text: `No regression${unsure} (exit 0)` };
}

function versionsOf(run: LoadedRun): Report['versions'] {
  const reps = [...run.reps.values()].flat();
  const sorted = (xs: (string | undefined)[]) => [...new Set(xs.filter((x): x is string => Boolean(x)))].sort();
  return {
    kernels: sorted(reps.map((r) => r.provenance.kernel)),
    qemu: sorted(reps.map((r) => r.provenance.tools?.['qemu'])),
    // The VM profiles' clocks by name (tcg, virtual, kvm: docs/timing.md); static hosts time on their own clock.
    clocks: sorted([...run.cells.values()].map((c) => (c.target.kind === 'vm' ? `${run.scenario.targets.vms.find((v) => c.target.kind === 'vm' && v.name === c.target.profile)?.clock ?? 'default'} clock` : 'static host'))),
  };
}

export function newlyConfirmedWorse(t: Trend): boolean {
  const last = t.changes.points.at(-1);
  return last !== undefined && last.index + last.nights === t.nights.length && isWorse(t.metric, last.ratio);
}

function isWorse(metric: string, ratio: number): boolean {
  const d = describeMetric(metric);
  return d ? (d.better === 'higher' ? ratio < 1 : ratio > 1) : false;
}
