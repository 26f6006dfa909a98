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
import { bootsOfCell } from '../cell/expand.js';
import { isNetworkJob, type Cell, type Plan } from '../cell/types.js';
import { tracedRepetitionsOf } from '../cell/repetition.js';
import { ResumeScenarioChangedError, UsageError } from '../core/errors.js';
import { labPath } from '../core/paths.js';
import type { Inventory, InventoryTarget } from '../inventory/types.js';
import { newRunId, RunStore, thisHost } from '../result/store.js';
import type { Failure, RepOutcome, RunManifest, ShardRecord } from '../result/types.js';
import type { LoadedScenario } from '../scenario/load.js';
import { GroupRun, type RunContext } from './group.js';
import { HealBudget } from './heal.js';
import { interleave, type Task } from './order.js';
import { Recorder, type RecordedFailure } from './record.js';
import { HOST_LOAD_LIMIT_CPUS } from './repetition.js';



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

/** Checks that every cell has its target and test device (disk, or test link) in the inventory, before anything connects. */
export function bindTargets(plan: Plan, inventory: Inventory, unavailable: ReadonlyMap<string, Failure> = new Map()): Map<string, InventoryTarget> {
  const byName = new Map(inventory.targets.map((t) => [t.name, t]));
  const missing = new Set<string>();
  for (const c of plan.cells) {
    const t = byName.get(c.target.name);
    if (!t && unavailable.has(c.target.name)) continue;
    if (!t) missing.add(`target ${c.target.name}`);
    else if (isNetworkJob(c.job) ? !t.nics?.some((n) => n.name === c.disk) : !t.disks.some((d) => d.name === c.disk)) missing.add(`${isNetworkJob(c.job) ? 'test link' : 'disk'} ${c.disk} of target ${c.target.name}`);
  }
  if (missing.size > 0) {
    throw new UsageError(
      `the inventory lacks ${[...missing].join(', ')}`,
      'bring the guests up first (`iommu-lab up SCENARIO`), or pass the inventory they wrote (--inventory), or the hosts file (--hosts)',
    );
  }
  return byName;
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

/**
 * The repetitions left to do, per concurrency group, in the interleaved order
 * (runner/order.ts): on resume, a repetition with a passed result is never run
 * again.
 */
async function pendingTasks(o: RunOptions, store: RunStore, targets: ReadonlyMap<string, InventoryTarget>): Promise<{ todo: Map<string, Task[]>; done: number }> {
  const s = o.loaded.scenario;
  const groupOf = (c: Cell) => { const t = targets.get(c.target.name); return t ? concurrencyGroup(t) : `unavailable:${c.target.name}`; };
  const todo = new Map<string, Task[]>();
  let done = 0;
  for (const [group, tasks] of interleave(o.plan.cells, o.plan.repetitions, s.seed, groupOf, (c) => bootsOfCell(s, c))) {
    const left: Task[] = [];
    for (const t of tasks) {
      const prior = await store.readRep(t.cell.id, t.rep);
      if (prior?.outcome.state === 'passed') done++;
      else left.push(t);
    }
    if (left.length) todo.set(group, left);
  }
  return { todo, done };
}

export async function runPlan(options: RunOptions): Promise<RunSummary> {
  const { loaded, plan, inventory } = options;
  // The run stops on the caller's signal, or by itself when it cannot go on (the results disk is full).
  const stop = new AbortController();
  const signal = options.signal ? AbortSignal.any([options.signal, stop.signal]) : stop.signal;
  const emit = options.onEvent ?? (() => {});
  const unavailable = options.unavailable ?? new Map<string, Failure>();
  const targets = bindTargets(plan, inventory, unavailable);
  const store = await openStore(options);
  const run = store.id;

  const { todo, done } = await pendingTasks(options, store, targets);
  const todoCount = [...todo.values()].reduce((n, l) => n + l.length, 0);
  const perTarget: Record<string, number> = {};
  for (const tasks of todo.values()) for (const t of tasks) perTarget[t.cell.target.name] = (perTarget[t.cell.target.name] ?? 0) + 1;
  emit({ type: 'run-start', run, dir: store.dir, todo: todoCount, done, perTarget });

  const recorder = new Recorder(store, { scenarioSha256: loaded.sha256, seed: loaded.scenario.seed, labVersion: LAB_VERSION }, todoCount, emit);
  const ctx: RunContext = {
    run, scenario: loaded.scenario, store, recorder, targets, unavailable, heals: new HealBudget(), signal,
    connect: { retries: options.retries ?? 3, retryBaseMs: options.retryBaseMs ?? 1000, ...(options.connectTimeoutMs !== undefined ? { connectTimeoutMs: options.connectTimeoutMs } : {}) },
    loadLimit: options.hostLoadLimitCpus ?? HOST_LOAD_LIMIT_CPUS,
    ...(options.sysfsRoot ? { sysfsRoot: options.sysfsRoot } : {}),
    say: (target, state) => emit({ type: 'target-state', target: target.name, state }),
  };
  let fatal: unknown;
  await Promise.all([...todo.values()].map((tasks) => new GroupRun(ctx).run(tasks).catch((e: unknown) => {
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
