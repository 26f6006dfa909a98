/**
 * A traced repetition: bpftrace scripts start first, and the workload waits
 * until every probe of every script is attached. bpftrace's "attached_probes"
 * line comes before it attaches them (one by one: 7–52 s on the virtual
 * clock), so the runner waits for the line bpftrace prints once its attach
 * loop is done (__BPFTRACE_NOTIFY_PROBES_ATTACHED, as bpftrace's own runtime
 * tests do), refuses a script that skipped a probe, and checks that the kernel
 * holds at least one attachment per probe. fio runs; the programs' missed
 * events are read from the kernel while they are loaded; then the scripts get
 * SIGINT and print their maps. A script whose probes are not all attached
 * within the budget, or whose programs missed events, fails the repetition
 * (`trace-incomplete`): a partial count is never recorded.
 * Tracing slows I/O (fio IOPS fell to 0.43–0.85 of untraced under TCG), which
 * is why traced repetitions are apart from the timing ones.
 */
import { BpftraceError, InterruptedError, TraceIncompleteError, TraceMissedError } from '../core/errors.js';
import { bpfProcessView, pidOf, type BpfProcessView } from './bpf-kernel.js';
import { shellQuote, type ExecResult, type SshSession } from '../transport/ssh.js';
import { parseBpftraceJson, pureCounters, sampledProbes, scalar, type BpftraceOutput, type PreparedScript } from './tracing.js';

export interface TraceRun {
  readonly name: string;
  readonly stdout: string;
  readonly stderr: string;
  /** From the script's start until bpftrace said every probe was attached. */
  readonly attachSeconds: number;
  /** Probes bpftrace announced (BEGIN/END included), and attachments the kernel held for it before the workload. */
  readonly probesAnnounced: number;
  readonly probesInKernel: number;
  /** Runs the script's BPF programs missed during the workload: all of pure counters, added back to their maps (`missesAdded`). */
  readonly recursionMisses: number;
  readonly missesAdded: Readonly<Record<string, number>>;
  /** Runs skipped by programs that feed only samples (a latency histogram): recorded, not a failure. */
  readonly sampledMisses: number;
  /** Why the counts cannot be proven complete although nothing was seen missing (kprobe programs); absent when they are. */
  readonly unproven?: string;
  readonly output: BpftraceOutput;
}

interface Running {
  readonly name: string;
  /** The prepared script's pure counters, function → map, and the probes that feed only samples (runner/tracing.ts). */
  readonly counters: ReadonlyMap<string, string>;
  readonly sampled: ReadonlySet<string>;
  /** Probes of the prepared script, BEGIN/END aside: each needs an attachment in the kernel. */
  readonly probes: number;
  readonly pidfile: string;
  readonly pid: number;
  readonly done: Promise<ExecResult>;
  readonly t0: number;
  attachedAt: number;
  readonly announced: number;
  inKernel: number;
  readonly exited: boolean;
}

const ATTACH_TIMEOUT_MS = 180_000;
/** What bpftrace prints, with this variable set, once its attach loop is done (bpftrace 0.17: on stderr). */
const ATTACHED_ENV = '__BPFTRACE_NOTIFY_PROBES_ATTACHED';
/** bpftrace 0.17 on a probe it could not attach: it goes on without it, and its count would read 0. */
const SKIPPED_PROBE = /WARNING: could not attach probe (\S+), skipping/g;

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
      await startScript(session, remoteDir, s, fioTimeoutMs, running);
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
 * Starts one script and returns once every probe is attached: bpftrace said so, skipped none, and the kernel
 * holds an attachment for each. The script joins `running` first, so that a failure here still stops it.
 */
async function startScript(session: SshSession, remoteDir: string, s: { name: string; prepared: PreparedScript }, fioTimeoutMs: number, running: Running[]): Promise<void> {
  const path = `${remoteDir}/${s.name}.bt`;
  const pidfile = `${remoteDir}/${s.name}.pid`;
  await session.upload(path, s.prepared.text);
  let stdout = '';
  let stderr = '';
  let attachedAt = 0;
  const t0 = Date.now();
  let onAttached: () => void = () => {};
  const attached = new Promise<void>((resolve) => (onAttached = resolve));
  const notice = () => {
    if (!attachedAt && (stdout.includes(ATTACHED_ENV) || stderr.includes(ATTACHED_ENV))) {
      attachedAt = Date.now();
      onAttached();
    }
  };
  const done = session.exec(`echo $$ > ${shellQuote(pidfile)}; ${ATTACHED_ENV}=1 exec bpftrace -f json ${shellQuote(path)}`, {
    allowFailure: true,
    timeoutMs: ATTACH_TIMEOUT_MS + fioTimeoutMs + 120_000,
    onStdout: (chunk) => { stdout += chunk; notice(); },
    onStderr: (chunk) => { stderr += chunk; notice(); },
  });
  let exited = false;
  void done.then(() => { exited = true; }, () => { exited = true; });
  const limit = timer(ATTACH_TIMEOUT_MS, 'timeout' as const);
  const winner = await Promise.race([attached.then(() => 'attached' as const), done.then(() => 'exited' as const), limit.promise]);
  limit.cancel();
  const entry: Running = {
    name: s.name, counters: pureCounters(s.prepared.text), sampled: sampledProbes(s.prepared.text), probes: s.prepared.probes.length, pidfile, pid: (await pidOf(session, pidfile)) ?? 0, done, t0,
    announced: parseBpftraceJson(stdout).attachedProbes ?? 0, inKernel: 0, attachedAt,
    get exited() { return exited; },
  };
  running.push(entry);
  if (winner === 'exited') {
    const res = await done;
    throw new BpftraceError(`bpftrace ${s.name} exited before attaching (code ${res.code})`, { detail: res.stderr });
  }
  if (winner === 'timeout') {
    throw new TraceIncompleteError(`bpftrace ${s.name} had not attached all its probes after ${ATTACH_TIMEOUT_MS / 1000} s, so its counts would miss part of the workload`, {
      detail: stderr, fix: 'bpftrace attaches probes one at a time (seconds each under emulation): trace fewer probes per script, or see its stderr below for one that hangs',
    });
  }
  const skipped = [...stderr.matchAll(SKIPPED_PROBE)].map((m) => m[1]);
  if (skipped.length) {
    throw new TraceIncompleteError(`bpftrace ${s.name} could not attach ${skipped.join(', ')} and went on without, so those counts would read 0`, {
      detail: stderr, fix: 'the kernel refused these probes although it lists the functions: iommu-lab trace-check shows what attaches on this kernel',
    });
  }
  entry.inKernel = await attachmentsInKernel(session, entry);
}

/** The kernel's attachments for the script's bpftrace (links and perf events): at least one per probe, or its counts are partial. */
async function attachmentsInKernel(session: SshSession, r: Running): Promise<number> {
  const k = await kernelView(session, r);
  const held = k.links + k.perfEvents;
  if (held < r.probes) {
    throw new TraceIncompleteError(`bpftrace ${r.name} said its probes were attached, but the kernel holds ${held} attachments for its ${r.probes} probes`, {
      fix: 'bpftrace and the kernel disagree on what is attached: run the script by hand on the target and compare bpftool perf show and bpftool link show',
    });
  }
  return held;
}

async function kernelView(session: SshSession, r: Running): Promise<BpfProcessView> {
  if (!r.pid) throw new BpftraceError(`bpftrace ${r.name}: its pid file could not be read`);
  const k = await bpfProcessView(session, r.pid);
  if (!k.ok) throw new TraceIncompleteError(`bpftrace ${r.name}: cannot tell from the kernel whether its counts are complete: ${k.why}`);
  return k.view;
}

/** What the kernel said a script's programs missed, and what of it is added back to its counts. */
interface Misses {
  readonly total: number;
  /** Runs skipped by programs that feed only samples (not counted in `total`). */
  readonly sampledMisses: number;
  /** Per map of a pure counter: the runs its program skipped, each one call not counted. */
  readonly addedTo: Readonly<Record<string, number>>;
  readonly unproven?: string;
}

/**
 * The events each script's programs missed during the workload, read while they are still loaded. A miss of
 * a pure counter (`@map = count();` on a kfunc) is one uncounted call, added back; a miss of any other program
 * (a latency histogram, a keyed map) cannot be, and the attempt is set aside (TraceMissedError). kprobe
 * programs report no misses even when they skip runs, so their counts stay unproven.
 */
async function missedEvents(session: SshSession, running: readonly Running[]): Promise<Map<string, Misses>> {
  const out = new Map<string, Misses>();
  for (const r of running) {
    const m = accountMisses(await kernelView(session, r), r.counters, r.sampled);
    if (m.unresolved.length) {
      throw new TraceMissedError(`bpftrace ${r.name}: its programs missed events during the workload that no count can take back (${m.unresolved.join(', ')}; bpftool prog show: recursion_misses), so its figures are short`);
    }
    out.set(r.name, m);
  }
  return out;
}

/**
 * Pure: the misses of a script's programs, as added back to its pure counters' maps; what cannot be added
 * back (`unresolved`); and whether kprobe programs leave the counts unproven.
 */
export function accountMisses(k: BpfProcessView, counters: ReadonlyMap<string, string>, sampled: ReadonlySet<string> = new Set()): Misses & { readonly unresolved: readonly string[] } {
  // Programs that feed only a sample (the script's SAMPLED: line) may skip runs: the sample is thinner, no count is short.
  const missed = k.programs.filter((p) => p.recursionMisses > 0 && ![...sampled].some((s) => s.slice(0, 15) === p.name));
  const sampledMisses = k.programs.filter((p) => p.recursionMisses > 0 && !missed.includes(p)).reduce((n, p) => n + p.recursionMisses, 0);
  const addedTo: Record<string, number> = {};
  const unresolved: string[] = [];
  for (const p of missed) {
    // Two functions may share a 15-character prefix (cache_tag_flush_range, _all): fine when they count into one map.
    const maps = [...new Set([...counters].filter(([fn]) => fn.slice(0, 15) === p.name).map(([, map]) => map))];
    if (maps.length === 1) addedTo[maps[0]!] = (addedTo[maps[0]!] ?? 0) + p.recursionMisses;
    else unresolved.push(`${p.name}: ${p.recursionMisses}`);
  }
  const kprobes = k.programs.filter((p) => p.type === 'kprobe').map((p) => p.name);
  return {
    total: missed.reduce((n, p) => n + p.recursionMisses, 0), addedTo, unresolved, sampledMisses,
    ...(kprobes.length ? { unproven: `kprobe programs (${kprobes.join(', ')}) do not report the runs they miss; count with kfuncs` } : {}),
  };
}

/** A pure counter's map with the calls its program missed added back. */
function withMissesAdded(output: BpftraceOutput, addedTo: Readonly<Record<string, number>>): BpftraceOutput {
  if (!Object.keys(addedTo).length) return output;
  const maps = { ...output.maps };
  for (const [map, n] of Object.entries(addedTo)) maps[map] = scalar(maps[map]) + n;
  return { ...output, maps };
}

async function stopAll(session: SshSession, running: readonly Running[], misses = new Map<string, Misses>()): Promise<TraceRun[]> {
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
    const m = misses.get(r.name);
    out.push({
      name: r.name, stdout: res.stdout, stderr: res.stderr, attachSeconds: r.attachedAt ? (r.attachedAt - r.t0) / 1000 : NaN,
      probesAnnounced: r.announced, probesInKernel: r.inKernel, recursionMisses: m?.total ?? 0, missesAdded: m?.addedTo ?? {}, sampledMisses: m?.sampledMisses ?? 0,
      ...(m?.unproven ? { unproven: m.unproven } : {}), output: withMissesAdded(parseBpftraceJson(res.stdout), m?.addedTo ?? {}),
    });
  }
  return out;
}
