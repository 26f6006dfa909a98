/** What the kernel says about a running bpftrace, parsed from output saved in a lab guest (QEMU 10, 6.12, intel strict). */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { bpfProcessCommand, parseBpfProcessView } from '../../../runner/bpf-kernel.js';

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
