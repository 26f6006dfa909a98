/** A scenario as written, after validation. List values (`OneOrMany`) expand into the matrix. */

export type OneOrMany<T> = T | readonly T[];

/** A list-valued field's values (one value is a list of one). */
export const asList = <T>(v: OneOrMany<T>): readonly T[] => (Array.isArray(v) ? (v as readonly T[]) : [v as T]);

export const RW_PATTERNS = ['read', 'write', 'randread', 'randwrite', 'rw', 'randrw'] as const;
export type RwPattern = (typeof RW_PATTERNS)[number];

export const IO_ENGINES = ['libaio', 'io_uring', 'psync', 'pvsync2', 'sync', 'posixaio'] as const;
export type IoEngine = (typeof IO_ENGINES)[number];

/** Devices and modes are described once, in core/iommu.ts. */
export { HOST_IOMMU_DEVICES, IOMMU_DEVICES, IOMMU_MODES, type HostIommuDevice, type IommuDevice, type IommuMode } from '../core/iommu.js';
import type { HostIommuDevice, IommuDevice, IommuMode } from '../core/iommu.js';

/** Debian's kernels in the image; a scenario's own builds (`kernels:`) are named beside them. */
export const GUEST_KERNELS = ['6.1', '6.12'] as const;
export type GuestKernel = (typeof GUEST_KERNELS)[number];
/** A kernel's name in a scenario: an image kernel ("6.12") or a build's name. */
export const KERNEL_NAME_PATTERN = '^(?:6\\.1|6\\.12|[a-z0-9]+(?:-[a-z0-9]+)*)$';
export const isImageKernel = (k: string): k is GuestKernel => (GUEST_KERNELS as readonly string[]).includes(k);

export type { KernelBuildSpec } from '../guest-images/kernel/under-test.js';
import type { KernelBuildSpec } from '../guest-images/kernel/under-test.js';

export const DISK_BUSES = ['nvme', 'virtio-blk'] as const;
export type DiskBus = (typeof DISK_BUSES)[number];

/** How guest time is kept: described in core/clock.ts. */
export { VM_CLOCKS, type VmClock } from '../core/clock.js';
import type { VmClock } from '../core/clock.js';

export type FioOptionValue = string | number | boolean;

/** Workload tools are described with the metrics they give, in core/metrics.ts. */
export { WORKLOAD_KINDS, type WorkloadKind } from '../core/metrics.js';

/** What every workload has, whatever its tool. */
interface WorkloadCommon {
  readonly name: string;
  readonly description?: string;
  /** Seconds measured. */
  readonly runtime: number;
  /** Test disks (by name) this workload runs on; all of the target's disks when absent. */
  readonly disks?: readonly string[];
}

export interface FioWorkloadSpec extends WorkloadCommon {
  readonly kind: 'fio';
  readonly rw: OneOrMany<RwPattern>;
  readonly bs: OneOrMany<string>;
  readonly iodepth: OneOrMany<number>;
  readonly numjobs: OneOrMany<number>;
  readonly ioengine: OneOrMany<IoEngine>;
  readonly size: string;
  readonly ramp_time: number;
  readonly direct: boolean;
  readonly options?: Readonly<Record<string, FioOptionValue>>;
}

/** The directions `dma_map_benchmark -d` takes (0, 1, 2 in that order). */
export const DMA_DIRECTIONS = ['bidirectional', 'to-device', 'from-device'] as const;
export type DmaDirection = (typeof DMA_DIRECTIONS)[number];

/**
 * The kernel's DMA-map benchmark (CONFIG_DMA_MAP_BENCHMARK) on a test disk's
 * PCI device, taken from its driver for the measurement: threads map and
 * unmap `granule` pages in a loop for `runtime` seconds.
 */
export interface DmaMapWorkloadSpec extends WorkloadCommon {
  readonly kind: 'dma-map-benchmark';
  readonly threads: OneOrMany<number>;
  readonly granule: OneOrMany<number>;
  readonly dma_bits: number;
  readonly direction: DmaDirection;
  readonly transmit_delay_ns: number;
}

/**
 * The network tests the lab runs: a TCP stream or a UDP stream at a given rate (iperf3), and TCP
 * request/response, one request in flight, for latency (sockperf ping-pong).
 */
export const NETWORK_TESTS = ['tcp-stream', 'udp-stream', 'tcp-rr'] as const;
export type NetworkTest = (typeof NETWORK_TESTS)[number];
/** A network test's message size when the workload gives none: iperf3's TCP default, one 1500-byte-MTU packet of UDP, a small request. */
export const DEFAULT_MESSAGE_SIZE: Readonly<Record<NetworkTest, string | number>> = { 'tcp-stream': '128k', 'udp-stream': 1448, 'tcp-rr': 64 };

/**
 * Which way the data goes on a test link, seen from its first end (the
 * iperf3 client): it transmits, it receives (`-R`), or both at once (`--bidir`).
 */
export const NETWORK_DIRECTIONS = ['transmit', 'receive', 'bidirectional'] as const;
export type NetworkDirection = (typeof NETWORK_DIRECTIONS)[number];

/**
 * Network I/O with iperf3 between the two ends of a test link (two test NICs
 * of one guest joined inside QEMU, each end in its own network namespace:
 * docs/network.md): every packet crosses two DMA paths behind the IOMMU.
 */
export interface NetworkWorkloadSpec extends Omit<WorkloadCommon, 'disks'> {
  readonly kind: 'network';
  readonly test: NetworkTest;
  /** Parallel streams (iperf3 -P). */
  readonly flows: OneOrMany<number>;
  readonly direction: OneOrMany<NetworkDirection>;
  /** Bytes per write (iperf3 -l; sockperf -m, the request): a number, or a size like fio's ("128k"). Absent: DEFAULT_MESSAGE_SIZE. */
  readonly message_size?: OneOrMany<string | number>;
  /** UDP only: the sending rate in bits per second (iperf3 -b), e.g. "200M". */
  readonly udp_rate?: string;
  /** Seconds at the start left out of the throughput (iperf3 -O), TCP's slow start. */
  readonly omit: number;
  /** Test links (by name) this workload runs on; all of the target's links when absent. */
  readonly nics?: readonly string[];
}

export type WorkloadSpec = FioWorkloadSpec | DmaMapWorkloadSpec | NetworkWorkloadSpec;

export interface IommuSpec {
  readonly device: OneOrMany<IommuDevice>;
  readonly mode: OneOrMany<IommuMode>;
}

export interface VmDiskSpec {
  readonly name: string;
  readonly bus: DiskBus;
  readonly size_mib: number;
}

/**
 * Emulated NIC models a test link can have: virtio-net (behind the IOMMU with
 * iommu_platform, the ACCESS_PLATFORM feature) and Intel's e1000e and igb,
 * whose drivers map every buffer through the DMA API.
 */
export const NIC_MODELS = ['virtio-net', 'e1000e', 'igb'] as const;
export type NicModel = (typeof NIC_MODELS)[number];

/** A test link of a VM profile: two NICs of this model, joined inside QEMU, one end per network namespace. */
export interface VmNicSpec {
  readonly name: string;
  readonly model: NicModel;
  /** virtio-net only: negotiate ACCESS_PLATFORM (default true); without it the NIC's DMA bypasses the IOMMU and the lab refuses the link. */
  readonly iommu_platform: boolean;
  /** virtio-net on intel-iommu only: a device IOTLB (PCIe ATS), the IOMMU's device-TLB invalidations then included. */
  readonly ats: boolean;
}

export interface VmProfile {
  readonly name: string;
  readonly vcpus: number;
  readonly memory_mib: number;
  /** Kernel names: an image kernel or one of the scenario's `kernels:`. A list is a matrix axis. */
  readonly kernel: OneOrMany<string>;
  readonly clock: VmClock;
  /** Load the lab's QEMU plugin (infra/profiler): exact per-function counts from every repetition (default true; TCG guests only). */
  readonly profiler?: boolean;
  /** Boots per run (default 1); the timing repetitions are split over them. */
  readonly boots?: number;
  readonly disks: readonly VmDiskSpec[];
  /** Test links for network workloads (none when absent). */
  readonly nics?: readonly VmNicSpec[];
}

export interface TracingSpec {
  readonly scripts: readonly string[];
  /** Traced repetitions per cell and script, run apart from the timing repetitions (one script per repetition). */
  readonly repetitions: number;
  /** Trace inside the timing repetitions too. Off by default: tracing slows I/O by up to half. */
  readonly in_timing_repetitions: boolean;
}

/** Whether a scenario runs bpftrace (then its kernels need the fragment's tracing options): scripts, and traced repetitions of either kind. */
export const usesBpftrace = (t: TracingSpec): boolean => t.scripts.length > 0 && (t.repetitions > 0 || t.in_timing_repetitions);

export interface MetricThreshold {
  readonly min_effect_pct?: number;
  readonly max_cv_pct?: number;
}

export interface Thresholds {
  readonly alpha: number;
  readonly min_effect_pct: number;
  readonly max_cv_pct: number;
  readonly metrics?: Readonly<Record<string, MetricThreshold>>;
}

export interface Scenario {
  readonly name: string;
  readonly description?: string;
  readonly seed: number;
  readonly repetitions: number;
  readonly workloads: readonly WorkloadSpec[];
  readonly iommu: readonly IommuSpec[];
  readonly targets: {
    readonly vms: readonly VmProfile[];
    /** Names of static hosts, declared in the hosts file. */
    readonly hosts: readonly string[];
  };
  /** The hosts file, relative to the scenario file; `--hosts` overrides it. */
  readonly hosts_file?: string;
  /** Kernels under test of the user's own; after loading, their paths are absolute. */
  readonly kernels: readonly KernelBuildSpec[];
  readonly tracing: TracingSpec;
  readonly metrics: readonly string[];
  readonly thresholds: Thresholds;
  readonly timeouts: { readonly cell_s: number; readonly boot_s: number };
}

export interface HostDisk {
  readonly name: string;
  /** A block device (`/dev/nvme0n1`) or a file on a mounted file system. */
  readonly path: string;
  readonly behind_iommu: boolean;
  /** Writing to a raw block device destroys its data: refused unless this is true. */
  readonly allow_destructive_writes: boolean;
}

/**
 * A real NIC of a static host under test, with the peer it talks to: another
 * host of the hosts file that runs the server end (reached over its own SSH).
 */
export interface HostNic {
  readonly name: string;
  /** The interface on this host (`enp65s0f0`). */
  readonly interface: string;
  /** Its IPv4 address: the client binds it. */
  readonly address: string;
  /** A host of the hosts file that runs the server. */
  readonly peer: string;
  /** The peer's IPv4 address on the link: the server listens there. */
  readonly peer_address: string;
  readonly behind_iommu: boolean;
}

export interface StaticHost {
  readonly name: string;
  readonly ssh: {
    readonly host: string;
    readonly port: number;
    readonly user: string;
    readonly key: string;
    readonly host_key_sha256: string;
  };
  readonly iommu: { readonly device: HostIommuDevice; readonly mode: IommuMode };
  readonly disks: readonly HostDisk[];
  /** NICs under test for network workloads (none when absent). */
  readonly nics?: readonly HostNic[];
}

/** A remote hypervisor host of the site: how the lab reaches it (user, host and port come from the URI). */
export interface HypervisorEntry {
  readonly uri: string;
  readonly capacity?: number;
  readonly ssh: { readonly key: string; readonly host_key_sha256: string };
}

export interface HostsFile {
  readonly hosts: readonly StaticHost[];
  readonly hypervisors?: readonly HypervisorEntry[];
}
