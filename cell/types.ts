/** A cell is one point of the matrix: a concrete job (fio, or the DMA-map benchmark) on one disk of one target in one IOMMU configuration. */
import type { KernelBuildSpec } from '../guest-images/kernel/under-test.js';
import type { DmaDirection, FioOptionValue, IoEngine, IommuDevice, IommuMode, NetworkDirection, NetworkTest, RwPattern, WorkloadKind } from '../scenario/types.js';

/** A fio job. Cells stored before the DMA-map benchmark have no `kind`: they are fio jobs. */
export interface FioJob {
  readonly kind?: 'fio';
  readonly workload: string;
  readonly rw: RwPattern;
  readonly bs: string;
  readonly iodepth: number;
  readonly numjobs: number;
  readonly ioengine: IoEngine;
  readonly size: string;
  readonly runtime: number;
  readonly ramp_time: number;
  readonly direct: boolean;
  readonly options: Readonly<Record<string, FioOptionValue>>;
}

/** One run of the kernel's DMA-map benchmark (`dma_map_benchmark -t threads -s runtime -g granule …`). */
export interface DmaMapJob {
  readonly kind: 'dma-map-benchmark';
  readonly workload: string;
  readonly threads: number;
  readonly granule: number;
  readonly runtime: number;
  readonly dma_bits: number;
  readonly direction: DmaDirection;
  readonly transmit_delay_ns: number;
}

/** One iperf3 run over a test link (runner/network.ts). */
export interface NetworkJob {
  readonly kind: 'network';
  readonly workload: string;
  readonly test: NetworkTest;
  readonly flows: number;
  readonly direction: NetworkDirection;
  /** Bytes per write: a number, or a size like fio's ("128k"). */
  readonly message_size: string | number;
  readonly udp_rate?: string;
  readonly runtime: number;
  readonly omit: number;
}

export type Job = FioJob | DmaMapJob | NetworkJob;

export const isDmaMapJob = (job: Job): job is DmaMapJob => job.kind === 'dma-map-benchmark';
export const isNetworkJob = (job: Job): job is NetworkJob => job.kind === 'network';
export const isFioJob = (job: Job): job is FioJob => job.kind === undefined || job.kind === 'fio';

/** The workload tool a job runs. */
export const toolOf = (job: Job): WorkloadKind => job.kind ?? 'fio';

/** A job in a few words, for tables: `randread 4k qd16 j1 libaio`, `dma-map t4 g1 32-bit bidirectional`, `tcp-stream transmit 4 flows 128k`. */
export function describeJob(job: Job): string {
  if (isDmaMapJob(job)) return `dma-map t${job.threads} g${job.granule} ${job.dma_bits}-bit ${job.direction}${job.transmit_delay_ns ? ` delay ${job.transmit_delay_ns} ns` : ''}`;
  if (isNetworkJob(job) && job.test === 'tcp-rr') return `tcp-rr ${job.message_size} B requests`;
  if (isNetworkJob(job)) return `${job.test} ${job.direction} ${job.flows} flow${job.flows === 1 ? '' : 's'} ${job.message_size}${job.udp_rate ? ` at ${job.udp_rate}bit/s` : ''}`;
  return `${job.rw} ${job.bs} qd${job.iodepth} j${job.numjobs} ${job.ioengine}`;
}

export type { IommuConfig } from '../core/iommu.js';
import type { IommuConfig } from '../core/iommu.js';

export type CellTarget =
  | {
      readonly kind: 'vm';
      readonly profile: string;
      /** The kernel under test: "6.12", "6.1" or a scenario kernel's name. */
      readonly kernel: string;
      /** Whether the profile lists several kernels (then the kernel is part of ids and guest names). */
      readonly kernelAxis: boolean;
      /** Inventory name of the guest this cell runs on. */
      readonly name: string;
    }
  | { readonly kind: 'static'; readonly host: string; readonly name: string };

export interface Cell {
  /** Stable, file-name-safe id; the same scenario always yields the same ids. */
  readonly id: string;
  readonly index: number;
  readonly job: Job;
  readonly iommu: IommuConfig;
  readonly target: CellTarget;
  /** The test device the cell measures: a test disk, or for a network workload a test link (its NICs). */
  readonly disk: string;
  /** The list-valued workload fields and the value this cell takes (what makes it differ from its siblings). */
  readonly axes: Readonly<Record<string, string | number>>;
}

/** One guest to provision: a VM profile booted in one IOMMU configuration, shared by all its cells. */
export interface GuestSpec {
  readonly name: string;
  readonly profile: string;
  readonly kernel: string;
  /** When the kernel is one of the scenario's own builds: that build (paths absolute). */
  readonly kernelBuild?: KernelBuildSpec;
  readonly iommu: { readonly device: IommuDevice; readonly mode: IommuMode };
}

export interface Plan {
  readonly scenario: string;
  readonly cells: readonly Cell[];
  readonly guests: readonly GuestSpec[];
  readonly repetitions: { readonly timing: number; readonly traced: number };
}
