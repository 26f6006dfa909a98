/**
 * The analysis as one use case: a run, judged against the results root it
 * lives in — its configurations against each other, against a baseline (the
 * scenario's stored one, one given, or none), with the boot-to-boot noise and
 * change points from the scenario's history under the root — written as the
 * four report files. `report`, `compare` and the sweep all call this.
 */
import { dirname, join, resolve } from 'node:path';
import { CompareScenariosError, UsageError } from '../core/errors.js';
import { configName } from '../core/iommu.js';
import { loadLatency } from './latency.js';
import { getBaseline, loadHistory } from './history.js';
import { loadRun, type LoadedRun } from './load.js';
import { buildReport, type Report } from './report/model.js';
import { writeReport, type ReportFiles } from './report/write.js';

export interface AnalyseOptions {
  /** Results root whose runs of the scenario form the history (default: the run's parent). */
  readonly root?: string;
  /** `stored`: the scenario's baseline under the root, if any (default); a run; or `none`. */
  readonly baseline?: 'stored' | 'none' | LoadedRun;
  /** Compare runs of different scenarios on the cells they share. */
  readonly force?: boolean;
  /** Change points over the history (default true). */
  readonly trends?: boolean;
  /** Where the report files go (default: RUN/report). */
  readonly outDir?: string;
  /** The configuration the text report's tables are relative to (default: the untranslated one of each group). */
  readonly reference?: string;
  /** A stored baseline that cannot be read: told here and left out, instead of failing the analysis. */
  readonly onBaselineError?: (e: unknown) => void;
}

export interface Analysis {
  readonly report: Report;
  readonly files: ReportFiles;
  readonly baseline?: LoadedRun;
}

/** Runs of different scenarios are not compared unless asked (`--force`). */
export function assertSameScenario(base: LoadedRun, cand: LoadedRun, force = false): void {
  if (base.manifest.scenario.name !== cand.manifest.scenario.name && !force) {
    throw new CompareScenariosError(`${base.manifest.id} is a run of "${base.manifest.scenario.name}" and ${cand.manifest.id} of "${cand.manifest.scenario.name}"`, {
      fix: 'compare runs of the same scenario, or pass --force to compare the cells they share by id',
    });
  }
}

async function storedBaseline(run: LoadedRun, root: string, o: AnalyseOptions): Promise<LoadedRun | undefined> {
  try {
    const dir = await getBaseline(root, run.manifest.scenario.name);
    return dir && resolve(dir) !== resolve(run.dir) ? await loadRun(dir) : undefined;
  } catch (e) {
    if (!o.onBaselineError) throw e;
    o.onBaselineError(e);
    return undefined;
  }
}

export async function analyse(run: LoadedRun, o: AnalyseOptions = {}): Promise<Analysis> {
  const root = resolve(o.root ?? dirname(run.dir));
  const choice = o.baseline ?? 'stored';
  const baseline = choice === 'none' ? undefined : choice === 'stored' ? await storedBaseline(run, root, o) : choice;
  if (baseline) assertSameScenario(baseline, run, o.force);
  const history = await loadHistory(root, run.manifest.scenario.name, run.manifest.created, undefined, [run, ...(baseline ? [baseline] : [])]);
  if (o.reference) {
    const configs = [...new Set([...run.cells.values()].map((c) => configName(c.iommu)))];
    if (!configs.includes(o.reference)) throw new UsageError(`the run has no configuration ${o.reference}`, `name one of ${configs.join(', ')}`);
  }
  const latency = await loadLatency(run);
  const report = buildReport(run, { ...(baseline ? { baseline } : {}), history, latency, ...(o.reference ? { reference: o.reference } : {}), ...(o.trends === false ? { trends: false } : {}) });
  const files = await writeReport(report, o.outDir ?? join(run.dir, 'report'));
  return { report, files, ...(baseline ? { baseline } : {}) };
}
