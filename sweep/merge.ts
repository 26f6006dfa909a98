/**
 * `iommu-lab merge RUN…`: the shards of one sweep (sweep/shard.ts), run on
 * several machines, put back together as one run — for the report, the
 * baseline and the history, exactly as if one machine had run the matrix.
 *
 * The pieces must belong together: one scenario text (sha256) and seed, one
 * shard count, each index once, no cell twice, and together every cell of the
 * matrix (or `allowMissing`, and the report shows the missing cells as not
 * run). The merged run is assembled under a temporary name in the results
 * root and renamed into place whole; the shards are left as they are.
 */
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { copyFile, cp, mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { MergeError } from '../core/errors.js';
import { newRunId, RUN_FILE, RunStore } from '../result/store.js';
import type { RunManifest } from '../result/types.js';
import { writeJsonAtomic } from '../core/atomic.js';
import type { Inventory } from '../inventory/types.js';
import { analyse } from '../analysis/analyse.js';
import { loadRun } from '../analysis/load.js';
import type { ReportFiles } from '../analysis/report/write.js';
import { publishLatest } from './latest.js';

export interface MergeOptions {
  readonly runs: readonly string[];
  readonly resultsRoot: string;
  /** Merge although shards are missing (their cells show as not run). */
  readonly allowMissing?: boolean;
  readonly log?: (line: string) => void;
}

export interface MergeResult {
  readonly dir: string;
  readonly id: string;
  readonly shards: number;
  readonly cells: number;
  readonly missingCells: readonly string[];
  readonly passed: number;
  readonly failed: number;
  readonly report: ReportFiles;
  readonly regression: boolean;
}

interface Piece {
  readonly dir: string;
  readonly manifest: RunManifest;
}

/** Checks the pieces belong together; returns the cells missing from them (in plan order). */
export function checkShards(pieces: readonly Piece[], allowMissing = false): string[] {
  if (pieces.length === 0) throw new MergeError('no runs to merge', { fix: 'name the shards\' run directories: iommu-lab merge results/…-1of2 results/…-2of2' });
  const notShards = pieces.filter((p) => !p.manifest.shard);
  if (notShards.length) throw new MergeError(`${notShards.map((p) => p.dir).join(', ')} ${notShards.length === 1 ? 'is not a shard' : 'are not shards'} (made without --shard)`, { fix: 'merge the runs of `sweep --shard i/n`; a whole run needs no merge' });
  const first = pieces[0]!.manifest;
  for (const p of pieces.slice(1)) {
    const m = p.manifest;
    if (m.scenario.name !== first.scenario.name || m.scenario.sha256 !== first.scenario.sha256) {
      throw new MergeError(`${p.dir} was made from ${m.scenario.name} (scenario sha256 ${m.scenario.sha256.slice(0, 12)}…), ${pieces[0]!.dir} from ${first.scenario.name} (${first.scenario.sha256.slice(0, 12)}…)`, { fix: 'merge shards of one sweep: the same scenario file, unchanged, on every machine' });
    }
    if (m.seed !== first.seed) throw new MergeError(`${p.dir} has seed ${m.seed}, ${pieces[0]!.dir} seed ${first.seed}`, { fix: 'merge shards of one sweep, made with the same seed' });
    if (m.shard!.count !== first.shard!.count) throw new MergeError(`${p.dir} is shard ${m.shard!.index}/${m.shard!.count}, ${pieces[0]!.dir} shard ${first.shard!.index}/${first.shard!.count}`, { fix: 'merge shards of one split: the same n in every --shard i/n' });
  }
  const byIndex = new Map<number, string>();
  for (const p of pieces) {
    const other = byIndex.get(p.manifest.shard!.index);
    if (other) throw new MergeError(`${p.dir} and ${other} are both shard ${p.manifest.shard!.index}/${first.shard!.count}`, { fix: 'give each shard once (the newest run of each, if a shard ran twice)' });
    byIndex.set(p.manifest.shard!.index, p.dir);
  }
  const owner = new Map<string, string>();
  for (const p of pieces) {
    for (const c of p.manifest.cells) {
      const o = owner.get(c.id);
      if (o) throw new MergeError(`cell ${c.id} is in both ${o} and ${p.dir}`, { fix: 'merge shards of one split: they never share a cell' });
      owner.set(c.id, p.dir);
    }
  }
  const missingShards = Array.from({ length: first.shard!.count }, (_, i) => i + 1).filter((i) => !byIndex.has(i));
  const missingCells = first.shard!.plan_cells.filter((id) => !owner.has(id));
  if ((missingShards.length || missingCells.length) && !allowMissing) {
    throw new MergeError(`shard${missingShards.length === 1 ? '' : 's'} ${missingShards.map((i) => `${i}/${first.shard!.count}`).join(', ')} ${missingShards.length === 1 ? 'is' : 'are'} missing (${missingCells.length} of ${first.shard!.plan_cells.length} cells)`, { fix: 'run the missing shards (iommu-lab sweep SCENARIO --shard i/n) and merge all, or pass --allow-missing to report without them' });
  }
  return missingCells;
}

export async function merge(o: MergeOptions): Promise<MergeResult> {
  const log = o.log ?? (() => {});
  const pieces: Piece[] = [];
  for (const dir of o.runs) {
    const store = await RunStore.open(dir);
    pieces.push({ dir: store.dir, manifest: await store.manifest() });
  }
  const missingCells = checkShards(pieces, o.allowMissing);
  pieces.sort((a, b) => a.manifest.shard!.index - b.manifest.shard!.index);
  const first = pieces[0]!.manifest;
  const planOrder = new Map(first.shard!.plan_cells.map((id, i) => [id, i]));
  const cells = pieces.flatMap((p) => p.manifest.cells).sort((a, b) => (planOrder.get(a.id) ?? 0) - (planOrder.get(b.id) ?? 0));

  const root = resolve(o.resultsRoot);
  await mkdir(root, { recursive: true });
  const id = newRunId(first.scenario.name);
  const tmp = join(root, `.tmp-merge-${randomBytes(4).toString('hex')}`);
  await mkdir(join(tmp, 'cells'), { recursive: true });
  await mkdir(join(tmp, 'preflight'), { recursive: true });
  try {
    for (const p of pieces) {
      for (const c of p.manifest.cells) {
        const from = join(p.dir, 'cells', c.id);
        if (existsSync(from)) await cp(from, join(tmp, 'cells', c.id), { recursive: true, filter: (src) => !/\/\.tmp-[^/]*$/.test(src) });
      }
      const pre = join(p.dir, 'preflight');
      if (existsSync(pre)) for (const f of await readdir(pre)) await copyFile(join(pre, f), join(tmp, 'preflight', f));
    }
    await copyFile(join(pieces[0]!.dir, 'scenario.yaml'), join(tmp, 'scenario.yaml'));
    const inventories = await Promise.all(pieces.map(async (p) => JSON.parse(await readFile(join(p.dir, 'inventory.json'), 'utf8')) as Inventory));
    await writeJsonAtomic(join(tmp, 'inventory.json'), { ...inventories[0], created: new Date().toISOString(), targets: [...new Map(inventories.flatMap((i) => i.targets ?? []).map((t) => [t.name, t])).values()] });
    const manifest: RunManifest = {
      version: 1, id, created: new Date(Math.max(...pieces.map((p) => Date.parse(p.manifest.created)))).toISOString(), lab_version: first.lab_version,
      scenario: first.scenario, seed: first.seed, repetitions: first.repetitions, cells,
      inventory_source: [...new Set(pieces.map((p) => p.manifest.inventory_source))].join('+'),
      host: [...new Set(pieces.map((p) => p.manifest.host))].join(', '),
      merged_from: pieces.map((p) => ({ id: p.manifest.id, shard: `${p.manifest.shard!.index}/${p.manifest.shard!.count}`, host: p.manifest.host, created: p.manifest.created })),
    };
    await writeFile(join(tmp, RUN_FILE), `${JSON.stringify(manifest, null, 2)}\n`);
    await rename(tmp, join(root, id));
  } catch (e) {
    await rm(tmp, { recursive: true, force: true });
    throw e;
  }
  const dir = join(root, id);
  log(`merged ${pieces.length} shard(s) of ${first.shard!.count} into ${dir}${missingCells.length ? ` (${missingCells.length} cells missing)` : ''}`);

  const run = await loadRun(dir);
  const a = await analyse(run, { root, onBaselineError: (e) => log(`baseline: ${(e as Error).message}`) });
  await publishLatest(root, first.scenario.name, a.files);
  let passed = 0;
  let failed = 0;
  for (const reps of run.reps.values()) passed += reps.length;
  for (const reps of run.failed.values()) failed += reps.length;
  return { dir, id, shards: pieces.length, cells: cells.length, missingCells, passed, failed, report: a.files, regression: a.report.regression };
}
