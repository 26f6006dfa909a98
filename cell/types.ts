/** A cell is one point of the matrix: a concrete fio job on one disk of one target in one IOMMU configuration. */
import type { KernelBuildSpec } from '../guest-images/kernel/under-test.js';
import type { FioOptionValue, IoEngine, IommuDevice, IommuMode, RwPattern } from '../scenario/types.js';

export interface FioJob {
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
  readonly job: FioJob;
  readonly iommu: IommuConfig;
  readonly target: CellTarget;
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
