/**
 * Every metric the lab reports, described once. The scenario schema (which
 * metric names are allowed), the reports (titles, units) and the comparisons
 * (which direction is a regression, which test applies) all read this table.
 *
 * kind:
 *  - `timing`: a measured duration or rate; noisy under emulation (CV 6–28 %
 *    seen under TCG), compared with rank tests on repetitions.
 *  - `count`: an exact event count normalised per I/O (DMA maps, IOTLB flushes);
 *    deterministic for a given kernel and mode, compared as rates.
 *  - `exposure`: what a count is normalised by (completed I/Os); never compared.
 *
 * traced: produced only by repetitions that run with bpftrace attached. Timings
 * from those repetitions are never mixed with untraced ones.
 */

export type Better = 'higher' | 'lower';
export type MetricKind = 'timing' | 'count' | 'exposure';
export type MetricSource = 'fio' | 'bpftrace';

export interface MetricDescription {
  readonly name: string;
  readonly title: string;
  readonly unit: string;
  readonly better: Better;
  readonly kind: MetricKind;
  readonly source: MetricSource;
  /** The bpftrace script (file name in bpf/ without `.bt`) that produces it. */
  readonly script?: string;
  readonly description: string;
}

const fio = (
  name: string,
  title: string,
  unit: string,
  better: Better,
  description: string,
): MetricDescription => ({ name, title, unit, better, kind: 'timing', source: 'fio', description });

const traced = (
  name: string,
  title: string,
  unit: string,
  kind: MetricKind,
  script: string,
  description: string,
): MetricDescription => ({ name, title, unit, better: 'lower', kind, source: 'bpftrace', script, description });

export const METRICS: readonly MetricDescription[] = [
  { name: 'ios', title: 'Completed I/Os', unit: 'IOs', better: 'higher', kind: 'exposure', source: 'fio',
    description: 'I/Os completed in the repetition (all jobs); the exposure that turns per-I/O counts back into event counts for rate tests.' },
  fio('iops', 'IOPS', 'IO/s', 'higher', 'Completed I/Os per second, reads and writes together, summed over jobs.'),
  fio('read_iops', 'Read IOPS', 'IO/s', 'higher', 'Completed reads per second.'),
  fio('write_iops', 'Write IOPS', 'IO/s', 'higher', 'Completed writes per second.'),
  fio('bw_mib_s', 'Bandwidth', 'MiB/s', 'higher', 'Bytes moved per second, reads and writes together.'),
  fio('clat_mean_us', 'Completion latency, mean', 'µs', 'lower', 'Mean completion latency (submission to completion) over all I/Os.'),
  fio('clat_p50_us', 'Completion latency, p50', 'µs', 'lower', 'Median completion latency.'),
  fio('clat_p90_us', 'Completion latency, p90', 'µs', 'lower', '90th percentile completion latency.'),
  fio('clat_p99_us', 'Completion latency, p99', 'µs', 'lower', '99th percentile completion latency.'),
  fio('clat_p999_us', 'Completion latency, p99.9', 'µs', 'lower', '99.9th percentile completion latency.'),
  fio('cpu_usr_pct', 'CPU user', '%', 'lower', 'fio user CPU time as a share of wall time.'),
  fio('cpu_sys_pct', 'CPU system', '%', 'lower', 'fio system CPU time as a share of wall time; IOMMU mapping cost lands here.'),
  traced('dma_map_per_io', 'DMA maps per I/O', 'maps/IO', 'count', 'dma-map-latency',
    'DMA-API map calls (dma_map_page_attrs and sg variants) divided by completed I/Os.'),
  traced('dma_map_p50_ns', 'DMA map latency, p50', 'ns', 'timing', 'dma-map-latency',
    'Median latency of iommu_dma_map_page; from a traced repetition, so inflated by tracing.'),
  traced('dma_map_p99_ns', 'DMA map latency, p99', 'ns', 'timing', 'dma-map-latency',
    '99th percentile latency of iommu_dma_map_page; from a traced repetition.'),
  traced('dma_unmap_p50_ns', 'DMA unmap latency, p50', 'ns', 'timing', 'dma-map-latency',
    'Median latency of iommu_dma_unmap_page; from a traced repetition.'),
  traced('iotlb_sync_flush_per_io', 'Synchronous IOTLB flushes per I/O', 'flushes/IO', 'count', 'iotlb-invalidations',
    'Synchronous invalidations (Intel qi_submit_sync, virtio-iommu viommu_sync_req) per completed I/O: the cost strict mode pays.'),
  traced('fq_flush_per_io', 'Flush-queue flushes per I/O', 'flushes/IO', 'count', 'iotlb-invalidations',
    'Deferred flush-queue flushes (fq_flush_iotlb) per completed I/O: how lazy mode batches invalidations.'),
  traced('iova_alloc_per_io', 'IOVA allocations per I/O', 'allocs/IO', 'count', 'iova-alloc',
    'alloc_iova_fast calls per completed I/O.'),
  traced('iommu_faults', 'IOMMU faults', 'faults', 'count', 'iommu-faults',
    'iommu:io_page_fault events during the repetition; any non-zero value is worth a look.'),
];

const byName = new Map(METRICS.map((m) => [m.name, m]));

export const METRIC_NAMES: readonly string[] = METRICS.map((m) => m.name);

export function describeMetric(name: string): MetricDescription | undefined {
  return byName.get(name);
}

/** The metrics a scenario gets when it names none: what fio gives without tracing. */
export const DEFAULT_METRICS: readonly string[] = ['iops', 'bw_mib_s', 'clat_p50_us', 'clat_p99_us', 'cpu_sys_pct'];
