/**
 * I/O pattern validation: did what reached the device match what the job
 * asked? From block-io.bt's per-device request counts and bytes: the mean
 * request size against the job's block size, and the read share against rw.
 * A mismatch (a file system splitting or merging requests, a job on the wrong
 * device, a cache absorbing reads) makes the cell's numbers mean something else.
 */
import type { FioJob } from '../cell/types.js';
import type { Check } from '../result/types.js';
import type { BpftraceOutput } from './tracing.js';

export function parseSize(s: string): number {
  const m = /^(\d+)([kmgt]?)$/i.exec(s);
  if (!m) return NaN;
  const mult: Record<string, number> = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4 };
  return Number(m[1]) * mult[m[2]!.toLowerCase()]!;
}

/** Linux dev_t as the block tracepoints print it: major << 20 | minor. */
export function devT(majmin: string): number {
  const [maj, min] = majmin.split(':').map(Number);
  return (maj! << 20) | min!;
}

function entries(v: unknown): [string, number][] {
  return v && typeof v === 'object' && !Array.isArray(v) ? Object.entries(v as Record<string, number>).filter((e) => typeof e[1] === 'number') : [];
}

/**
 * The devices whose requests are the disk's: the disk itself, and the devices bios were remapped to from it
 * (`@remap`: an NVMe multipath head's hidden path device, whose number sysfs does not show).
 */
export function devicesOf(out: BpftraceOutput, majmin: string): Set<string> {
  const dev = String(devT(majmin));
  return new Set([dev, ...entries(out.maps['remap']).filter(([, from]) => String(from) === dev).map(([to]) => to.trim())]);
}

export function checkIoPattern(out: BpftraceOutput, majmin: string, job: FioJob): Check {
  const devs = devicesOf(out, majmin);
  // Keys are "dev,rwbs" (bpftrace joins multi-part keys with a comma).
  const mine = (v: unknown) => entries(v).filter(([k]) => devs.has(k.split(',')[0]!.trim())).map(([k, n]) => [k.split(',').slice(1).join(',').trim(), n] as const);
  const reqs = mine(out.maps['reqs']);
  const bytes = mine(out.maps['bytes']);
  const total = reqs.reduce((s, [, n]) => s + n, 0);
  if (total === 0) return { name: 'io-pattern', ok: false, detail: `no requests reached device ${majmin}` };
  const isRead = (rwbs: string) => rwbs.includes('R');
  const isWrite = (rwbs: string) => rwbs.includes('W');
  const reads = reqs.filter(([r]) => isRead(r)).reduce((s, [, n]) => s + n, 0);
  const writes = reqs.filter(([r]) => isWrite(r)).reduce((s, [, n]) => s + n, 0);
  const dataBytes = bytes.filter(([r]) => isRead(r) || isWrite(r)).reduce((s, [, n]) => s + n, 0);
  const meanSize = dataBytes / Math.max(1, reads + writes);
  const bs = parseSize(job.bs);
  const readShare = reads / Math.max(1, reads + writes);
  const wantRead = job.rw === 'read' || job.rw === 'randread' ? 1 : job.rw === 'write' || job.rw === 'randwrite' ? 0 : (Number(job.options['rwmixread'] ?? 50) / 100);
  const problems: string[] = [];
  // Sequential jobs may merge adjacent requests; random ones must arrive at the block size.
  const sizeOk = job.rw.startsWith('rand') ? Math.abs(meanSize - bs) / bs <= 0.1 : meanSize >= bs * 0.9;
  if (!sizeOk) problems.push(`mean request ${Math.round(meanSize)} B, job bs ${bs} B`);
  if (Math.abs(readShare - wantRead) > 0.1) problems.push(`read share ${(readShare * 100).toFixed(0)} %, job asks ${(wantRead * 100).toFixed(0)} %`);
  const via = devs.size > 1 ? ` (through its multipath device${devs.size > 2 ? 's' : ''})` : '';
  const detail = `${reads + writes} data requests on ${majmin}${via}: mean ${Math.round(meanSize)} B, ${(readShare * 100).toFixed(0)} % reads`;
  return { name: 'io-pattern', ok: problems.length === 0, detail: problems.length ? `${detail}; mismatch: ${problems.join('; ')}` : detail };
}
