/**
 * Reading runs for analysis. Unlike the runner's store, this reader never
 * stops at the first bad file: a corrupt or truncated result.json, a result of
 * another run, or a metric without a description becomes a named problem, and
 * the analysis goes on with what is sound.
 */
import { existsSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { LabError, RunUnreadableError } from '../core/errors.js';
import { validatorFor } from '../core/json-schema.js';
import { describeMetric, exposureOf, scriptOf, sourceOf } from '../core/metrics.js';
import { timebaseOf, type Timebase } from '../core/clock.js';
import type { Cell } from '../cell/types.js';
import { repResultSchema } from '../result/schema.js';
import { RUN_FILE, RESULT_FILE, RunStore } from '../result/store.js';
import { parseRepId, type RepResult, type RunManifest } from '../result/types.js';
import { checkSchema } from '../scenario/schema-check.js';
import { withDefaults } from '../scenario/load.js';
import { scenarioSchema } from '../scenario/schema.js';
import type { Scenario } from '../scenario/types.js';
import { readYamlFile } from '../scenario/yaml-source.js';

const validRep = validatorFor(repResultSchema);

export interface LoadProblem {
  readonly file: string;
  readonly message: string;
}

export interface LoadedRun {
  readonly dir: string;
  readonly manifest: RunManifest;
  /** The scenario the run used (its copy in the run directory), with defaults filled in. */
  readonly scenario: Scenario;
  readonly cells: ReadonlyMap<string, Cell>;
  /** Passed repetitions per cell. */
  readonly reps: ReadonlyMap<string, readonly RepResult[]>;
  /** Repetitions that did not pass, per cell, for the report's list of failures. */
  readonly failed: ReadonlyMap<string, readonly RepResult[]>;
  readonly problems: readonly LoadProblem[];
}

function badRun(dir: string, message: string, fix: string): LabError {
  return new RunUnreadableError(`${dir}: ${message}`, { fix });
}

export async function loadRun(dir: string): Promise<LoadedRun> {
  // The store opens the run (not a run, unreadable, another version); for the analysis each is a run it cannot read.
  const store = await RunStore.open(dir).catch((e: unknown) => {
    throw e instanceof LabError ? new RunUnreadableError(e.message, { cause: e, ...(e.fix ? { fix: e.fix } : {}) }) : e;
  });
  const abs = store.dir;
  const manifest = await store.manifest();
  if (!Array.isArray(manifest.cells)) throw badRun(abs, `${RUN_FILE} lists no cells`, 'the run directory was edited; it cannot be analysed');

  const scenarioFile = join(abs, 'scenario.yaml');
  if (!existsSync(scenarioFile)) throw badRun(abs, 'scenario.yaml is missing', 'the run directory is incomplete; copy it again from where it ran');
  const src = await readYamlFile(scenarioFile);
  const schemaProblems = checkSchema(src, scenarioSchema);
  if (schemaProblems.length) throw badRun(abs, `scenario.yaml does not validate: ${schemaProblems[0]!.message}`, 'the run directory was edited; restore scenario.yaml');
  const scenario = withDefaults(src.data);

  const problems: LoadProblem[] = [];
  const cells = new Map(manifest.cells.map((c) => [c.id, c]));
  const reps = new Map<string, RepResult[]>();
  const failed = new Map<string, RepResult[]>();
  for (const cell of manifest.cells) {
    const cellDir = join(abs, 'cells', cell.id);
    if (!existsSync(cellDir)) continue;
    for (const name of (await readdir(cellDir)).sort()) {
      const ref = parseRepId(name);
      if (!ref) continue;
      const file = join(cellDir, name, RESULT_FILE);
      if (!existsSync(file)) continue; // an interrupted repetition: not a result
      let r: RepResult;
      try {
        r = JSON.parse(await readFile(file, 'utf8')) as RepResult;
      } catch (e) {
        problems.push({ file, message: `not valid JSON (${(e as Error).message}); the repetition is left out` });
        continue;
      }
      if (!validRep(r)) {
        const err = validRep.errors?.[0];
        problems.push({ file, message: `does not match the result schema: ${err?.instancePath || '/'} ${err?.message ?? ''}; the repetition is left out` });
        continue;
      }
      if (r.cell !== cell.id || r.rep.kind !== ref.kind || r.rep.index !== ref.index) {
        problems.push({ file, message: `belongs to ${r.cell} ${r.rep.kind}-${r.rep.index}, not to the directory it is in; left out` });
        continue;
      }
      if (r.outcome.state === 'passed') {
        const unknown = Object.keys(r.outcome.metrics).filter((m) => !describeMetric(m));
        if (unknown.length) problems.push({ file, message: `metrics without a description in core/metrics.ts: ${unknown.join(', ')}; those are left out` });
        reps.set(cell.id, [...(reps.get(cell.id) ?? []), r]);
      } else {
        failed.set(cell.id, [...(failed.get(cell.id) ?? []), r]);
      }
    }
  }
  return { dir: abs, manifest, scenario, cells, reps, failed, problems };
}

/**
 * The values of one metric in one cell, one per repetition. Timings come only
 * from untraced (timing) repetitions: tracing slows I/O by up to half, and the
 * report never mixes the two. Traced metrics come from the repetitions that
 * produced them, with the I/O count of the same repetition as exposure.
 */
export function samples(run: LoadedRun, cellId: string, metric: string): { values: number[]; exposures: number[]; boots: string[] } {
  const d = describeMetric(metric);
  const values: number[] = [];
  const exposures: number[] = [];
  const boots: string[] = [];
  if (!d) return { values, exposures, boots };
  const tracedTimings = run.scenario.tracing.in_timing_repetitions;
  for (const r of run.reps.get(cellId) ?? []) {
    if (r.outcome.state !== 'passed') continue;
    const v = r.outcome.metrics[metric];
    if (v === undefined || !Number.isFinite(v)) continue;
    if (sourceOf(d) === 'fio' && r.rep.kind !== 'timing' && !tracedTimings) continue;
    values.push(v);
    exposures.push(exposureOf(d, r.outcome.metrics));
    boots.push(bootOf(r));
  }
  return { values, exposures, boots };
}

/**
 * A traced metric's values, only where every repetition that gave one proved its counts complete
 * (all probes attached in the kernel before the workload, no missed events: runner/traced.ts).
 * Otherwise why not, in words a report can print.
 */
export function completeCounts(run: LoadedRun, cellId: string, metric: string): { readonly values: number[] } | { readonly missing: string } {
  const d = describeMetric(metric);
  const script = d && scriptOf(d);
  if (!script) return { missing: `${metric} is not a traced count` };
  const traced = (run.reps.get(cellId) ?? []).filter((r) => r.outcome.state === 'passed' && r.outcome.metrics[metric] !== undefined);
  if (traced.length === 0) return { missing: `no traced ${metric} (trace ${script})` };
  const unproven = traced.filter((r) => !r.tracing?.[script]?.complete);
  if (unproven.length) {
    return { missing: `${unproven.length} of ${traced.length} traced repetitions did not prove their ${script} counts complete (recorded before the lab checked attachment and missed events): measure again` };
  }
  return { values: traced.map((r) => (r.outcome as { metrics: Record<string, number> }).metrics[metric]!) };
}

/**
 * Which boot a repetition ran in: the target's boot_id where the runner read
 * it, else one boot per target and run (results written before boot ids: the
 * runner booted each guest once per run).
 */
export function bootOf(r: RepResult): string {
  return r.provenance.boot_id ?? `${r.run}/${r.provenance.target}`;
}

/**
 * What the timings of a cell measured: guest virtual time (a VM profile with
 * `clock: virtual`) or wall-clock time (every other VM clock, static hosts).
 * The two are never compared with each other.
 */
export function timebaseOfCell(run: LoadedRun, cell: Cell): Timebase {
  if (cell.target.kind !== 'vm') return 'wall';
  const profile = (cell.target as { profile: string }).profile;
  return timebaseOf(run.scenario.targets.vms.find((v) => v.name === profile)?.clock);
}
