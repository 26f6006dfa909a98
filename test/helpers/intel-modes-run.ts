/**
 * A synthetic run of the three intel modes on one NVMe disk, with the figures
 * measured by hand under the virtual clock (docs/timing.md): the fixture the
 * analysis tests of costs and advice share.
 */
import { join } from 'node:path';
import { loadRun, type LoadedRun } from '../../analysis/load.js';
import { writeSyntheticRun } from '../../analysis/synthetic.js';
import { loadScenarioFile } from '../../scenario/load.js';
import { writeIn } from './tmp.js';

/** Virtual-clock IOPS measured by hand: passthrough 10,910, lazy 9,320, strict 8,960. */
export const HAND_LEVEL: Readonly<Record<string, number>> = { 'intel-passthrough': 10910, 'intel-lazy': 9320, 'intel-strict': 8960 };
/** Synchronous IOTLB invalidations per I/O, as counted. */
export const HAND_FLUSHES: Readonly<Record<string, number>> = { 'intel-passthrough': 0, 'intel-lazy': 0.0065, 'intel-strict': 1 };

export interface IntelModesRun {
  readonly dir: string;
  readonly name?: string;
  readonly repetitions: number;
  readonly clock: string;
  readonly boots: number;
  readonly scripts: readonly string[];
  readonly metrics: readonly string[];
  readonly seed: number;
  readonly created: string;
  readonly level?: Readonly<Record<string, number>>;
}

export async function intelModesRun(o: IntelModesRun): Promise<LoadedRun> {
  const name = o.name ?? 'modes';
  const text = `name: ${name}
seed: 1
repetitions: ${o.repetitions}
workloads:
  - { name: rr, rw: randread, bs: 4k, iodepth: 16, runtime: 5 }
iommu:
  - device: intel
    mode: [passthrough, lazy, strict]
targets:
  vms:
    - { name: v, clock: ${o.clock}, boots: ${o.boots}, disks: [{ name: nvme0, bus: nvme }] }
tracing: { scripts: [${o.scripts.join(', ')}], repetitions: 1 }
metrics: [${o.metrics.join(', ')}]
thresholds: { alpha: 0.05, min_effect_pct: 2, max_cv_pct: 2 }
`;
  const level = o.level ?? HAND_LEVEL;
  const scenario = await loadScenarioFile(await writeIn(o.dir, `${name}.yaml`, text));
  return loadRun(await writeSyntheticRun({
    root: join(o.dir, 'results'), scenario, seed: o.seed, created: new Date(o.created),
    level: (_c, config) => level[config]!, cvPct: 0.1, flushesPerIo: (c) => HAND_FLUSHES[c]!,
  }));
}
