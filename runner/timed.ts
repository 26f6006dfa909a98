/**
 * What every measured repetition shares, whatever its workload: the context it
 * runs in, the workload started detached on the target (runner/detached.ts)
 * with the guest's serial console and liveness watched, and a timing
 * repetition's isolation — QEMU at real-time priority under the virtual clock,
 * the host's other load measured, a contaminated repetition measured again.
 */
import { sleep } from '../core/sleep.js';
import { consoleLogOf, guestDeath } from '../infra/guest.js';
import { GUEST_DEATH, Isolation, waitForConsoleLine, type LoadReport, type RealtimeState } from '../infra/isolation.js';
import type { InventoryTarget } from '../inventory/types.js';
import { repId, type Check, type RepOutcome } from '../result/types.js';
import type { Scenario } from '../scenario/types.js';
import { runDetached, type DetachedResult } from './detached.js';
import type { Task } from './order.js';
import type { RepExtra } from './record.js';
import type { ExecResult } from '../transport/ssh.js';
import type { ReadyTarget } from './target.js';
import { runsHere } from '../infra/host.js';

/**
 * A virtual-time repetition beside more than this much other host work (CPUs,
 * averaged over the measurement) is contaminated: it is run again, and never
 * reported. A quiet host measured 0.0–0.1 here (the runner itself, sshd).
 */
export const HOST_LOAD_LIMIT_CPUS = 0.25;
/** Attempts at a contaminated repetition before it fails as host-contention. */
export const CONTAMINATED_ATTEMPTS = 3;
/** Guest time a virtual-time repetition may run past its runtime before it counts as disturbed. */
export const MAX_OVERRUN_PCT = 2;

/**
 * How far a time-based fio job overran its runtime, in guest time (%), or
 * undefined when the output does not say. Under the virtual clock an overrun
 * means the guest's clock jumped while it waited (an I/O whose completion
 * reached the guest late): the repetition is disturbed and run again.
 */
export function runtimeOverrunPct(fioStdout: string, runtimeS: number): number | undefined {
  try {
    const j = JSON.parse(fioStdout.slice(fioStdout.indexOf('{'))) as { jobs?: { job_runtime?: number }[] };
    const ms = Math.max(...(j.jobs ?? []).map((x) => x.job_runtime ?? 0));
    return ms > 0 ? (100 * (ms - runtimeS * 1000)) / (runtimeS * 1000) : undefined;
  } catch {
    return undefined;
  }
}

export function hostLoadCheck(load: LoadReport, realtime: RealtimeState, limit = HOST_LOAD_LIMIT_CPUS, discarded: readonly LoadReport[] = []): Check {
  const rt = realtime.state === 'on' ? `QEMU at SCHED_FIFO ${realtime.priority}${realtime.budgetUs ? ` (cgroup budget ${realtime.budgetUs / 1000} ms/s)` : ''}` : `QEMU at normal priority (${realtime.why})`;
  const earlier = discarded.length ? `; ${discarded.length} earlier attempt(s) discarded (other load ${discarded.map((d) => d.otherCpus.toFixed(2)).join(', ')} CPUs)` : '';
  return {
    name: 'host-load',
    ok: load.otherCpus <= Math.min(limit, HOST_LOAD_LIMIT_CPUS),
    detail: `other processes used ${load.otherCpus.toFixed(2)} CPUs during ${load.seconds.toFixed(1)} s (limit ${limit}); QEMU ${load.qemuCpus.toFixed(2)} CPUs; ${rt}${earlier}`,
  };
}

/** True while a lab guest lives (paused counts: parked guests are alive), else why it died (libvirt's state and reason). */
async function guestAlive(target: InventoryTarget): Promise<true | string> {
  const death = await guestDeath(target);
  return death ? death.why : true;
}

export interface RepetitionContext {
  readonly run: string;
  readonly scenario: Pick<Scenario, 'tracing' | 'timeouts'>;
  readonly target: InventoryTarget;
  readonly st: ReadyTarget;
  readonly task: Task;
  /** Other host load (CPUs) above which a virtual-time repetition is run again. */
  readonly loadLimit: number;
  readonly signal?: AbortSignal;
  readonly onState: (state: string) => void;
}

export interface Measured {
  readonly outcome: RepOutcome;
  readonly extra: RepExtra;
}

/** A workload command run detached on the target, watched on the serial console where the target has one. */
export function detachedWorkload(
  ctx: RepetitionContext, command: readonly string[],
  o: { timeoutMs: number; expectedMs: number; window?: boolean; devices?: readonly string[] },
): () => Promise<DetachedResult> {
  const { target, st, task, signal } = ctx;
  const consoleLog = consoleLogOf(target);
  // The plugin's window: the marker right around the workload, the test devices' statistics right outside it
  // (the test disks; a network cell names its NICs).
  // Without the plugin a network cell still reads its NICs' counters (its packets); the marker is then '-'.
  const marker = o.window && st.profiler.state === 'ready' ? st.profiler.guest.marker : undefined;
  const window = marker ? { marker, disks: o.devices ?? target.disks.map((d) => d.path) } : o.devices ? { marker: '-', disks: o.devices } : undefined;
  return () => runDetached({
    remoteDir: st.remoteDir, name: `${task.cell.id}.${repId(task.rep)}`, command,
    timeoutMs: o.timeoutMs, expectedMs: o.expectedMs, ...(window ? { window } : {}),
    ...(signal ? { signal } : {}),
    ...(consoleLog ? { waitForConsole: (line: string, ms: number, sig?: AbortSignal) => waitForConsoleLine(consoleLog, line, { timeoutMs: ms, failOn: GUEST_DEATH, isAlive: () => guestAlive(target), ...(sig ? { signal: sig } : {}) }) } : {}),
    link: st.link,
  });
}

/**
 * A timing repetition's outcome; `disturbed` keeps the raw output of every
 * attempt that was measured again (kept beside the result: a guest-clock jump
 * is diagnosed from the workload's own output).
 */
export type Timed =
  | { readonly kind: 'measured'; readonly res: DetachedResult; readonly checks: readonly Check[]; readonly disturbed: readonly string[] }
  | { readonly kind: 'contended'; readonly message: string; readonly disturbed: readonly string[]; readonly last: DetachedResult };

/**
 * A timing repetition: on a guest of this machine, QEMU at real-time priority
 * under the virtual clock and the host's other load measured; a contaminated
 * virtual-time repetition is run again.
 */
export async function timedWorkload(
  ctx: RepetitionContext, workload: () => Promise<DetachedResult>, virtualTime: boolean, runtimeS: number,
  overrunOf: (res: ExecResult, runtimeS: number) => number | undefined = (res, s) => runtimeOverrunPct(res.stdout, s),
): Promise<Timed> {
  const { target, task, signal } = ctx;
  const discarded: LoadReport[] = [];
  const disturbed: string[] = [];
  for (;;) {
    const checks: Check[] = [];
    // Isolation works on this machine's QEMU process and /proc; a guest on another host is measured without it (docs/infra.md).
    const iso = target.vm && runsHere(target.vm) ? await Isolation.begin(target.vm.domain, { realtime: virtualTime }) : undefined;
    let load: LoadReport | undefined;
    let res: DetachedResult;
    try {
      res = await workload();
    } finally {
      load = await iso?.end();
    }
    const overrun = virtualTime && res.code === 0 ? overrunOf(res, runtimeS) : undefined;
    const jumped = overrun !== undefined && overrun > MAX_OVERRUN_PCT;
    if (jumped) checks.push({ name: 'virtual-clock', ok: false, detail: `the job ran ${overrun.toFixed(1)} % past its ${runtimeS} s of guest time: the guest's clock jumped during the measurement` });
    if (!iso || !load) {
      if (!jumped || !virtualTime) return { kind: 'measured', res, checks, disturbed };
    } else {
      const check = hostLoadCheck(load, iso.realtime, ctx.loadLimit, discarded);
      if ((load.otherCpus <= ctx.loadLimit && !jumped) || !virtualTime || signal?.aborted) return { kind: 'measured', res, checks: [...checks, check], disturbed };
    }
    const why = jumped ? `the guest clock jumped (${overrun!.toFixed(1)} % overrun)` : `host busy (other load ${load!.otherCpus.toFixed(2)} CPUs)`;
    discarded.push(load ?? { seconds: 0, otherCpus: 0, qemuCpus: 0 });
    disturbed.push(res.stdout);
    if (discarded.length >= CONTAMINATED_ATTEMPTS) {
      return { kind: 'contended', disturbed, last: res, message: `${CONTAMINATED_ATTEMPTS} attempts were disturbed (last: ${why}; other host load ${discarded.map((d) => d.otherCpus.toFixed(2)).join(', ')} CPUs, limit ${ctx.loadLimit}): a virtual-time result would not be trustworthy` };
    }
    ctx.onState(`${task.cell.id} ${repId(task.rep)}: ${why}, measuring again`);
    await sleep(jumped ? 0 : 5000, signal);
  }
}
