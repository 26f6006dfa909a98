import { existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { setBaseline, listRuns } from '../../../analysis/history.js';
import { writeSyntheticRun } from '../../../analysis/synthetic.js';
import { loadScenarioFile } from '../../../scenario/load.js';
import { acquireLock } from '../../../sweep/lock.js';
import { splitTarget } from '../../../sweep/repro.js';
import { pruneRuns } from '../../../sweep/retention.js';
import { useTmpDir, writeIn } from '../../helpers/tmp.js';

const tmp = useTmpDir();

describe('the sweep lock', () => {
  it('refuses a second sweep while the first holds it, and takes over a stale lock', async () => {
    const root = await tmp();
    const first = await acquireLock(root, 'a.yaml');
    await expect(acquireLock(root, 'b.yaml')).rejects.toMatchObject({ code: 'E_SWEEP_LOCKED' });
    await first.release();
    const again = await acquireLock(root, 'b.yaml');
    await again.release();
    // A lock left by a process that no longer exists.
    await writeFile(join(root, '.sweep.lock'), '999999 2026-11-24T00:00:00Z crashed.yaml\n');
    const taken = await acquireLock(root, 'c.yaml');
    expect(existsSync(taken.file)).toBe(true);
    await taken.release();
  });
});

describe('retention', () => {
  it('removes the oldest runs beyond the limit, never the baseline or the newest', async () => {
    const dir = await tmp();
    const scenario = await loadScenarioFile(await writeIn(dir, 's.yaml', 'name: ret\nrepetitions: 2\nworkloads: [{ name: rr, rw: randread, bs: 4k }]\niommu: [{ device: none, mode: off }]\ntargets: { vms: [{ name: t, disks: [{ name: nvme0, bus: nvme }] }] }\n'));
    const root = join(dir, 'results');
    const runs: string[] = [];
    for (let i = 0; i < 5; i++) runs.push(await writeSyntheticRun({ root, scenario, seed: i, created: new Date(Date.UTC(2026, 10, 1 + i)), level: () => 100, cvPct: 1 }));
    await setBaseline(runs[0]!);
    const removed = await pruneRuns(root, 'ret', 3, [runs[4]!]);
    expect(removed).toEqual([runs[1], runs[2]]);
    expect((await listRuns(root, 'ret')).map((r) => r.dir)).toEqual([runs[0], runs[3], runs[4]]);
  });
});

describe('repro targets', () => {
  it('accepts RUN/CELL and RUN/cells/CELL, and names what is wrong otherwise', async () => {
    const run = join(await tmp(), 'RUN');
    await mkdir(join(run, 'cells'), { recursive: true });
    await writeFile(join(run, 'run.json'), '{}');
    expect(splitTarget(`${run}/rr__intel-lazy__t__nvme0`)).toEqual({ run, cell: 'rr__intel-lazy__t__nvme0' });
    expect(splitTarget(`${run}/cells/rr__intel-lazy__t__nvme0/`)).toEqual({ run, cell: 'rr__intel-lazy__t__nvme0' });
    expect(() => splitTarget(`${run}-nope/cell`)).toThrow(/is not RUN_DIR\/CELL_ID/);
  });
});
