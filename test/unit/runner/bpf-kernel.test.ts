/** What the kernel says about a running bpftrace, parsed from output saved in a lab guest (QEMU 10, 6.12, intel strict). */
import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { bpfProcessCommand, parseBpfProcessView } from '../../../runner/bpf-kernel.js';
import { accountMisses } from '../../../runner/traced.js';
import { pureCounters, sampledProbes } from '../../../runner/tracing.js';

const fixture = (name: string) => readFileSync(join(import.meta.dirname, '../../fixtures/bpftool', name), 'utf8');

describe('the kernel view of a bpftrace process', () => {
  it('counts the links, perf events and programs of iotlb-invalidations.bt as kfuncs', () => {
    const v = parseBpfProcessView(fixture('iotlb-invalidations-kfunc-6.12.txt'));
    // 8 kfunc probes kept on 6.12 → 8 links; BEGIN and END are uprobes on bpftrace itself → 2 perf events.
    expect(v.links).toBe(8);
    expect(v.perfEvents).toBe(2);
    expect(v.programs).toHaveLength(8);
    expect(new Set(v.programs.map((p) => p.type))).toEqual(new Set(['tracing']));
    expect(v.programs.every((p) => p.recursionMisses === 0)).toBe(true);
    expect(v.programs.map((p) => p.name)).toContain('qi_submit_sync');
  });

  it('sees kprobe programs as kprobes (whose missed runs the kernel does not report)', () => {
    const v = parseBpfProcessView(fixture('kprobes-6.12.txt'));
    expect(v.links).toBe(0);
    expect(v.perfEvents).toBeGreaterThanOrEqual(3);
    expect(v.programs.map((p) => p.type)).toEqual(['kprobe', 'kprobe', 'kprobe']);
  });

  it('reads recursion misses where bpftool reports them, and only for the process\'s own programs', () => {
    const out = 'link\nprog 7\nlink\nprog 8\n--bpftool--\n[{"id":7,"type":"tracing","name":"qi_submit_sync","recursion_misses":3},{"id":8,"type":"tracing","name":"dma_map_page_at"},{"id":9,"type":"tracing","name":"other","recursion_misses":50}]';
    const v = parseBpfProcessView(out);
    expect(v.programs.map((p) => [p.name, p.recursionMisses])).toEqual([['qi_submit_sync', 3], ['dma_map_page_at', 0]]);
  });

  it('refuses output without bpftool\'s part', () => {
    expect(() => parseBpfProcessView('link\nprog 7\n')).toThrow();
  });

  it('asks for one process only, quoted', () => {
    expect(bpfProcessCommand(1142)).toContain("/proc/'1142'/fd/*");
  });
});

describe('missed runs, accounted', () => {
  const view = (misses: Record<string, number>) => ({ links: 8, perfEvents: 2, programs: Object.entries(misses).map(([name, n], i) => ({ id: i, type: 'tracing', name, recursionMisses: n })) });

  it('adds a pure counter\'s missed runs back to its map (seen: viommu_sync_req, 3 in a virtio-lazy repetition)', async () => {
    const counters = pureCounters(await readFile('bpf/iotlb-invalidations.bt', 'utf8'));
    const m = accountMisses(view({ viommu_sync_req: 3, qi_submit_sync: 0, cache_tag_flush: 2 }), counters);
    expect(m).toMatchObject({ total: 5, addedTo: { viommu_sync: 3, intel_cache_tag: 2 }, unresolved: [] });
    expect(m.unproven).toBeUndefined();
  });

  it('cannot add back a latency program\'s misses, and says which', async () => {
    const counters = pureCounters(await readFile('bpf/dma-map-latency.bt', 'utf8'));
    expect(accountMisses(view({ iommu_dma_map_p: 1 }), counters).unresolved).toEqual(['iommu_dma_map_p: 1']);
  });

  it('leaves kprobe counts unproven', () => {
    const m = accountMisses(parseBpfProcessView(fixture('kprobes-6.12.txt')), new Map());
    expect(m.unproven).toMatch(/kprobe programs .* do not report the runs they miss/);
  });
});

describe('sampled probes', () => {
  it('tolerates block-io\'s completion program missing runs (its latency histogram is a sample), and nothing else', async () => {
    const text = await readFile('bpf/block-io.bt', 'utf8');
    expect(sampledProbes(text)).toEqual(new Set(['block_rq_complete', 'block_bio_remap']));
    const view = { links: 0, perfEvents: 4, programs: [{ id: 1, type: 'tracepoint', name: 'block_rq_comple', recursionMisses: 424 }, { id: 2, type: 'tracepoint', name: 'block_rq_issue', recursionMisses: 0 }] };
    expect(accountMisses(view, pureCounters(text), sampledProbes(text))).toMatchObject({ total: 0, sampledMisses: 424, unresolved: [] });
    const issueMissed = { ...view, programs: [{ id: 2, type: 'tracepoint', name: 'block_rq_issue', recursionMisses: 1 }] };
    expect(accountMisses(issueMissed, pureCounters(text), sampledProbes(text)).unresolved).toEqual(['block_rq_issue: 1']);
  });
});
