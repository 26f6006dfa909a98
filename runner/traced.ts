/**
 * A traced repetition: bpftrace scripts start first, the workload waits until
 * their probes are attached (2–29 s under TCG), fio runs, then the scripts get
 * SIGINT and print their maps. Tracing slows I/O (fio IOPS fell to 0.43–0.85
 * of untraced under TCG), which is why traced repetitions are apart from the
 * timing ones.
 */
import { BpftraceError, InterruptedError } from '../core/errors.js';
import { shellQuote, type ExecResult, type SshSession } from './ssh.js';
import { parseBpftraceJson, type BpftraceOutput, type PreparedScript } from './tracing.js';

export interface TraceRun {
  readonly name: string;
  readonly stdout: string;
  readonly stderr: string;
  readonly attachSeconds: number;
  readonly output: BpftraceOutput;
}

const ATTACH_TIMEOUT_MS = 180_000;

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
  const running = [];
  try {
    for (const s of scripts) {
      const path = `${remoteDir}/${s.name}.bt`;
      const pidfile = `${remoteDir}/${s.name}.pid`;
      await session.upload(path, s.prepared.text);
      let stdout = '';
      let attachedAt = 0;
      const t0 = Date.now();
      let onAttach: () => void = () => {};
      const attached = new Promise<void>((resolve) => (onAttach = resolve));
      const done = session.exec(`echo $$ > ${shellQuote(pidfile)}; exec bpftrace -f json ${shellQuote(path)}`, {
        allowFailure: true,
        timeoutMs: ATTACH_TIMEOUT_MS + fioTimeoutMs + 120_000,
        onStdout: (chunk) => {
          stdout += chunk;
          if (!attachedAt && stdout.includes('"attached_probes"')) {
            attachedAt = Date.now();
            onAttach();
          }
        },
      });
      let exited = false;
      void done.then(() => { exited = true; }, () => { exited = true; });
      running.push({ name: s.name, pidfile, done, get stdout() { return stdout; }, t0, get attachedAt() { return attachedAt; }, get exited() { return exited; } });
      // Wait for this script's probes before the next script or the workload starts.
      const ended = done.then((r) => r);
      const limit = timer(ATTACH_TIMEOUT_MS, 'timeout' as const);
      const winner = await Promise.race([attached.then(() => 'attached' as const), ended.then(() => 'exited' as const), limit.promise]);
      limit.cancel();
      if (winner !== 'attached') {
        const res = winner === 'exited' ? await ended : undefined;
        throw new BpftraceError(
          winner === 'exited' ? `bpftrace ${s.name} exited before attaching (code ${res!.code})` : `bpftrace ${s.name} did not attach within ${ATTACH_TIMEOUT_MS / 1000} s`,
          { detail: res?.stderr ?? '' },
        );
      }
      if (signal?.aborted) throw new InterruptedError('interrupted');
    }
    const fio = await workload();
    return { fio, traces: await stopAll(session, running) };
  } catch (e) {
    await stopAll(session, running).catch(() => []);
    throw e;
  }
}

async function stopAll(
  session: SshSession,
  running: { name: string; pidfile: string; done: Promise<ExecResult>; readonly stdout: string; t0: number; readonly attachedAt: number; readonly exited: boolean }[],
): Promise<TraceRun[]> {
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
    out.push({ name: r.name, stdout: res.stdout, stderr: res.stderr, attachSeconds: r.attachedAt ? (r.attachedAt - r.t0) / 1000 : NaN, output: parseBpftraceJson(res.stdout) });
  }
  return out;
}
