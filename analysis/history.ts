/**
 * Runs over time: the nightly history of a scenario is every run of it under a
 * results root, oldest first; the baseline is one of them, named in
 * `<root>/baselines/<scenario>.json`.
 */
import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile } from 'node:fs/promises';
import { basename, dirname, join, relative, resolve } from 'node:path';
import { BaselineCorruptError, BaselineMissingError } from '../core/errors.js';
import { writeJsonAtomic } from '../core/atomic.js';
import { RUN_FILE } from '../result/store.js';
import type { RunManifest } from '../result/types.js';
import { loadRun, samples, type LoadedRun } from './load.js';
import type { Night } from './changepoint.js';

export interface RunRef {
  readonly dir: string;
  readonly id: string;
  readonly scenario: string;
  readonly created: string;
}

export async function listRuns(root: string, scenario?: string): Promise<RunRef[]> {
  if (!existsSync(root)) return [];
  const out: RunRef[] = [];
  for (const name of await readdir(root)) {
    const file = join(root, name, RUN_FILE);
    if (!existsSync(file)) continue;
    try {
      const m = JSON.parse(await readFile(file, 'utf8')) as RunManifest;
      // A shard is a part of a night, not one: its merged run is.
      if (m.shard) continue;
      if (!scenario || m.scenario.name === scenario) out.push({ dir: join(resolve(root), name), id: m.id, scenario: m.scenario.name, created: m.created });
    } catch {
      // An unreadable run is not history; `report` on it names the problem.
    }
  }
  return out.sort((a, b) => a.created.localeCompare(b.created));
}

/** The nights of one cell and metric, from loaded runs (oldest first); runs without the cell are skipped. */
export function nightsOf(runs: readonly LoadedRun[], cellId: string, metric: string): Night[] {
  const out: Night[] = [];
  for (const r of runs) {
    const { values } = samples(r, cellId, metric);
    if (values.length) out.push({ run: r.manifest.id, created: r.manifest.created, values });
  }
  return out;
}

/**
 * The runs of a scenario up to and including `upTo` (oldest first, at most `limit`). Runs the
 * caller already loaded are reused rather than read again; unreadable runs are not history.
 */
export async function loadHistory(root: string, scenario: string, upTo?: string, limit = 60, loaded: readonly LoadedRun[] = []): Promise<LoadedRun[]> {
  const refs = (await listRuns(root, scenario)).filter((r) => !upTo || r.created <= upTo).slice(-limit);
  const byDir = new Map(loaded.map((r) => [resolve(r.dir), r]));
  const runs: LoadedRun[] = [];
  for (const r of refs) {
    const run = byDir.get(resolve(r.dir)) ?? (await loadRun(r.dir).catch(() => undefined));
    if (run) runs.push(run);
  }
  return runs;
}

const baselineFile = (root: string, scenario: string) => join(resolve(root), 'baselines', `${scenario}.json`);

export async function setBaseline(runDir: string): Promise<{ file: string; run: string; scenario: string }> {
  const run = await loadRun(runDir);
  const root = dirname(run.dir);
  const file = baselineFile(root, run.manifest.scenario.name);
  await mkdir(dirname(file), { recursive: true });
  // Relative to the results root, so the root can move to another machine.
  await writeJsonAtomic(file, { version: 1, scenario: run.manifest.scenario.name, run: relative(root, run.dir), set: new Date().toISOString() });
  return { file, run: run.manifest.id, scenario: run.manifest.scenario.name };
}

export async function getBaseline(root: string, scenario: string): Promise<string | undefined> {
  const file = baselineFile(root, scenario);
  if (!existsSync(file)) return undefined;
  let b: { run?: string };
  try {
    b = JSON.parse(await readFile(file, 'utf8'));
  } catch (e) {
    throw new BaselineCorruptError(`${file} is not valid JSON (${(e as Error).message})`, { fix: `set it again: iommu-lab baseline set RUN` });
  }
  if (!b.run) throw new BaselineCorruptError(`${file} names no run`, { fix: 'set it again: iommu-lab baseline set RUN' });
  const dir = resolve(dirname(dirname(file)), b.run);
  if (!existsSync(join(dir, RUN_FILE))) {
    throw new BaselineMissingError(`the baseline of ${scenario} is ${basename(dir)}, which is no longer under ${root}`, { fix: 'set a new baseline: iommu-lab baseline set RUN' });
  }
  return dir;
}
