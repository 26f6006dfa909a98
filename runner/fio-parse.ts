/**
 * fio `--output-format=json+` → the lab's metrics, each as core/metrics.ts
 * says it is extracted. Pure. Percentiles are
 * computed from the merged latency histograms (`clat_ns.bins`, what json+ adds)
 * over all jobs and directions, because fio's per-job percentiles cannot be
 * combined; for one job and one direction the result equals fio's own.
 */
import { FioParseError } from '../core/errors.js';
import { METRICS, type FioExtraction } from '../core/metrics.js';

interface FioClat {
  readonly mean?: number;
  readonly N?: number;
  readonly percentile?: Record<string, number>;
  readonly bins?: Record<string, number>;
}
interface FioDir {
  readonly iops: number;
  readonly bw: number;
  readonly total_ios: number;
  readonly clat_ns?: FioClat;
}
interface FioJobOut {
  readonly jobname: string;
  readonly error: number;
  readonly read: FioDir;
  readonly write: FioDir;
  readonly usr_cpu: number;
  readonly sys_cpu: number;
}
export interface FioOutput {
  readonly 'fio version': string;
  readonly jobs: readonly FioJobOut[];
}

export { FioParseError };

/** fio can print warnings before its JSON on stdout; the JSON object starts at the first line that opens with `{`. */
export function extractFioJson(stdout: string): FioOutput {
  const start = stdout.search(/^\{/m);
  if (start < 0) throw new FioParseError('fio printed no JSON');
  let parsed: unknown;
  try {
    parsed = JSON.parse(stdout.slice(start));
  } catch (e) {
    throw new FioParseError(`fio's JSON is truncated or invalid: ${(e as Error).message}`);
  }
  const out = parsed as FioOutput;
  if (!Array.isArray(out?.jobs) || out.jobs.length === 0) throw new FioParseError('fio JSON has no jobs');
  return out;
}

function percentileFromBins(bins: Map<number, number>, p: number): number {
  const keys = [...bins.keys()].sort((a, b) => a - b);
  const total = keys.reduce((s, k) => s + bins.get(k)!, 0);
  // fio's rule: the smallest bucket value whose cumulative count reaches p% of the samples.
  const want = (p / 100) * total;
  let cum = 0;
  for (const k of keys) {
    cum += bins.get(k)!;
    if (cum >= want) return k;
  }
  return keys[keys.length - 1] ?? NaN;
}

/** fio's output summed over jobs, per direction: what the fio metrics of core/metrics.ts are taken from. */
interface FioTotals {
  readonly iops: { read: number; write: number };
  readonly bwKiB: { read: number; write: number };
  readonly ios: { read: number; write: number };
  readonly usr: number;
  readonly sys: number;
  readonly latMeanNs: number;
  readonly bins: Map<number, number>;
}

function totals(out: FioOutput): FioTotals {
  const failed = out.jobs.find((j) => j.error !== 0);
  if (failed) throw new FioParseError(`fio job ${failed.jobname} ended with error ${failed.error}`);
  const t = { iops: { read: 0, write: 0 }, bwKiB: { read: 0, write: 0 }, ios: { read: 0, write: 0 }, usr: 0, sys: 0 };
  let latSum = 0;
  let latN = 0;
  const bins = new Map<number, number>();
  for (const j of out.jobs) {
    t.usr += j.usr_cpu;
    t.sys += j.sys_cpu;
    for (const dir of ['read', 'write'] as const) {
      const d = j[dir];
      t.iops[dir] += d.iops;
      t.bwKiB[dir] += d.bw;
      t.ios[dir] += d.total_ios;
      const c = d.clat_ns;
      if (!c || !c.N) continue;
      latSum += (c.mean ?? 0) * c.N;
      latN += c.N;
      for (const [k, n] of Object.entries(c.bins ?? {})) bins.set(Number(k), (bins.get(Number(k)) ?? 0) + n);
    }
  }
  if (latN === 0) throw new FioParseError('fio completed no I/O');
  if (bins.size === 0) throw new FioParseError('fio JSON has no latency bins; run fio with --output-format=json+');
  return { ...t, latMeanNs: latSum / latN, bins };
}

/** One fio metric's value, as its description says; undefined where it does not apply (reads of a write job). */
function fioValue(t: FioTotals, x: FioExtraction): number | undefined {
  const both = (v: { read: number; write: number }) => ('direction' in x && x.direction ? v[x.direction] : v.read + v.write);
  switch (x.quantity) {
    case 'total_ios': return both(t.ios);
    case 'iops': {
      const v = both(t.iops);
      return 'direction' in x && x.direction && v === 0 ? undefined : v;
    }
    case 'bw_mib_s': return both(t.bwKiB) / 1024;
    case 'clat_mean_us': return t.latMeanNs / 1000;
    case 'clat_percentile_us': return percentileFromBins(t.bins, x.percentile) / 1000;
    case 'cpu_usr_pct': return t.usr;
    case 'cpu_sys_pct': return t.sys;
  }
}

/** Every metric core/metrics.ts extracts from fio. */
export function fioMetrics(out: FioOutput): Record<string, number> {
  const t = totals(out);
  const metrics: Record<string, number> = {};
  for (const d of METRICS) {
    if (d.extract.tool !== 'fio') continue;
    const v = fioValue(t, d.extract);
    if (v !== undefined) metrics[d.name] = v;
  }
  return metrics;
}

export function parseFio(stdout: string): { output: FioOutput; metrics: Record<string, number> } {
  const output = extractFioJson(stdout);
  return { output, metrics: fioMetrics(output) };
}

