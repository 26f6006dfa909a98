/**
 * Matrix expansion: scenario → cells. The order is deterministic (targets, then
 * IOMMU configurations in the order written, then workloads and their list
 * values in the order written, then disks), so ids and plans are identical
 * across runs and machines.
 */
import { InvalidInputError } from '../core/errors.js';
import { asList, type LoadedScenario } from '../scenario/load.js';
import { configName, type IommuConfig } from '../core/iommu.js';
import { DEFAULT_MESSAGE_SIZE, type IommuDevice, type IommuMode, type WorkloadSpec } from '../scenario/types.js';
import type { Cell, CellTarget, GuestSpec, Job, Plan } from './types.js';
import { tracedRepetitionCount } from './repetition.js';

/** A matrix bigger than this is almost certainly a typo in a list. */
export const MAX_CELLS = 20000;

/** Workload fields a list may expand, with the short tag used in cell ids (fio's, then the DMA-map benchmark's). */
const FIO_AXES = [
  ['rw', ''],
  ['bs', 'bs'],
  ['iodepth', 'qd'],
  ['numjobs', 'j'],
  ['ioengine', ''],
] as const;
const DMA_MAP_AXES = [
  ['threads', 't'],
  ['granule', 'g'],
] as const;
const NETWORK_AXES = [
  ['direction', ''],
  ['flows', 'f'],
  ['message_size', 'm'],
] as const;
const AXES = [...FIO_AXES, ...DMA_MAP_AXES, ...NETWORK_AXES] as const;

/** The fields a workload's list values expand, by its kind. */
function axesOf(w: WorkloadSpec): readonly (readonly [string, string])[] {
  if (w.kind === 'dma-map-benchmark') return DMA_MAP_AXES;
  return w.kind === 'network' ? NETWORK_AXES : FIO_AXES;
}

/** What a workload's jobs share, whatever their list values. */
function jobBase(w: WorkloadSpec): Record<string, unknown> {
  if (w.kind === 'dma-map-benchmark') return { kind: w.kind, workload: w.name, runtime: w.runtime, dma_bits: w.dma_bits, direction: w.direction, transmit_delay_ns: w.transmit_delay_ns };
  if (w.kind === 'network') return { kind: w.kind, workload: w.name, test: w.test, runtime: w.runtime, omit: w.omit, ...(w.udp_rate ? { udp_rate: w.udp_rate } : {}) };
  return { workload: w.name, size: w.size, runtime: w.runtime, ramp_time: w.ramp_time, direct: w.direct, options: w.options ?? {} };
}

/** The test devices of a target a workload runs on: its disks, or for a network workload its test links. */
function devicesFor(w: WorkloadSpec, devices: { readonly disks: readonly string[]; readonly nics: readonly string[] }): readonly string[] {
  if (w.kind === 'network') return devices.nics.filter((n) => !w.nics || w.nics.includes(n));
  return devices.disks.filter((d) => !w.disks || w.disks.includes(d));
}

function idPart(v: string | number): string {
  return String(v).toLowerCase().replace(/[^a-z0-9]+/g, '');
}

/** A kernel's name as a part of names (`6.12` → `6-12`). */
export const kernelTag = (kernel: string) => kernel.replace(/\./g, '-');

/** The guest of a profile in a configuration; with several kernels, the kernel is part of it. */
export function guestName(profile: string, iommu: IommuConfig, kernel?: string): string {
  return kernel === undefined ? `${profile}-${configName(iommu)}` : `${profile}-${kernelTag(kernel)}-${configName(iommu)}`;
}

/** Where a cell runs, as its id says it: the host, or the profile (and the kernel when kernels are an axis). */
function whereOf(target: CellTarget): string {
  if (target.kind === 'static') return target.host;
  return target.kernelAxis ? `${target.profile}.${kernelTag(target.kernel)}` : target.profile;
}

/** The workload and the list values it takes in a cell: `randread.qd16` (the id's first part). */
export function variantOf(cell: Pick<Cell, 'job' | 'axes'>): string {
  const suffix = AXES.filter(([k]) => k in cell.axes)
    .map(([k, tag]) => `.${tag}${idPart(cell.axes[k]!)}`)
    .join('');
  return `${cell.job.workload}${suffix}`;
}

export function cellId(job: Job, axes: Record<string, string | number>, iommu: IommuConfig, target: CellTarget, disk: string): string {
  return `${variantOf({ job, axes })}__${configName(iommu)}__${whereOf(target)}__${disk}`;
}

/**
 * What makes cells comparable across IOMMU configurations: everything but the
 * configuration. A static host runs in one configuration, so comparable hosts
 * (one per mode) are matched by workload and disk name alone.
 */
export function siblingKey(cell: Cell): string {
  const where = cell.target.kind === 'static' ? 'hosts' : whereOf(cell.target);
  return `${variantOf(cell)}__${where}__${cell.disk}`;
}

/**
 * What makes cells comparable across kernels: everything but the kernel (the
 * IOMMU configuration included: kernels are compared within each). Undefined
 * for a cell that is not on a kernel axis.
 */
export function kernelSiblingKey(cell: Cell): string | undefined {
  if (cell.target.kind !== 'vm' || !cell.target.kernelAxis) return undefined;
  return `${variantOf(cell)}__${configName(cell.iommu)}__${cell.target.profile}__${cell.disk}`;
}

/** Every combination of the workload's list values, in written order. */
export function expandWorkload(w: WorkloadSpec): { job: Job; axes: Record<string, string | number> }[] {
  let variants: { job: Record<string, unknown>; axes: Record<string, string | number> }[] = [{ job: jobBase(w), axes: {} }];
  const fields = w as unknown as Record<string, string | number | readonly (string | number)[]>;
  for (const [key] of axesOf(w)) {
    const raw = key === 'message_size' && w.kind === 'network' ? w.message_size ?? DEFAULT_MESSAGE_SIZE[w.test] : fields[key]!;
    const values = asList(raw);
    const isAxis = Array.isArray(raw);
    variants = variants.flatMap((v) =>
      values.map((value) => ({
        job: { ...v.job, [key]: value },
        axes: isAxis ? { ...v.axes, [key]: value } : v.axes,
      })),
    );
  }
  return variants.map((v) => ({ job: v.job as unknown as Job, axes: v.axes }));
}

export function iommuConfigs(loaded: LoadedScenario): { device: IommuDevice; mode: IommuMode }[] {
  return loaded.scenario.iommu.flatMap((e) => asList(e.device).flatMap((device) => asList(e.mode).map((mode) => ({ device, mode }))));
}

export function expand(loaded: LoadedScenario): Plan {
  const s = loaded.scenario;
  const cells: Cell[] = [];
  const guests: GuestSpec[] = [];
  const push = (target: CellTarget, iommu: IommuConfig, devices: { readonly disks: readonly string[]; readonly nics: readonly string[] }) => {
    for (const w of s.workloads) {
      const wanted = devicesFor(w, devices);
      for (const { job, axes } of expandWorkload(w)) {
        for (const disk of wanted) {
          cells.push({ id: cellId(job, axes, iommu, target, disk), index: cells.length, job, iommu, target, disk, axes });
        }
      }
    }
  };

  for (const vm of s.targets.vms) {
    const kernelAxis = Array.isArray(vm.kernel);
    for (const kernel of asList(vm.kernel)) {
      for (const iommu of iommuConfigs(loaded)) {
        const name = guestName(vm.name, iommu, kernelAxis ? kernel : undefined);
        const kernelBuild = s.kernels.find((k) => k.name === kernel);
        guests.push({ name, profile: vm.name, kernel, ...(kernelBuild ? { kernelBuild } : {}), iommu });
        push({ kind: 'vm', profile: vm.name, kernel, kernelAxis, name }, iommu, { disks: vm.disks.map((d) => d.name), nics: (vm.nics ?? []).map((n) => n.name) });
      }
    }
  }
  const hosts = new Map((loaded.hosts?.hosts.hosts ?? []).map((h) => [h.name, h]));
  for (const hostName of s.targets.hosts) {
    const h = hosts.get(hostName);
    if (!h) continue; // reported by the loader
    push({ kind: 'static', host: h.name, name: h.name }, h.iommu, { disks: h.disks.map((d) => d.name), nics: (h.nics ?? []).map((n) => n.name) });
  }

  if (cells.length > MAX_CELLS) {
    throw new InvalidInputError([
      {
        file: loaded.file,
        line: 1,
        column: 1,
        path: '',
        message: `expands into ${cells.length} cells; at most ${MAX_CELLS} are allowed`,
        fix: 'shorten the list values, or split the scenario',
      },
    ]);
  }
  const seen = new Map<string, number>();
  for (const c of cells) {
    const first = seen.get(c.id);
    if (first !== undefined) {
      throw new InvalidInputError([
        { file: loaded.file, line: 1, column: 1, path: '', message: `two cells get the id ${c.id} (cells ${first} and ${c.index})`, fix: 'list values that differ only in case or punctuation, e.g. "4k" and "4K", are the same; remove one' },
      ]);
    }
    seen.set(c.id, c.index);
  }
  return { scenario: s.name, cells, guests, repetitions: { timing: s.repetitions, traced: tracedRepetitionCount(s.tracing) } };
}

/** Boots a cell's repetitions are split over: its VM profile's `boots` (static hosts: 1, the lab does not reboot them). */
export function bootsOfCell(scenario: { targets: { vms: readonly { name: string; boots?: number }[] } }, cell: Cell): number {
  if (cell.target.kind !== 'vm') return 1;
  const profile = (cell.target as { profile: string }).profile;
  return scenario.targets.vms.find((v) => v.name === profile)?.boots ?? 1;
}

/**
 * The boot (1-based) a repetition runs in: repetitions are split into `boots`
 * consecutive blocks of (nearly) equal size, timing and traced ones each, so
 * every boot gets its share of both. 6 repetitions over 2 boots: 1–3, 4–6.
 */
export function bootOfRep(index: number, count: number, boots: number): number {
  if (boots <= 1 || count <= 0) return 1;
  return Math.min(boots, Math.ceil((index * boots) / count));
}
