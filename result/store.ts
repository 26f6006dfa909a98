/**
 * The results store: one directory per run (layout in docs/results-store.md).
 *
 * Every repetition is assembled in `cells/<cell>/.tmp-…` and renamed into place
 * in one step, so a crash leaves the whole repetition or a temporary that
 * readers ignore and the next run sweeps. A failed repetition never replaces a
 * passed one; a passed one replaces a failure, which is kept for the record.
 */
import { ensureResultsRoot } from './root.js';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rename, rm } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join, resolve } from 'node:path';
import { RunCorruptError, RunExistsError, RunNotFoundError, RunVersionError, UnsafeNameError } from '../core/errors.js';
import { asDiskFull, fsyncPath, writeFileAtomic, writeJsonAtomic, writeNewFileSynced } from '../core/atomic.js';
import { parseRepId, repId, type RepRef, type RepResult, type RunManifest } from './types.js';

export const RUN_FILE = 'run.json';
export const RESULT_FILE = 'result.json';

/** `2026-11-24T10-35-47Z-quick-1a2b`: sorts by time, safe as a file name, unique enough for one machine. */
export function newRunId(scenarioName: string, now = new Date()): string {
  const stamp = now.toISOString().replace(/\.\d{3}Z$/, 'Z').replace(/:/g, '-');
  const name = scenarioName.replace(/[^A-Za-z0-9._-]+/g, '-').slice(0, 60) || 'run';
  return `${stamp}-${name}-${randomBytes(2).toString('hex')}`;
}

export function thisHost(): string {
  return hostname();
}

async function readJson<T>(path: string): Promise<T> {
  return JSON.parse(await readFile(path, 'utf8')) as T;
}

export type WriteOutcome = 'written' | 'replaced-failure' | 'kept-passed';

export class RunStore {
  private cached: RunManifest | undefined;

  private constructor(readonly dir: string, readonly id: string) {}

  /** Starts a run: the run's files first, run.json last, so a directory without run.json is not a run. */
  static async create(root: string, manifest: RunManifest, scenarioText: string, inventory: unknown): Promise<RunStore> {
    const dir = resolve(root, manifest.id);
    await ensureResultsRoot(root);
    try {
      await mkdir(dir);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'EEXIST') {
        throw new RunExistsError(`the run directory ${dir} already exists`, { fix: 'start a new run (run ids are unique per second), or resume this one with --resume' });
      }
      throw e;
    }
    await mkdir(join(dir, 'cells'));
    await mkdir(join(dir, 'preflight'));
    await writeFileAtomic(join(dir, 'scenario.yaml'), scenarioText);
    await writeJsonAtomic(join(dir, 'inventory.json'), inventory);
    await writeJsonAtomic(join(dir, RUN_FILE), manifest);
    const store = new RunStore(dir, manifest.id);
    store.cached = manifest;
    return store;
  }

  static async open(dir: string): Promise<RunStore> {
    const abs = resolve(dir);
    if (!existsSync(join(abs, RUN_FILE))) {
      throw new RunNotFoundError(`${abs} is not a run directory (no ${RUN_FILE})`, { fix: 'pass a directory under the results root, e.g. results/2026-11-24T10-35-47Z-quick-1a2b' });
    }
    let m: RunManifest;
    try {
      m = await readJson<RunManifest>(join(abs, RUN_FILE));
    } catch (e) {
      throw new RunCorruptError(`${join(abs, RUN_FILE)} is not valid JSON: ${(e as Error).message}`, { fix: 'the run cannot be read; start a new run' });
    }
    if (m.version !== 1) {
      throw new RunVersionError(`${join(abs, RUN_FILE)} has version ${String(m.version)}, this lab reads version 1`, { fix: 'use the lab version that wrote the run (see lab_version in run.json)' });
    }
    const store = new RunStore(abs, m.id);
    store.cached = m;
    return store;
  }

  async manifest(): Promise<RunManifest> {
    this.cached ??= await readJson<RunManifest>(join(this.dir, RUN_FILE));
    return this.cached;
  }

  private cellDir(cellId: string): string {
    // Cell ids come from the matrix and are safe names; refuse anything else rather than write outside the run.
    if (!/^[A-Za-z0-9._-]+$/.test(cellId) || cellId.startsWith('.')) throw new UnsafeNameError(`unsafe cell id ${JSON.stringify(cellId)}`);
    return join(this.dir, 'cells', cellId);
  }

  /** Removes what interrupted writes left behind (`.tmp-…` anywhere in the run). */
  async sweepTemporaries(): Promise<number> {
    let removed = 0;
    const sweep = async (d: string) => {
      if (!existsSync(d)) return;
      for (const n of await readdir(d)) {
        if (n.startsWith('.tmp-')) {
          await rm(join(d, n), { recursive: true, force: true });
          removed++;
        }
      }
    };
    await sweep(this.dir);
    await sweep(join(this.dir, 'preflight'));
    const cells = join(this.dir, 'cells');
    if (existsSync(cells)) for (const c of await readdir(cells)) await sweep(join(cells, c));
    return removed;
  }

  async readRep(cellId: string, rep: RepRef): Promise<RepResult | undefined> {
    const path = join(this.cellDir(cellId), repId(rep), RESULT_FILE);
    if (!existsSync(path)) return undefined;
    return readJson<RepResult>(path);
  }

  /** Every stored repetition of a cell (those with a result.json), timing before traced, by index. */
  async listReps(cellId: string): Promise<RepResult[]> {
    const d = this.cellDir(cellId);
    if (!existsSync(d)) return [];
    const refs = (await readdir(d)).map(parseRepId).filter((r): r is RepRef => r !== undefined);
    refs.sort((a, b) => (a.kind === b.kind ? a.index - b.index : a.kind === 'timing' ? -1 : 1));
    const out: RepResult[] = [];
    for (const r of refs) {
      const res = await this.readRep(cellId, r);
      if (res) out.push(res);
    }
    return out;
  }

  /** Every stored repetition of the run, cell by cell in matrix order. */
  async allReps(): Promise<RepResult[]> {
    const m = await this.manifest();
    return (await Promise.all(m.cells.map((c) => this.listReps(c.id)))).flat();
  }

  /**
   * Stores one repetition: its files and result.json, in one rename.
   * A non-passed result never replaces a passed one (it is kept beside it as
   * `.discarded-…`); anything replaced is kept as `.replaced-…`.
   */
  async writeRep(result: RepResult, files: Record<string, string>): Promise<WriteOutcome> {
    for (const name of Object.keys(files)) {
      if (!/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(name) || name === RESULT_FILE) throw new UnsafeNameError(`unsafe result file name ${JSON.stringify(name)}`);
    }
    const cellDir = this.cellDir(result.cell);
    const id = repId(result.rep);
    let tmp: string;
    try {
      await mkdir(cellDir, { recursive: true });
      tmp = await mkdtemp(join(cellDir, `.tmp-${id}-`));
    } catch (e) {
      throw asDiskFull(e, cellDir);
    }
    try {
      for (const [name, text] of Object.entries(files)) await writeNewFileSynced(join(tmp, name), text);
      await writeNewFileSynced(join(tmp, RESULT_FILE), `${JSON.stringify(result, null, 2)}\n`);
      await fsyncPath(tmp);
    } catch (e) {
      await rm(tmp, { recursive: true, force: true });
      throw e;
    }
    const final = join(cellDir, id);
    const stamp = () => `${new Date().toISOString().replace(/[:.]/g, '-')}-${randomBytes(2).toString('hex')}`;
    let outcome: WriteOutcome = 'written';
    if (existsSync(final)) {
      const prior = existsSync(join(final, RESULT_FILE)) ? await readJson<RepResult>(join(final, RESULT_FILE)).catch(() => undefined) : undefined;
      if (prior?.outcome.state === 'passed' && result.outcome.state !== 'passed') {
        await rename(tmp, join(cellDir, `.discarded-${id}-${stamp()}`));
        await fsyncPath(cellDir);
        return 'kept-passed';
      }
      await rename(final, join(cellDir, `.replaced-${id}-${stamp()}`));
      outcome = 'replaced-failure';
    }
    await rename(tmp, final);
    await fsyncPath(cellDir);
    return outcome;
  }

  async writePreflight(target: string, record: unknown): Promise<void> {
    if (!/^[A-Za-z0-9._-]+$/.test(target) || target.startsWith('.')) throw new UnsafeNameError(`unsafe target name ${JSON.stringify(target)}`);
    await mkdir(join(this.dir, 'preflight'), { recursive: true });
    await writeJsonAtomic(join(this.dir, 'preflight', `${target}.json`), record);
  }
}
