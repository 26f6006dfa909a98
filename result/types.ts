/**
 * The results store's records: what one repetition produced (result.json) and
 * what a run is (run.json). The runner writes them, analysis reads them; the
 * JSON Schemas in result/schema.ts describe the same shapes for other tools.
 */
import type { SubsystemId } from '../core/subsystems.js';
import type { KernelIdentity } from '../guest-images/kernel/identity.js';
import type { Cell } from '../cell/types.js';

// One repetition of a cell: its home is the matrix (cell/repetition.ts); results name it (repId).
import type { RepKind, RepRef } from '../cell/repetition.js';
export type { RepKind, RepRef };

/** result.json `files`: short name → file, for the files a repetition wrote (`fio.json` → `fio`). */
export function filesIndex(names: readonly string[]): Record<string, string> {
  return Object.fromEntries(names.map((f) => [f.replace(/\.[a-z]+$/, ''), f]));
}

/** `timing-01`, `traced-02`: the repetition's directory name (sorts in order up to 99). */
export function repId(rep: RepRef): string {
  return `${rep.kind}-${String(rep.index).padStart(2, '0')}`;
}

export function parseRepId(id: string): RepRef | undefined {
  const m = /^(timing|traced)-(\d{2,})$/.exec(id);
  if (!m) return undefined;
  const index = Number(m[2]);
  return index >= 1 ? { kind: m[1] as RepKind, index } : undefined;
}

/** Failure kinds are registered with the errors that produce them (core/errors.ts). */
export { FAILURE_KIND_NAMES, type FailureKind } from '../core/errors.js';
import type { FailureKind } from '../core/errors.js';

export interface Failure {
  readonly kind: FailureKind;
  readonly message: string;
  readonly stderr_tail?: string;
}

export type RepOutcome =
  | { readonly state: 'passed'; readonly metrics: Record<string, number> }
  | { readonly state: 'failed'; readonly failure: Failure };

/** A check of the measurement itself (e.g. did the device see the job's I/O pattern). */
export interface Check {
  readonly name: string;
  readonly ok: boolean;
  readonly detail: string;
}

/** What one bpftrace script did in a traced repetition. */
export interface TraceRecord {
  /** Probes attached. */
  readonly probes: readonly string[];
  /** Probes cut out because the target's kernel lacks them, with the reason. */
  readonly skipped: readonly { readonly probe: string; readonly reason: string }[];
  readonly attach_seconds?: number;
  /**
   * The counts cover the whole workload: the kernel listed every probe bpftrace announced as attached
   * before the workload started, and its programs missed no event. Absent in runs recorded before the
   * lab checked it: their counts may be partial (docs/tracing.md).
   */
  readonly complete?: {
    readonly probes_announced: number;
    readonly probes_in_kernel: number;
    /** Runs the programs skipped; each was a pure counter's (one uncounted call), added back per map in `misses_added`. */
    readonly recursion_misses: number;
    readonly misses_added?: Readonly<Record<string, number>>;
    /** Runs skipped by programs that feed only samples (the script's SAMPLED: probes): a thinner sample, no short count. */
    readonly sampled_misses?: number;
  };
}

export interface Provenance {
  readonly target: string;
  readonly target_kind: 'vm' | 'static';
  readonly kernel?: string;
  /** The user's own kernel build the target booted (release, hashes, git state). */
  readonly kernel_build?: KernelIdentity;
  readonly cmdline?: string;
  /** The target's /proc/sys/kernel/random/boot_id: repetitions with the same one ran in the same boot. */
  readonly boot_id?: string;
  /** Test disk name → IOMMU group type seen in sysfs (DMA, DMA-FQ, identity). */
  readonly iommu_groups?: Record<string, string>;
  readonly tools?: Record<string, string>;
  readonly image_digest?: string;
  readonly scenario_sha256: string;
  readonly fio_job?: string;
  readonly seed: number;
  /** Position in the target's interleaved order. */
  readonly order: number;
  readonly lab_version: string;
  readonly host: string;
}

export interface RepResult {
  readonly version: 1;
  readonly run: string;
  readonly cell: string;
  readonly rep: RepRef;
  readonly started: string;
  readonly finished: string;
  readonly outcome: RepOutcome;
  readonly provenance: Provenance;
  /** Short name → file in the repetition's directory (fio → fio.json, job → fio.job, …). */
  readonly files: Record<string, string>;
  readonly tracing?: Record<string, TraceRecord>;
  readonly checks?: readonly Check[];
  /** The QEMU plugin's window: how the exact counts were made (docs/profiler.md). */
  readonly profile?: ProfileRecord;
}

/** What the lab's QEMU plugin counted for a repetition's workload (runner/profile/guest.ts). */
export interface ProfileRecord {
  /** Content hash of the plugin's sources. */
  readonly plugin_version: string;
  readonly count: 'inline' | 'callback';
  /** The plugin's window number in that QEMU process. */
  readonly window: number;
  /** The per-I/O denominator: the test disks' completed requests (fio), the benchmark's maps, or the packets the test link's NICs sent (network). */
  readonly ios: number;
  readonly ios_from: 'disk-stats' | 'dma-map-calls' | 'nic-stats';
  /** Network windows: MiB the test link's NICs sent (the per-MiB denominator). */
  readonly mib?: number;
  /** Instructions of the window per subsystem (core/subsystems.ts), not divided. */
  readonly instructions: Readonly<Record<SubsystemId, number>>;
}

/** Which part of a sweep split over machines (sweep/shard.ts): `--shard index/count`. */
export interface ShardSpec {
  /** 1-based. */
  readonly index: number;
  readonly count: number;
}

/** What a shard's run records (run.json `shard`): enough for merge to check the pieces belong together and are whole. */
export interface ShardRecord extends ShardSpec {
  /** The targets (guests, static hosts) this shard ran. */
  readonly targets: readonly string[];
  /** Every cell id of the whole matrix, in plan order. */
  readonly plan_cells: readonly string[];
}

export interface RunManifest {
  readonly version: 1;
  readonly id: string;
  readonly created: string;
  readonly lab_version: string;
  readonly scenario: { readonly name: string; readonly file: string; readonly sha256: string };
  readonly seed: number;
  readonly repetitions: { readonly timing: number; readonly traced: number };
  readonly cells: readonly Cell[];
  readonly inventory_source: string;
  readonly host: string;
  /** A shard of a sweep split over machines (sweep/shard.ts): a part, never history on its own. */
  readonly shard?: ShardRecord;
  /** A run that `iommu-lab merge` made from shards: which, and where each ran. */
  readonly merged_from?: readonly { readonly id: string; readonly shard: string; readonly host: string; readonly created: string }[];
}
