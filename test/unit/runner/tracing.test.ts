import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { checkIoPattern, devT } from '../../../runner/io-pattern.js';
import { histPercentile, parseBpftraceJson, prepareScript, pureCounters, scriptProbes, traceMetrics } from '../../../runner/tracing.js';

const script = (n: string) => readFile(`bpf/${n}.bt`, 'utf8');

describe('bpftrace scripts', () => {
  it('every script names its probes in PROBES, and its blocks are found', async () => {
    for (const name of ['dma-map-latency', 'iotlb-invalidations', 'iova-alloc', 'iommu-faults', 'block-io']) {
      const text = await script(name);
      expect(text.split('\n')[2], name).toMatch(new RegExp(`^ \\* ${name}\\.bt  \\S`));
      for (const section of ['USAGE:', 'FIELDS', 'PROBES:', 'OVERHEAD:']) expect(text, `${name} ${section}`).toContain(section);
      const probes = scriptProbes(text);
      expect(probes.length, name).toBeGreaterThan(0);
      const header = text.slice(0, text.indexOf('*/'));
      for (const p of probes) expect(header, `${name}: ${p.spec}`).toContain(p.target.replace(/^.*:/, ''));
    }
  });

  it('cuts out the blocks whose probes the kernel lacks and says why, on the functions 6.1 and 6.12 really have', async () => {
    const text = await script('iotlb-invalidations');
    // From available_filter_functions of the lab's Debian 6.1 and 6.12 guests (intel), as probeAvailability keys
    // them for kfuncs (the function under its own name: BTF describes no clones).
    const btf = (names: string[]) => new Set(names.map((n) => `btf:${n}`));
    const k61 = btf(['qi_submit_sync', 'qi_flush_iotlb', 'iommu_flush_iotlb_psi', 'intel_flush_iotlb_all', 'fq_flush_iotlb', 'fq_flush_timeout', 'fq_ring_free']);
    const p = prepareScript(text, k61, '6.1.0-56-amd64');
    expect(p.probes).toEqual(['kfunc:qi_submit_sync', 'kfunc:qi_flush_iotlb', 'kfunc:iommu_flush_iotlb_psi', 'kfunc:intel_flush_iotlb_all', 'kfunc:fq_flush_iotlb', 'kfunc:fq_flush_timeout', 'kfunc:fq_ring_free']);
    expect(p.skipped.map((x) => x.probe)).toEqual(['kfunc:cache_tag_flush_range', 'kfunc:cache_tag_flush_all', 'kfunc:fq_ring_free_locked', 'kfunc:viommu_sync_req']);
    expect(p.skipped[0]!.reason).toBe('function (under its own name, for a kfunc) cache_tag_flush_range does not exist in kernel 6.1.0-56-amd64');
    expect(p.text).not.toMatch(/^kfunc:viommu_sync_req/m);
    expect(p.text).toContain('// skipped: kfunc:viommu_sync_req (not in kernel 6.1.0-56-amd64)');
    // The renamed function: the block keeps the name this kernel has.
    expect(p.text).toMatch(/^kfunc:fq_ring_free \{ @fq_ring_free = count\(\); \}$/m);
    expect(p.text).toMatch(/^BEGIN/m);
    expect(p.text).toMatch(/^END/m);

    const k612 = btf(['qi_submit_sync', 'qi_flush_iotlb', 'intel_flush_iotlb_all', 'cache_tag_flush_range', 'cache_tag_flush_all', 'fq_flush_iotlb', 'fq_flush_timeout', 'fq_ring_free_locked', 'viommu_sync_req']);
    const q = prepareScript(text, k612, '6.12.95+deb12-amd64');
    expect(q.skipped.map((x) => x.probe)).toEqual(['kfunc:iommu_flush_iotlb_psi', 'kfunc:fq_ring_free']);
    expect(q.text).toMatch(/^kfunc:fq_ring_free_locked \{ @fq_ring_free = count\(\); \}$/m);
    // A function that exists only as a compiler clone can be kprobed, not kfunc'd: no btf: key, so skipped.
    expect(prepareScript(text, new Set(['qi_submit_sync']), '6.12').probes).toEqual([]);
  });
});

describe('bpftrace -f json output', () => {
  it('parses attach notices, scalar and keyed maps, histograms, and errors', () => {
    const out = parseBpftraceJson([
      'Attaching 3 probes...',
      '{"type": "attached_probes", "data": {"probes": 3}}',
      '{"type": "map", "data": {"@fq_flush": 1200}}',
      '{"type": "map", "data": {"@maps": {"0000:00:12.0": 98000, "0000:00:11.0": 12}}}',
      '{"type": "hist", "data": {"@map_ns": [{"min": 4000, "max": 4249, "count": 10}, {"min": 4250, "max": 4499, "count": 80}, {"min": 9000, "max": 9249, "count": 10}]}}',
      '{"type": "error", "msg": "something"}',
      '{"truncated',
    ].join('\n'));
    expect(out.attachedProbes).toBe(3);
    expect(out.maps['fq_flush']).toBe(1200);
    expect(out.maps['maps']).toEqual({ '0000:00:12.0': 98000, '0000:00:11.0': 12 });
    expect(histPercentile(out.maps['map_ns'] as never, 50)).toBe(4499);
    expect(histPercentile(out.maps['map_ns'] as never, 99)).toBe(9249);
    expect(out.errors).toEqual(['something', 'not JSON: {"truncated']);
  });
});

describe('I/O pattern check', () => {
  const job = { workload: 'w', rw: 'randread' as const, bs: '4k', iodepth: 16, numjobs: 1, ioengine: 'libaio' as const, size: '1g', runtime: 10, ramp_time: 0, direct: true, options: {} };
  const dev = devT('259:0');
  const out = (reqs: Record<string, number>, bytes: Record<string, number>) => ({ maps: { reqs, bytes }, errors: [] });

  it('passes when the device saw the job\'s block size and direction', () => {
    const c = checkIoPattern(out({ [`${dev}, R`]: 1000, '254,W': 5 }, { [`${dev}, R`]: 4096000 }), '259:0', job);
    expect(c).toMatchObject({ name: 'io-pattern', ok: true });
    expect(c.detail).toBe('1000 data requests on 259:0: mean 4096 B, 100 % reads');
  });

  it('flags requests of another size, or writes where reads were asked', () => {
    const c = checkIoPattern(out({ [`${dev}, R`]: 100, [`${dev}, W`]: 100 }, { [`${dev}, R`]: 100 * 65536, [`${dev}, W`]: 100 * 65536 }), '259:0', job);
    expect(c.ok).toBe(false);
    expect(c.detail).toContain('mismatch: mean request 65536 B, job bs 4096 B; read share 50 %, job asks 100 %');
    expect(checkIoPattern(out({}, {}), '259:0', job)).toMatchObject({ ok: false, detail: 'no requests reached device 259:0' });
  });

  it('counts an NVMe multipath head\'s requests on its hidden path device (QEMU 10: 259:0 under the head 259:1, saved from a guest)', () => {
    // As bpftrace printed them: requests on 259:0 (and 254:0, the root disk), and the remap 259:0 ← 259:1.
    const saved = { maps: { reqs: { '271581184, R': 11893, '266338304, W': 299 }, bytes: { '271581184, R': 11893 * 4096 }, remap: { '271581184': 271581185 } }, errors: [] };
    const c = checkIoPattern(saved, '259:1', job);
    expect(c).toMatchObject({ name: 'io-pattern', ok: true, detail: '11893 data requests on 259:1 (through its multipath device): mean 4096 B, 100 % reads' });
    // Without the remap, nothing is the head's.
    expect(checkIoPattern({ ...saved, maps: { reqs: saved.maps.reqs, bytes: saved.maps.bytes } }, '259:1', job).ok).toBe(false);
  });
});

/**
 * Real outputs, saved from TCG guests (Debian 6.12, bpftrace 0.17) running
 * randread 4k qd16 on emulated NVMe for 10 s with each script attached; meta.json
 * holds fio's I/O count of the same repetition.
 */
describe('real bpftrace output from TCG guests', () => {
  const fixture = async (config: string, name: string) => {
    const dir = `test/fixtures/bpftrace/${config}-6.12`;
    const meta = JSON.parse(await readFile(`${dir}/meta.json`, 'utf8')) as { fio: Record<string, { total_ios: number }> };
    return { out: parseBpftraceJson(await readFile(`${dir}/${name}.json`, 'utf8')), ios: meta.fio[name]!.total_ios };
  };
  const NVME = '0000:00:12.0';

  it('intel strict: one synchronous IOTLB flush per I/O and no flush queue', async () => {
    const { out, ios } = await fixture('intel-strict', 'iotlb-invalidations');
    expect(out.attachedProbes).toBe(9);
    expect(out.errors).toEqual([]);
    const m = traceMetrics('iotlb-invalidations', out, { ios, pci: NVME });
    expect(m['iotlb_sync_flush_per_io']).toBe(1);
    expect(m['fq_flush_per_io']).toBe(0);
  });

  it('intel lazy: almost no synchronous flushes, batched flush-queue flushes instead', async () => {
    const { out, ios } = await fixture('intel-lazy', 'iotlb-invalidations');
    const m = traceMetrics('iotlb-invalidations', out, { ios, pci: NVME });
    // 1,096 flush-queue flushes, each one global flush, over 168,077 I/Os.
    expect(m['fq_flush_per_io']).toBeCloseTo(1096 / 168077, 12);
    expect(m['iotlb_sync_flush_per_io']).toBeCloseTo(1096 / 168077, 12);
    expect(m['iotlb_sync_flush_per_io']!).toBeLessThan(0.01);
  });

  it('one DMA map per I/O on the NVMe controller, and map latency percentiles from the linear histogram', async () => {
    for (const config of ['intel-strict', 'intel-lazy']) {
      const { out, ios } = await fixture(config, 'dma-map-latency');
      const m = traceMetrics('dma-map-latency', out, { ios, pci: NVME });
      expect(m['dma_map_per_io'], config).toBe(1);
      expect(m['dma_map_p50_ns']!, config).toBeGreaterThan(1000);
      expect(m['dma_map_p99_ns']!, config).toBeGreaterThan(m['dma_map_p50_ns']!);
      expect(m['dma_unmap_p50_ns']!, config).toBeGreaterThan(0);
      // Buckets are 250 ns wide: a percentile is the inclusive upper edge of one.
      expect((m['dma_map_p50_ns']! + 1) % 250, config).toBe(0);
    }
  });

  it('one IOVA allocation per I/O', async () => {
    const { out, ios } = await fixture('intel-strict', 'iova-alloc');
    expect(traceMetrics('iova-alloc', out, { ios })['iova_alloc_per_io']).toBe(1);
  });

  it('no IOMMU faults, and an empty map is a zero', async () => {
    const { out, ios } = await fixture('intel-lazy', 'iommu-faults');
    expect(out.attachedProbes).toBe(1);
    expect(traceMetrics('iommu-faults', out, { ios })).toEqual({ iommu_faults: 0 });
  });

  it('the block layer saw the job: every I/O issued once, 4 KiB reads on 259:0', async () => {
    const { out, ios } = await fixture('intel-strict', 'block-io');
    const job = { workload: 'w', rw: 'randread' as const, bs: '4k', iodepth: 16, numjobs: 1, ioengine: 'libaio' as const, size: '256m', runtime: 10, ramp_time: 0, direct: true, options: {} };
    expect(out.maps['reqs']).toEqual({ [`${devT('259:0')},R`]: ios });
    const c = checkIoPattern(out, '259:0', job);
    expect(c).toEqual({ name: 'io-pattern', ok: true, detail: `${ios} data requests on 259:0: mean 4096 B, 100 % reads` });
    expect(checkIoPattern(out, '259:0', { ...job, rw: 'randwrite' }).ok).toBe(false);
  });
});

describe('pure counters', () => {
  it('finds the kfunc blocks whose only work is one count, the ones whose misses are uncounted calls', async () => {
    const text = await readFile('bpf/iotlb-invalidations.bt', 'utf8');
    const c = pureCounters(text);
    expect(c.get('qi_submit_sync')).toBe('intel_qi_sync');
    expect(c.get('viommu_sync_req')).toBe('viommu_sync');
    // Both probes of one block count into one map.
    expect(c.get('fq_ring_free')).toBe('fq_ring_free');
    expect(c.get('fq_ring_free_locked')).toBe('fq_ring_free');
    // dma-map-latency's latency programs (timestamps, histograms) and keyed counters are not pure counts.
    const lat = pureCounters(await readFile('bpf/dma-map-latency.bt', 'utf8'));
    expect(lat.has('iommu_dma_map_page')).toBe(false);
    expect(lat.has('dma_map_page_attrs')).toBe(false);
    expect(lat.get('__iommu_dma_map')).toBe('iommu_maps');
  });

  it('refuses a predicate, which a skipped run might not have passed', () => {
    expect(pureCounters('kfunc:f /pid == 1/ { @n = count(); }\nkfunc:g { @m = count(); }\n')).toEqual(new Map([['g', 'm']]));
  });
});
