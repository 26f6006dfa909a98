/**
 * A sweep: the lab as one command. Cached image → guests up (Pulumi where the
 * CLI and a stack for the scenario exist, the direct libvirt path otherwise)
 * → run with tracing → report (configurations against each other, against the
 * baseline, change points over the history) → guests down, always.
 *
 * One boot per IOMMU configuration, shared by all its cells. An interrupted
 * sweep resumes: the run it was making is remembered in
 * `<root>/.sweep-<scenario>.json` and the next sweep of the same scenario
 * file completes it instead of starting over.
 */
import { repetitionShape } from '../cell/repetition.js';
import { existsSync } from 'node:fs';
import { copyFile, mkdir, readFile, rm } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { execa } from 'execa';
import { expand } from '../cell/expand.js';
import { getBaseline, loadHistory } from '../analysis/history.js';
import { loadRun } from '../analysis/load.js';
import { buildReport } from '../analysis/report/model.js';
import { writeReport, type ReportFiles } from '../analysis/report/write.js';
import { buildImage, currentImage } from '../guest-images/build.js';
import { assertLocalRoot, down, up, type Hypervisor } from '../infra/up.js';
import { loadInventoryFile, withStaticHosts } from '../inventory/load.js';
import type { Inventory } from '../inventory/types.js';
import { writeJsonAtomic } from '../result/atomic.js';
import { runPlan, type RunEvent, type RunSummary } from '../runner/run.js';
import { loadScenarioFile } from '../scenario/load.js';
import { acquireLock } from './lock.js';
import { pruneRuns } from './retention.js';

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
  readonly provision?: 'auto' | 'pulumi' | 'direct';
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
  /** Wall seconds per phase, and the seconds fio itself ran (runtime + ramp of passed repetitions). */
  readonly seconds: { readonly image: number; readonly up: number; readonly run: number; readonly report: number; readonly down: number; readonly total: number; readonly fio: number };
}

interface SweepState {
  readonly scenario_sha256: string;
  readonly run: string;
}

const stateFile = (root: string, scenario: string) => join(root, `.sweep-${scenario}.json`);

async function pulumiAvailable(scenario: string): Promise<boolean> {
  if (!existsSync(`Pulumi.${scenario}.yaml`)) return false;
  const r = await execa('pulumi', ['version'], { reject: false });
  return r.exitCode === 0;
}

export async function sweep(o: SweepOptions): Promise<SweepResult> {
  const log = o.log ?? (() => {});
  const t0 = Date.now();
  const secs = { image: 0, up: 0, run: 0, report: 0, down: 0, total: 0, fio: 0 };
  const root = resolve(o.resultsRoot);
  await mkdir(root, { recursive: true });
  const lock = await acquireLock(root, o.scenarioFile);
  try {
    const loaded = await loadScenarioFile(o.scenarioFile, o.hostsFile ? { hostsFile: o.hostsFile } : {});
    const plan = expand(loaded);
    const name = loaded.scenario.name;

    let resume: string | undefined;
    const sf = stateFile(root, name);
    if (existsSync(sf) && !o.fresh) {
      const st = JSON.parse(await readFile(sf, 'utf8')) as SweepState;
      if (st.scenario_sha256 === loaded.sha256 && existsSync(join(st.run, 'run.json'))) {
        resume = st.run;
        log(`resuming the interrupted sweep ${st.run} (--fresh starts over)`);
      }
    }

    let inventory: Inventory = { version: 1, created: new Date().toISOString(), source: 'hosts-file', targets: [] };
    const guestsUp = plan.guests.length > 0;
    try {
      if (guestsUp) {
        // Local guests need root (libvirt's system instance, the image cache); static hosts alone do not.
        if (o.hypervisors.some((h) => h.uri.startsWith('qemu:///'))) assertLocalRoot();
        let t = Date.now();
        let image = await currentImage();
        if (!image) {
          log('building the guest image (once per recipe; about 2–3 minutes)…');
          image = await buildImage({ onLog: log });
        }
        secs.image = (Date.now() - t) / 1000;
        t = Date.now();
        const inventoryFile = join(root, `${name}-inventory.json`);
        const usePulumi = o.provision === 'pulumi' || (o.provision !== 'direct' && (await pulumiAvailable(name)));
        if (usePulumi) {
          log(`pulumi up --stack ${name}`);
          await execa('pulumi', ['up', '--yes', '--skip-preview', '--stack', name], { stdio: 'inherit' });
          const out = await execa('pulumi', ['stack', 'output', 'inventory', '--json', '--stack', name]);
          await writeJsonAtomic(inventoryFile, JSON.parse(out.stdout));
          inventory = await loadInventoryFile(inventoryFile);
        } else {
          const res = await up({
            loaded, plan, image, hypervisors: o.hypervisors, inventoryFile,
            onProgress: log,
            onGuest: (g, boot) => log(`${g}: SSH after ${boot.seconds.toFixed(1)} s${boot.retried ? ` (retried once: ${boot.retried})` : ''}`),
          });
          inventory = res.inventory;
        }
        secs.up = (Date.now() - t) / 1000;
      }
      inventory = withStaticHosts(inventory, loaded.hosts, loaded.scenario.targets.hosts);

      const t = Date.now();
      const summary = await runPlan({
        loaded, plan, inventory, resultsRoot: root,
        ...(resume ? { resume } : {}),
        ...(o.signal ? { signal: o.signal } : {}),
        onEvent: (e) => {
          if (e.type === 'run-start') {
            writeJsonAtomic(sf, { scenario_sha256: loaded.sha256, run: e.dir } satisfies SweepState).catch((err) => log(`cannot remember the run for resuming: ${(err as Error).message}`));
          }
          o.onRunEvent?.(e);
        },
      });
      secs.run = (Date.now() - t) / 1000;

      const run = await loadRun(summary.dir);
      for (const reps of run.reps.values()) for (const r of reps) {
        const cell = run.cells.get(r.cell)!;
        secs.fio += repetitionShape(cell, r.rep, run.scenario.tracing).fioSeconds;
      }
      let report: ReportFiles | undefined;
      let regression = false;
      if (!summary.interrupted) {
        const tr = Date.now();
        const baselineDir = await getBaseline(root, name).catch((e) => { log(`baseline: ${(e as Error).message}`); return undefined; });
        const baseline = baselineDir && resolve(baselineDir) !== resolve(summary.dir) ? await loadRun(baselineDir) : undefined;
        const history = await loadHistory(root, name, run.manifest.created, undefined, [run, ...(baseline ? [baseline] : [])]);
        const r = buildReport(run, { ...(baseline ? { baseline } : {}), history });
        report = await writeReport(r, join(summary.dir, 'report'));
        // Where CI systems and people look for the latest night: fixed paths under the root.
        const latest = join(root, 'latest', name);
        await mkdir(latest, { recursive: true });
        for (const [from, to] of [[report.markdown, 'summary.md'], [report.junit, 'junit.xml'], [report.html, 'report.html'], [report.json, 'report.json']] as const) await copyFile(from, join(latest, to));
        regression = r.regression;
        secs.report = (Date.now() - tr) / 1000;
        await rm(sf, { force: true });
      }
      const pruned = !summary.interrupted && o.keepRuns ? await pruneRuns(root, name, o.keepRuns, [summary.dir]) : [];
      return { run: summary.run, dir: summary.dir, resumed: Boolean(resume), summary, ...(report ? { report } : {}), regression, pruned, seconds: secs };
    } finally {
      if (guestsUp && !o.keepGuests) {
        const t = Date.now();
        log('taking the guests down');
        await down(o.hypervisors, { scenario: name }).catch((e) => log(`down failed: ${(e as Error).message}; run \`iommu-lab down --scenario ${name}\``));
        secs.down = (Date.now() - t) / 1000;
      }
      secs.total = (Date.now() - t0) / 1000;
    }
  } finally {
    await lock.release();
  }
}
