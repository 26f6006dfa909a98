/**
 * Every metric the lab reports, described once. The scenario schema (which
 * metric names are allowed), the reports (titles, units) and the comparisons
 * (which direction is a regression, which test applies) all read this table.
 *
 * kind:
 *  - `timing`: a measured duration or rate; noisy under emulation (CV 6–28 %
 *    seen under TCG), compared with rank tests on repetitions.
 *  - `count`: an event count, per I/O (DMA maps, IOTLB flushes) or per
 *    repetition (faults). Its `count` model says what it is per and whether it
 *    is exact: `exact` counts follow the I/Os one for one (a DMA map per I/O;
 *    a synchronous flush per unmap in strict mode) and are compared as rates
 *    (exact Poisson test); `varies` counts follow a timer or a queue's fill
 *    (lazy mode's flush queue), so their rate per I/O moves with the I/O rate
 *    from run to run and they are compared over repetitions like timings;
 *    `poisson` counts are rare independent events per repetition (faults),
 *    compared as a rate per repetition. bench/count-dispersion.ts checks each
 *    claim on real runs.
 *  - `exposure`: what a count is normalised by (completed I/Os); never compared.
 *
 * traced: produced only by repetitions that run with bpftrace attached. Timings
 * from those repetitions are never mixed with untraced ones.
 */

import type { IommuMode } from '../scenario/types.js';

export type Better = 'higher' | 'lower';
export type MetricKind = 'timing' | 'count' | 'exposure';
export type MetricSource = 'fio' | 'bpftrace';
export type CountVariation = 'exact' | 'varies' | 'poisson';

export interface CountModel {
  /** What one value is per: a rate per completed I/O, or a raw count per repetition. */
  readonly per: 'io' | 'repetition';
  readonly variation: CountVariation;
  /** Modes in which the count follows a timer or queue instead of the I/Os (it varies there). */
  readonly variesIn?: readonly IommuMode[];
}

export interface MetricDescription {
  readonly name: string;
  readonly title: string;
  readonly unit: string;
  readonly better: Better;
  readonly kind: MetricKind;
  readonly source: MetricSource;
  /** The bpftrace script (file name in bpf/ without `.bt`) that produces it. */
  readonly script?: string;
  /** Counts only: what a value is per and whether it is exact (see above). */
  readonly count?: CountModel;
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
  count?: CountModel,
): MetricDescription => ({ name, title, unit, better: 'lower', kind, source: 'bpftrace', script, description, ...(count ? { count } : {}) });

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
    'DMA-API map calls (dma_map_page_attrs and sg variants) divided by completed I/Os. Exact: one map per I/O (or per segment) in every mode.',
    { per: 'io', variation: 'exact' }),
  traced('dma_map_p50_ns', 'DMA map latency, p50', 'ns', 'timing', 'dma-map-latency',
    'Median latency of iommu_dma_map_page; from a traced repetition, so inflated by tracing.'),
  traced('dma_map_p99_ns', 'DMA map latency, p99', 'ns', 'timing', 'dma-map-latency',
    '99th percentile latency of iommu_dma_map_page; from a traced repetition.'),
  traced('dma_unmap_p50_ns', 'DMA unmap latency, p50', 'ns', 'timing', 'dma-map-latency',
    'Median latency of iommu_dma_unmap_page; from a traced repetition.'),
  traced('iotlb_sync_flush_per_io', 'Synchronous IOTLB flushes per I/O', 'flushes/IO', 'count', 'iotlb-invalidations',
    'Synchronous invalidations (Intel qi_submit_sync, virtio-iommu viommu_sync_req) per completed I/O: the cost strict mode pays. Exact in strict mode (one per unmap) and in passthrough/off (none); varies in lazy mode, where the flush-queue timer and its fill drive them.',
    { per: 'io', variation: 'exact', variesIn: ['lazy'] }),
  traced('fq_flush_per_io', 'Flush-queue flushes per I/O', 'flushes/IO', 'count', 'iotlb-invalidations',
    'Deferred flush-queue flushes (fq_flush_iotlb) per completed I/O: how lazy mode batches invalidations. Varies in lazy mode (a timer and the queue\'s fill drive it, so its rate per I/O follows the I/O rate); none in the other modes.',
    { per: 'io', variation: 'exact', variesIn: ['lazy'] }),
  traced('iova_alloc_per_io', 'IOVA allocations per I/O', 'allocs/IO', 'count', 'iova-alloc',
    'alloc_iova_fast calls per completed I/O. Exact: one IOVA per mapping in the translating modes, none otherwise.',
    { per: 'io', variation: 'exact' }),
  traced('iommu_faults', 'IOMMU faults', 'faults', 'count', 'iommu-faults',
    'iommu:io_page_fault events during the repetition (a count per repetition, not per I/O); rare independent events, compared as a rate per repetition; any non-zero value is worth a look.',
    { per: 'repetition', variation: 'poisson' }),
];

const byName = new Map(METRICS.map((m) => [m.name, m]));

export const METRIC_NAMES: readonly string[] = METRICS.map((m) => m.name);

export function describeMetric(name: string): MetricDescription | undefined {
  return byName.get(name);
}

/** How a count behaves in one IOMMU mode (exact, varies, poisson); undefined for other metrics. */
export function countVariation(d: MetricDescription, mode: IommuMode): CountVariation | undefined {
  if (!d.count) return undefined;
  return d.count.variesIn?.includes(mode) ? 'varies' : d.count.variation;
}

/**
 * How a count behaves as measured: under the virtual clock a traced repetition
 * counts only part of its I/Os (bench:count-dispersion: DMA maps 0.69–0.70 per
 * I/O with a CV of 10 % over 3 repetitions, where TCG gives 1.000 every time),
 * so a count that is exact in the kernel varies there and is compared over
 * repetitions (docs/statistics.md).
 */
export function measuredVariation(d: MetricDescription, mode: IommuMode, timebase: 'wall' | 'virtual'): CountVariation | undefined {
  const v = countVariation(d, mode);
  return v === 'exact' && d.count?.per === 'io' && timebase === 'virtual' ? 'varies' : v;
}

/** The metrics a scenario gets when it names none: what fio gives without tracing. */
export const DEFAULT_METRICS: readonly string[] = ['iops', 'bw_mib_s', 'clat_p50_us', 'clat_p99_us', 'cpu_sys_pct'];
