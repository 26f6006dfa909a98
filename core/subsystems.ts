/**
 * Which part of the kernel a function belongs to, for "where the work goes":
 * one table, read top to bottom, the first rule that matches a function's
 * name (or its module) wins. The IOMMU path is the first four. Names come
 * from the guest's /proc/kallsyms (modules included), so a rule is a name
 * pattern; test/unit/core/subsystems.test.ts runs the table over a real 6.12
 * kallsyms and pins where the functions that matter land.
 */

export const SUBSYSTEMS = [
  { id: 'page-tables', title: 'IOMMU page tables', iommuPath: true,
    what: "Making and removing mappings: the IOMMU core's map/unmap, the Intel driver's page-table walk and the virtio-iommu driver's mapping requests." },
  { id: 'iommu-driver', title: 'IOMMU driver', iommuPath: true,
    what: 'The rest of the IOMMU drivers: IOTLB invalidations (queued invalidation, cache tags, virtio-iommu sync requests), domains and devices.' },
  { id: 'iova', title: 'IOVA allocator', iommuPath: true,
    what: 'Allocating and freeing I/O virtual addresses (the rbtree and its per-CPU caches).' },
  { id: 'dma-api', title: 'DMA API', iommuPath: true,
    what: 'dma_map_*/dma_unmap_* and what they call before the IOMMU: dma-iommu (with lazy mode\'s flush queue), dma-direct, swiotlb.' },
  { id: 'block', title: 'Block layer', iommuPath: false, what: 'bio and request handling, blk-mq, direct I/O, schedulers, sbitmap tags.' },
  { id: 'device-driver', title: 'Device drivers', iommuPath: false, what: 'The NVMe and virtio drivers (virtqueues included).' },
  { id: 'kernel', title: 'Rest of the kernel', iommuPath: false, what: 'Every other kernel function: system calls, scheduling, interrupts, timers, memory management.' },
  { id: 'idle', title: 'Idle loop', iommuPath: false, what: 'The idle loop: counted, never part of a per-I/O figure (it measures waiting, not work).' },
  { id: 'user', title: 'User space', iommuPath: false, what: 'Instructions executed in user mode (fio, the shell that starts it), all processes together.' },
  { id: 'unknown', title: 'Unattributed kernel code', iommuPath: false, what: 'Kernel addresses no symbol covers (and blocks past the plugin\'s slot limit); should be near zero.' },
] as const;

export type SubsystemId = (typeof SUBSYSTEMS)[number]['id'];
export const SUBSYSTEM_IDS: readonly SubsystemId[] = SUBSYSTEMS.map((s) => s.id);
export const IOMMU_PATH: readonly SubsystemId[] = SUBSYSTEMS.filter((s) => s.iommuPath).map((s) => s.id);

interface Rule {
  readonly subsystem: SubsystemId;
  readonly name?: RegExp;
  readonly modules?: readonly string[];
}

/** First match wins: page tables before the driver (intel_iommu_map_pages), the DMA API after the allocator (iommu_dma_alloc_iova is the DMA API's). */
const RULES: readonly Rule[] = [
  { subsystem: 'page-tables', name: /^(pfn_to_dma_pte|dma_pte_|__domain_mapping|domain_unmap|dma_pte_clear_level|dma_pte_free|intel_iommu_(map|unmap)_pages|intel_iommu_iova_to_phys|switch_to_super_page|first_pte_in_page|__iommu_map|iommu_map|__iommu_unmap|iommu_unmap|iommu_pgsize|viommu_(map|unmap)_pages|viommu_(add|del)_mapping)/ },
  { subsystem: 'dma-api', name: /^(iommu_dma_|__iommu_dma_)/ },
  { subsystem: 'iova', name: /iova/ },
  { subsystem: 'iommu-driver', modules: ['virtio_iommu'] },
  { subsystem: 'iommu-driver', name: /^(intel_iommu_|intel_flush_|intel_pasid_|intel_context_|intel_svm_|qi_|__qi_|dmar_|cache_tag_|domain_|iommu_|__iommu_|viommu_|context_|iotlb_|dev_iommu_|device_to_iommu|iommu_flush_)/ },
  { subsystem: 'dma-api', name: /^(dma_|__dma_|fq_|swiotlb_|__swiotlb_)/ },
  { subsystem: 'device-driver', modules: ['nvme', 'nvme_core', 'virtio_blk', 'virtio_net', 'virtio_pci', 'virtio_ring', 'virtio'] },
  { subsystem: 'device-driver', name: /^(nvme_|__nvme_|virtblk_|virtio_|__virtio|virtqueue_|vring_|vp_|virtnet_)/ },
  { subsystem: 'block', name: /^(blk_|__blk_|bio_|__bio_|bio$|submit_bio|__submit_bio|blkdev_|__blkdev_|bdev_|iomap_dio|__iomap_dio|rq_qos|__rq_qos|elv_|dd_|bfq_|kyber_|sbitmap|__sbitmap|sbq_|part_stat|disk_|bvec_|blkcg_|blkg_)/ },
  { subsystem: 'idle', name: /^(default_idle|arch_cpu_idle|cpuidle_|__cpuidle|do_idle|cpu_idle_poll|call_cpuidle|acpi_idle|acpi_safe_halt|mwait_idle|poll_idle|native_safe_halt|pv_native_safe_halt|cpu_startup_entry|tick_nohz_idle_)/ },
];

/** The subsystem of a kernel function (by name, or by the module it lives in). */
export function subsystemOf(name: string, module?: string): SubsystemId {
  for (const r of RULES) {
    if (r.modules && module && r.modules.includes(module) && (!r.name || r.name.test(name))) return r.subsystem;
    if (r.name && !r.modules && r.name.test(name)) return r.subsystem;
  }
  return 'kernel';
}

export function subsystemTitle(id: SubsystemId): string {
  return SUBSYSTEMS.find((s) => s.id === id)!.title;
}
