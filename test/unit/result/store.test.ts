import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { validatorFor } from '../../../core/json-schema.js';
import { describe, expect, it } from 'vitest';
import { repResultSchema, runManifestSchema } from '../../../result/schema.js';
import { newRunId, RunStore } from '../../../result/store.js';
import { parseRepId, repId, type RepOutcome, type RepResult, type RunManifest } from '../../../result/types.js';
import { writeFileAtomic } from '../../../core/atomic.js';
import { useTmpDir } from '../../helpers/tmp.js';

const tmp = useTmpDir();
const SHA = 'a'.repeat(64);

function manifest(id: string): RunManifest {
  return {
    version: 1, id, created: '2026-11-24T10:35:47.000Z', lab_version: '0.1.0',
    scenario: { name: 'quick', file: 'scenarios/quick.yaml', sha256: SHA }, seed: 1,
    repetitions: { timing: 2, traced: 1 }, cells: [], inventory_source: 'hosts-file', host: 'lab01',
  };
}

function result(run: string, cell: string, index: number, outcome: RepOutcome): RepResult {
  return {
    version: 1, run, cell, rep: { kind: 'timing', index }, started: '2026-11-24T10:40:01.000Z', finished: '2026-11-24T10:40:14.000Z', outcome,
    provenance: { target: 't', target_kind: 'static', scenario_sha256: SHA, seed: 1, order: 0, lab_version: '0.1.0', host: 'lab01' },
    files: { fio: 'fio.json' },
  };
}
const passed = (iops: number): RepOutcome => ({ state: 'passed', metrics: { iops } });
const failed: RepOutcome = { state: 'failed', failure: { kind: 'fio', message: 'fio exited with 1' } };

async function newStore() {
  const root = await tmp();
  const id = newRunId('quick');
  return { root, store: await RunStore.create(root, manifest(id), 'name: quick\n', { version: 1 }) };
}

describe('run ids and repetition ids', () => {
  it('makes sortable, file-safe run ids', () => {
    const id = newRunId('quick', new Date('2026-11-24T10:35:47.123Z'));
    expect(id).toMatch(/^2026-11-24T10-35-47Z-quick-[0-9a-f]{4}$/);
    expect(newRunId('a b/c')).toMatch(/-a-b-c-[0-9a-f]{4}$/);
  });
  it('round-trips repetition ids and rejects others', () => {
    expect(repId({ kind: 'traced', index: 3 })).toBe('traced-03');
    expect(parseRepId('timing-12')).toEqual({ kind: 'timing', index: 12 });
    expect(parseRepId('timing-00')).toBeUndefined();
    expect(parseRepId('.tmp-timing-01-x')).toBeUndefined();
    expect(parseRepId('timing-1')).toBeUndefined();
  });
});

describe('the results store', () => {
  it('creates a run with its scenario, inventory and a valid manifest', async () => {
    const { store } = await newStore();
    expect(await readFile(join(store.dir, 'scenario.yaml'), 'utf8')).toBe('name: quick\n');
    const valid = validatorFor(runManifestSchema);
    expect(valid(await store.manifest()), JSON.stringify(valid.errors)).toBe(true);
    const again = await RunStore.open(store.dir);
    expect(again.id).toBe(store.id);
  });

  it('writes a repetition with its files, and reads it back', async () => {
    const { store } = await newStore();
    const r = result(store.id, 'c1', 1, passed(100));
    expect(await store.writeRep(r, { 'fio.json': '{"jobs":[]}', 'fio.job': '[job]\n' })).toBe('written');
    expect(await store.readRep('c1', r.rep)).toEqual(r);
    expect(await readFile(join(store.dir, 'cells/c1/timing-01/fio.json'), 'utf8')).toBe('{"jobs":[]}');
    const valid = validatorFor(repResultSchema);
    expect(valid(r), JSON.stringify(valid.errors)).toBe(true);
  });

  it('never replaces a passed repetition with a failure, and keeps what it replaced', async () => {
    const { store } = await newStore();
    await store.writeRep(result(store.id, 'c1', 1, passed(100)), {});
    expect(await store.writeRep(result(store.id, 'c1', 1, failed), {})).toBe('kept-passed');
    expect((await store.readRep('c1', { kind: 'timing', index: 1 }))?.outcome).toEqual(passed(100));

    await store.writeRep(result(store.id, 'c1', 2, failed), {});
    expect(await store.writeRep(result(store.id, 'c1', 2, passed(7)), {})).toBe('replaced-failure');
    expect((await store.readRep('c1', { kind: 'timing', index: 2 }))?.outcome).toEqual(passed(7));
    const names = await readdir(join(store.dir, 'cells/c1'));
    expect(names.filter((n) => n.startsWith('.replaced-timing-02-'))).toHaveLength(1);
    expect(names.filter((n) => n.startsWith('.discarded-timing-01-'))).toHaveLength(1);
    expect((await store.listReps('c1')).map((x) => x.rep.index)).toEqual([1, 2]);
  });

  it('ignores and sweeps what an interrupted write left, and a directory without result.json', async () => {
    const { store } = await newStore();
    await store.writeRep(result(store.id, 'c1', 1, passed(1)), {});
    await mkdir(join(store.dir, 'cells/c1/.tmp-timing-02-abc'), { recursive: true });
    await writeFile(join(store.dir, 'cells/c1/.tmp-timing-02-abc/fio.json'), '{"half');
    await mkdir(join(store.dir, 'cells/c1/timing-03'));
    expect((await store.listReps('c1')).map((x) => x.rep.index)).toEqual([1]);
    expect(await store.sweepTemporaries()).toBe(1);
    expect(existsSync(join(store.dir, 'cells/c1/.tmp-timing-02-abc'))).toBe(false);
  });

  it('refuses file and cell names that would escape the run directory', async () => {
    const { store } = await newStore();
    await expect(store.writeRep(result(store.id, '../x', 1, passed(1)), {})).rejects.toThrow(/unsafe cell id/);
    await expect(store.writeRep(result(store.id, 'c1', 1, passed(1)), { '../evil': 'x' })).rejects.toThrow(/unsafe result file name/);
  });

  it('names what is wrong with a directory that is not a run', async () => {
    const root = await tmp();
    await expect(RunStore.open(root)).rejects.toMatchObject({ code: 'E_RUN_NOT_FOUND' });
    await writeFile(join(root, 'run.json'), '{"version":');
    await expect(RunStore.open(root)).rejects.toMatchObject({ code: 'E_RUN_CORRUPT' });
    await writeFile(join(root, 'run.json'), '{"version":2}');
    await expect(RunStore.open(root)).rejects.toMatchObject({ code: 'E_RUN_VERSION' });
  });

  it('writes files atomically, leaving no temporary behind', async () => {
    const d = await tmp();
    await writeFileAtomic(join(d, 'f.json'), 'one');
    await writeFileAtomic(join(d, 'f.json'), 'two');
    expect(await readFile(join(d, 'f.json'), 'utf8')).toBe('two');
    expect(await readdir(d)).toEqual(['f.json']);
  });
});
