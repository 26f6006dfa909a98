/**
 * A sweep: the lab as one command. Cached image → guests up (a provisioner:
 * Pulumi where the CLI and a stack for the scenario exist, libvirt directly
 * otherwise) → run with tracing → the analysis (analysis/analyse.ts) → the same
 * provisioner takes the guests down, always.
 *
 * One boot per IOMMU configuration, shared by all its cells. A sweep that
 * did not finish — interrupted, or with repetitions that failed — is completed,
 * not repeated: the run it made is remembered in `<root>/.sweep-<scenario>.json`
 * and the next sweep of the same scenario file (within COMPLETE_WITHIN_HOURS)
 * runs only that run's failed and missing repetitions. `--fresh` starts over.
 */
import { ensureResultsRoot } from '../result/root.js';
import { repetitionShape } from '../cell/repetition.js';
import { existsSync } from 'node:fs';
import { readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { expand } from '../cell/expand.js';
import type { Plan } from '../cell/types.js';
import { analyse } from '../analysis/analyse.js';
import { loadRun } from '../analysis/load.js';
import type { ReportFiles } from '../analysis/report/write.js';
import { chooseProvisioner, type ProvisionHow } from '../infra/provisioner.js';
import { assertLocalRoot, type Hypervisor } from '../infra/up.js';
import { isLocalUri } from '../infra/hypervisor.js';
import { writeJsonAtomic } from '../core/atomic.js';
import { runPlan, type RunEvent, type RunSummary } from '../runner/run.js';
import { loadScenarioFile, type LoadedScenario } from '../scenario/load.js';
import { failureOf } from '../runner/failure.js';
import { underLock, withGuests } from './lifecycle.js';
import { pruneRuns } from './retention.js';
import { publishLatest } from './latest.js';
import { shardPlan } from './shard.js';
import type { ShardRecord, ShardSpec } from '../result/types.js';

export interface SweepOptions {
  readonly scenarioFile: string;
  readonly resultsRoot: string;
  readonly hypervisors: readonly Hypervisor[];
  readonly hostsFile?: string;
  /** Leave the guests up afterwards. */
  readonly keepGuests?: boolean;
  /** Start a new run even if an interrupted one of this scenario exists. */
  readonly fresh?: boolean;
  /** Runs of the scenario to keep under the root (oldest go first; never the baseline). */
  readonly keepRuns?: number;
  readonly provision?: ProvisionHow;
  /** Run only this shard of the matrix (sweep/shard.ts); the shards are put together by `iommu-lab merge`. */
  readonly shard?: ShardSpec;
  readonly signal?: AbortSignal;
  readonly log?: (line: string) => void;
  readonly onRunEvent?: (e: RunEvent) => void;
}

export interface SweepResult {
  readonly run: string;
  readonly dir: string;
  readonly resumed: boolean;
  readonly summary: RunSummary;
  readonly report?: ReportFiles;
  readonly regression: boolean;
  readonly pruned: readonly string[];
  /** Set when the sweep ran one shard: what its run records. */
  readonly shard?: ShardRecord;
  /** Wall seconds per phase, and the seconds the workloads themselves ran (fio's runtime + ramp, the DMA-map benchmark's runtime, of the repetitions recorded). */
  readonly seconds: { readonly image: number; readonly up: number; readonly run: number; readonly report: number; readonly down: number; readonly total: number; readonly workload: number };
}

interface SweepState {
  readonly scenario_sha256: string;
  readonly run: string;
  /** How the sweep that made the run ended, when it ended by itself: absent while it runs (or after it was killed). */
  readonly ended?: 'interrupted' | 'failed';
}

const stateFile = (root: string, scenario: string, shard?: ShardSpec) => join(root, `.sweep-${scenario}${shard ? `-shard-${shard.index}of${shard.count}` : ''}.json`);

/** A run that did not finish (interrupted, or with failed repetitions) is completed by the next sweep if it is younger than this. */
export const COMPLETE_WITHIN_HOURS = 12;

/**
 * The run an earlier sweep of the same scenario file left unfinished, to be
 * completed instead of repeated: made from the same scenario text, still on
 * disk, and recent (an unfinished run from last week is not what tonight's
 * sweep should finish).
 */
async function unfinishedRun(sf: string, sha256: string, log: (line: string) => void): Promise<string | undefined> {
  if (!existsSync(sf)) return undefined;
  const st = JSON.parse(await readFile(sf, 'utf8')) as SweepState;
  if (st.scenario_sha256 !== sha256 || !existsSync(join(st.run, 'run.json'))) return undefined;
  const created = Date.parse((JSON.parse(await readFile(join(st.run, 'run.json'), 'utf8')) as { created: string }).created);
  const hours = (Date.now() - created) / 3_600_000;
  if (!(hours <= COMPLETE_WITHIN_HOURS)) {
    log(`the unfinished run ${st.run} is ${hours.toFixed(0)} h old (more than ${COMPLETE_WITHIN_HOURS}); starting a new run`);
    return undefined;
  }
  const what = st.ended === 'failed' ? `completing the unfinished run ${st.run} (some repetitions failed)` : `resuming the interrupted sweep ${st.run}`;
  log(`${what}: only its failed and missing repetitions run (--fresh starts a new run)`);
  return st.run;
}

export async function sweep(o: SweepOptions): Promise<SweepResult> {
  const log = o.log ?? (() => {});
  const t0 = Date.now();
  const root = await ensureResultsRoot(o.resultsRoot);
  return underLock(root, o.scenarioFile, async () => {
    const loaded = await loadScenarioFile(o.scenarioFile, o.hostsFile ? { hostsFile: o.hostsFile } : {});
    const { plan, sharded } = planOf(loaded, o.shard, log);
    const name = loaded.scenario.name;
    const sf = stateFile(root, name, o.shard);
    const resume = o.fresh ? undefined : await unfinishedRun(sf, loaded.sha256, log);
    // Local guests need root (libvirt's system instance, the image cache); static hosts alone do not.
    if (plan.guests.length > 0 && o.hypervisors.some((h) => isLocalUri(h.uri))) assertLocalRoot();
    // Whoever brings the guests up takes them down (infra/provisioner.ts).
    const provisioner = plan.guests.length > 0 ? await chooseProvisioner(o.provision ?? 'auto', name, o.hypervisors) : undefined;
    if (provisioner) log(provisioner.kind === 'pulumi' ? `pulumi up --stack ${name}` : `guests up on ${o.hypervisors.map((h) => h.uri).join(', ')}`);
    const phases = { image: 0, up: 0, down: 0 };
    let run = 0;
    const done = await withGuests({ provisioner, loaded, plan, inventoryFile: join(root, `${name}-inventory.json`), keep: Boolean(o.keepGuests), log, seconds: phases, ...(o.signal ? { signal: o.signal } : {}) }, async ({ inventory, failed }) => {
      // Guests that did not come up: their cells are recorded failed with why, the others run (the next sweep completes the run).
      const unavailable = new Map(failed.map((f) => [f.guest, failureOf(f.error)]));
      const t = Date.now();
      const summary = await runPlan({
        loaded, plan, inventory, resultsRoot: root, unavailable,
        ...(sharded ? { shard: sharded.record } : {}),
        ...(resume ? { resume } : {}),
        ...(o.signal ? { signal: o.signal } : {}),
        onEvent: (e) => {
          if (e.type === 'run-start') {
            writeJsonAtomic(sf, { scenario_sha256: loaded.sha256, run: e.dir } satisfies SweepState).catch((err) => log(`cannot remember the run for resuming: ${(err as Error).message}`));
          }
          o.onRunEvent?.(e);
        },
      });
      run = (Date.now() - t) / 1000;
      return { summary, after: await afterRun({ root, name, sf, sha256: loaded.sha256, summary, sharded, shard: o.shard, keepRuns: o.keepRuns, log }) };
    });
    const { summary, after } = done;
    const seconds = { ...phases, run, report: after.reportSeconds, workload: after.workloadSeconds, total: (Date.now() - t0) / 1000 };
    return { run: summary.run, dir: summary.dir, resumed: Boolean(resume), summary, ...(after.report ? { report: after.report } : {}), regression: after.regression, pruned: after.pruned, seconds, ...(sharded ? { shard: sharded.record } : {}) };
  });
}

/** The plan to run: the whole matrix, or one shard of it. */
function planOf(loaded: LoadedScenario, shard: ShardSpec | undefined, log: (line: string) => void): { plan: Plan; sharded?: ReturnType<typeof shardPlan> } {
  const whole = expand(loaded);
  if (!shard) return { plan: whole };
  const sharded = shardPlan(whole, loaded.scenario, shard);
  log(`shard ${shard.index}/${shard.count}: ${sharded.record.targets.length ? `${sharded.record.targets.join(', ')} (${sharded.plan.cells.length} of ${whole.cells.length} cells)` : 'no targets (more shards than targets); an empty part'}`);
  return { plan: sharded.plan, sharded };
}

interface AfterRun {
  readonly report?: ReportFiles;
  readonly regression: boolean;
  readonly pruned: readonly string[];
  readonly workloadSeconds: number;
  readonly reportSeconds: number;
}

/**
 * After the run: the analysis (not for a shard: its report, baseline and
 * history come from the merged run), what the next sweep must complete, and the
 * old runs pruned.
 */
async function afterRun(a: {
  root: string; name: string; sf: string; sha256: string; summary: RunSummary; sharded: ReturnType<typeof shardPlan> | undefined; shard: ShardSpec | undefined; keepRuns: number | undefined; log: (line: string) => void;
}): Promise<AfterRun> {
  const { summary, log } = a;
  const run = await loadRun(summary.dir);
  let workloadSeconds = 0;
  for (const reps of run.reps.values()) for (const r of reps) workloadSeconds += repetitionShape(run.cells.get(r.cell)!, r.rep, run.scenario.tracing).workloadSeconds;
  let report: ReportFiles | undefined;
  let regression = false;
  let reportSeconds = 0;
  if (a.sharded && !summary.interrupted) log(`shard ${a.shard!.index}/${a.shard!.count} done: ${summary.dir}; put the shards together with iommu-lab merge`);
  if (!summary.interrupted && !a.sharded) {
    const tr = Date.now();
    const analysis = await analyse(run, { root: a.root, onBaselineError: (e) => log(`baseline: ${(e as Error).message}`) });
    report = analysis.files;
    await publishLatest(a.root, a.name, report);
    regression = analysis.report.regression;
    reportSeconds = (Date.now() - tr) / 1000;
  }
  if (summary.failed === 0 && !summary.interrupted) await rm(a.sf, { force: true });
  else {
    await writeJsonAtomic(a.sf, { scenario_sha256: a.sha256, run: summary.dir, ended: summary.interrupted ? 'interrupted' : 'failed' } satisfies SweepState).catch(() => {});
    log(`${summary.failed} repetition(s) did not pass${summary.interrupted ? ' (interrupted)' : ''}: the next sweep of this scenario completes this run, running only those (--fresh starts a new run)`);
  }
  const pruned = !summary.interrupted && a.keepRuns ? await pruneRuns(a.root, a.name, a.keepRuns, [summary.dir]) : [];
  return { ...(report ? { report } : {}), regression, pruned, workloadSeconds, reportSeconds };
}
