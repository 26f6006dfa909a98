/**
 * fio `--output-format=json+` → the lab's metrics. Pure. Percentiles are
 * computed from the merged latency histograms (`clat_ns.bins`, what json+ adds)
 * over all jobs and directions, because fio's per-job percentiles cannot be
 * combined; for one job and one direction the result equals fio's own.
 */
import { LabError } from '../core/errors.js';

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

export class FioParseError extends LabError {
  constructor(message: string) {
    super('E_FIO_PARSE', message, { fix: 'the raw output is kept as fio.json beside the result; look there' });
    this.name = 'FioParseError';
  }
}

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

export function fioMetrics(out: FioOutput): Record<string, number> {
  const failed = out.jobs.find((j) => j.error !== 0);
  if (failed) throw new FioParseError(`fio job ${failed.jobname} ended with error ${failed.error}`);
  let readIops = 0;
  let writeIops = 0;
  let bwKiB = 0;
  let usr = 0;
  let sys = 0;
  let latSum = 0;
  let latN = 0;
  const bins = new Map<number, number>();
  for (const j of out.jobs) {
    readIops += j.read.iops;
    writeIops += j.write.iops;
    bwKiB += j.read.bw + j.write.bw;
    usr += j.usr_cpu;
    sys += j.sys_cpu;
    for (const d of [j.read, j.write]) {
      const c = d.clat_ns;
      if (!c || !c.N) continue;
      latSum += (c.mean ?? 0) * c.N;
      latN += c.N;
      for (const [k, n] of Object.entries(c.bins ?? {})) bins.set(Number(k), (bins.get(Number(k)) ?? 0) + n);
    }
  }
  if (latN === 0) throw new FioParseError('fio completed no I/O');
  if (bins.size === 0) throw new FioParseError('fio JSON has no latency bins; run fio with --output-format=json+');
  const us = (ns: number) => ns / 1000;
  const metrics: Record<string, number> = {
    ios: fioTotalIos(out),
    iops: readIops + writeIops,
    bw_mib_s: bwKiB / 1024,
    clat_mean_us: us(latSum / latN),
    clat_p50_us: us(percentileFromBins(bins, 50)),
    clat_p90_us: us(percentileFromBins(bins, 90)),
    clat_p99_us: us(percentileFromBins(bins, 99)),
    clat_p999_us: us(percentileFromBins(bins, 99.9)),
    cpu_usr_pct: usr,
    cpu_sys_pct: sys,
  };
  if (readIops > 0) metrics['read_iops'] = readIops;
  if (writeIops > 0) metrics['write_iops'] = writeIops;
  return metrics;
}

export function parseFio(stdout: string): { output: FioOutput; metrics: Record<string, number> } {
  const output = extractFioJson(stdout);
  return { output, metrics: fioMetrics(output) };
}

/** Completed I/Os over all jobs and directions (what per-I/O counts divide by). */
export function fioTotalIos(out: FioOutput): number {
  return out.jobs.reduce((n, j) => n + j.read.total_ios + j.write.total_ios, 0);
}
