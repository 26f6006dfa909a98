/**
 * Shards and merge on synthetic runs (real run directories through the
 * results store): the split is deterministic, whole-target and balanced; a
 * run split into its shards and merged again gives the same cells, values,
 * verdicts and counts as the whole run; pieces that do not belong together
 * are refused with what to do.
 */
import { cp, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { analyse } from '../../../analysis/analyse.js';
import { listRuns } from '../../../analysis/history.js';
import { loadRun } from '../../../analysis/load.js';
import { writeSyntheticRun } from '../../../analysis/synthetic.js';
import { expand } from '../../../cell/expand.js';
import { RUN_FILE } from '../../../result/store.js';
import type { RunManifest } from '../../../result/types.js';
import { loadScenarioFile } from '../../../scenario/load.js';
import { checkShards, merge } from '../../../sweep/merge.js';
import { assignShards, parseShard, shardPlan, targetCosts } from '../../../sweep/shard.js';
import { useTmpDir, writeIn } from '../../helpers/tmp.js';

const tmp = useTmpDir();

const SCENARIO = `name: split
seed: 3
repetitions: 3
workloads:
  - { name: rr, rw: randread, bs: 4k, iodepth: [1, 16], runtime: 5 }
  - { name: sw, rw: write, bs: 64k, iodepth: 4, runtime: 10 }
iommu:
  - device: intel
    mode: [passthrough, lazy, strict]
  - { device: none, mode: off }
targets:
  vms:
    - { name: v, disks: [{ name: nvme0, bus: nvme }] }
    - { name: w, boots: 2, disks: [{ name: vd0, bus: virtio-blk }] }
tracing: { scripts: [iotlb-invalidations], repetitions: 1 }
metrics: [iops, iotlb_sync_flush_per_io]
`;

const LEVEL: Record<string, number> = { 'intel-passthrough': 10910, 'intel-lazy': 9320, 'intel-strict': 8960, 'none-off': 11800 };
const FLUSHES: Record<string, number> = { 'intel-passthrough': 0, 'intel-lazy': 0.0065, 'intel-strict': 1, 'none-off': 0 };

async function setUp() {
  const dir = await tmp();
  const loaded = await loadScenarioFile(await writeIn(dir, 'split.yaml', SCENARIO));
  return { dir, loaded, plan: expand(loaded) };
}

/** Splits a whole run into the runs its shards would have made (what `sweep --shard i/n` writes). */
async function splitRun(whole: string, loaded: Awaited<ReturnType<typeof setUp>>['loaded'], count: number, root: string): Promise<string[]> {
  const m = JSON.parse(await readFile(join(whole, RUN_FILE), 'utf8')) as RunManifest;
  const out: string[] = [];
  for (let index = 1; index <= count; index++) {
    const { plan, record } = shardPlan(expand(loaded), loaded.scenario, { index, count });
    const dir = join(root, `${m.id}-shard${index}`);
    await mkdir(join(dir, 'cells'), { recursive: true });
    for (const c of plan.cells) await cp(join(whole, 'cells', c.id), join(dir, 'cells', c.id), { recursive: true });
    await cp(join(whole, 'scenario.yaml'), join(dir, 'scenario.yaml'));
    await cp(join(whole, 'inventory.json'), join(dir, 'inventory.json'));
    await writeFile(join(dir, RUN_FILE), JSON.stringify({ ...m, id: `${m.id}-shard${index}`, cells: plan.cells, host: `runner-${index}`, shard: record } satisfies RunManifest));
    out.push(dir);
  }
  return out;
}

describe('shards', () => {
  it('reads i/n and refuses what is not', () => {
    expect(parseShard('2/3')).toEqual({ index: 2, count: 3 });
    expect(() => parseShard('4/3')).toThrow(/between 1 and 3/);
    expect(() => parseShard('0/2')).toThrow(/between 1 and 2/);
    expect(() => parseShard('two')).toThrow(/not i\/n/);
    try { parseShard('3/2'); } catch (e) { expect((e as { code: string }).code).toBe('E_SHARD'); }
  });

  it('splits whole targets, the same way every time, balanced by estimated time, and covers the matrix once', async () => {
    const { loaded, plan } = await setUp();
    const costs = targetCosts(plan, loaded.scenario);
    // w boots twice and its cells are the same: it costs more than v.
    expect(costs.get('w-intel-strict')!).toBeGreaterThan(costs.get('v-intel-strict')!);
    for (const n of [1, 2, 3, 8, 11]) {
      const parts = Array.from({ length: n }, (_, i) => shardPlan(plan, loaded.scenario, { index: i + 1, count: n }));
      const again = Array.from({ length: n }, (_, i) => shardPlan(plan, loaded.scenario, { index: i + 1, count: n }));
      expect(parts.map((p) => p.record.targets)).toEqual(again.map((p) => p.record.targets));
      const ids = parts.flatMap((p) => p.plan.cells.map((c) => c.id));
      expect(ids.sort()).toEqual(plan.cells.map((c) => c.id).sort());
      // Whole targets: every guest's cells are in one shard, with the guest.
      for (const p of parts) for (const c of p.plan.cells) expect(p.plan.guests.map((g) => g.name)).toContain(c.target.name);
      expect(parts.reduce((k, p) => k + p.plan.guests.length, 0)).toBe(plan.guests.length);
    }
    // 8 targets over 2 shards: the estimated loads differ by at most the largest target.
    const of = assignShards(costs, 2);
    const load = [1, 2].map((i) => [...of].filter(([, s]) => s === i).reduce((n, [t]) => n + costs.get(t)!, 0));
    expect(Math.abs(load[0]! - load[1]!)).toBeLessThanOrEqual(Math.max(...costs.values()));
  });
});

describe('merge', () => {
  it('gives the whole run back: the same cells, values, verdicts and counts; the shards are not history, the merged run is', async () => {
    const { dir, loaded } = await setUp();
    const wholeRoot = join(dir, 'whole');
    const whole = await writeSyntheticRun({ root: wholeRoot, scenario: loaded, seed: 9, created: new Date('2026-12-01T01:00:00Z'), level: (_c, k) => LEVEL[k]!, cvPct: 0.5, flushesPerIo: (k) => FLUSHES[k]! });
    const root = join(dir, 'results');
    const shards = await splitRun(whole, loaded, 3, join(dir, 'shards'));
    const r = await merge({ runs: shards, resultsRoot: root });
    expect(r).toMatchObject({ shards: 3, cells: expand(loaded).cells.length, missingCells: [], failed: 0, regression: false });

    // As the report file holds it (JSON: NaN is null).
    const a = JSON.parse(JSON.stringify((await analyse(await loadRun(whole), { root: wholeRoot })).report)) as Awaited<ReturnType<typeof analyse>>['report'];
    const b = JSON.parse(await readFile(r.report.json, 'utf8')) as typeof a;
    expect(b.cells.map((c) => [c.cell, c.metrics])).toEqual(a.cells.map((c) => [c.cell, c.metrics]));
    expect(b.modes.comparisons.map((c) => [c.cell, c.metric, c.verdict, c.ratio])).toEqual(a.modes.comparisons.map((c) => [c.cell, c.metric, c.verdict, c.ratio]));
    expect(b.modes.comparisons.some((c) => c.verdict !== 'inconclusive')).toBe(true);

    const m = JSON.parse(await readFile(join(r.dir, RUN_FILE), 'utf8')) as RunManifest;
    expect(m.cells.map((c) => c.id)).toEqual(expand(loaded).cells.map((c) => c.id));
    expect(m.merged_from!.map((x) => [x.shard, x.host])).toEqual([['1/3', 'runner-1'], ['2/3', 'runner-2'], ['3/3', 'runner-3']]);
    expect(m.shard).toBeUndefined();
    // The merged run is the night in the history; a shard copied under the root is not.
    await cp(shards[0]!, join(root, 'a-shard'), { recursive: true });
    expect((await listRuns(root, 'split')).map((x) => x.dir)).toEqual([r.dir]);
    expect(JSON.parse(await readFile(join(root, 'latest', 'split', 'report.json'), 'utf8')).run.id).toBe(r.id);
  });

  it('refuses pieces that are not the shards of one sweep, saying which and what to do', async () => {
    const { dir, loaded } = await setUp();
    const whole = await writeSyntheticRun({ root: join(dir, 'whole'), scenario: loaded, seed: 9, created: new Date('2026-12-01T01:00:00Z'), level: (_c, k) => LEVEL[k]!, cvPct: 0.5 });
    const shards = await splitRun(whole, loaded, 2, join(dir, 'shards'));
    const piece = async (d: string) => ({ dir: d, manifest: JSON.parse(await readFile(join(d, RUN_FILE), 'utf8')) as RunManifest });
    const [p1, p2] = [await piece(shards[0]!), await piece(shards[1]!)];
    const err = (f: () => unknown) => { try { f(); } catch (e) { return e as { code: string; message: string; fix?: string }; } throw new Error('no error'); };

    expect(err(() => checkShards([p1, { ...p2, manifest: { ...p2.manifest, seed: 4 } }]))).toMatchObject({ code: 'E_MERGE', message: expect.stringMatching(/seed 4/) });
    expect(err(() => checkShards([p1, { ...p2, manifest: { ...p2.manifest, scenario: { ...p2.manifest.scenario, sha256: 'f'.repeat(64) } } }])).message).toMatch(/scenario sha256 ffffffffffff/);
    expect(err(() => checkShards([p1, p1])).message).toMatch(/both shard 1\/2/);
    expect(err(() => checkShards([p1, { ...p2, manifest: { ...p2.manifest, shard: { ...p2.manifest.shard!, count: 3 } } }])).message).toMatch(/shard 2\/3/);
    expect(err(() => checkShards([p1, { ...p2, manifest: { ...p2.manifest, cells: [...p2.manifest.cells, p1.manifest.cells[0]!] } }])).message).toMatch(/is in both/);
    expect(err(() => checkShards([p1, { ...p2, manifest: { ...p2.manifest, shard: undefined } }])).message).toMatch(/is not a shard/);
    const missing = err(() => checkShards([p1]));
    expect(missing.message).toMatch(/shard 2\/2 is missing \(\d+ of 24 cells\)/);
    expect(missing.fix).toMatch(/--allow-missing/);
    expect(checkShards([p1], true).length).toBe(p2.manifest.cells.length);
    // Through the command too: a clear error and exit code 2, nothing written.
    await expect(merge({ runs: [shards[0]!], resultsRoot: join(dir, 'r') })).rejects.toMatchObject({ code: 'E_MERGE' });
  });
});
