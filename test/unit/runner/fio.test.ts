import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import type { Cell, FioJob } from '../../../cell/types.js';
import { buildJobFile } from '../../../runner/fio-job.js';
import { extractFioJson, FioParseError, fioMetrics, parseFio } from '../../../runner/fio-parse.js';

const fixture = (name: string) => readFile(`test/fixtures/fio/${name}`, 'utf8');

describe('parseFio on saved real fio 3.33 output', () => {
  it('single job: IOPS, bandwidth, and percentiles equal to fio\'s own', async () => {
    const text = await fixture('randread-4k-qd16-libaio.json');
    const { output, metrics } = parseFio(text);
    const job = output.jobs[0]!;
    expect(metrics['iops']).toBeCloseTo(job.read.iops, 6);
    expect(metrics['read_iops']).toBeCloseTo(job.read.iops, 6);
    expect(metrics['write_iops']).toBeUndefined();
    expect(metrics['ios']).toBe(job.read.total_ios + job.write.total_ios);
    expect(metrics['bw_mib_s']).toBeCloseTo(job.read.bw / 1024, 6);
    const pct = job.read.clat_ns!.percentile!;
    expect(metrics['clat_p50_us']).toBe(pct['50.000000']! / 1000);
    expect(metrics['clat_p90_us']).toBe(pct['90.000000']! / 1000);
    expect(metrics['clat_p99_us']).toBe(pct['99.000000']! / 1000);
    expect(metrics['clat_p999_us']).toBe(pct['99.900000']! / 1000);
    expect(metrics['clat_mean_us']).toBeCloseTo(job.read.clat_ns!.mean! / 1000, 6);
    expect(metrics['cpu_sys_pct']).toBe(job.sys_cpu);
  });

  it('two jobs, mixed reads and writes: sums rates, merges histograms', async () => {
    const { output, metrics } = parseFio(await fixture('randrw-70-4k-qd8-j2.json'));
    expect(output.jobs).toHaveLength(2);
    const sum = output.jobs.reduce((s, j) => s + j.read.iops + j.write.iops, 0);
    expect(metrics['iops']).toBeCloseTo(sum, 6);
    expect(metrics['read_iops']! / metrics['iops']!).toBeGreaterThan(0.6);
    expect(metrics['read_iops']! / metrics['iops']!).toBeLessThan(0.8);
    // The merged median lies between the smallest and largest per-job, per-direction medians.
    const medians = output.jobs.flatMap((j) => [j.read, j.write].map((d) => d.clat_ns!.percentile!['50.000000']! / 1000));
    expect(metrics['clat_p50_us']).toBeGreaterThanOrEqual(Math.min(...medians));
    expect(metrics['clat_p50_us']).toBeLessThanOrEqual(Math.max(...medians));
    expect(metrics['clat_p99_us']).toBeGreaterThanOrEqual(metrics['clat_p50_us']!);
  });

  it('finds the JSON after warnings fio printed first', async () => {
    const text = `fio: file hash not empty on exit\n${await fixture('randread-4k-qd16-libaio.json')}`;
    expect(extractFioJson(text).jobs).toHaveLength(1);
  });

  it('rejects truncated output, empty output, and jobs that failed', async () => {
    const text = await fixture('randread-4k-qd16-libaio.json');
    expect(() => parseFio(text.slice(0, text.length / 2))).toThrow(/truncated or invalid/);
    expect(() => parseFio('')).toThrow(FioParseError);
    const out = JSON.parse(text);
    out.jobs[0].error = 5;
    expect(() => fioMetrics(out)).toThrow(/ended with error 5/);
  });
});

describe('buildJobFile', () => {
  const cell: Omit<Cell, 'job'> & { job: FioJob } = {
    id: 'rr__intel-strict__vm__nvme0', index: 0, disk: 'nvme0', axes: {},
    iommu: { device: 'intel', mode: 'strict' },
    target: { kind: 'vm', profile: 'vm', kernel: '6.12', kernelAxis: false, name: 'vm-intel-strict' },
    job: { workload: 'rr', rw: 'randrw', bs: '4k', iodepth: 16, numjobs: 2, ioengine: 'libaio', size: '256m', runtime: 10, ramp_time: 2, direct: true, options: { rwmixread: 70, norandommap: true } },
  };

  it('writes a commented, time-based job with the cell\'s values', () => {
    const text = buildJobFile(cell, { run: 'r1', rep: 'timing-01', path: '/dev/nvme0n1' });
    expect(text).toContain('; cell rr__intel-strict__vm__nvme0');
    expect(text.split('\n')).toEqual(expect.arrayContaining([
      '[global]', 'filename=/dev/nvme0n1', 'direct=1', 'time_based=1', 'runtime=10', '[rr]', 'rw=randrw', 'iodepth=16', 'numjobs=2', 'rwmixread=70', 'norandommap=1',
    ]));
  });

  it('refuses values that could smuggle a line or an option into the job', () => {
    const evil = { ...cell, job: { ...cell.job, bs: '4k\nexec_prerun=rm -rf /' } };
    expect(() => buildJobFile(evil, { run: 'r', rep: 't', path: '/dev/x' })).toThrow(/characters a job file cannot hold/);
    const other = { ...cell, job: { ...cell.job, options: { exec_prerun: 'x' } } };
    expect(() => buildJobFile(other, { run: 'r', rep: 't', path: '/dev/x' })).toThrow(/not in the allow-list/);
  });
});
