/**
 * The sweep end to end on a static host (this machine over a real OpenSSH
 * server on 127.0.0.1, real fio): run, report, latest/ for CI, lock released;
 * a sweep killed mid-run resumes the same run when started again.
 */
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { localhostHostsYaml, startSshd, type TestSshd } from '../../../tools/loopback-sshd.js';

let sshd: TestSshd;
let work: string;
beforeAll(async () => {
  sshd = await startSshd();
  work = await mkdtemp(join(tmpdir(), 'iommu-lab-sweep-'));
});
afterAll(async () => {
  await sshd?.stop();
  await rm(work, { recursive: true, force: true });
});

async function setup(name: string, reps: number) {
  const dir = join(work, name);
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, 'hosts.yaml'), localhostHostsYaml(sshd, dir));
  await writeFile(join(dir, 'local.yaml'), `name: local
seed: 2
repetitions: ${reps}
workloads:
  - { name: rr, rw: randread, bs: 4k, iodepth: [1, 4], size: 8m, runtime: 1, ramp_time: 0 }
iommu:
  - device: none
    mode: off
targets:
  hosts: [localhost]
hosts_file: hosts.yaml
timeouts: { cell_s: 60 }
`);
  return dir;
}

const cli = (args: string[]) => execa('node', ['bin/iommu-lab.js', ...args], { reject: false, all: true });

describe('iommu-lab sweep on a static host', () => {
  it('runs, reports, leaves the summary and JUnit file under latest/, and releases the lock', async () => {
    const dir = await setup('once', 4);
    const results = join(dir, 'results');
    const r = await cli(['sweep', join(dir, 'local.yaml'), '--results', results]);
    expect(r.exitCode, r.all).toBe(0);
    expect(r.stdout).toContain('8 passed, 0 failed of 8 repetitions');
    expect(r.stdout).toMatch(/report: {2}.*report\.html/);
    for (const f of ['summary.md', 'summary.txt', 'junit.xml', 'report.html', 'report.json']) expect(existsSync(join(results, 'latest', 'local', f)), f).toBe(true);
    expect(await readFile(join(results, 'latest', 'local', 'junit.xml'), 'utf8')).toContain('<testsuites name="iommu-lab"');
    expect(existsSync(join(results, '.sweep.lock'))).toBe(false);
    expect(existsSync(join(results, '.sweep-local.json'))).toBe(false);
  });

  it('resumes the run a killed sweep was making', async () => {
    const dir = await setup('killed', 4);
    const results = join(dir, 'results');
    const child = execa('node', ['bin/iommu-lab.js', 'sweep', join(dir, 'local.yaml'), '--results', results], { reject: false });
    let runDir = '';
    for (let i = 0; i < 600 && !runDir; i++) {
      await new Promise((res) => setTimeout(res, 100));
      const names = existsSync(results) ? (await readdir(results)).filter((n) => n.includes('-local-')) : [];
      if (names[0]) {
        const cells = join(results, names[0], 'cells');
        const done = existsSync(cells) ? (await Promise.all((await readdir(cells)).map(async (c) => (await readdir(join(cells, c))).filter((x) => !x.startsWith('.')).length))).reduce((a, b) => a + b, 0) : 0;
        if (done >= 2) runDir = join(results, names[0]);
      }
    }
    child.kill('SIGKILL');
    await child;
    expect(runDir).not.toBe('');
    expect(existsSync(join(results, '.sweep-local.json'))).toBe(true);
    const again = await cli(['sweep', join(dir, 'local.yaml'), '--results', results]);
    expect(again.exitCode, again.all).toBe(0);
    expect(again.stderr).toContain(`resuming the interrupted sweep ${runDir}`);
    expect(again.stdout).toContain('(resumed)');
    expect((await readdir(results)).filter((n) => n.includes('-local-'))).toHaveLength(1);
  });

  it('refuses to start while another sweep holds the lock', async () => {
    const dir = await setup('locked', 1);
    const results = join(dir, 'results');
    await mkdir(results, { recursive: true });
    await writeFile(join(results, '.sweep.lock'), `${process.pid} 2026-11-24T00:00:00Z other.yaml\n`);
    const r = await cli(['sweep', join(dir, 'local.yaml'), '--results', results]);
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toContain('error[E_SWEEP_LOCKED]');
  });
});
