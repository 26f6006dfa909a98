/**
 * Keeping host load out of a measuring guest, and noticing when it got in.
 * Only for guests on this machine (qemu:///…): it works on QEMU's process and
 * the host's /proc and cgroups.
 *
 * Two things broke virtual-time measurements under host load (two CPU hogs):
 * QEMU's threads, starved, delivered completions late, and the guest's clock
 * moved on meanwhile (IOPS −22 %). Running QEMU's threads at real-time priority
 * for exactly the measurement fixed that by hand. Done safely:
 *  - the lowest real-time priority (SCHED_FIFO 1): above every normal task,
 *    below the kernel's own real-time threads;
 *  - only while one repetition runs, restored afterwards, on every exit path
 *    and on process exit;
 *  - never where the kernel's real-time throttling is off
 *    (sched_rt_runtime_us = -1) or on a host with one CPU;
 *  - where QEMU sits in a cgroup-v1 `cpu` group (libvirt without systemd), the
 *    group gets a real-time budget of its own — the kernel then throttles the
 *    guest at that cap (80 % of each CPU) whatever it does — and loses it
 *    afterwards. Without a budget the kernel refuses real-time priority there.
 * Whatever isolation achieves, `sample()` measures how much CPU other
 * processes used during the measurement; the runner re-runs a repetition that
 * ran beside too much of it, and never reports it.
 */
import { execaSync } from 'execa';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';

export const RT_PRIORITY = 1;
/** The real-time budget a measuring guest's cgroups get: 80 % of each period, on each CPU. */
export const RT_BUDGET_US = 800_000;
const CGROUP_CPU = '/sys/fs/cgroup/cpu';

export function qemuPidOf(domain: string): number | undefined {
  try {
    const pid = Number(readFileSync(`/run/libvirt/qemu/${domain}.pid`, 'utf8').trim());
    return pid > 0 && existsSync(`/proc/${pid}`) ? pid : undefined;
  } catch {
    return undefined;
  }
}

/** Why real-time priority may not be used on this host, or undefined when it may. */
export function realtimeRefusal(): string | undefined {
  if (process.env['IOMMU_LAB_REALTIME'] === 'off') return 'IOMMU_LAB_REALTIME=off';
  if (process.getuid?.() !== 0) return 'not root';
  if (availableParallelism() < 2) return 'one CPU: a real-time guest would leave the host nothing';
  try {
    const rt = Number(readFileSync('/proc/sys/kernel/sched_rt_runtime_us', 'utf8').trim());
    if (rt < 0) return 'real-time throttling is off (kernel.sched_rt_runtime_us = -1): a spinning guest could starve the host';
  } catch {
    return 'no /proc/sys/kernel/sched_rt_runtime_us';
  }
  return undefined;
}

/** cgroup-v1 cpu directories from the root down to the process's own group ('' for the root). */
function cpuCgroupChain(pid: number): string[] {
  const line = readFileSync(`/proc/${pid}/cgroup`, 'utf8').split('\n').find((l) => /^\d+:([^:]*,)?cpu(,[^:]*)?:/.test(l));
  if (!line) return [];
  const path = line.slice(line.indexOf(':', line.indexOf(':') + 1) + 1);
  const parts = path.split('/').filter(Boolean);
  return parts.map((_, i) => join(CGROUP_CPU, ...parts.slice(0, i + 1)));
}

export interface LoadSample {
  readonly at: number;
  /** Busy jiffies of the whole host, and of QEMU's process (all threads). */
  readonly hostBusy: number;
  readonly qemuBusy: number;
}

export interface LoadReport {
  readonly seconds: number;
  /** CPUs (averaged over the window) used by everything but the measuring guest's QEMU. */
  readonly otherCpus: number;
  readonly qemuCpus: number;
}

async function sampleLoad(pid: number): Promise<LoadSample> {
  const stat = await readFile('/proc/stat', 'utf8');
  const cpu = stat.split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
  // user nice system idle iowait irq softirq steal …: busy is all but idle and iowait.
  const busy = cpu.reduce((a, b) => a + b, 0) - (cpu[3] ?? 0) - (cpu[4] ?? 0);
  let qemuBusy = 0;
  try {
    const fields = (await readFile(`/proc/${pid}/stat`, 'utf8')).split(') ')[1]!.split(' ');
    qemuBusy = Number(fields[11]) + Number(fields[12]); // utime, stime
  } catch {
    /* QEMU gone: the runner finds that out itself */
  }
  return { at: Date.now(), hostBusy: busy, qemuBusy };
}

export function loadBetween(a: LoadSample, b: LoadSample, hz = 100): LoadReport {
  const seconds = Math.max(1e-3, (b.at - a.at) / 1000);
  const qemuCpus = (b.qemuBusy - a.qemuBusy) / hz / seconds;
  const otherCpus = Math.max(0, (b.hostBusy - a.hostBusy) / hz / seconds - qemuCpus);
  return { seconds, otherCpus, qemuCpus };
}

export type RealtimeState = { readonly state: 'on'; readonly priority: number; readonly budgetUs?: number } | { readonly state: 'off'; readonly why: string };

/** Guests at real-time priority right now, so that process exit can put them back. */
const raised = new Map<number, () => void>();
let exitHook = false;

/**
 * One measurement window on one guest: raise QEMU to real-time priority where
 * that is safe, and sample the host's load; `end()` restores and reports.
 */
export class Isolation {
  private constructor(
    readonly pid: number,
    readonly realtime: RealtimeState,
    private readonly start: LoadSample,
    private readonly restore: () => void,
  ) {}

  static async begin(domain: string, options: { realtime: boolean }): Promise<Isolation | undefined> {
    const pid = qemuPidOf(domain);
    if (pid === undefined) return undefined;
    let realtime: RealtimeState = { state: 'off', why: 'not asked for' };
    let restore = () => {};
    const refusal = options.realtime ? realtimeRefusal() : 'not asked for';
    if (refusal) realtime = { state: 'off', why: refusal };
    else {
      const r = raise(pid);
      realtime = r.state;
      restore = r.restore;
    }
    return new Isolation(pid, realtime, await sampleLoad(pid), restore);
  }

  async end(): Promise<LoadReport> {
    const load = loadBetween(this.start, await sampleLoad(this.pid));
    this.restore();
    return load;
  }
}

function raise(pid: number): { state: RealtimeState; restore: () => void } {
  // Budgets first (parents before children: a child may not have more than its parent).
  const budgets: { file: string; before: number }[] = [];
  const undoBudgets = () => {
    for (const b of [...budgets].reverse()) {
      try { writeFileSync(b.file, String(b.before)); } catch { /* the group went away with the guest */ }
    }
  };
  try {
    // The process's group chain and those of its threads (libvirt's emulator/vcpuN groups), parents first.
    const dirs = [...new Set([pid, ...threadsOf(pid)].flatMap(cpuCgroupChain))].sort((x, y) => x.length - y.length);
    for (const dir of dirs) {
      const file = join(dir, 'cpu.rt_runtime_us');
      if (!existsSync(file)) continue;
      const before = Number(readFileSync(file, 'utf8').trim());
      if (before >= RT_BUDGET_US) continue;
      writeFileSync(file, String(RT_BUDGET_US));
      budgets.push({ file, before });
    }
    execaSync('chrt', ['-a', '-f', '-p', String(RT_PRIORITY), String(pid)]);
  } catch (e) {
    undoBudgets();
    const msg = String((e as { stderr?: string }).stderr || (e as Error).message).split('\n')[0];
    return { state: { state: 'off', why: `could not raise QEMU to real-time priority: ${msg}` }, restore: () => {} };
  }
  const restore = () => {
    raised.delete(pid);
    try { execaSync('chrt', ['-a', '-o', '-p', '0', String(pid)]); } catch { /* QEMU exited */ }
    undoBudgets();
  };
  raised.set(pid, restore);
  if (!exitHook) {
    exitHook = true;
    process.on('exit', () => { for (const r of [...raised.values()]) r(); });
  }
  return { state: { state: 'on', priority: RT_PRIORITY, ...(budgets.length ? { budgetUs: RT_BUDGET_US } : {}) }, restore };
}

function threadsOf(pid: number): number[] {
  try {
    return readdirSync(`/proc/${pid}/task`).map(Number);
  } catch {
    return [];
  }
}

/** Resolves when the guest's serial console log holds `line`; rejects after timeoutMs or when aborted. */
/** What a guest kernel prints as it dies: waiting for a line that will never come ends there. */
export const GUEST_DEATH = /Kernel panic - not syncing|end Kernel panic/;

/** The console said the guest died while the lab waited for a line. */
export class GuestDiedOnConsole extends Error {
  constructor(readonly line: string, readonly tail: string) {
    super(`the guest's kernel died: ${line}`);
    this.name = 'GuestDiedOnConsole';
  }
}

export async function waitForConsoleLine(
  consoleLog: string,
  line: string,
  options: { timeoutMs: number; signal?: AbortSignal; pollMs?: number; failOn?: RegExp; /** Asked every 2 s: false, or why it died, ends the wait (the guest is gone without a word). */ isAlive?: () => Promise<boolean | string> },
): Promise<string> {
  const until = Date.now() + options.timeoutMs;
  let nextAliveCheck = Date.now() + 2000;
  const poll = options.pollMs ?? 100;
  let offset = 0;
  let carry = '';
  for (;;) {
    if (options.signal?.aborted) throw new Error('interrupted');
    let text: string | undefined;
    try {
      text = await readFile(consoleLog, 'utf8');
    } catch {
      /* not there yet */
    }
    if (text !== undefined) {
      // The log is appended to; read on from where the last look stopped.
      const fresh = carry + text.slice(offset);
      offset = text.length;
      const lines = fresh.split('\n');
      const hit = lines.find((l) => l.includes(line));
      if (hit !== undefined) return hit.trim();
      const death = options.failOn ? lines.find((l) => options.failOn!.test(l)) : undefined;
      if (death !== undefined) throw new GuestDiedOnConsole(death.trim(), text.split('\n').slice(-40).join('\n'));
      carry = fresh.slice(fresh.lastIndexOf('\n') + 1);
    }
    if (options.isAlive && Date.now() >= nextAliveCheck) {
      nextAliveCheck = Date.now() + 2000;
      const alive = await options.isAlive();
      if (alive !== true) {
        const tail = await readFile(consoleLog, 'utf8').then((t) => t.split('\n').slice(-40).join('\n'), () => '');
        throw new GuestDiedOnConsole(`the guest stopped running (${alive === false ? 'its domain is no longer running' : alive})`, tail);
      }
    }
    if (Date.now() > until) throw new Error(`no "${line}" on the serial console within ${Math.round(options.timeoutMs / 1000)} s`);
    await new Promise((r) => setTimeout(r, poll));
  }
}
