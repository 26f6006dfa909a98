/**
 * What every fault test shares: one lab guest (intel strict, TCG clock so SSH
 * keepalives run), a sweep run as the user runs it (the CLI in a child
 * process), a hook that injects the fault when the sweep's output reaches a
 * given line, and the checks every fault must pass: no stack trace, every
 * result schema-valid, no passed result lost or changed, and a following sweep
 * that completes the run.
 */
import { validatorFor } from '../../core/json-schema.js';
import { execa, type ResultPromise } from 'execa';
import { existsSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { expect } from 'vitest';
import { LOCAL } from '../../infra/up.js';
import { Virsh } from '../../infra/virsh.js';
import { repResultSchema } from '../../result/schema.js';
import type { RepResult } from '../../result/types.js';

export const NAME = 'faults';
export const CELL = 'rr__intel-strict__f__nvme0';
export const DOMAIN = 'iommu-lab-f-intel-strict';
/** Every repetition of a run: two timing repetitions; with tracing, one traced more. */
export const REPS = ['timing-01', 'timing-02'];
export const TRACED_REPS = [...REPS, 'traced-01'];

const TRACED = `tracing: { scripts: [iotlb-invalidations], repetitions: 1 }
metrics: [iops, iotlb_sync_flush_per_io]`;
const PLAIN = `tracing: { repetitions: 0 }
metrics: [iops, calls_sync_inval_per_io]`;

/**
 * The scenario, with a traced repetition only for the faults that need one (bpftrace killed, the
 * guest destroyed under bpftrace): bpftrace's attach under TCG is the longest part of a sweep here.
 */
export const scenario = (o: { traced: boolean }) => `name: ${NAME}
seed: 7
repetitions: 2
workloads:
  - { name: rr, rw: randread, bs: 4k, iodepth: 8, size: 64m, runtime: 5, ramp_time: 0 }
iommu:
  - device: intel
    mode: strict
targets:
  vms:
    - name: f
      vcpus: 2
      memory_mib: 1024
      kernel: "6.12"
      disks: [{ name: nvme0, bus: nvme, size_mib: 128 }]
${o.traced ? TRACED : PLAIN}
timeouts: { cell_s: 60, boot_s: 180 }
`;

/** A Node stack frame in output: what a user must never see. */
export const STACK = /\n\s+at .+:\d+:\d+/;

export interface SweepRun {
  readonly code: number;
  readonly all: string;
  readonly stdout: string;
}

/**
 * Runs `iommu-lab sweep` and calls `inject` once, when a line of its output
 * matches `when` (with the child, to signal it).
 */
export async function sweep(file: string, results: string, hook?: { when: RegExp; inject: (child: ResultPromise) => void | Promise<void> }, extra: string[] = []): Promise<SweepRun & { injected: boolean }> {
  // forceKillAfterDelay: false — execa would follow a SIGTERM with SIGKILL after 5 s, and the lab takes longer to stop cleanly.
  const child = execa('node', ['bin/iommu-lab.js', 'sweep', file, '--results', results, ...extra], { reject: false, all: true, forceKillAfterDelay: false });
  let injected = false;
  let injection: Promise<void> | undefined;
  let seen = '';
  child.all!.on('data', (d: Buffer) => {
    seen += d.toString();
    if (hook && !injected && hook.when.test(seen)) {
      injected = true;
      injection = Promise.resolve(hook.inject(child)).catch((e: unknown) => { process.stderr.write(`fault injection failed: ${String(e)}\n`); });
    }
  });
  const r = await child;
  // The fault is over before anything is checked: a libvirtd restart may outlast a quick sweep.
  await injection;
  return { code: r.exitCode ?? -1, all: String(r.all ?? ''), stdout: String(r.stdout ?? ''), injected };
}

/** ssh(1) to the guest with the lab's key: a connection of its own, beside the runner's. */
async function ssh(results: string, command: string, timeout: number): Promise<number> {
  const inv = JSON.parse(await readFile(join(results, `${NAME}-inventory.json`), 'utf8')) as { targets: { ssh: { host: string; port: number; user: string; key_path: string } }[] };
  const s = inv.targets[0]!.ssh;
  const r = await execa('ssh', ['-i', s.key_path, '-p', String(s.port), '-o', 'StrictHostKeyChecking=no', '-o', 'UserKnownHostsFile=/dev/null', '-o', 'LogLevel=ERROR', '-o', 'ConnectTimeout=20', `${s.user}@${s.host}`, command], { reject: false, timeout });
  return r.exitCode ?? -1;
}

/** Runs a command in the guest. */
export async function inGuest(results: string, command: string): Promise<void> {
  await ssh(results, command, 60_000);
}

/**
 * Runs `command` in the guest as soon as a process named `name` runs there (at most 150 s). The wait
 * is one command in the guest: polling over SSH from here (a connection each, about a second under
 * TCG) once reached a 5 s workload only after it had ended.
 */
export async function inGuestOnceRunning(results: string, name: string, command: string): Promise<void> {
  await ssh(results, `for i in $(seq 750); do pgrep -x ${name} >/dev/null && break; sleep 0.2; done; ${command}`, 180_000);
}

/** Waits until `check` holds (polled every 200 ms), at most `ms`. */
export async function until(check: () => Promise<boolean>, ms = 60_000): Promise<void> {
  for (const t0 = Date.now(); Date.now() - t0 < ms; ) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error('condition not reached');
}

/** Whether a process named `name` runs in the guest. */
export async function guestRuns(results: string, name: string): Promise<boolean> {
  return (await ssh(results, `pgrep -x ${name}`, 30_000)) === 0;
}

const validRep = validatorFor(repResultSchema);

/** The run directories under a results root. */
export async function runDirs(results: string): Promise<string[]> {
  if (!existsSync(results)) return [];
  return (await readdir(results)).filter((n) => /^\d{4}-\d\d-\d\dT/.test(n)).sort().map((n) => join(results, n));
}

/** Every result of a run, each checked against the schema; raw text kept to prove later that it did not change. */
export async function results(runDir: string): Promise<Map<string, { rep: RepResult; text: string }>> {
  const out = new Map<string, { rep: RepResult; text: string }>();
  const cellDir = join(runDir, 'cells', CELL);
  if (!existsSync(cellDir)) return out;
  for (const name of (await readdir(cellDir)).filter((n) => !n.startsWith('.'))) {
    const text = await readFile(join(cellDir, name, 'result.json'), 'utf8');
    const rep = JSON.parse(text) as RepResult;
    expect(validRep(rep), `${name}: ${JSON.stringify(validRep.errors)}`).toBe(true);
    out.set(name, { rep, text });
  }
  return out;
}

/** The kinds of the failed results of a run. */
export function failedKinds(reps: Map<string, { rep: RepResult }>): Record<string, string> {
  return Object.fromEntries([...reps].filter(([, r]) => r.rep.outcome.state === 'failed').map(([n, r]) => [n, r.rep.outcome.state === 'failed' ? r.rep.outcome.failure.kind : '']));
}

/**
 * The following sweep: it completes the run the faulty one left (only what
 * did not pass runs), every repetition passes, the passed results the faulty
 * sweep wrote are there byte for byte, and no guest is left.
 */
export async function completes(file: string, root: string, before: Map<string, { rep: RepResult; text: string }>, reps = REPS): Promise<void> {
  const [dir] = await runDirs(root);
  let r = await sweep(file, root);
  // fio crashed on its own once in a completing sweep under TCG (SIGABRT, exit 134, nothing injected): the
  // claim is the same one sweep later — that sweep completes the run. Its stderr goes to the log for the cause.
  if (r.code === 1 && /FAILED fio: fio exited with (?!137\b)\d+/.test(r.all)) {
    const failed = [...(await results(dir!))].filter(([, x]) => x.rep.outcome.state === 'failed');
    const cell = join(dir!, 'cells', CELL);
    for (const [name] of failed) console.warn(`fio crashed on its own in ${name}: ${await readFile(join(cell, name, 'stderr.txt'), 'utf8').catch(() => '(no stderr)')}`);
    r = await sweep(file, root);
  }
  expect(r.all).not.toMatch(STACK);
  expect(r.code, r.all).toBe(0);
  expect(r.all).toMatch(new RegExp(`(completing the unfinished run|resuming the interrupted sweep) ${dir}`));
  expect(await runDirs(root)).toEqual([dir]);
  const after = await results(dir!);
  expect([...after.keys()].sort()).toEqual(reps);
  for (const [name, a] of after) expect(a.rep.outcome.state, name).toBe('passed');
  for (const [name, b] of before) if (b.rep.outcome.state === 'passed') expect(after.get(name)!.text, `${name} was rewritten`).toBe(b.text);
  await noGuestLeft();
}

export async function noGuestLeft(): Promise<void> {
  const mine = (await new Virsh(LOCAL.uri).labDomains()).filter((d) => d.metadata.includes(`scenario='${NAME}'`));
  expect(mine.map((d) => d.name)).toEqual([]);
}
