/**
 * The inventory: what provisioning (`iommu-lab up`, `pulumi up`, or a hosts
 * file) produces and the runner consumes. One entry per target that can be
 * reached over SSH. Documented in docs/inventory.md; schema in schemas/.
 */
import type { KernelIdentity } from '../guest-images/kernel/identity.js';
import type { DiskBus, HostIommuDevice, IommuDevice, IommuMode, NicModel, VmClock } from '../scenario/types.js';

export interface InventoryDisk {
  readonly name: string;
  /** Path inside the target: `/dev/nvme0n1`, `/dev/vdb`, or a file. */
  readonly path: string;
  readonly bus?: DiskBus;
  /** Whether DMA for this disk is translated by the IOMMU (virtio needs iommu='on' for that). */
  readonly behind_iommu: boolean;
  readonly allow_destructive_writes: boolean;
  /** PCI address in the target, where known, so preflight finds the disk's IOMMU group directly. */
  readonly pci_address?: string;
}

/** One end of a test link: a NIC the lab finds by its MAC and moves into a network namespace of its own. */
export interface InventoryLinkEnd {
  readonly mac: string;
  readonly namespace: string;
  /** The end's address with its prefix, e.g. `10.77.0.1/24`. */
  readonly address: string;
}

/**
 * A test link of a guest (docs/network.md): two NICs of one model joined
 * inside QEMU; the first end runs the client, the second the server.
 */
export interface InventoryLink {
  readonly kind: 'link';
  readonly name: string;
  readonly model: NicModel;
  readonly iommu_platform: boolean;
  readonly ats: boolean;
  /** Whether DMA for the link's NICs is translated by the IOMMU. */
  readonly behind_iommu: boolean;
  readonly ends: readonly [InventoryLinkEnd, InventoryLinkEnd];
}

/** A real NIC of a static host: this host runs the client, the peer (another host, over its own SSH) the server. */
export interface InventoryPeerNic {
  readonly kind: 'peer';
  readonly name: string;
  readonly interface: string;
  readonly address: string;
  readonly behind_iommu: boolean;
  readonly peer: { readonly name: string; readonly address: string; readonly ssh: InventorySsh };
}

/** A target's test NIC for network workloads: a guest's link, or a static host's NIC with its peer. */
export type InventoryNic = InventoryLink | InventoryPeerNic;

export interface InventorySsh {
  readonly host: string;
  readonly port: number;
  readonly user: string;
  readonly key_path: string;
  /** `SHA256:…` as `ssh-keygen -l` prints it; the runner refuses any other host key. */
  readonly host_key_sha256: string;
  /** A guest on another hypervisor: reached through that host's SSH (host and port above are on its loopback). */
  readonly via?: InventorySsh;
}

export interface InventoryVm {
  readonly profile: string;
  readonly hypervisor_uri: string;
  /** A remote hypervisor's SSH (libvirt, files and guest tunnels go through it); absent for this machine's. */
  readonly hypervisor_ssh?: InventorySsh;
  readonly domain: string;
  readonly image_digest: string;
  readonly kernel: string;
  /** The user's own kernel build this guest boots (absent for the image's kernels). */
  readonly kernel_build?: KernelIdentity;
  /** On this machine: the DMA-map benchmark's tool built for the guest's kernel (absent when it has no benchmark). */
  readonly dma_map_tool?: string;
  /** The lab's QEMU plugin loaded into the guest (infra/profiler), or why it is not. */
  readonly profiler?: InventoryProfiler;
  readonly cmdline: string;
  readonly clock: VmClock;
  /** The hypervisor's QEMU and libvirt (`virsh version`) that ran the guest. */
  readonly qemu_version?: string;
  readonly libvirt_version?: string;
}

export interface InventoryTarget {
  readonly name: string;
  readonly kind: 'vm' | 'static';
  readonly ssh: InventorySsh;
  /** The configuration the target is expected to run in; preflight proves it. */
  readonly iommu: { readonly device: IommuDevice | HostIommuDevice; readonly mode: IommuMode };
  readonly disks: readonly InventoryDisk[];
  /** Test links for network workloads (absent: none). */
  readonly nics?: readonly InventoryNic[];
  readonly vm?: InventoryVm;
}

export interface Inventory {
  readonly version: 1;
  readonly created: string;
  readonly source: 'iommu-lab up' | 'pulumi' | 'hosts-file';
  readonly targets: readonly InventoryTarget[];
}

/** The plugin counting a guest's kernel work (docs/profiler.md): where its windows land and the marker the guest runs, or why there is none. */
export type InventoryProfiler =
  | { readonly state: 'loaded'; readonly plugin: string; readonly dir: string; readonly marker: string; readonly count: 'inline' | 'callback'; readonly version: string }
  | { readonly state: 'unavailable'; readonly why: string };
