/**
 * The fault suite: faults injected into real sweeps (a real guest, the CLI as
 * a user runs it). For each: the failure is named with its kind, no stack
 * trace reaches the user, no passed result is lost or changed (results stay
 * schema-valid), and the following `sweep` completes the run. Figures: see
 * docs/runner.md (Faults).
 */
import { execa } from 'execa';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { labPath } from '../../core/paths.js';
import { down, LOCAL } from '../../infra/up.js';
import { Virsh } from '../../infra/virsh.js';
import { labImage } from '../helpers/lab-image.js';
import { CELL, completes, DOMAIN, failedKinds, guestRuns, inGuest, inGuestOnceRunning, NAME, noGuestLeft, REPS, results, runDirs, scenario, STACK, sweep, TRACED_REPS, until } from './harness.js';

let dir: string;
/** The scenario without tracing, and the same with one traced repetition (its own directory, the same name). */
let file: string;
let tracedFile: string;

beforeAll(async () => {
  await labImage();
  dir = await mkdtemp(join(tmpdir(), 'iommu-lab-faults-'));
  file = join(dir, `${NAME}.yaml`);
  await writeFile(file, scenario({ traced: false }));
  await mkdir(join(dir, 'traced'));
  tracedFile = join(dir, 'traced', `${NAME}.yaml`);
  await writeFile(tracedFile, scenario({ traced: true }));
  await down([LOCAL], { scenario: NAME });
});
afterAll(async () => {
  await down([LOCAL], { scenario: NAME });
  if (dir) await rm(dir, { recursive: true, force: true });
});

let n = 0;
async function root(): Promise<string> {
  const r = join(dir, `results-${++n}`);
  await mkdir(r, { recursive: true });
  return r;
}

const started = (rep: string) => new RegExp(`${CELL} ${rep}\\s*$`, 'm');
const passed = (rep: string) => new RegExp(`${CELL} ${rep} passed`);

describe('faults in a real sweep', () => {
  it('guest destroyed during the traced repetition: named guest-died, booted again, the repetition run anew', async () => {
    const results_ = await root();
    const r = await sweep(tracedFile, results_, {
      when: started('traced-01'),
      // Destroyed once fio runs under bpftrace (attach takes seconds under TCG).
      inject: async () => { await until(() => guestRuns(results_, 'fio'), 120_000); await new Virsh(LOCAL.uri).run(['destroy', DOMAIN], { allowFailure: true }); },
    });
    expect(r.injected, r.all).toBe(true);
    expect(r.all).not.toMatch(STACK);
    expect(r.code, r.all).toBe(0);
    expect(r.all).toMatch(/f-intel-strict died during rr__intel-strict__f__nvme0.traced-01: the guest stopped running \(its domain is shut off \(destroyed\)\); booting it again \(1\/2\)/);
    const [run] = await runDirs(results_);
    const reps = await results(run!);
    expect([...reps.keys()].sort()).toEqual(TRACED_REPS);
    expect(failedKinds(reps)).toEqual({});
    expect(reps.get('traced-01')!.rep.checks).toEqual(expect.arrayContaining([expect.objectContaining({ name: 'retried', detail: expect.stringContaining('its domain is shut off (destroyed)') })]));
    await noGuestLeft();
  });

  it('sshd killed inside the guest (the guest image runs it as its main process, so the guest dies): named guest-died, healed', async () => {
    const results_ = await root();
    const r = await sweep(file, results_, { when: started('timing-02'), inject: () => inGuest(results_, 'sleep 2; pkill -KILL -x sshd') });
    expect(r.injected, r.all).toBe(true);
    expect(r.all).not.toMatch(STACK);
    expect(r.code, r.all).toBe(0);
    expect(r.all).toMatch(/f-intel-strict died during rr__intel-strict__f__nvme0.timing-02: .*; booting it again \(1\/2\)/);
    const reps = await results((await runDirs(results_))[0]!);
    expect(failedKinds(reps)).toEqual({});
    expect(reps.get('timing-02')!.rep.checks).toEqual(expect.arrayContaining([expect.objectContaining({ name: 'retried' })]));
    await noGuestLeft();
  });

  it("the runner's SSH sessions killed inside the guest: it reconnects to the running guest and keeps the detached measurement", async () => {
    const results_ = await root();
    const r = await sweep(file, results_, { when: started('timing-02'), inject: () => inGuest(results_, "sleep 2; pkill -KILL -f '^sshd: '") });
    expect(r.injected, r.all).toBe(true);
    expect(r.all).not.toMatch(STACK);
    expect(r.code, r.all).toBe(0);
    const reps = await results((await runDirs(results_))[0]!);
    expect([...reps.keys()].sort()).toEqual(REPS);
    expect(failedKinds(reps)).toEqual({});
    await noGuestLeft();
  });

  it('the guest network link taken down: named connect (the guest still runs); the next sweep completes the run', async () => {
    const results_ = await root();
    const r = await sweep(file, results_, {
      when: started('timing-02'),
      inject: () => new Virsh(LOCAL.uri).run(['qemu-monitor-command', DOMAIN, '--hmp', 'set_link labnet off']).then(() => {}),
    });
    expect(r.injected, r.all).toBe(true);
    expect(r.all).not.toMatch(STACK);
    expect(r.code).toBe(1);
    const reps = await results((await runDirs(results_))[0]!);
    expect(reps.get('timing-01')!.rep.outcome.state).toBe('passed');
    expect(new Set(Object.values(failedKinds(reps)))).toEqual(new Set(['connect']));
    await completes(file, results_, reps);
  });

  it('bpftrace killed during the traced repetition: named bpftrace (its counts would be partial); the next sweep completes the run', async () => {
    const results_ = await root();
    const r = await sweep(tracedFile, results_, {
      when: started('traced-01'),
      inject: () => inGuestOnceRunning(results_, 'fio', 'pkill -KILL -x bpftrace'),
    });
    expect(r.injected, r.all).toBe(true);
    expect(r.all).not.toMatch(STACK);
    expect(r.code).toBe(1);
    const reps = await results((await runDirs(results_))[0]!);
    expect(failedKinds(reps)).toEqual({ 'traced-01': 'bpftrace' });
    const f = reps.get('traced-01')!.rep.outcome;
    expect(f.state === 'failed' && f.failure.message).toMatch(/ended during the workload/);
    await completes(tracedFile, results_, reps, TRACED_REPS);
  });

  it('fio killed: named fio with its exit status; the next sweep completes the run', async () => {
    const results_ = await root();
    const r = await sweep(file, results_, {
      when: started('timing-02'),
      inject: () => inGuestOnceRunning(results_, 'fio', 'pkill -KILL -x fio'),
    });
    expect(r.injected, r.all).toBe(true);
    expect(r.all).not.toMatch(STACK);
    expect(r.code).toBe(1);
    const reps = await results((await runDirs(results_))[0]!);
    expect(failedKinds(reps)).toEqual({ 'timing-02': 'fio' });
    await completes(file, results_, reps);
  });

  it('the results file system full: named E_DISK_FULL with the fix, nothing half-written; the next sweep completes the run', async () => {
    const mnt = join(dir, 'small');
    await mkdir(mnt, { recursive: true });
    await execa('mount', ['-t', 'tmpfs', '-o', 'size=16m', 'iommu-lab-faults', mnt]);
    try {
      const r = await sweep(file, mnt, {
        when: passed('timing-01'),
        // Fill what is left: the next result cannot be written.
        inject: () => execa('sh', ['-c', `dd if=/dev/zero of=${join(mnt, 'filler')} bs=64k 2>/dev/null; true`]).then(() => {}),
      });
      expect(r.injected, r.all).toBe(true);
      expect(r.all).not.toMatch(STACK);
      expect(r.code).toBe(1);
      expect(r.all).toMatch(/error\[E_DISK_FULL\]: no space left where the lab writes .*\n {2}fix: free space on the file system of/);
      const run = (await runDirs(mnt))[0]!;
      const reps = await results(run);
      expect(reps.get('timing-01')!.rep.outcome.state).toBe('passed');
      expect(failedKinds(reps)).toEqual({});
      await noGuestLeft();
      await rm(join(mnt, 'filler'));
      await completes(file, mnt, reps);
      // No temporary left behind by the failed write.
      const left = await execa('sh', ['-c', `find ${mnt} -name '.tmp-*'`]);
      expect(left.stdout).toBe('');
    } finally {
      await execa('umount', [mnt], { reject: false });
    }
  });

  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    it(`${signal} while the guest boots: interrupted, the guest taken down; the next sweep runs everything`, async () => {
      const results_ = await root();
      const r = await sweep(file, results_, { when: /f-intel-strict: booting on/, inject: (child) => { child.kill(signal); } });
      expect(r.injected, r.all).toBe(true);
      expect(r.all).not.toMatch(STACK);
      expect(r.code).toBe(1);
      expect(r.all).toMatch(/interrupted/);
      await noGuestLeft();
      const next = await sweep(file, results_);
      expect(next.code, next.all).toBe(0);
      const runs = await runDirs(results_);
      const reps = await results(runs[runs.length - 1]!);
      expect([...reps.values()].every((x) => x.rep.outcome.state === 'passed') && reps.size === REPS.length).toBe(true);
    });

    it(`${signal} during a repetition: nothing half-written, the passed one kept; the next sweep completes the run`, async () => {
      const results_ = await root();
      const r = await sweep(file, results_, { when: started('timing-02'), inject: (child) => { setTimeout(() => child.kill(signal), 2000); } });
      expect(r.injected, r.all).toBe(true);
      expect(r.all).not.toMatch(STACK);
      expect(r.code).toBe(1);
      expect(r.all).toContain('interrupted');
      const reps = await results((await runDirs(results_))[0]!);
      expect(reps.get('timing-01')!.rep.outcome.state).toBe('passed');
      expect(reps.has('timing-02')).toBe(false);
      await noGuestLeft();
      await completes(file, results_, reps);
    });

    it(`${signal} during the report: the report is written whole, the run is complete`, async () => {
      const results_ = await root();
      const r = await sweep(file, results_, { when: /\[f-intel-strict\] done/, inject: (child) => { child.kill(signal); } });
      expect(r.injected, r.all).toBe(true);
      expect(r.all).not.toMatch(STACK);
      const run = (await runDirs(results_))[0]!;
      const reps = await results(run);
      expect([...reps.values()].every((x) => x.rep.outcome.state === 'passed') && reps.size === REPS.length).toBe(true);
      for (const f of ['summary.md', 'junit.xml', 'report.html']) expect(existsSync(join(run, 'report', f)), f).toBe(true);
      JSON.parse(await (await import('node:fs/promises')).readFile(join(run, 'report', 'report.json'), 'utf8'));
      expect(existsSync(join(results_, `.sweep-${NAME}.json`))).toBe(false);
      await noGuestLeft();
    });
  }

  it('libvirtd restarted during a repetition: the sweep carries on, the guests still come down', async () => {
    const results_ = await root();
    const r = await sweep(file, results_, {
      when: started('timing-01'),
      inject: async () => {
        const pid = Number((await (await import('node:fs/promises')).readFile('/run/libvirtd.pid', 'utf8')).trim());
        process.kill(pid, 'SIGTERM');
        // libvirtd waits up to 30 s for its workers before it exits on its own (seen in CI: "Make
        // forcefull daemon shutdown" 30 s after the signal); a restart takes that long then.
        await until(async () => !existsSync(`/proc/${pid}`), 60_000);
        await execa(labPath('scripts', 'start-libvirtd.sh'));
      },
    });
    expect(r.injected, r.all).toBe(true);
    expect(r.all).not.toMatch(STACK);
    const reps = await results((await runDirs(results_))[0]!);
    // Whatever failed is named (hypervisor, when libvirt could not be asked); nothing is internal.
    expect(Object.values(failedKinds(reps)).filter((k) => k === 'internal')).toEqual([]);
    await noGuestLeft();
    if (r.code !== 0) await completes(file, results_, reps);
    else expect([...reps.values()].every((x) => x.rep.outcome.state === 'passed')).toBe(true);
  });
});
