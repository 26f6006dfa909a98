/**
 * Runs a plan against an inventory and fills a results store: the
 * orchestration of the runner's stages — session (runner/session.ts), target
 * (runner/target.ts: connect, preflight), repetition (runner/repetition.ts:
 * job, scripts, files, metrics, checks) and record (runner/record.ts).
 *
 * Targets of different hypervisors (and static hosts) run in parallel; the
 * repetitions of one group run one at a time, in the interleaved order of
 * runner/order.ts, boot by boot. Every repetition ends as one atomic write of
 * a passed or failed result (one the run's interruption cuts short leaves
 * nothing), and `resume` runs exactly the repetitions that have no passed result.
 */
import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { bootsOfCell } from '../cell/expand.js';
import { isFioJob, type Cell, type Plan } from '../cell/types.js';
import { tracedRepetitionsOf } from '../cell/repetition.js';
import { bootsSideBySide } from '../core/clock.js';
import { DiskFullError, GuestDiedError, InterruptedError, ResumeScenarioChangedError, SshTimeoutError, UsageError } from '../core/errors.js';
import { labPath } from '../core/paths.js';
import { forEachLimit } from '../core/pool.js';
import { sleep } from '../core/sleep.js';
import { parkGuest, rebootGuest, unparkGuest } from '../infra/guest.js';
import { isLocalUri } from '../infra/hypervisor.js';
import type { Inventory, InventoryTarget } from '../inventory/types.js';
import { newRunId, RunStore, thisHost } from '../result/store.js';
import { repId, type Check, type Failure, type RepOutcome, type RunManifest, type ShardRecord } from '../result/types.js';
import type { LoadedScenario } from '../scenario/load.js';
import { diagnose } from './diagnose.js';
import { failureOf } from './failure.js';
import { writesData } from './fio-job.js';
import { interleave, type Task } from './order.js';
import { Recorder, type RecordedFailure } from './record.js';
import { diskOf, HOST_LOAD_LIMIT_CPUS, measureRepetition } from './repetition.js';
import { connectTarget } from './session.js';
import { isTransient } from '../transport/ssh.js';
import { prepareTarget, releaseTarget, type ReadyTarget, type TargetState } from './target.js';


/** Times a guest that died during a repetition is booted again in one run (then its repetitions fail as guest-died). */
export const MAX_HEALS_PER_GUEST = 2;
/** Heals in one run over all guests: a host that kills every guest is not fought forever. */
export const MAX_HEALS_PER_RUN = 6;

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
  /** This run is a shard of a split sweep (recorded in run.json for merge). */
  readonly shard?: ShardRecord;
  /** A run directory to complete instead of starting a new run. */
  readonly resume?: string;
  readonly signal?: AbortSignal;
  readonly onEvent?: (e: RunEvent) => void;
  /** Where preflight reads sysfs on the target; tests point it at a fake tree. */
  readonly sysfsRoot?: string;
  readonly connectTimeoutMs?: number;
  readonly retries?: number;
  readonly retryBaseMs?: number;
  /** Targets that could not be provided (a guest that did not come up): their repetitions are recorded failed with this, the others run. */
  readonly unavailable?: ReadonlyMap<string, Failure>;
  /** Other host load (CPUs) above which a virtual-time repetition is contaminated and run again; Infinity records it without re-running (benchmarks). */
  readonly hostLoadLimitCpus?: number;
}

export interface RunSummary {
  readonly run: string;
  readonly dir: string;
  readonly total: number;
  readonly passed: number;
  readonly failed: number;
  readonly interrupted: boolean;
  readonly failures: readonly RecordedFailure[];
}

/**
 * Targets that must not measure at the same time. Guests on one hypervisor host
 * compete for its CPUs (under TCG, two cores), so their repetitions run one at a
 * time, interleaved across the guests; static hosts and separate hypervisors run
 * in parallel.
 */
export function concurrencyGroup(target: InventoryTarget): string {
  return target.kind === 'vm' && target.vm ? `hypervisor:${target.vm.hypervisor_uri}` : `target:${target.name}`;
}

/** Checks that every cell has its target and disk in the inventory, before anything connects. */
export function bindTargets(plan: Plan, inventory: Inventory, unavailable: ReadonlyMap<string, Failure> = new Map()): Map<string, InventoryTarget> {
  const byName = new Map(inventory.targets.map((t) => [t.name, t]));
  const missing = new Set<string>();
  for (const c of plan.cells) {
    const t = byName.get(c.target.name);
    if (!t && unavailable.has(c.target.name)) continue;
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

/** Writing to a raw device destroys its data; only an explicit opt-in allows it. */
export function destructiveWriteRefusal(target: InventoryTarget, cell: Cell): Failure | undefined {
  const disk = diskOf(target, cell);
  if (!isFioJob(cell.job) || !writesData(cell.job.rw) || !disk.path.startsWith('/dev/') || disk.allow_destructive_writes) return undefined;
  return {
    kind: 'destructive-write-refused',
    message: `${cell.job.rw} would write to the raw device ${disk.path} on ${target.name} and destroy its data; refused before connecting`,
  };
}

/** The run's store: a new run, or the one to complete (made from the same scenario text). */
async function openStore(o: RunOptions): Promise<RunStore> {
  const { loaded, plan, inventory } = o;
  if (o.resume) {
    const store = await RunStore.open(o.resume);
    const m = await store.manifest();
    if (m.scenario.sha256 !== loaded.sha256) {
      throw new ResumeScenarioChangedError(`run ${m.id} was made from a different version of ${loaded.file} (sha256 ${m.scenario.sha256.slice(0, 12)}…, now ${loaded.sha256.slice(0, 12)}…)`, {
        fix: `resume with the scenario the run used (${store.dir}/scenario.yaml), or start a new run`,
      });
    }
    await store.sweepTemporaries();
    return store;
  }
  const s = loaded.scenario;
  const manifest: RunManifest = {
    version: 1, id: newRunId(s.name), created: new Date().toISOString(), lab_version: LAB_VERSION,
    scenario: { name: s.name, file: loaded.file, sha256: loaded.sha256 },
    seed: s.seed, repetitions: plan.repetitions, cells: plan.cells, inventory_source: inventory.source, host: thisHost(),
    ...(o.shard ? { shard: o.shard } : {}),
  };
  return RunStore.create(o.resultsRoot, manifest, loaded.text, inventory);
}

/** A repetition ended because its guest died: the group boots the guest again and retries it. */
class HealNeeded extends Error {
  constructor(override readonly cause: InstanceType<typeof GuestDiedError>) {
    super(cause.message);
  }
}

export async function runPlan(options: RunOptions): Promise<RunSummary> {
  const { loaded, plan, inventory } = options;
  // The run stops on the caller's signal, or by itself when it cannot go on (the results disk is full).
  const stop = new AbortController();
  const signal = options.signal ? AbortSignal.any([options.signal, stop.signal]) : stop.signal;
  let fatal: unknown;
  const emit = options.onEvent ?? (() => {});
  const unavailable = options.unavailable ?? new Map<string, Failure>();
  const targets = bindTargets(plan, inventory, unavailable);
  const s = loaded.scenario;
  const store = await openStore(options);
  const run = store.id;

  // What is already done (on resume): passed repetitions are never run again.
  const order = interleave(plan.cells, plan.repetitions, s.seed, (c) => { const t = targets.get(c.target.name); return t ? concurrencyGroup(t) : `unavailable:${c.target.name}`; }, (c) => bootsOfCell(s, c));
  const todo = new Map<string, Task[]>();
  let doneCount = 0;
  for (const [group, tasks] of order) {
    const left: Task[] = [];
    for (const t of tasks) {
      const prior = await store.readRep(t.cell.id, t.rep);
      if (prior?.outcome.state === 'passed') doneCount++;
      else left.push(t);
    }
    if (left.length) todo.set(group, left);
  }
  const todoCount = [...todo.values()].reduce((n, l) => n + l.length, 0);
  const perTarget: Record<string, number> = {};
  for (const tasks of todo.values()) for (const t of tasks) perTarget[t.cell.target.name] = (perTarget[t.cell.target.name] ?? 0) + 1;
  emit({ type: 'run-start', run, dir: store.dir, todo: todoCount, done: doneCount, perTarget });

  const recorder = new Recorder(store, { scenarioSha256: loaded.sha256, seed: s.seed, labVersion: LAB_VERSION }, todoCount, emit);
  const retries = options.retries ?? 3;
  const state = (target: InventoryTarget) => (text: string) => emit({ type: 'target-state', target: target.name, state: text });
  const connect = (target: InventoryTarget) => connectTarget(target, {
    ...(options.connectTimeoutMs !== undefined ? { connectTimeoutMs: options.connectTimeoutMs } : {}),
    retries, retryBaseMs: options.retryBaseMs ?? 1000, ...(signal ? { signal } : {}),
    onRetry: (n, of) => state(target)(`connect failed, retry ${n}/${of}`),
  });
  const prepare = (target: InventoryTarget) => prepareTarget(target, { run, store, connect: () => connect(target), onState: state(target), ...(options.sysfsRoot ? { sysfsRoot: options.sysfsRoot } : {}) });

  /**
   * One repetition, recorded: a lost connection is made again and the
   * repetition retried (with backoff); a guest that died is handed to `heal`
   * while heals are left; anything else is recorded as the failure it is.
   */
  const runRep = async (target: InventoryTarget, st: ReadyTarget, task: Task, notes: readonly Check[] = []): Promise<void> => {
    const started = new Date();
    for (let attempt = 0; ; attempt++) {
      try {
        const m = await measureRepetition({
          run, scenario: s, target, st, task, loadLimit: options.hostLoadLimitCpus ?? HOST_LOAD_LIMIT_CPUS,
          ...(signal ? { signal } : {}), reconnect: () => connect(target), onState: state(target),
        });
        const checks = [...(m.extra.checks ?? []), ...(m.outcome.state === 'passed' ? notes : [])];
        await recorder.record(target, task, m.outcome, started, { ...m.extra, checks });
        return;
      } catch (thrown) {
        if (signal?.aborted || thrown instanceof InterruptedError) {
          recorder.interrupted(target, task, failureOf(thrown instanceof InterruptedError ? thrown : new InterruptedError(`${target.name}: interrupted during ${task.cell.id} ${repId(task.rep)}`)));
          return;
        }
        if (thrown instanceof DiskFullError) throw thrown;
        // Named for what it is: a guest that died shows as many things (fio killed, SSH closed).
        let e = await diagnose(target, thrown, `${task.cell.id} ${repId(task.rep)}`);
        let lost = false;
        if (isTransient(e) && attempt < retries) {
          state(target)(`connection lost, reconnecting (${attempt + 1}/${retries})`);
          st.session.close();
          await sleep((options.retryBaseMs ?? 1000) * 2 ** attempt, signal);
          try {
            st.session = await connect(target);
            continue;
          } catch (again) {
            // The guest may have died meanwhile; else the connection failure is the repetition's, and the boot's rest's.
            e = await diagnose(target, again, `${task.cell.id} ${repId(task.rep)}`);
            lost = true;
          }
        }
        // A guest that died is booted again and the repetition tried again, a bounded number of times
        // (heal); only then is the death recorded, so a repetition is never counted twice.
        if (e instanceof GuestDiedError && healsLeft(target)) throw new HealNeeded(e);
        await recorder.record(target, task, { state: 'failed', failure: failureOf(e) }, started, st.extra);
        // Otherwise it fails the rest of this boot at once (the next boot boots it again).
        if (e instanceof GuestDiedError || lost) throw e;
        if (isTransient(e) || e instanceof SshTimeoutError) {
          // The target may be wedged: the next repetition gets a fresh connection (or the boot's rest fails with why not).
          st.session.close();
          st.session = await connect(target);
        }
        return;
      }
    }
  };

  /** Heals per guest and per run: a guest that keeps dying is not booted forever, nor a run of many guests. */
  const heals = new Map<string, number>();
  const healsLeft = (target: InventoryTarget) => Boolean(target.vm) && (heals.get(target.name) ?? 0) < MAX_HEALS_PER_GUEST && [...heals.values()].reduce((a, b) => a + b, 0) < MAX_HEALS_PER_RUN;

  /** Counts a heal, says so, and boots the dead guest again (same domain, disks and keys). */
  const bootAgain = async (target: InventoryTarget, cause: InstanceType<typeof GuestDiedError>): Promise<void> => {
    const n = (heals.get(target.name) ?? 0) + 1;
    heals.set(target.name, n);
    state(target)(`${cause.message.split('\n')[0]}; booting it again (${n}/${MAX_HEALS_PER_GUEST})`);
    await rebootGuest(target, s.timeouts.boot_s * 1000);
    await unparkGuest(target);
  };

  /**
   * The guest died during a repetition: boot it again (same domain, disks and
   * keys), connect and preflight afresh, and run the repetition again, for as
   * long as the guest's and the run's heals last (a TCG guest that crashes at
   * random can crash in the retry too: CI saw a kernel panic 12 s into the
   * boot that healed a killed sshd). The result says that it was retried and
   * why. A guest that does not come back, or dies with no heals left, fails
   * the repetition as guest-died with the latest cause. Returns the guest's
   * new state.
   */
  const heal = async (target: InventoryTarget, task: Task, first: InstanceType<typeof GuestDiedError>): Promise<TargetState> => {
    const started = new Date();
    const causes: string[] = [];
    for (let cause = first; ;) {
      causes.push(cause.message.split('\n')[0]!);
      try {
        await bootAgain(target, cause);
      } catch (e) {
        await recorder.record(target, task, { state: 'failed', failure: failureOf(cause) }, started);
        return { kind: 'failed', failure: failureOf(e) };
      }
      const st = await prepare(target);
      if (st.kind !== 'ready') {
        await recorder.record(target, task, { state: 'failed', failure: failureOf(cause) }, started, st.extra ?? {});
        return st;
      }
      state(target)(`${task.cell.id} ${repId(task.rep)} (again)`);
      const detail = causes.length === 1
        ? `the first attempt ended when the guest died (${causes[0]}); it was booted again and the repetition run anew`
        : `${causes.length} attempts ended when the guest died (${causes.join('; ')}); it was booted again each time and the repetition run anew`;
      try {
        await runRep(target, st, task, [{ name: 'retried', ok: true, detail }]);
        return st;
      } catch (e) {
        if (e instanceof DiskFullError) throw e;
        // Died again with heals left (without, runRep recorded the failure itself and threw GuestDiedError).
        if (e instanceof HealNeeded) {
          cause = e.cause;
          continue;
        }
        return { kind: 'failed', failure: failureOf(e), extra: st.extra };
      }
    }
  };

  /**
   * Connect and preflight; a lab guest that cannot be reached because it died
   * (between repetitions, or before the first) is booted again while heals are
   * left, and its failure named guest-died when none are.
   */
  const prepareOrHeal = async (target: InventoryTarget): Promise<TargetState> => {
    for (;;) {
      const st = await prepare(target);
      if (st.kind === 'ready' || !target.vm || signal.aborted) return st;
      const died = await diagnose(target, new Error(st.failure.message), 'its preflight');
      if (!(died instanceof GuestDiedError)) return st;
      if (!healsLeft(target)) return { kind: 'failed', failure: failureOf(died), ...(st.extra ? { extra: st.extra } : {}) };
      try {
        await bootAgain(target, died);
      } catch (e) {
        return { kind: 'failed', failure: failureOf(e) };
      }
    }
  };

  /** Every guest with repetitions in the next boot boots again, side by side where they are local. */
  const nextBoot = async (tasks: readonly Task[], states: Map<string, TargetState>, boot: number) => {
    const next = [...new Set(tasks.filter((t) => t.boot === boot).map((t) => t.cell.target.name))]
      .map((n) => targets.get(n))
      // A guest that failed in the last boot boots again too: a new boot may well work (one that never came up does not).
      .filter((t): t is InventoryTarget => Boolean(t?.vm));
    // As `up` boots them (core/clock.ts bootsSideBySide).
    const side = bootsSideBySide(next.every((t) => isLocalUri(t.vm!.hypervisor_uri)), next.map((t) => t.vm!.clock), availableParallelism());
    await forEachLimit(next, side, async (t) => {
      state(t)(`rebooting for boot ${boot}`);
      const st = states.get(t.name);
      states.delete(t.name);
      try {
        await unparkGuest(t);
        if (st?.kind === 'ready') await releaseTarget(st);
        await rebootGuest(t, s.timeouts.boot_s * 1000);
      } catch (e) {
        if (!signal?.aborted) states.set(t.name, { kind: 'failed', failure: failureOf(e) });
      }
    });
  };

  const runGroup = async (tasks: readonly Task[]) => {
    const states = new Map<string, TargetState>();
    /** The boot the group's guests are in (`boots:` in the VM profile; cell/expand.ts bootOfRep). Tasks are ordered by boot. */
    let groupBoot: number | undefined;
    try {
      for (const [i, task] of tasks.entries()) {
        if (signal?.aborted) return;
        const missing = unavailable.get(task.cell.target.name);
        if (missing) {
          await recorder.record({ name: task.cell.target.name, kind: task.cell.target.kind }, task, { state: 'failed', failure: missing }, new Date());
          continue;
        }
        const target = targets.get(task.cell.target.name)!;
        if (groupBoot !== undefined && task.boot !== groupBoot) {
          await nextBoot(tasks.slice(i), states, task.boot);
          if (signal?.aborted) return;
        }
        groupBoot = task.boot;
        // Refusals need no connection.
        const refusal = destructiveWriteRefusal(target, task.cell);
        if (refusal) {
          await recorder.record(target, task, { state: 'failed', failure: refusal }, new Date());
          continue;
        }
        let st = states.get(target.name);
        if (st?.kind !== 'failed') await unparkGuest(target).catch(() => {}); // a guest that is gone shows as an SSH failure
        try {
          if (!st) {
            st = await prepareOrHeal(target);
            if (signal?.aborted) return;
            states.set(target.name, st);
          }
          if (st.kind === 'failed') {
            await recorder.record(target, task, { state: 'failed', failure: st.failure }, new Date(), st.extra ?? {});
            continue;
          }
          state(target)(`${task.cell.id} ${repId(task.rep)}`);
          try {
            await runRep(target, st, task);
          } catch (e) {
            if (e instanceof DiskFullError) throw e;
            if (signal?.aborted) return;
            if (e instanceof HealNeeded) {
              states.set(target.name, await heal(target, task, e.cause));
              continue;
            }
            // Reconnecting failed, or the guest died with no heals left: the target is gone for the rest of this boot.
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
          await releaseTarget(st);
          await parkGuest(target).catch(() => {});
        }
        state(target)('done');
      }
    }
  };

  await Promise.all([...todo.values()].map((tasks) => runGroup(tasks).catch((e: unknown) => {
    // Nothing more can be written: every group stops, the guests are left for the caller to take down.
    fatal ??= e;
    stop.abort();
  })));
  if (fatal) throw fatal;
  return {
    run, dir: store.dir, total: plan.cells.reduce((n, c) => n + plan.repetitions.timing + tracedRepetitionsOf(c, plan.repetitions.traced), 0),
    // Interrupted only if the signal cut something short: a signal after the last repetition leaves a complete run.
    passed: recorder.passed, failed: recorder.failures.length, interrupted: signal.aborted && recorder.written < todoCount, failures: recorder.failures,
  };
}
