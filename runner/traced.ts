/**
 * A traced repetition: bpftrace scripts start first, the workload waits until
 * the kernel lists every probe of every script as attached (bpftrace announces
 * its probes before it attaches them: 2–29 s under TCG, longer on the virtual
 * clock), fio runs, the scripts' missed events are read from the kernel, then
 * the scripts get SIGINT and print their maps. A script whose probes are not
 * all attached within the budget, or whose programs missed events, fails the
 * repetition (`trace-incomplete`): a partial count is never recorded.
 * Tracing slows I/O (fio IOPS fell to 0.43–0.85 of untraced under TCG), which
 * is why traced repetitions are apart from the timing ones.
 */
import { BpftraceError, InterruptedError, TraceIncompleteError } from '../core/errors.js';
import { sleep } from '../core/sleep.js';
import { attachedProbes, pidOf, recursionMisses } from './bpf-kernel.js';
import { shellQuote, type ExecResult, type SshSession } from './ssh.js';
import { parseBpftraceJson, type BpftraceOutput, type PreparedScript } from './tracing.js';

export interface TraceRun {
  readonly name: string;
  readonly stdout: string;
  readonly stderr: string;
  /** From the script's start until the kernel listed all its probes. */
  readonly attachSeconds: number;
  /** Probes bpftrace announced, and those the kernel listed as attached before the workload started. */
  readonly probesAnnounced: number;
  readonly probesInKernel: number;
  /** Events the script's BPF programs missed during the workload (0, or the repetition fails). */
  readonly recursionMisses: number;
  readonly output: BpftraceOutput;
}

interface Running {
  readonly name: string;
  readonly pidfile: string;
  readonly pid: number;
  readonly done: Promise<ExecResult>;
  readonly stdout: string;
  readonly t0: number;
  attachedAt: number;
  readonly announced: number;
  inKernel: number;
  readonly exited: boolean;
}

const ATTACH_TIMEOUT_MS = 180_000;
/** How often the kernel's list of attached probes is read while bpftrace attaches. */
const ATTACH_POLL_MS = 1_000;

/** A timer that can be cancelled: a forgotten 180 s timer kept the CLI alive for 3 minutes after a run. */
function timer<T>(ms: number, value: T): { promise: Promise<T>; cancel: () => void } {
  let t: NodeJS.Timeout | undefined;
  const promise = new Promise<T>((resolve) => { t = setTimeout(() => resolve(value), ms); });
  return { promise, cancel: () => clearTimeout(t) };
}

export async function runTraced(
  session: SshSession,
  remoteDir: string,
  scripts: readonly { name: string; prepared: PreparedScript }[],
  /** Runs the workload once every script is attached (detached from this session: runner/detached.ts). */
  workload: () => Promise<ExecResult>,
  fioTimeoutMs: number,
  signal?: AbortSignal,
): Promise<{ fio: ExecResult; traces: TraceRun[] }> {
  const running: Running[] = [];
  try {
    for (const s of scripts) {
      const path = `${remoteDir}/${s.name}.bt`;
      const pidfile = `${remoteDir}/${s.name}.pid`;
      await session.upload(path, s.prepared.text);
      let stdout = '';
      let announcedAt = 0;
      const t0 = Date.now();
      let onAnnounce: () => void = () => {};
      const announced = new Promise<void>((resolve) => (onAnnounce = resolve));
      const done = session.exec(`echo $$ > ${shellQuote(pidfile)}; exec bpftrace -f json ${shellQuote(path)}`, {
        allowFailure: true,
        timeoutMs: ATTACH_TIMEOUT_MS + fioTimeoutMs + 120_000,
        onStdout: (chunk) => {
          stdout += chunk;
          if (!announcedAt && stdout.includes('"attached_probes"')) {
            announcedAt = Date.now();
            onAnnounce();
          }
        },
      });
      let exited = false;
      void done.then(() => { exited = true; }, () => { exited = true; });
      const ended = done.then((r) => r);
      const limit = timer(ATTACH_TIMEOUT_MS, 'timeout' as const);
      const winner = await Promise.race([announced.then(() => 'announced' as const), ended.then(() => 'exited' as const), limit.promise]);
      limit.cancel();
      if (winner !== 'announced') {
        const res = winner === 'exited' ? await ended : undefined;
        throw new BpftraceError(
          winner === 'exited' ? `bpftrace ${s.name} exited before attaching (code ${res!.code})` : `bpftrace ${s.name} did not attach within ${ATTACH_TIMEOUT_MS / 1000} s`,
          { detail: res?.stderr ?? '' },
        );
      }
      const pid = await pidOf(session, pidfile);
      const want = parseBpftraceJson(stdout).attachedProbes ?? 0;
      const entry = { name: s.name, pidfile, pid: pid ?? 0, done, t0, announced: want, inKernel: 0, attachedAt: 0, get stdout() { return stdout; }, get exited() { return exited; } };
      running.push(entry);
      // Wait for this script's probes, as the kernel lists them, before the next script or the workload starts.
      const seen = await untilAttached(session, s.name, pid, want, t0 + ATTACH_TIMEOUT_MS, () => exited, signal);
      entry.inKernel = seen;
      entry.attachedAt = Date.now();
      if (signal?.aborted) throw new InterruptedError('interrupted');
    }
    const fio = await workload();
    const misses = await missedEvents(session, running);
    return { fio, traces: await stopAll(session, running, misses) };
  } catch (e) {
    await stopAll(session, running).catch(() => []);
    throw e;
  }
}

/**
 * Polls the kernel until it lists `want` probes of bpftrace `pid` as attached; the count it saw.
 * Throws trace-incomplete when the deadline passes first or the kernel cannot be asked.
 */
async function untilAttached(session: SshSession, name: string, pid: number | undefined, want: number, deadline: number, exited: () => boolean, signal?: AbortSignal): Promise<number> {
  if (pid === undefined) throw new BpftraceError(`bpftrace ${name}: its pid file could not be read`);
  let seen = 0;
  for (;;) {
    const view = await attachedProbes(session, pid);
    if (!view.ok) throw new TraceIncompleteError(`bpftrace ${name}: cannot tell whether its ${want} probes are attached: ${view.why}`);
    seen = view.value;
    if (seen >= want) return seen;
    if (exited()) throw new BpftraceError(`bpftrace ${name} exited while attaching (${seen} of ${want} probes attached)`);
    if (signal?.aborted) throw new InterruptedError('interrupted');
    if (Date.now() >= deadline) {
      throw new TraceIncompleteError(`bpftrace ${name}: only ${seen} of its ${want} probes were attached after ${ATTACH_TIMEOUT_MS / 1000} s, so its counts would miss part of the workload`);
    }
    await sleep(ATTACH_POLL_MS);
  }
}

/** The events each script's programs missed during the workload, read while they are still loaded. */
async function missedEvents(session: SshSession, running: readonly Running[]): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  for (const r of running) {
    const view = await recursionMisses(session, r.pid);
    if (!view.ok) throw new TraceIncompleteError(`bpftrace ${r.name}: cannot tell whether its programs missed events: ${view.why}`);
    if (view.value.misses > 0) {
      throw new TraceIncompleteError(`bpftrace ${r.name}: its programs missed ${view.value.misses} events during the workload (bpftool prog show: recursion_misses), so its counts are short`);
    }
    out.set(r.name, view.value.misses);
  }
  return out;
}

async function stopAll(session: SshSession, running: readonly Running[], misses = new Map<string, number>()): Promise<TraceRun[]> {
  const out: TraceRun[] = [];
  // A script that ended before it was told to (killed, crashed) counted only part of the workload:
  // its maps would read as too few events, so the repetition fails instead.
  const early = new Set(running.filter((r) => r.exited).map((r) => r.name));
  for (const r of running) {
    // SIGINT makes bpftrace run END and print its maps; the channel closes when it exits.
    await session.exec(`kill -INT $(cat ${shellQuote(r.pidfile)}) 2>/dev/null; true`, { timeoutMs: 30_000, allowFailure: true });
  }
  for (const r of running) {
    // Under TCG a SIGINT was once lost (bpftrace 0.17 with a tracepoint that never fired stayed
    // asleep for minutes): send it again every 5 s before giving up after 120 s.
    let res: ExecResult | undefined;
    for (let waited = 0; waited < 120_000 && !res; waited += 5_000) {
      const limit = timer(5_000, undefined);
      res = await Promise.race([r.done, limit.promise]);
      limit.cancel();
      if (!res) await session.exec(`kill -INT $(cat ${shellQuote(r.pidfile)}) 2>/dev/null; true`, { timeoutMs: 30_000, allowFailure: true });
    }
    if (!res) {
      await session.exec(`kill -KILL $(cat ${shellQuote(r.pidfile)}) 2>/dev/null; true`, { timeoutMs: 30_000, allowFailure: true });
      throw new BpftraceError(`bpftrace ${r.name} did not exit within 120 s of SIGINT`);
    }
    const how = `exit ${res.code}${res.code > 128 ? `, killed by signal ${res.code - 128}` : ''}`;
    if (early.has(r.name)) {
      throw new BpftraceError(`bpftrace ${r.name} ended during the workload (${how}), so its counts would cover only part of it`, { detail: res.stderr });
    }
    // SIGINT ends bpftrace with status 0 after END has printed the maps. Any other end (killed after the
    // workload, before our SIGINT) printed nothing: a missing map would read as zero events.
    if (res.code !== 0) {
      throw new BpftraceError(`bpftrace ${r.name} ended without printing its maps (${how})`, { detail: res.stderr });
    }
    out.push({
      name: r.name, stdout: res.stdout, stderr: res.stderr, attachSeconds: r.attachedAt ? (r.attachedAt - r.t0) / 1000 : NaN,
      probesAnnounced: r.announced, probesInKernel: r.inKernel, recursionMisses: misses.get(r.name) ?? 0, output: parseBpftraceJson(res.stdout),
    });
  }
  return out;
}
