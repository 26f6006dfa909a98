/**
 * The runner against a real OpenSSH server on 127.0.0.1, with this machine as a
 * static host running real fio on a file.
 */
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm, symlink, mkdir, writeFile, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { validatorFor } from '../../../core/json-schema.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expand } from '../../../cell/expand.js';
import type { Inventory, InventoryTarget } from '../../../inventory/types.js';
import { repResultSchema } from '../../../result/schema.js';
import { RunStore } from '../../../result/store.js';
import type { RepResult } from '../../../result/types.js';
import { runPlan } from '../../../runner/run.js';
import { loadScenarioFile } from '../../../scenario/load.js';
import { localhostHostsYaml, startSshd, type TestSshd } from '../../../tools/loopback-sshd.js';

let sshd: TestSshd;
let work: string;

beforeAll(async () => {
  sshd = await startSshd();
  work = await mkdtemp(join(tmpdir(), 'iommu-lab-run-'));
});
afterAll(async () => {
  await sshd?.stop();
  await rm(work, { recursive: true, force: true });
});

const SCENARIO = (reps: number) => `name: local
seed: 5
repetitions: ${reps}
workloads:
  - name: rr
    rw: randread
    bs: 4k
    iodepth: [1, 8]
    size: 8m
    runtime: 1
    ramp_time: 0
iommu:
  - device: none
    mode: off
targets:
  hosts: [localhost]
hosts_file: hosts.yaml
timeouts: { cell_s: 60 }
`;

async function writeHosts(dir: string, fp: string, extra = ''): Promise<void> {
  await writeFile(join(dir, 'hosts.yaml'), `${localhostHostsYaml(sshd, dir, fp)}${extra}`);
}

async function setup(name: string, reps = 2, fp?: string) {
  const dir = join(work, name);
  await mkdir(dir, { recursive: true });
  await writeHosts(dir, fp ?? sshd.hostKeyFingerprint);
  await writeFile(join(dir, 'scenario.yaml'), SCENARIO(reps));
  const loaded = await loadScenarioFile(join(dir, 'scenario.yaml'));
  const plan = expand(loaded);
  const { inventoryFromHosts } = await import('../../../inventory/load.js');
  return { dir, loaded, plan, inventory: inventoryFromHosts(loaded.hosts!) };
}

async function allReps(runDir: string): Promise<RepResult[]> {
  return (await RunStore.open(runDir)).allReps();
}


describe('run on a static host over real SSH', () => {
  it('produces a complete results directory with raw outputs, metrics and provenance', async () => {
    const { dir, loaded, plan, inventory } = await setup('complete');
    const events: string[] = [];
    const summary = await runPlan({ loaded, plan, inventory, resultsRoot: join(dir, 'results'), onEvent: (e) => events.push(e.type) });
    expect(summary).toMatchObject({ total: 4, passed: 4, failed: 0, interrupted: false });

    const reps = await allReps(summary.dir);
    expect(reps.map((r) => `${r.cell}/${r.rep.kind}-${r.rep.index}`).sort()).toEqual([
      'rr.qd1__none-off__localhost__scratch/timing-1', 'rr.qd1__none-off__localhost__scratch/timing-2',
      'rr.qd8__none-off__localhost__scratch/timing-1', 'rr.qd8__none-off__localhost__scratch/timing-2',
    ]);
    const valid = validatorFor(repResultSchema);
    for (const r of reps) {
      expect(valid(r), JSON.stringify(valid.errors)).toBe(true);
      expect(r.outcome.state).toBe('passed');
      if (r.outcome.state !== 'passed') continue;
      expect(r.outcome.metrics['iops']).toBeGreaterThan(0);
      expect(r.outcome.metrics['clat_p99_us']).toBeGreaterThanOrEqual(r.outcome.metrics['clat_p50_us']!);
      expect(r.provenance).toMatchObject({ target: 'localhost', target_kind: 'static', seed: 5, scenario_sha256: loaded.sha256 });
      expect(r.provenance.tools?.['fio']).toMatch(/^fio-3\./);
      expect(r.provenance.fio_job).toContain(`filename=${join(dir, 'scratch.dat')}`);
      const cellDir = join(summary.dir, 'cells', r.cell, `${r.rep.kind}-0${r.rep.index}`);
      expect(JSON.parse(await readFile(join(cellDir, 'fio.json'), 'utf8')).jobs).toHaveLength(1);
      expect(await readFile(join(cellDir, 'fio.job'), 'utf8')).toBe(r.provenance.fio_job);
    }
    // The interleaved order: each target's reps have distinct positions 0..3.
    expect(reps.map((r) => r.provenance.order).sort()).toEqual([0, 1, 2, 3]);
    const pre = JSON.parse(await readFile(join(summary.dir, 'preflight', 'localhost.json'), 'utf8'));
    expect(pre.verdict.ok).toBe(true);
    expect(pre.facts.disks[0].name).toBe('scratch');
    expect(await readFile(join(summary.dir, 'scenario.yaml'), 'utf8')).toBe(loaded.text);
    expect(events).toContain('run-start');
  });

  it('refuses a host whose key is not the pinned one, naming both fingerprints', async () => {
    const wrong = 'SHA256:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA';
    const { dir, loaded, plan, inventory } = await setup('hostkey', 1, wrong);
    const summary = await runPlan({ loaded, plan, inventory, resultsRoot: join(dir, 'results'), retries: 0 });
    expect(summary).toMatchObject({ passed: 0, failed: 2 });
    for (const f of summary.failures) {
      expect(f.kind).toBe('host-key-mismatch');
      expect(f.message).toContain(sshd.hostKeyFingerprint);
      expect(f.message).toContain(wrong);
    }
  });

  it('fails with kind auth, not retried, when the server refuses the key, and says which key', async () => {
    const { dir, loaded, plan, inventory } = await setup('auth', 1);
    const other = join(dir, 'other_ed25519');
    await execa('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', other]);
    const wrongKey: Inventory = { ...inventory, targets: inventory.targets.map((t) => ({ ...t, ssh: { ...t.ssh, key_path: other } })) };
    const states: string[] = [];
    const summary = await runPlan({ loaded, plan, inventory: wrongKey, resultsRoot: join(dir, 'results'), retries: 3, retryBaseMs: 10, onEvent: (e) => { if (e.type === 'target-state') states.push(e.state); } });
    expect(summary.failures.map((f) => f.kind)).toEqual(['auth', 'auth']);
    expect(summary.failures[0]!.message).toContain(`refused the key ${other}`);
    expect(summary.failures[0]!.message).toContain('authorized_keys');
    // Not retried: a refused key stays refused.
    expect(states.filter((s) => s.includes('retry'))).toEqual([]);
  });

  it('fails with kind connect after retries when nothing listens', async () => {
    const { dir, loaded, plan, inventory } = await setup('noconnect', 1);
    const dead: Inventory = { ...inventory, targets: inventory.targets.map((t) => ({ ...t, ssh: { ...t.ssh, port: 1 } })) };
    const summary = await runPlan({ loaded, plan, inventory: dead, resultsRoot: join(dir, 'results'), retries: 2, retryBaseMs: 10 });
    expect(summary.failures.map((f) => f.kind)).toEqual(['connect', 'connect']);
    expect(summary.failures[0]!.message).toContain('ECONNREFUSED');
  });

  it('refuses destructive writes to a raw device before connecting', async () => {
    const { dir, loaded, plan, inventory } = await setup('destructive', 1);
    const raw: Inventory = {
      ...inventory,
      targets: inventory.targets.map((t): InventoryTarget => ({
        ...t,
        // Port 1: were a connection attempted, the failure kind would be `connect`.
        ssh: { ...t.ssh, port: 1 },
        disks: [{ name: 'scratch', path: '/dev/vda', behind_iommu: false, allow_destructive_writes: false }],
      })),
    };
    const writing = { ...plan, cells: plan.cells.map((c) => ({ ...c, job: { ...c.job, rw: 'randwrite' as const } })) };
    const summary = await runPlan({ loaded, plan: writing, inventory: raw, resultsRoot: join(dir, 'results') });
    expect(summary.failures.map((f) => f.kind)).toEqual(['destructive-write-refused', 'destructive-write-refused']);
    expect(summary.failures[0]!.message).toContain('/dev/vda');
  });

  it('fails every cell with iommu-mode-mismatch when sysfs disagrees, and measures when it agrees', async () => {
    const { dir, loaded, plan, inventory } = await setup('mismatch', 1);
    // A fake sysfs tree in which the scratch file's block device sits in IOMMU group 7.
    await writeFile(join(dir, 'scratch.dat'), '');
    const st = await stat(join(dir, 'scratch.dat'));
    const majmin = `${Math.floor(st.dev / 256) & 0xfff}:${(st.dev & 0xff) | ((st.dev >> 12) & 0xfff00)}`;
    const sys = join(dir, 'sys');
    const pci = join(sys, 'devices/pci0000:00/0000:00:10.0');
    await mkdir(join(pci, 'nvme/nvme0/nvme0n1'), { recursive: true });
    await mkdir(join(sys, 'kernel/iommu_groups/7'), { recursive: true });
    await mkdir(join(sys, 'class/iommu/dmar0'), { recursive: true });
    await mkdir(join(sys, 'dev/block'), { recursive: true });
    await symlink(join(pci, 'nvme/nvme0/nvme0n1'), join(sys, 'dev/block', majmin));
    await symlink(join(sys, 'kernel/iommu_groups/7'), join(pci, 'iommu_group'));
    await writeFile(join(sys, 'kernel/iommu_groups/7/type'), 'DMA\n');

    const expectLazy: Inventory = {
      ...inventory,
      targets: inventory.targets.map((t) => ({ ...t, iommu: { device: 'intel', mode: 'lazy' }, disks: t.disks.map((d) => ({ ...d, behind_iommu: true })) })),
    };
    const bad = await runPlan({ loaded, plan, inventory: expectLazy, resultsRoot: join(dir, 'results'), sysfsRoot: sys });
    expect(bad.failures.map((f) => f.kind)).toEqual(['iommu-mode-mismatch', 'iommu-mode-mismatch']);
    expect(bad.failures[0]!.message).toContain('disk scratch: expected DMA-FQ (lazy), found group 7 of type DMA (strict)');
    const pre = JSON.parse(await readFile(join(bad.dir, 'preflight', 'localhost.json'), 'utf8'));
    expect(pre.facts.disks[0]).toMatchObject({ pci: '0000:00:10.0', group: '7', groupType: 'DMA' });

    await writeFile(join(sys, 'kernel/iommu_groups/7/type'), 'DMA-FQ\n');
    const good = await runPlan({ loaded, plan, inventory: expectLazy, resultsRoot: join(dir, 'results'), sysfsRoot: sys });
    expect(good).toMatchObject({ passed: 2, failed: 0 });
    const reps = await allReps(good.dir);
    expect(reps[0]!.provenance.iommu_groups).toEqual({ scratch: 'DMA-FQ' });
  });
});

describe('iommu-lab run (the CLI) with interruption and resume', () => {
  const cli = (args: string[]) => execa('node', ['bin/iommu-lab.js', ...args], { reject: false, all: true });

  it('resumes a killed run and ends with the same cells as an uninterrupted one', async () => {
    const { dir } = await setup('resume', 3);
    const scenario = join(dir, 'scenario.yaml');
    const results = join(dir, 'results');

    const whole = await cli(['run', scenario, '--results', join(dir, 'whole'), '--json']);
    expect(whole.exitCode, whole.all).toBe(0);
    const wholeSummary = JSON.parse(whole.stdout);
    const expected = (await allReps(wholeSummary.dir)).map((r) => `${r.cell}/${r.rep.kind}${r.rep.index}`).sort();
    expect(expected).toHaveLength(6);

    // Start again, and kill -9 as soon as the second repetition is stored.
    const child = execa('node', ['bin/iommu-lab.js', 'run', scenario, '--results', results], { reject: false });
    let runDir = '';
    for (let i = 0; i < 600 && !runDir; i++) {
      await new Promise((r) => setTimeout(r, 100));
      const names = existsSync(results) ? await readdir(results) : [];
      if (names[0] && existsSync(join(results, names[0], 'run.json'))) {
        const reps = await allReps(join(results, names[0])).catch(() => []);
        if (reps.length >= 2) runDir = join(results, names[0]);
      }
    }
    child.kill('SIGKILL');
    await child;
    expect(runDir).not.toBe('');
    const before = (await allReps(runDir)).length;
    expect(before).toBeGreaterThanOrEqual(2);
    expect(before).toBeLessThan(6);

    const resumed = await cli(['run', scenario, '--results', results, '--resume', runDir, '--json']);
    expect(resumed.exitCode, resumed.all).toBe(0);
    const s = JSON.parse(resumed.stdout);
    expect(s.dir).toBe(runDir);
    expect(s.passed).toBe(6 - before);
    const after = (await allReps(runDir)).map((r) => `${r.cell}/${r.rep.kind}${r.rep.index}`).sort();
    expect(after).toEqual(expected);
    for (const c of await readdir(join(runDir, 'cells'))) {
      expect((await readdir(join(runDir, 'cells', c))).filter((n) => n.startsWith('.tmp-'))).toEqual([]);
    }
  });

  it('stops cleanly on SIGINT, says how to resume, and exits 1', async () => {
    const { dir } = await setup('sigint', 3);
    const results = join(dir, 'results');
    const child = execa('node', ['bin/iommu-lab.js', 'run', join(dir, 'scenario.yaml'), '--results', results], { reject: false, all: true });
    for (let i = 0; i < 600; i++) {
      await new Promise((r) => setTimeout(r, 100));
      const names = existsSync(results) ? await readdir(results) : [];
      if (names[0] && (await allReps(join(results, names[0])).catch(() => [])).length >= 1) break;
    }
    child.kill('SIGINT');
    const r = await child;
    expect(r.exitCode).toBe(1);
    expect(r.all).toContain('interrupted');
    expect(r.stdout).toMatch(/resume: {2}iommu-lab run .* --resume /);
    const runDir = join(results, (await readdir(results))[0]!);
    const reps = await allReps(runDir);
    expect(reps.every((x) => x.outcome.state === 'passed')).toBe(true);
  });

  it('rejects a resume with a changed scenario', async () => {
    const { dir } = await setup('changed', 1);
    const scenario = join(dir, 'scenario.yaml');
    const first = await cli(['run', scenario, '--results', join(dir, 'results'), '--json']);
    const runDir = JSON.parse(first.stdout).dir;
    await writeFile(scenario, (await readFile(scenario, 'utf8')).replace('seed: 5', 'seed: 6'));
    const r = await cli(['run', scenario, '--resume', runDir]);
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toContain('error[E_RESUME_SCENARIO_CHANGED]');
  });
});
