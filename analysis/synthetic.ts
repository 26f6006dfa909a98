/**
 * Synthetic result sets with realistic noise, for tests and benchmarks of the
 * analysis: real run directories (written through the results store), whose
 * timing values are lognormal with a chosen CV and whose counts are exact
 * rates, so everything downstream reads them like real runs.
 */
import { configName } from '../core/iommu.js';
import { createHash } from 'node:crypto';
import { bootOfRep, bootsOfCell, expand } from '../cell/expand.js';
import { isFioJob } from '../cell/types.js';
import { gaussian, prng } from '../core/random.js';

export { gaussian } from '../core/random.js';
import { RunStore, thisHost } from '../result/store.js';
import { filesIndex, type RunManifest } from '../result/types.js';
import type { LoadedScenario } from '../scenario/load.js';

/** A lognormal value with mean `mean` and coefficient of variation `cv` (e.g. 0.02). */
export function lognormal(normal: () => number, mean: number, cv: number): number {
  const s = Math.sqrt(Math.log(1 + cv * cv));
  return mean * Math.exp(s * normal() - (s * s) / 2);
}

export interface SyntheticRunOptions {
  readonly root: string;
  readonly scenario: LoadedScenario;
  readonly seed: number;
  readonly created: Date;
  /** IOPS level of a cell (before noise). */
  readonly level: (cellId: string, config: string) => number;
  readonly cvPct: number;
  /** Per-I/O sync flushes per configuration, and cell when that matters (exact counts in traced repetitions). */
  readonly flushesPerIo?: (config: string, cellId: string) => number;
  readonly repetitions?: number;
  /** SD (%) of a boot's multiplicative offset on every timing; 0 by default. Boots per cell come from the VM profile's `boots`. */
  readonly bootSdPct?: number;
  /** Write each timing repetition's fio.json with a json+ completion-latency histogram (analysis/latency.ts). */
  readonly latencyHistograms?: boolean;
}

/**
 * fio json+ output holding only what the analysis reads of it: a read job's completion-latency
 * bins (ns → I/Os) from `n` lognormal latencies around `meanNs` (CV 60 %), in buckets of 1/64
 * octave (fio's are about as fine).
 */
export function syntheticFioJson(normal: () => number, meanNs: number, n: number): string {
  const bins: Record<string, number> = {};
  for (let i = 0; i < n; i++) {
    const ns = lognormal(normal, meanNs, 0.6);
    const bucket = Math.round(2 ** (Math.round(Math.log2(ns) * 64) / 64));
    bins[bucket] = (bins[bucket] ?? 0) + 1;
  }
  return JSON.stringify({ 'fio version': 'synthetic', jobs: [{ jobname: 'synthetic', read: { total_ios: n, clat_ns: { N: n, bins } } }] });
}

export async function writeSyntheticRun(o: SyntheticRunOptions): Promise<string> {
  const plan = expand(o.scenario);
  const normal = gaussian(prng(o.seed));
  const reps = o.repetitions ?? plan.repetitions.timing;
  const stamp = o.created.toISOString().replace(/\.\d{3}Z$/, 'Z').replace(/:/g, '-');
  const id = `${stamp}-${o.scenario.scenario.name}-${createHash('sha256').update(String(o.seed)).digest('hex').slice(0, 4)}`;
  const manifest: RunManifest = {
    version: 1, id, created: o.created.toISOString(), lab_version: 'synthetic', scenario: { name: o.scenario.scenario.name, file: o.scenario.file, sha256: o.scenario.sha256 },
    seed: o.seed, repetitions: { timing: reps, traced: plan.repetitions.traced }, cells: plan.cells, inventory_source: 'synthetic', host: thisHost(),
  };
  const store = await RunStore.create(o.root, manifest, o.scenario.text, { version: 1, synthetic: true });
  let order = 0;
  for (const cell of plan.cells) {
    const config = configName(cell.iommu);
    const level = o.level(cell.id, config);
    const boots = bootsOfCell(o.scenario.scenario, cell);
    // Synthetic runs model fio cells (their latency follows the queue depth).
    const iodepth = isFioJob(cell.job) ? cell.job.iodepth : 1;
    const offsets = Array.from({ length: boots }, () => lognormal(normal, 1, (o.bootSdPct ?? 0) / 100));
    let boot = 1;
    const write = async (kind: 'timing' | 'traced', index: number, metrics: Record<string, number>, files: Record<string, string> = {}) => {
      await store.writeRep({
        version: 1, run: id, cell: cell.id, rep: { kind, index }, started: o.created.toISOString(), finished: o.created.toISOString(),
        outcome: { state: 'passed', metrics },
        // Traced repetitions as the runner records them: every announced probe attached, no event missed.
        ...(kind === 'traced' ? { tracing: Object.fromEntries(o.scenario.scenario.tracing.scripts.map((s) => [s, { probes: [], skipped: [], complete: { probes_announced: 1, probes_in_kernel: 1, recursion_misses: 0 } }])) } : {}),
        provenance: { target: cell.target.name, boot_id: `${id}/${cell.target.name}/${boot}`, target_kind: cell.target.kind, scenario_sha256: o.scenario.sha256, seed: o.seed, order: order++, lab_version: 'synthetic', host: thisHost() },
        files: filesIndex(Object.keys(files)),
      }, files);
    };
    for (let i = 1; i <= reps; i++) {
      boot = bootOfRep(i, reps, boots);
      const iops = lognormal(normal, level * offsets[boot - 1]!, o.cvPct / 100);
      const files = o.latencyHistograms ? { 'fio.json': syntheticFioJson(normal, (1e9 * iodepth) / iops, 2000) } : undefined;
      await write('timing', i, { ios: Math.round(iops * cell.job.runtime), iops, clat_p50_us: (1e6 * iodepth) / iops, clat_p99_us: (2.5e6 * iodepth) / lognormal(normal, iops, o.cvPct / 100) }, files);
    }
    for (let i = 1; i <= plan.repetitions.traced; i++) {
      boot = bootOfRep(i, plan.repetitions.traced, boots);
      const ios = Math.round(level * 0.6 * cell.job.runtime);
      const f = o.flushesPerIo?.(config, cell.id) ?? 0;
      await write('traced', i, { ios, iops: ios / cell.job.runtime, iotlb_sync_flush_per_io: Math.round(f * ios) / ios, dma_map_per_io: 1 });
    }
  }
  return store.dir;
}
