/**
 * Boots as a level of noise (issue #12's figures): two synthetic runs of a
 * 100-cell matrix, each cell its own boot with a boot-to-boot offset, one boot
 * a side and no history. Treating the repetitions of one boot as independent
 * samples called about half of such an A/A matrix "changed".
 */
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { compareRuns } from '../../../analysis/compare/index.js';
import { loadRun } from '../../../analysis/load.js';
import { writeSyntheticRun } from '../../../analysis/synthetic.js';
import { loadScenarioFile } from '../../../scenario/load.js';

// 4,000 result files a matrix pair, each written atomically with fsync: on tmpfs where there is one.
const dirs: string[] = [];
const tmp = async () => {
  const d = await mkdtemp(join(existsSync('/dev/shm') ? '/dev/shm' : tmpdir(), 'iommu-lab-aa-'));
  dirs.push(d);
  return d;
};
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});
const writeIn = async (dir: string, name: string, text: string) => {
  await writeFile(join(dir, name), text);
  return join(dir, name);
};

// 5 block sizes × 5 queue depths × 4 modes = 100 cells.
const SCENARIO = `name: aa
seed: 1
repetitions: 10
workloads:
  - { name: w, rw: randread, bs: [4k, 8k, 16k, 32k, 64k], iodepth: [1, 2, 4, 8, 16], runtime: 10 }
iommu:
  - device: intel
    mode: [off, passthrough, lazy, strict]
targets:
  vms:
    - { name: t, disks: [{ name: nvme0, bus: nvme }] }
metrics: [iops]
thresholds: { alpha: 0.05, min_effect_pct: 1, max_cv_pct: 10 }
`;

async function pair(bootSdPct: number, seed: number, change: number) {
  const dir = await tmp();
  const scenario = await loadScenarioFile(await writeIn(dir, 'aa.yaml', SCENARIO));
  const root = join(dir, 'results');
  const common = { root, scenario, cvPct: 0.3, bootSdPct };
  const base = await writeSyntheticRun({ ...common, seed, created: new Date('2026-11-01T02:00:00Z'), level: () => 10000 });
  const cand = await writeSyntheticRun({ ...common, seed: seed + 1000, created: new Date('2026-11-02T02:00:00Z'), level: () => 10000 * (1 - change) });
  const set = compareRuns(await loadRun(base), await loadRun(cand));
  const iops = set.comparisons.filter((c) => c.metric === 'iops');
  expect(iops).toHaveLength(100);
  return { changed: iops.filter((c) => c.verdict === 'regression' || c.verdict === 'improvement').length, regressions: iops.filter((c) => c.verdict === 'regression').length, iops };
}

describe('A/A with boot offsets, one boot a side, 100 cells', () => {
  for (const sd of [0.3, 1, 2]) {
    for (const seed of [1, 2]) {
      it(`boot SD ${sd} %, seed ${seed}: at most 5 cells changed; the noise comes from across the cells`, async () => {
        const { changed, iops } = await pair(sd, seed, 0);
        expect(changed).toBeLessThanOrEqual(5);
        expect(iops[0]!.test).toBe('boot-t');
        expect(iops[0]!).toMatchObject({ boots: { noise: { source: 'across cells' } } });
      }, 60_000);
    }
  }

  for (const sd of [0.3, 2]) {
    it(`boot SD ${sd} %: a 10 % drop of every cell is found in at least 90 % of cells (3 matrices)`, async () => {
      let found = 0;
      for (const seed of [7, 8, 9]) found += (await pair(sd, seed, 0.1)).regressions;
      expect(found).toBeGreaterThanOrEqual(270);
    }, 120_000);
  }
});
