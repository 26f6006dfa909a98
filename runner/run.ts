/**
 * Runs a plan against an inventory and fills a results store.
 *
 * Targets run in parallel; the cells of one target run one at a time, in the
 * interleaved order of runner/order.ts. Every repetition ends as one atomic
 * write of a passed or failed result; an interrupted repetition leaves nothing,
 * and `resume` runs exactly the repetitions that have no passed result.
 */
import { sleep } from '../core/sleep.js';
import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { forEachLimit } from '../core/pool.js';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { bootsOfCell, tracedScripts } from '../cell/expand.js';
import type { Cell, Plan } from '../cell/types.js';
import { LabError, UsageError } from '../core/errors.js';
import { BPF_DIR, labPath } from '../core/paths.js';
import type { Inventory, InventoryDisk, InventoryTarget } from '../inventory/types.js';
import { newRunId, RunStore, thisHost } from '../result/store.js';
import { repId, type Check, type Failure, type FailureKind, type RepOutcome, type RepResult, type RunManifest, type TraceRecord } from '../result/types.js';
import type { LoadedScenario } from '../scenario/load.js';
import { buildJobFile, writesData } from './fio-job.js';
import { FioParseError, parseFio } from './fio-parse.js';
import { EXPOSURE_METRIC } from '../core/metrics.js';
import { checkIoPattern } from './io-pattern.js';
import { BpftraceError, runTraced, type TraceRun } from './traced.js';
import { prepareScript, probeAvailability, scriptProbes, traceMetrics, type PreparedScript } from './tracing.js';
import { interleave, type Task } from './order.js';
import { judgeIommu, runPreflight, type IommuVerdict, type PreflightFacts } from './preflight.js';
import { shellQuote, SshError, SshSession, type ExecResult } from './ssh.js';
import { installDetached, runDetached } from './detached.js';
import { consoleLogOf, GuestError, parkGuest, parksWhenIdle, rebootGuest, unparkGuest } from '../infra/guest.js';
import { Virsh } from '../infra/virsh.js';
import { GUEST_DEATH, Isolation, waitForConsoleLine, type LoadReport, type RealtimeState } from '../infra/isolation.js';
import { CLOCKS, PACER_ARG, timebaseOf } from '../core/clock.js';

/**
 * A virtual-time repetition beside more than this much other host work (CPUs,
 * averaged over the measurement) is contaminated: it is run again, and never
 * reported. A quiet host measured 0.0–0.1 here (the runner itself, sshd).
 */
export const HOST_LOAD_LIMIT_CPUS = 0.25;
/** Attempts at a contaminated repetition before it fails as host-contention. */
export const CONTAMINATED_ATTEMPTS = 3;

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

/** Guest time a virtual-time repetition may run past its runtime before it counts as disturbed. */
export const MAX_OVERRUN_PCT = 2;

export function hostLoadCheck(load: LoadReport, realtime: RealtimeState, limit = HOST_LOAD_LIMIT_CPUS, discarded: readonly LoadReport[] = []): Check {
  const rt = realtime.state === 'on' ? `QEMU at SCHED_FIFO ${realtime.priority}${realtime.budgetUs ? ` (cgroup budget ${realtime.budgetUs / 1000} ms/s)` : ''}` : `QEMU at normal priority (${realtime.why})`;
  const earlier = discarded.length ? `; ${discarded.length} earlier attempt(s) discarded (other load ${discarded.map((d) => d.otherCpus.toFixed(2)).join(', ')} CPUs)` : '';
  return {
    name: 'host-load',
    ok: load.otherCpus <= Math.min(limit, HOST_LOAD_LIMIT_CPUS),
    detail: `other processes used ${load.otherCpus.toFixed(2)} CPUs during ${load.seconds.toFixed(1)} s (limit ${limit}); QEMU ${load.qemuCpus.toFixed(2)} CPUs; ${rt}${earlier}`,
  };
}

/** Times a guest that died during a repetition is booted again in one run (then its repetitions fail as guest-died). */
export const MAX_HEALS_PER_GUEST = 2;

/** A repetition ended because its guest died: runGroup boots the guest again and retries it. */
class HealNeeded extends Error {
  constructor(override readonly cause: GuestError) {
    super(cause.message);
  }
}

/** Whether a lab guest's domain still runs (paused counts: parked guests are alive). */
async function guestAlive(target: InventoryTarget): Promise<boolean> {
  if (!target.vm) return true;
  const state = await new Virsh(target.vm.hypervisor_uri).state(target.vm.domain).catch(() => 'unknown');
  return state === 'running' || state === 'paused' || state === 'unknown';
}

export const LAB_VERSION = (JSON.parse(readFileSync(labPath('package.json'), 'utf8')) as { version: string }).version;

export type RunEvent =
  | { readonly type: 'run-start'; readonly run: string; readonly dir: string; readonly todo: number; readonly done: number; /** Repetitions to do per target. */ readonly perTarget: Readonly<Record<string, number>> }
  | { readonly type: 'target-state'; readonly target: string; readonly state: string }
  | { readonly type: 'rep-done'; readonly target: string; readonly cell: string; readonly rep: string; readonly outcome: RepOutcome; readonly left: number };

export interface RunOptions {
  readonly loaded: LoadedScenario;
  readonly plan: Plan;
  readonly inventory: Inventory;
  readonly resultsRoot: string;
  /** A run directory to complete instead of starting a new run. */
  readonly resume?: string;
  readonly signal?: AbortSignal;
  readonly onEvent?: (e: RunEvent) => void;
  /** Where preflight reads sysfs on the target; tests point it at a fake tree. */
  readonly sysfsRoot?: string;
  readonly connectTimeoutMs?: number;
  readonly retries?: number;
  readonly retryBaseMs?: number;
  /** Other host load (CPUs) above which a virtual-time repetition is contaminated and run again; Infinity records it without re-running (benchmarks). */
  readonly hostLoadLimitCpus?: number;
}

export interface RunSummary {
  readonly run: string;
  readonly dir: string;
  readonly total: number;
  readonly passed: number;
  readonly failed: number;
  readonly skipped: number;
  readonly interrupted: boolean;
  readonly failures: readonly { readonly cell: string; readonly rep: string; readonly kind: FailureKind; readonly message: string }[];
}

type TargetState =
  | {
      readonly kind: 'ready';
      session: SshSession;
      readonly remoteDir: string;
      readonly extra: { facts: PreflightFacts; verdict: IommuVerdict };
      /** The scenario's bpftrace scripts, cut to the probes this target's kernel has (made at the first traced repetition). */
      scripts?: readonly { name: string; prepared: PreparedScript }[];
    }
  | { readonly kind: 'failed'; readonly failure: Failure; readonly extra?: { facts?: PreflightFacts; verdict?: IommuVerdict } };

/**
 * Targets that must not measure at the same time. Guests on one hypervisor host
 * compete for its CPUs (under TCG, two cores), so their repetitions run one at a
 * time, interleaved across the guests; static hosts and separate hypervisors run
 * in parallel.
 */
export function concurrencyGroup(target: InventoryTarget): string {
  return target.kind === 'vm' && target.vm ? `hypervisor:${target.vm.hypervisor_uri}` : `target:${target.name}`;
}


function failureOf(e: unknown): Failure {
  if (e instanceof GuestError) return { kind: e.code === 'E_BOOT_TIMEOUT' ? 'timeout' : 'guest-died', message: `${e.message.split('\n')[0]}${e.fix ? ` (${e.fix})` : ''}`, ...(e.consoleTail ? { stderr_tail: e.consoleTail } : {}) };
  if (e instanceof BpftraceError) return { kind: 'bpftrace', message: e.message, ...(e.stderr ? { stderr_tail: e.stderr.split('\n').slice(-20).join('\n') } : {}) };
  if (e instanceof SshError) return { kind: e.kind, message: e.message, ...(e.stderr ? { stderr_tail: e.stderr } : {}) };
  if (e instanceof FioParseError) return { kind: 'parse', message: e.message };
  return { kind: 'internal', message: (e as Error)?.stack ?? String(e) };
}

/** Checks that every cell has its target and disk in the inventory, before anything connects. */
export function bindTargets(plan: Plan, inventory: Inventory): Map<string, InventoryTarget> {
  const byName = new Map(inventory.targets.map((t) => [t.name, t]));
  const missing = new Set<string>();
  for (const c of plan.cells) {
    const t = byName.get(c.target.name);
    if (!t) missing.add(`target ${c.target.name}`);
    else if (!t.disks.some((d) => d.name === c.disk)) missing.add(`disk ${c.disk} of target ${c.target.name}`);
  }
  if (missing.size > 0) {
    throw new UsageError(
      `the inventory lacks ${[...missing].join(', ')}`,
      'bring the guests up first (`iommu-lab up SCENARIO`), or pass the inventory they wrote (--inventory), or the hosts file (--hosts)',
    );
  }
  return byName;
}

export function diskOf(target: InventoryTarget, cell: Cell): InventoryDisk {
  return target.disks.find((d) => d.name === cell.disk)!;
}

/** Writing to a raw device destroys its data; only an explicit opt-in allows it. */
export function destructiveWriteRefusal(target: InventoryTarget, cell: Cell): Failure | undefined {
  const disk = diskOf(target, cell);
  if (!writesData(cell.job.rw) || !disk.path.startsWith('/dev/') || disk.allow_destructive_writes) return undefined;
  return {
    kind: 'destructive-write-refused',
    message: `${cell.job.rw} would write to the raw device ${disk.path} on ${target.name} and destroy its data; refused before connecting`,
  };
}

export async function runPlan(options: RunOptions): Promise<RunSummary> {
  const { loaded, plan, inventory, signal } = options;
  const emit = options.onEvent ?? (() => {});
  const targets = bindTargets(plan, inventory);
  const s = loaded.scenario;

  let store: RunStore;
  if (options.resume) {
    store = await RunStore.open(options.resume);
    const m = await store.manifest();
    if (m.scenario.sha256 !== loaded.sha256) {
      throw new LabError('E_RESUME_SCENARIO_CHANGED', `run ${m.id} was made from a different version of ${loaded.file} (sha256 ${m.scenario.sha256.slice(0, 12)}…, now ${loaded.sha256.slice(0, 12)}…)`, {
        fix: `resume with the scenario the run used (${store.dir}/scenario.yaml), or start a new run`,
        exitCode: 2,
      });
    }
    await store.sweepTemporaries();
  } else {
    const id = newRunId(s.name);
    const manifest: RunManifest = {
      version: 1, id, created: new Date().toISOString(), lab_version: LAB_VERSION,
      scenario: { name: s.name, file: loaded.file, sha256: loaded.sha256 },
      seed: s.seed, repetitions: plan.repetitions, cells: plan.cells, inventory_source: inventory.source, host: thisHost(),
    };
    store = await RunStore.create(options.resultsRoot, manifest, loaded.text, inventory);
  }
  const run = store.id;

  // What is already done (on resume): passed repetitions are never run again.
  const order = interleave(plan.cells, plan.repetitions, s.seed, (c) => concurrencyGroup(targets.get(c.target.name)!), (c) => bootsOfCell(s, c));
  const todo = new Map<string, Task[]>();
  let doneCount = 0;
  for (const [target, tasks] of order) {
    const left: Task[] = [];
    for (const t of tasks) {
      const prior = await store.readRep(t.cell.id, t.rep);
      if (prior?.outcome.state === 'passed') doneCount++;
      else left.push(t);
    }
    if (left.length) todo.set(target, left);
  }
  let remaining = [...todo.values()].reduce((n, l) => n + l.length, 0);
  const perTarget: Record<string, number> = {};
  for (const tasks of todo.values()) for (const t of tasks) perTarget[t.cell.target.name] = (perTarget[t.cell.target.name] ?? 0) + 1;
  emit({ type: 'run-start', run, dir: store.dir, todo: remaining, done: doneCount, perTarget });

  const summary = { passed: 0, failed: 0, skipped: 0 };
  const failures: { cell: string; rep: string; kind: FailureKind; message: string }[] = [];
  const recorded = new Set<string>();
  const key = (t: Task) => `${t.cell.id}/${repId(t.rep)}`;

  const record = async (
    target: InventoryTarget,
    task: Task,
    outcome: RepOutcome,
    started: Date,
    extra: { facts?: PreflightFacts; verdict?: IommuVerdict; job?: string; files?: Record<string, string>; tracing?: Record<string, TraceRecord>; checks?: Check[] } = {},
  ) => {
    const files = extra.files ?? {};
    const result: RepResult = {
      version: 1, run, cell: task.cell.id, rep: task.rep,
      started: started.toISOString(), finished: new Date().toISOString(), outcome,
      provenance: {
        target: target.name, target_kind: target.kind,
        ...(extra.facts ? { kernel: extra.facts.kernel, cmdline: extra.facts.cmdline, ...(extra.facts.bootId ? { boot_id: extra.facts.bootId } : {}), tools: { fio: extra.facts.tools.fio, bpftrace: extra.facts.tools.bpftrace } } : {}),
        ...(extra.verdict ? { iommu_groups: extra.verdict.observed } : {}),
        ...(target.vm ? { image_digest: target.vm.image_digest } : {}),
        scenario_sha256: loaded.sha256,
        ...(extra.job ? { fio_job: extra.job } : {}),
        seed: s.seed, order: task.order, lab_version: LAB_VERSION, host: thisHost(),
      },
      files: Object.fromEntries(Object.keys(files).map((f) => [f.replace(/\.[a-z]+$/, ''), f])),
      ...(extra.tracing ? { tracing: extra.tracing } : {}),
      ...(extra.checks ? { checks: extra.checks } : {}),
    };
    await store.writeRep(result, files);
    recorded.add(key(task));
    remaining--;
    if (outcome.state === 'passed') summary.passed++;
    else if (outcome.state === 'failed') {
      summary.failed++;
      failures.push({ cell: task.cell.id, rep: repId(task.rep), kind: outcome.failure.kind, message: outcome.failure.message });
    } else summary.skipped++;
    emit({ type: 'rep-done', target: target.name, cell: task.cell.id, rep: repId(task.rep), outcome, left: remaining });
  };

  const retries = options.retries ?? 3;
  const loadLimit = options.hostLoadLimitCpus ?? HOST_LOAD_LIMIT_CPUS;
  const baseMs = options.retryBaseMs ?? 1000;
  const connect = async (target: InventoryTarget): Promise<SshSession> => {
    for (let attempt = 0; ; attempt++) {
      try {
        // A parked guest does not answer keepalives; its session must survive the pause.
        return await SshSession.connect(target.name, target.ssh, { connectTimeoutMs: options.connectTimeoutMs ?? 20_000, ...(parksWhenIdle(target) ? { keepaliveIntervalMs: 0 } : {}) });
      } catch (e) {
        if (!(e instanceof SshError) || !e.transient || attempt >= retries || signal?.aborted) throw e;
        emit({ type: 'target-state', target: target.name, state: `connect failed, retry ${attempt + 1}/${retries}` });
        await sleep(baseMs * 2 ** attempt, signal);
      }
    }
  };

  /** Connect and preflight once per target; a target that fails either fails all its cells with the reason. */
  const prepare = async (target: InventoryTarget): Promise<TargetState> => {
    emit({ type: 'target-state', target: target.name, state: 'connecting' });
    let session: SshSession;
    try {
      session = await connect(target);
    } catch (e) {
      return { kind: 'failed', failure: failureOf(e) };
    }
    try {
      emit({ type: 'target-state', target: target.name, state: 'preflight' });
      const pre = await runPreflight(session, target, options.sysfsRoot);
      const verdict = judgeIommu(target, pre.facts);
      await store.writePreflight(target.name, { target: target.name, expected: target.iommu, verdict, facts: pre.facts, raw: pre.raw, at: new Date().toISOString() });
      const extra = { facts: pre.facts, verdict };
      if (!verdict.ok) {
        emit({ type: 'target-state', target: target.name, state: 'IOMMU mode mismatch' });
        session.close();
        return { kind: 'failed', failure: { kind: 'iommu-mode-mismatch', message: `${target.name}: ${verdict.reasons.join('; ')}` }, extra };
      }
      if (pre.facts.tools.fio === 'missing') {
        session.close();
        return { kind: 'failed', failure: { kind: 'preflight', message: `${target.name}: fio is not installed on the target (apt-get install fio)` }, extra };
      }
      // Under the virtual clock the guest's pacer must run, or SSH to the idle guest fails at random (docs/runner.md).
      if (target.vm && CLOCKS[target.vm.clock].kernelArgs.includes(PACER_ARG)) {
        const pacer = await session.exec('kill -0 "$(cat /run/iommu-lab-pacer.pid 2>/dev/null)" 2>/dev/null', { timeoutMs: 30_000, allowFailure: true });
        if (pacer.code !== 0) {
          session.close();
          return { kind: 'failed', failure: { kind: 'preflight', message: `${target.name}: the guest's pacer is not running (no live /run/iommu-lab-pacer.pid): its virtual clock would race whenever it idles, and SSH to it fails at random; rebuild the image (iommu-lab image build --force)` }, extra };
        }
      }
      const remoteDir = `/tmp/iommu-lab-${run}`;
      await session.exec(`mkdir -p ${shellQuote(remoteDir)}`, { timeoutMs: 30_000 });
      await installDetached(session, remoteDir);
      return { kind: 'ready', session, remoteDir, extra };
    } catch (e) {
      session.close();
      const f = failureOf(e);
      return { kind: 'failed', failure: e instanceof SshError && e.kind === 'command' ? { ...f, kind: 'preflight' } : f };
    }
  };

  const scriptsFor = async (st: Extract<TargetState, { kind: 'ready' }>) => {
    if (st.scripts) return st.scripts;
    const texts = await Promise.all(s.tracing.scripts.map(async (name) => ({ name, text: await readFile(join(BPF_DIR, `${name}.bt`), 'utf8') })));
    const available = await probeAvailability(st.session, texts.flatMap((t) => scriptProbes(t.text)));
    st.scripts = texts.map((t) => ({ name: t.name, prepared: prepareScript(t.text, available, st.extra.facts.kernel) }));
    return st.scripts;
  };

  const runRep = async (target: InventoryTarget, st: Extract<TargetState, { kind: 'ready' }>, task: Task, notes: readonly Check[] = []) => {
    const started = new Date();
    const disk = diskOf(target, task.cell);
    const repScripts = tracedScripts(s.tracing, task.rep);
    const traced = repScripts.length > 0;
    // Traced repetitions count events from attach to detach: without a ramp, fio's I/O count covers the same window.
    const cell = traced ? { ...task.cell, job: { ...task.cell.job, ramp_time: 0 } } : task.cell;
    const job = buildJobFile(cell, { run, rep: repId(task.rep), path: disk.path });
    const jobPath = `${st.remoteDir}/${task.cell.id}-${repId(task.rep)}.fio`;
    // Budget: the job's own length plus the scenario's per-cell allowance.
    const timeoutMs = (task.cell.job.runtime + task.cell.job.ramp_time + s.timeouts.cell_s) * 1000;
    const extra = { ...st.extra, job };
    const consoleLog = consoleLogOf(target);
    const virtualTime = timebaseOf(target.vm?.clock) === 'virtual';
    // The workload runs detached from the session (runner/detached.ts): a dropped connection does not lose it.
    const workload = () => runDetached({
      remoteDir: st.remoteDir, name: `${task.cell.id}.${repId(task.rep)}`, command: ['fio', '--output-format=json+', jobPath],
      timeoutMs, expectedMs: (cell.job.runtime + cell.job.ramp_time) * 1000,
      ...(signal ? { signal } : {}),
      ...(consoleLog ? { waitForConsole: (line: string, ms: number, sig?: AbortSignal) => waitForConsoleLine(consoleLog, line, { timeoutMs: ms, failOn: GUEST_DEATH, isAlive: () => guestAlive(target), ...(sig ? { signal: sig } : {}) }) } : {}),
      session: () => st.session,
      reconnect: async () => (st.session = await connect(target)),
    });
    for (let attempt = 0; ; attempt++) {
      try {
        await st.session.upload(jobPath, job);
        const files: Record<string, string> = { 'fio.job': job };
        let res: ExecResult;
        let traces: TraceRun[] = [];
        let tracing: Record<string, TraceRecord> | undefined;
        const checks: Check[] = [];
        if (traced) {
          const scripts = (await scriptsFor(st)).filter((x) => repScripts.includes(x.name));
          const runnable = scripts.filter((x) => x.prepared.probes.length > 0);
          const out = await runTraced(st.session, st.remoteDir, runnable, workload, timeoutMs, signal);
          res = out.fio;
          traces = out.traces;
          tracing = Object.fromEntries(scripts.map((x) => {
            const t = traces.find((y) => y.name === x.name);
            return [x.name, { probes: x.prepared.probes, skipped: x.prepared.skipped, ...(t && Number.isFinite(t.attachSeconds) ? { attach_seconds: t.attachSeconds } : {}) }];
          }));
          for (const t of traces) {
            files[`bpftrace-${t.name}.json`] = t.stdout;
            if (t.stderr.trim()) files[`bpftrace-${t.name}.stderr.txt`] = t.stderr;
          }
        } else {
          // Timing repetitions of a guest on this machine: QEMU at real-time priority under the
          // virtual clock, and the host's other load measured; a contaminated virtual-time
          // repetition is run again (infra/isolation.ts).
          const discarded: LoadReport[] = [];
          for (;;) {
            const iso = target.vm ? await Isolation.begin(target.vm.domain, { realtime: virtualTime }) : undefined;
            let load: LoadReport | undefined;
            try {
              res = await workload();
            } finally {
              load = await iso?.end();
            }
            const overrun = virtualTime && res.code === 0 ? runtimeOverrunPct(res.stdout, cell.job.runtime) : undefined;
            const jumped = overrun !== undefined && overrun > MAX_OVERRUN_PCT;
            if (jumped) checks.push({ name: 'virtual-clock', ok: false, detail: `the job ran ${overrun.toFixed(1)} % past its ${cell.job.runtime} s of guest time: the guest's clock jumped during the measurement` });
            if (!iso || !load) {
              if (!jumped || !virtualTime) break;
            } else {
              const check = hostLoadCheck(load, iso.realtime, loadLimit, discarded);
              if ((load.otherCpus <= loadLimit && !jumped) || !virtualTime || signal?.aborted) {
                checks.push(check);
                break;
              }
            }
            const why = jumped ? `the guest clock jumped (${overrun!.toFixed(1)} % overrun)` : `host busy (other load ${load!.otherCpus.toFixed(2)} CPUs)`;
            discarded.push(load ?? { seconds: 0, otherCpus: 0, qemuCpus: 0 });
            if (discarded.length >= CONTAMINATED_ATTEMPTS) {
              await record(target, task, { state: 'failed', failure: { kind: 'host-contention', message: `${CONTAMINATED_ATTEMPTS} attempts were disturbed (last: ${why}; other host load ${discarded.map((d) => d.otherCpus.toFixed(2)).join(', ')} CPUs, limit ${loadLimit}): a virtual-time result would not be trustworthy` } }, started, { ...extra, files });
              return;
            }
            checks.length = 0;
            emit({ type: 'target-state', target: target.name, state: `${task.cell.id} ${repId(task.rep)}: ${why}, measuring again` });
            await sleep(jumped ? 0 : 5000, signal);
          }
        }
        if (signal?.aborted) return;
        files['fio.json'] = res.stdout;
        if (res.stderr) files['stderr.txt'] = res.stderr;
        const more = { ...extra, files, ...(tracing ? { tracing } : {}) };
        if (res.code !== 0) {
          const tailText = res.stderr.split('\n').slice(-20).join('\n').trim();
          await record(target, task, { state: 'failed', failure: { kind: 'fio', message: `fio exited with ${res.code}`, ...(tailText ? { stderr_tail: tailText } : {}) } }, started, more);
          return;
        }
        try {
          const { metrics } = parseFio(res.stdout);
          if (traced) {
            const ios = metrics[EXPOSURE_METRIC] ?? 0;
            const pci = st.extra.facts.disks.find((d) => d.name === task.cell.disk)?.pci;
            for (const t of traces) {
              if (t.output.errors.length) throw new BpftraceError(`bpftrace ${t.name}: ${t.output.errors.join('; ')}`, t.stderr);
              Object.assign(metrics, traceMetrics(t.name, t.output, { ios, ...(pci ? { pci } : {}) }));
              if (t.name === 'block-io') {
                const majmin = st.extra.facts.disks.find((d) => d.name === task.cell.disk)?.majmin;
                if (majmin) checks.push(checkIoPattern(t.output, majmin, task.cell.job));
              }
            }
          }
          checks.push(...notes);
          await record(target, task, { state: 'passed', metrics }, started, { ...more, ...(checks.length ? { checks } : {}) });
        } catch (e) {
          await record(target, task, { state: 'failed', failure: failureOf(e) }, started, more);
        }
        return;
      } catch (e) {
        if (signal?.aborted) return;
        const reconnect = e instanceof SshError && (e.transient || e.kind === 'timeout');
        if (e instanceof SshError && e.transient && attempt < retries) {
          emit({ type: 'target-state', target: target.name, state: `connection lost, reconnecting (${attempt + 1}/${retries})` });
          st.session.close();
          await sleep(baseMs * 2 ** attempt, signal);
          st.session = await connect(target);
          continue;
        }
        // A guest that died is booted again and the repetition tried again, a bounded number of times
        // (runGroup); only then is the death recorded, so a repetition is never counted twice.
        if (e instanceof GuestError && healsLeft(target)) throw new HealNeeded(e);
        await record(target, task, { state: 'failed', failure: failureOf(e) }, started, extra);
        // Otherwise it fails the rest of this boot at once (the next boot boots it again).
        if (e instanceof GuestError) throw e;
        if (reconnect) {
          // The target may be wedged: the next cell gets a fresh connection.
          st.session.close();
          st.session = await connect(target);
        }
        return;
      }
    }
  };

  /** Heals per guest and run: a guest that keeps dying is not booted forever. */
  const heals = new Map<string, number>();
  const healsLeft = (target: InventoryTarget) => Boolean(target.vm) && (heals.get(target.name) ?? 0) < MAX_HEALS_PER_GUEST;

  /**
   * The guest died during a repetition: boot it again (same domain, disks and
   * keys), connect and preflight afresh, and run the repetition again; its
   * result says that it was retried and why. A guest that does not come back,
   * or dies again, fails the repetition as guest-died (with the first cause).
   * Returns the guest's new state, or undefined when the task was recorded as failed.
   */
  const heal = async (target: InventoryTarget, task: Task, cause: GuestError): Promise<TargetState | undefined> => {
    const n = (heals.get(target.name) ?? 0) + 1;
    heals.set(target.name, n);
    const why = cause.message.split('\n')[0]!;
    emit({ type: 'target-state', target: target.name, state: `${why}; booting it again (${n}/${MAX_HEALS_PER_GUEST})` });
    const started = new Date();
    try {
      await rebootGuest(target, s.timeouts.boot_s * 1000);
      await unparkGuest(target);
    } catch (e) {
      await record(target, task, { state: 'failed', failure: failureOf(cause) }, started);
      return { kind: 'failed', failure: failureOf(e) };
    }
    const st = await prepare(target);
    if (st.kind !== 'ready') {
      await record(target, task, { state: 'failed', failure: failureOf(cause) }, started, st.extra ?? {});
      return st;
    }
    emit({ type: 'target-state', target: target.name, state: `${task.cell.id} ${repId(task.rep)} (again)` });
    try {
      await runRep(target, st, task, [{ name: 'retried', ok: true, detail: `the first attempt ended when the guest died (${why}); it was booted again and the repetition run anew` }]);
      return st;
    } catch (e) {
      if (e instanceof HealNeeded) {
        // Died again: that is the repetition's result; the next boot boots the guest again.
        await record(target, task, { state: 'failed', failure: failureOf(e.cause) }, started, st.extra);
        return { kind: 'failed', failure: failureOf(e.cause), extra: st.extra };
      }
      return { kind: 'failed', failure: failureOf(e), extra: st.extra };
    }
  };

  /** Ends a ready target's session and removes its remote files (the guest is running). */
  const release = async (st: Extract<TargetState, { kind: 'ready' }>) => {
    await st.session.exec(`rm -rf ${shellQuote(st.remoteDir)}`, { timeoutMs: 30_000, allowFailure: true }).catch(() => {});
    st.session.close();
  };

  const runGroup = async (tasks: readonly Task[]) => {
    const states = new Map<string, TargetState>();
    /** The boot the group's guests are in (`boots:` in the VM profile; cell/expand.ts bootOfRep). */
    let groupBoot: number | undefined;
    try {
      for (const [i, task] of tasks.entries()) {
        if (signal?.aborted) return;
        const target = targets.get(task.cell.target.name)!;
        if (groupBoot !== undefined && task.boot !== groupBoot) {
          // The next boot: every guest with repetitions in it boots again, side by side, and the
          // repetitions after it share a new boot offset. Tasks are ordered by boot (runner/order.ts).
          const next = [...new Set(tasks.slice(i).filter((t) => t.boot === task.boot).map((t) => t.cell.target.name))]
            .map((n) => targets.get(n)!)
            // A guest that failed in the last boot boots again too: a new boot may well work.
            .filter((t) => t.vm);
          // As `up` boots them: one per host CPU where they are local guests that park (one host thread each), else one at a time.
          const side = next.every((t) => t.vm!.hypervisor_uri.startsWith('qemu:///') && parksWhenIdle(t)) ? availableParallelism() : 1;
          await forEachLimit(next, side, async (t) => {
            emit({ type: 'target-state', target: t.name, state: `rebooting for boot ${task.boot}` });
            const st = states.get(t.name);
            states.delete(t.name);
            try {
              await unparkGuest(t);
              if (st?.kind === 'ready') await release(st);
              await rebootGuest(t, s.timeouts.boot_s * 1000);
            } catch (e) {
              if (!signal?.aborted) states.set(t.name, { kind: 'failed', failure: failureOf(e) });
            }
          });
          if (signal?.aborted) return;
        }
        groupBoot = task.boot;
        // Refusals need no connection.
        const refusal = destructiveWriteRefusal(target, task.cell);
        if (refusal) {
          await record(target, task, { state: 'failed', failure: refusal }, new Date());
          continue;
        }
        let st = states.get(target.name);
        if (st?.kind !== 'failed') await unparkGuest(target).catch(() => {}); // a guest that is gone shows as an SSH failure
        try {
          if (!st) {
            st = await prepare(target);
            if (signal?.aborted) return;
            states.set(target.name, st);
          }
          if (st.kind === 'failed') {
            await record(target, task, { state: 'failed', failure: st.failure }, new Date(), st.extra ?? {});
            continue;
          }
          emit({ type: 'target-state', target: target.name, state: `${task.cell.id} ${repId(task.rep)}` });
          try {
            await runRep(target, st, task);
          } catch (e) {
            if (signal?.aborted) return;
            if (e instanceof HealNeeded) {
              const healed = await heal(target, task, e.cause);
              if (healed) states.set(target.name, healed);
              else states.delete(target.name);
              continue;
            }
            // Reconnecting failed: the target is gone for the rest of this run.
            states.set(target.name, { kind: 'failed', failure: failureOf(e), extra: st.extra });
          }
        } finally {
          // Parked between its repetitions: an idle virtual-clock guest would spin a host core.
          await parkGuest(target).catch(() => {});
        }
      }
    } finally {
      for (const [name, st] of states) {
        const target = targets.get(name)!;
        if (st.kind === 'ready') {
          await unparkGuest(target).catch(() => {});
          await release(st);
          await parkGuest(target).catch(() => {});
        }
        emit({ type: 'target-state', target: name, state: 'done' });
      }
    }
  };

  await Promise.all([...todo.values()].map((tasks) => runGroup(tasks)));
  return { run, dir: store.dir, total: plan.cells.length * (plan.repetitions.timing + plan.repetitions.traced), ...summary, interrupted: Boolean(signal?.aborted), failures };
}
