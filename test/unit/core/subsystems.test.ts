import { readFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { IOMMU_PATH, subsystemOf } from '../../../core/subsystems.js';
import { KernelSymbols } from '../../../runner/profile/kallsyms.js';

// The text symbols of a real guest's /proc/kallsyms: Debian's 6.12 with intel-iommu and the NVMe/virtio modules.
const kallsyms = gunzipSync(readFileSync(new URL('../../fixtures/profiler/intel-strict-6.12/kallsyms.txt.gz', import.meta.url))).toString('utf8');
const fns = kallsyms.split('\n').map((l) => /^[0-9a-f]+ [tTwW] (\S+)(?:\s+\[(\S+)\])?/.exec(l)).filter((m): m is RegExpExecArray => m !== null).map((m) => ({ name: m[1]!, module: m[2] }));
const inModule = (name: string) => fns.find((f) => f.name === name)?.module;

describe('subsystems of a real 6.12 kallsyms', () => {
  it('puts the functions of the IOMMU path where the per-function profile needs them', () => {
    const where: Record<string, string> = {
      dma_map_page_attrs: 'dma-api', dma_unmap_page_attrs: 'dma-api', iommu_dma_map_page: 'dma-api', __iommu_dma_unmap: 'dma-api', iommu_dma_alloc_iova: 'dma-api', fq_flush_iotlb: 'dma-api', fq_flush_timeout: 'dma-api', dma_direct_map_sg: 'dma-api',
      alloc_iova_fast: 'iova', free_iova_fast: 'iova',
      pfn_to_dma_pte: 'page-tables', dma_pte_clear_level: 'page-tables', intel_iommu_map_pages: 'page-tables', intel_iommu_unmap_pages: 'page-tables', __iommu_map: 'page-tables', __iommu_unmap: 'page-tables', 'iommu_pgsize.isra.0': 'page-tables',
      qi_submit_sync: 'iommu-driver', cache_tag_flush_range: 'iommu-driver', qi_batch_flush_descs: 'iommu-driver', viommu_sync_req: 'iommu-driver', viommu_map_pages: 'page-tables',
      blk_mq_start_request: 'block', submit_bio: 'block', blkdev_direct_IO: 'block',
      nvme_queue_rq: 'device-driver', nvme_irq: 'device-driver', virtqueue_add_sgs: 'device-driver',
      default_idle: 'idle', do_idle: 'idle',
      schedule: 'kernel', __x64_sys_io_submit: 'kernel', native_queued_spin_lock_slowpath: 'kernel',
    };
    for (const [name, subsystem] of Object.entries(where)) {
      expect(fns.some((f) => f.name === name), `${name} is in the fixture`).toBe(true);
      expect(subsystemOf(name, inModule(name)), name).toBe(subsystem);
    }
  });

  it('keeps every function of the virtio_iommu module in the IOMMU path, and the NVMe modules out of it', () => {
    for (const f of fns.filter((x) => x.module === 'virtio_iommu')) expect(IOMMU_PATH, f.name).toContain(subsystemOf(f.name, f.module));
    for (const f of fns.filter((x) => x.module === 'nvme' || x.module === 'nvme_core')) expect(subsystemOf(f.name, f.module), f.name).toBe('device-driver');
  });

  it('leaves most of the kernel in the rest of the kernel, not in the IOMMU path', () => {
    const inPath = fns.filter((f) => IOMMU_PATH.includes(subsystemOf(f.name, f.module))).length;
    // ~1,800 of ~80,000 text symbols: the rules are specific, not a prefix that swallows the kernel.
    expect(inPath).toBeGreaterThan(300);
    expect(inPath / fns.length).toBeLessThan(0.05);
  });

  it('finds the function that holds an address, modules included', () => {
    const symbols = KernelSymbols.parse(kallsyms);
    const qi = /^([0-9a-f]+) [tT] qi_submit_sync$/m.exec(kallsyms)!;
    const start = BigInt(`0x${qi[1]}`);
    expect(symbols.at(start)?.name).toBe('qi_submit_sync');
    expect(symbols.at(start + 40n)?.name).toBe('qi_submit_sync');
    const sync = /^([0-9a-f]+) t viommu_sync_req\t\[virtio_iommu\]$/m.exec(kallsyms)!;
    expect(symbols.at(BigInt(`0x${sync[1]}`) + 4n)).toMatchObject({ name: 'viommu_sync_req', module: 'virtio_iommu' });
  });

  it('says why when kallsyms hides its addresses', () => {
    expect(() => KernelSymbols.parse('0000000000000000 T _stext\n0000000000000000 T qi_submit_sync\n')).toThrow(/as root/);
  });
});
