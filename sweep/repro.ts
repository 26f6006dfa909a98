/**
 * Reproduce one cell of a stored run on this machine: the same scenario (the
 * run's own copy, byte for byte), so the same domain configuration and kernel
 * command line; the same image (its digest must match the one the run
 * recorded); the same fio job and tracing; every repetition the run had. Then
 * the new result beside the original, with the comparison. Needs only the run
 * directory, so it works on a copy from another machine.
 */
import { ensureResultsRoot } from '../result/root.js';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import { compareRuns, type ComparisonSet } from '../analysis/compare/index.js';
import { loadRun, type LoadedRun } from '../analysis/load.js';
import { loadHistory } from '../analysis/history.js';
import { expand } from '../cell/expand.js';
import type { Cell, Plan } from '../cell/types.js';
import { ReproCellDiffersError, ReproCellError, ReproHostsError, ReproImageError, ReproKernelError, ReproTargetError } from '../core/errors.js';
import type { Image } from '../guest-images/build.js';
import { directProvisioner } from '../infra/provisioner.js';
import type { Hypervisor } from '../infra/up.js';
import { runPlan, type RunEvent, type RunSummary } from '../runner/run.js';
import { underLock, withGuests } from './lifecycle.js';
import { loadScenarioFile, type LoadedScenario } from '../scenario/load.js';
import { inspectBuild } from '../guest-images/kernel/under-test.js';
import { sha256File } from '../guest-images/manifest.js';

export interface ReproOptions {
  /** `RUN_DIR/CELL_ID` (or `RUN_DIR/cells/CELL_ID`). */
  readonly target: string;
  readonly resultsRoot: string;
  readonly hypervisors: readonly Hypervisor[];
  readonly hostsFile?: string;
  readonly anyImage?: boolean;
  readonly keepGuests?: boolean;
  readonly signal?: AbortSignal;
  readonly log?: (line: string) => void;
  readonly onRunEvent?: (e: RunEvent) => void;
}

export interface ReproResult {
  readonly original: LoadedRun;
  readonly cell: string;
  readonly summary: RunSummary;
  readonly comparison: ComparisonSet;
  readonly imageNote?: string;
}

export function splitTarget(target: string): { run: string; cell: string } {
  const abs = resolve(target.replace(/\/+$/, ''));
  let cell = basename(abs);
  let run = dirname(abs);
  if (basename(run) === 'cells') run = dirname(run);
  if (!existsSync(join(run, 'run.json'))) {
    throw new ReproTargetError(`${target} is not RUN_DIR/CELL_ID (no run.json in ${run})`, { fix: 'pass the run directory and the cell id, e.g. results/2026-11-24T10-35-47Z-quick-1a2b/randread-4k__intel-lazy__virtual__nvme0' });
  }
  cell = cell.trim();
  return { run, cell };
}

export async function repro(o: ReproOptions): Promise<ReproResult> {
  const log = o.log ?? (() => {});
  const { run: runDir, cell: cellId } = splitTarget(o.target);
  const original = await loadRun(runDir);
  const cell = original.cells.get(cellId);
  if (!cell) {
    const ids = [...original.cells.keys()];
    throw new ReproCellError(`run ${original.manifest.id} has no cell ${cellId}`, { fix: `one of: ${ids.slice(0, 8).join(', ')}${ids.length > 8 ? `, … (${ids.length} in all, see run.json)` : ''}` });
  }

  // The run's own scenario, byte for byte, validated like any scenario.
  await ensureResultsRoot(o.resultsRoot);
  return underLock(resolve(o.resultsRoot), `repro ${o.target}`, async () => {
    const work = await mkdtemp(join(tmpdir(), 'iommu-lab-repro-'));
    try {
      const { loaded, plan } = await cellAgain(original, runDir, cell, work, o.hostsFile);
      if (cell.target.kind !== 'vm' && !loaded.hosts) throw new ReproHostsError(`cell ${cellId} ran on static host ${cell.target.name}`, { fix: 'pass the hosts file with --hosts' });
      const notes: string[] = [];
      // The one guest of the cell, brought up and taken down by the same provisioner (libvirt directly: --only).
      const provisioner = cell.target.kind === 'vm' ? directProvisioner(o.hypervisors) : undefined;
      const checkImage = (image: Image) => sameImageAndKernel(original, cellId, plan, image, Boolean(o.anyImage), (note) => { notes.push(note); log(`warning: ${note}`); });
      return await withGuests({ provisioner, loaded, plan, inventoryFile: join(work, 'inventory.json'), only: [cell.target.name], keep: Boolean(o.keepGuests), checkImage, log, ...(o.signal ? { signal: o.signal } : {}) }, async ({ inventory, failed }) => {
        // One cell, one guest: without it there is nothing to reproduce.
        if (failed[0]) throw failed[0].error;
        const summary = await runPlan({
          loaded, plan, inventory, resultsRoot: resolve(o.resultsRoot, 'repro'),
          ...(o.signal ? { signal: o.signal } : {}), ...(o.onRunEvent ? { onEvent: o.onRunEvent } : {}),
        });
        const fresh = await loadRun(summary.dir);
        // The original's earlier runs tell how much boots differ; without them the timings say that it is unknown.
        const history = await loadHistory(dirname(original.dir), original.manifest.scenario.name, original.manifest.created, undefined, [original]);
        const set = compareRuns(original, fresh, { history });
        const comparison = { ...set, leftOut: set.leftOut.filter((l) => l.cell === cellId) };
        return { original, cell: cellId, summary, comparison, ...(notes.length ? { imageNote: notes.join('; ') } : {}) };
      });
    } finally {
      await rm(work, { recursive: true, force: true });
    }
  });
}

/** The cell expanded again from the run's own copy of its scenario: it must be the very cell the run recorded. */
async function cellAgain(original: LoadedRun, runDir: string, cell: Cell, work: string, hostsFile: string | undefined): Promise<{ loaded: LoadedScenario; plan: Plan }> {
  const scenarioFile = join(work, `${original.manifest.scenario.name}.yaml`);
  await writeFile(scenarioFile, await readFile(join(runDir, 'scenario.yaml')));
  // Relative paths (hosts file, kernel builds) stay relative to where the scenario was.
  const loaded = await loadScenarioFile(scenarioFile, { ...(hostsFile ? { hostsFile } : {}), pathsRelativeTo: original.manifest.scenario.file });
  const full = expand(loaded);
  const again = full.cells.find((c) => c.id === cell.id);
  if (!again || !isDeepStrictEqual(again, cell)) {
    throw new ReproCellDiffersError(`expanding ${runDir}/scenario.yaml with this lab version does not give the cell the run recorded`, { fix: `use the lab version the run was made with (${original.manifest.lab_version})` });
  }
  return { loaded, plan: { ...full, cells: [cell], guests: full.guests.filter((g) => g.name === cell.target.name) } };
}

/**
 * The image (and, for a cell on your own kernel, the very build) the run used,
 * or the reason it is not: refused, or with --any-image said as a note.
 */
async function sameImageAndKernel(original: LoadedRun, cellId: string, plan: Plan, image: Image, anyImage: boolean, note: (text: string) => void): Promise<void> {
  const recorded = original.reps.get(cellId)?.find((r) => r.provenance.image_digest)?.provenance.image_digest;
  if (recorded && recorded !== image.manifest.digest) {
    const msg = `the run used image ${recorded}, this machine has ${image.manifest.digest}`;
    if (!anyImage) throw new ReproImageError(msg, { fix: 'build the image from the recipe the run used (same lab version), or pass --any-image to reproduce on this one and say so' });
    note(`${msg} (--any-image)`);
  }
  const build = plan.guests[0]?.kernelBuild;
  const recordedKernel = original.reps.get(cellId)?.find((r) => r.provenance.kernel_build)?.provenance.kernel_build;
  if (!build || !recordedKernel) return;
  const now = await sha256File(inspectBuild(build, [plan.guests[0]!.iommu.device]).bzimage);
  if (now === recordedKernel.bzimage_sha256) return;
  const msg = `the run booted kernel "${build.name}" ${recordedKernel.release} (bzImage sha256 ${recordedKernel.bzimage_sha256.slice(0, 12)}…${recordedKernel.git ? `, ${recordedKernel.git.describe}` : ''}); ${build.path ?? build.bzimage} now has ${now.slice(0, 12)}…`;
  if (!anyImage) throw new ReproKernelError(msg, { fix: `rebuild that state (git checkout ${recordedKernel.git?.commit ?? '<commit>'} && iommu-lab kernel build), or pass --any-image to reproduce on this build and say so` });
  note(`${msg} (--any-image)`);
}
