/**
 * Every metric of core/metrics.ts, extracted from saved real outputs (fio
 * json+, bpftrace -f json, the DMA-map benchmark's text, iperf3's JSON with
 * the test NICs' counters, and the QEMU plugin's windows of a fio and of an
 * iperf3 run with the same boot's kallsyms, from lab guests) as its description says, against
 * golden values (test/fixtures/metrics-golden.json, written by the parsers
 * before metric extraction moved into the table, so the move changed nothing).
 */
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { METRICS } from '../../../core/metrics.js';
import { parseFio } from '../../../runner/fio-parse.js';
import { dmaMapMetrics, parseDmaMap } from '../../../runner/dma-map-parse.js';
import { parseBpftraceJson, traceMetrics } from '../../../runner/tracing.js';
import { gunzipSync } from 'node:zlib';
import { attribute } from '../../../runner/profile/attribute.js';
import { windowIos } from '../../../runner/profile/disk-stats.js';
import { exactMetrics } from '../../../runner/profile/guest.js';
import { KernelSymbols } from '../../../runner/profile/kallsyms.js';
import { parseWindow } from '../../../runner/profile/window.js';
import { MIB, networkMetrics, requestResponseMetrics, windowTraffic } from '../../../runner/network-parse.js';
import type { NetworkJob } from '../../../cell/types.js';

const F = join(import.meta.dirname, '../../fixtures');
const golden = JSON.parse(readFileSync(join(F, 'metrics-golden.json'), 'utf8')) as Record<string, Record<string, number>>;
const NVME = '0000:00:12.0';

function extractAll(): Record<string, Record<string, number>> {
  const out: Record<string, Record<string, number>> = {};
  for (const f of readdirSync(join(F, 'fio')).filter((x) => x.endsWith('.json'))) out[`fio/${f}`] = parseFio(readFileSync(join(F, 'fio', f), 'utf8')).metrics;
  for (const cfg of readdirSync(join(F, 'bpftrace'))) {
    const meta = JSON.parse(readFileSync(join(F, 'bpftrace', cfg, 'meta.json'), 'utf8')) as { fio: Record<string, { total_ios: number }> };
    for (const f of readdirSync(join(F, 'bpftrace', cfg)).filter((x) => x.endsWith('.json') && x !== 'meta.json' && x !== 'block-io.json')) {
      const script = f.replace(/\.json$/, '');
      out[`bpftrace/${cfg}/${f}`] = traceMetrics(script, parseBpftraceJson(readFileSync(join(F, 'bpftrace', cfg, f), 'utf8')), { ios: meta.fio[script]!.total_ios, pci: NVME });
    }
  }
  for (const f of readdirSync(join(F, 'dma-map')).filter((x) => x.endsWith('.txt'))) out[`dma-map/${f}`] = dmaMapMetrics(parseDmaMap(readFileSync(join(F, 'dma-map', f), 'utf8')));
  for (const cfg of readdirSync(join(F, 'profiler'))) {
    const file = (f: string) => readFileSync(join(F, 'profiler', cfg, f));
    const p = attribute(parseWindow(gunzipSync(file('window.tsv.gz')).toString('utf8')), KernelSymbols.parse(gunzipSync(file('kallsyms.txt.gz')).toString('utf8')));
    const [before, after] = [file('stat.before').toString('utf8'), file('stat.after').toString('utf8')];
    // A network window: per packet and per MiB over the test NICs' counters, beside iperf3's own metrics.
    const traffic = windowTraffic(before, after);
    out[`profiler/${cfg}`] = traffic
      ? { ...networkMetrics(file('iperf3.json').toString('utf8'), { test: 'tcp-stream', direction: 'transmit' }, traffic), ...exactMetrics(p, traffic.packets, traffic.bytes / MIB) }
      : exactMetrics(p, windowIos(before, after)!);
  }
  for (const f of readdirSync(join(F, 'network')).filter((x) => x.endsWith('.iperf3.json') || x.endsWith('.sockperf.txt'))) {
    const name = f.replace(/\.(iperf3\.json|sockperf\.txt)$/, '');
    const job = (JSON.parse(readFileSync(join(F, 'network', `${name}.expected.json`), 'utf8')) as { job: NetworkJob }).job;
    const [before, after] = readFileSync(join(F, 'network', `${name}.nic-stats.txt`), 'utf8').split('--\n') as [string, string];
    const text = readFileSync(join(F, 'network', f), 'utf8');
    out[`network/${f}`] = job.test === 'tcp-rr' ? requestResponseMetrics(text, windowTraffic(before, after)!) : networkMetrics(text, job, windowTraffic(before, after)!);
  }
  return out;
}

describe('metric extraction from the table', () => {
  const got = extractAll();

  it('gives the golden values on every saved output', () => {
    expect(Object.keys(got).sort()).toEqual(Object.keys(golden).sort());
    for (const [file, metrics] of Object.entries(golden)) {
      expect(Object.keys(got[file]!).sort(), file).toEqual(Object.keys(metrics).sort());
      for (const [name, v] of Object.entries(metrics)) expect(got[file]![name], `${file} ${name}`).toBeCloseTo(v, 9);
    }
  });

  it('produces every described metric from some saved output', () => {
    const produced = new Set(Object.values(got).flatMap((m) => Object.keys(m)));
    expect(METRICS.map((m) => m.name).filter((n) => !produced.has(n))).toEqual([]);
  });

  it('a count per repetition is not divided by the I/Os; a count per I/O is', () => {
    const out = { maps: { faults: 3, alloc: 300 }, errors: [] };
    expect(traceMetrics('iommu-faults', out, { ios: 100 })).toEqual({ iommu_faults: 3 });
    expect(traceMetrics('iova-alloc', out, { ios: 100 })).toEqual({ iova_alloc_per_io: 3 });
  });
});
