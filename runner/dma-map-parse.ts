/**
 * The DMA-map benchmark's output to metrics (core/metrics.ts). Pure. The tool
 * prints, in 100 ns steps:
 *
 *   dma mapping benchmark: threads:1 seconds:5 node:-1 dir:BIDIRECTIONAL granule: 1
 *   average map latency(us):0.8 standard deviation:0.4
 *   average unmap latency(us):1.1 standard deviation:0.5
 */
import { DmaMapBenchmarkError } from '../core/errors.js';
import { METRICS, type DmaMapExtraction } from '../core/metrics.js';

export interface DmaMapOutput {
  readonly threads: number;
  readonly seconds: number;
  readonly direction: string;
  readonly granule: number;
  readonly map_us: number;
  readonly map_sd_us: number;
  readonly unmap_us: number;
  readonly unmap_sd_us: number;
}

const num = '([0-9]+(?:\\.[0-9]+)?)';

export function parseDmaMap(stdout: string): DmaMapOutput {
  const head = /threads:\s*(\d+)\s+seconds:\s*(\d+).*?dir:\s*(\w+)\s+granule:\s*(\d+)/.exec(stdout);
  const map = new RegExp(`average map latency\\(us\\):\\s*${num}\\s+standard deviation:\\s*${num}`).exec(stdout);
  const unmap = new RegExp(`average unmap latency\\(us\\):\\s*${num}\\s+standard deviation:\\s*${num}`).exec(stdout);
  if (!head || !map || !unmap) {
    throw new DmaMapBenchmarkError(`the DMA-map benchmark printed no ${!head ? 'header' : !map ? 'map latency' : 'unmap latency'} line`, { detail: stdout.slice(-2000), fix: 'the output is kept as dma_map_benchmark.txt beside the result; a tool from another kernel version may print otherwise' });
  }
  return {
    threads: Number(head[1]), seconds: Number(head[2]), direction: head[3]!, granule: Number(head[4]),
    map_us: Number(map[1]), map_sd_us: Number(map[2]), unmap_us: Number(unmap[1]), unmap_sd_us: Number(unmap[2]),
  };
}

/** Every metric the benchmark gives, by its name in core/metrics.ts. */
export function dmaMapMetrics(out: DmaMapOutput): Record<string, number> {
  const metrics: Record<string, number> = {};
  for (const d of METRICS) {
    if (d.extract.tool !== 'dma-map-benchmark') continue;
    metrics[d.name] = out[(d.extract as DmaMapExtraction).field];
  }
  return metrics;
}
