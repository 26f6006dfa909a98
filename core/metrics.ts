/**
 * Every metric the lab reports, described once: name, unit, which direction is
 * better, what one value is per, and how it is extracted (which tool, which
 * fio field or bpftrace map). The scenario schema and loader (which metrics
 * exist, which tool must run for them), the parsers (fio and bpftrace output
 * to values), the reports (titles, units) and the comparisons (which test,
 * which exposure) all read this table; adding a metric is one entry here.
 *
 * kind:
 *  - `timing`: a measured duration or rate; noisy under emulation (CV 6–28 %
 *    seen under TCG), compared with rank tests on repetitions.
 *  - `count`: an event count, per I/O (DMA maps, IOTLB flushes) or per
 *    repetition (faults). Its `count` model says whether it is exact: `exact` counts follow the I/Os one for one (a DMA map per I/O;
 *    a synchronous flush per unmap in strict mode) and are compared as rates
 *    (exact Poisson test); `varies` counts follow a timer or a queue's fill
 *    (lazy mode's flush queue), so their rate per I/O moves with the I/O rate
 *    from run to run and they are compared over repetitions like timings;
 *    `poisson` counts are rare independent events per repetition (faults),
 *    compared as a rate per repetition. bench/count-dispersion.ts checks each
 *    claim on real runs.
 *  - `exposure`: what a count is normalised by (completed I/Os); never compared.
 *  - `exact`: counted by the lab's QEMU plugin outside the guest (infra/profiler):
 *    instructions per I/O by subsystem and calls per I/O of kernel functions,
 *    from every repetition of an emulated guest, whatever the clock and the
 *    host's load. Within a boot they may not vary at all; they are compared
 *    boot against boot, with the spread across boots the lab measures and a
 *    documented floor (docs/statistics.md, "Exact metrics").
 *
 * traced: produced only by repetitions that run with bpftrace attached. Timings
 * from those repetitions are never mixed with untraced ones.
 */

import type { IommuMode } from './iommu.js';
import { IOMMU_PATH, type SubsystemId } from './subsystems.js';

/** Workload tools: fio (what an application sees), the kernel's DMA-map benchmark (the mapping path alone) and network I/O (iperf3 over a test link). */
export const WORKLOAD_KINDS = ['fio', 'dma-map-benchmark', 'network'] as const;
export type WorkloadKind = (typeof WORKLOAD_KINDS)[number];

export type Better = 'higher' | 'lower';
export type MetricKind = 'timing' | 'count' | 'exposure' | 'exact';
export type MetricSource = 'fio' | 'bpftrace' | 'dma-map-benchmark' | 'profiler' | 'network';
export type CountVariation = 'exact' | 'varies' | 'poisson';
/**
 * What one value is per: each I/O (a rate per I/O, or one I/O's latency; for
 * a network workload an I/O is a packet on the test link), a MiB moved on the
 * test link (network workloads), the repetition, or a second of it.
 */
export type Per = 'io' | 'mib' | 'repetition' | 'second';

export interface CountModel {
  readonly variation: CountVariation;
  /** Modes in which the count follows a timer or queue instead of the I/Os (it varies there). */
  readonly variesIn?: readonly IommuMode[];
}

/**
 * How a metric comes out of fio's `--output-format=json+` (runner/fio-parse.ts):
 * a quantity summed over jobs, for reads, writes or both; latency percentiles
 * from the merged histograms.
 */
export type FioField =
  | { readonly quantity: 'total_ios' | 'iops' | 'bw_mib_s' | 'clat_mean_us' | 'cpu_usr_pct' | 'cpu_sys_pct'; readonly direction?: 'read' | 'write' }
  | { readonly quantity: 'clat_percentile_us'; readonly percentile: number };
export type FioExtraction = { readonly tool: 'fio' } & FioField;

/**
 * How a metric comes out of a bpftrace script's `-f json` maps
 * (runner/tracing.ts): the named maps summed (`sum`), summed for the test
 * disk's PCI device where the map is keyed by device (`sum-for-disk`), or a
 * percentile of a histogram map. Per-I/O metrics are divided by fio's I/Os.
 */
export interface BpftraceExtraction {
  readonly tool: 'bpftrace';
  /** The script in bpf/ (without `.bt`). */
  readonly script: string;
  readonly maps: readonly string[];
  readonly reduce: 'sum' | 'sum-for-disk' | { readonly percentile: number };
}

/**
 * How a metric comes out of the kernel's DMA-map benchmark
 * (runner/dma-map-parse.ts): the tool's average map or unmap latency, or its
 * standard deviation, over every map/unmap pair of the repetition.
 */
export interface DmaMapExtraction {
  readonly tool: 'dma-map-benchmark';
  readonly field: 'map_us' | 'map_sd_us' | 'unmap_us' | 'unmap_sd_us';
}

/**
 * How a metric comes out of the plugin's window (runner/profile/): the
 * instructions of the named subsystems (core/subsystems.ts), or the calls of
 * the named kernel functions, divided by the window's I/Os (fio: the test
 * disks' completed requests; the DMA-map benchmark: its map calls), or per
 * repetition.
 */
export interface ProfilerExtraction {
  readonly tool: 'profiler';
  readonly of: { readonly instructions: readonly SubsystemId[] } | { readonly calls: readonly string[] };
}

/**
 * How a metric comes out of a network repetition (runner/network-parse.ts):
 * iperf3's `--json` end summary for streams (throughput at the receiver,
 * retransmits, CPU of each end, UDP loss and jitter), sockperf's ping-pong
 * summary for request/response (round trips per second, round-trip time and
 * its percentiles), or the test NICs' own counters around the workload
 * (packets per second, MiB).
 */
export interface NetworkExtraction {
  readonly tool: 'network';
  readonly field:
    | 'throughput_mbit_s' | 'packets_per_s' | 'retransmits' | 'cpu_sender_pct' | 'cpu_receiver_pct' | 'udp_lost_pct' | 'udp_jitter_ms' | 'mib'
    | 'rr_per_s' | 'rtt_mean_us' | 'rtt_p50_us' | 'rtt_p99_us' | 'rtt_p999_us';
}

export type Extraction = FioExtraction | BpftraceExtraction | DmaMapExtraction | ProfilerExtraction | NetworkExtraction;

export interface MetricDescription {
  readonly name: string;
  readonly title: string;
  readonly unit: string;
  readonly better: Better;
  readonly kind: MetricKind;
  readonly per: Per;
  readonly extract: Extraction;
  /** Counts only: whether it is exact, varies, or is a rare event (see above). */
  readonly count?: CountModel;
  readonly description: string;
}

/** The metric that per-I/O counts are divided by, and that turns them back into events. */
export const EXPOSURE_METRIC = 'ios';
/** The metric that per-MiB counts of network workloads are divided by. */
export const MIB_EXPOSURE_METRIC = 'mib';

const fio = (name: string, title: string, unit: string, better: Better, per: Per, extract: FioField, description: string): MetricDescription =>
  ({ name, title, unit, better, kind: 'timing', per, extract: { tool: 'fio', ...extract }, description });

const traced = (
  name: string, title: string, unit: string, kind: MetricKind, per: Per,
  extract: Omit<BpftraceExtraction, 'tool'>, description: string, count?: CountModel,
): MetricDescription => ({ name, title, unit, better: 'lower', kind, per, extract: { tool: 'bpftrace', ...extract }, description, ...(count ? { count } : {}) });

const bench = (name: string, title: string, field: DmaMapExtraction['field'], description: string): MetricDescription =>
  ({ name, title, unit: 'µs', better: 'lower', kind: 'timing', per: 'io', extract: { tool: 'dma-map-benchmark', field }, description });

const insns = (name: string, title: string, subsystems: readonly SubsystemId[], description: string): MetricDescription =>
  ({ name, title, unit: 'insns/IO', better: 'lower', kind: 'exact', per: 'io', extract: { tool: 'profiler', of: { instructions: subsystems } }, description });
const calls = (name: string, title: string, functions: readonly string[], per: Per, description: string, count: CountModel): MetricDescription =>
  ({ name, title, unit: per === 'io' ? 'calls/IO' : 'calls', better: 'lower', kind: 'exact', per, extract: { tool: 'profiler', of: { calls: functions } }, description, count });

const net = (name: string, title: string, unit: string, better: Better, kind: MetricKind, per: Per, field: NetworkExtraction['field'], description: string, count?: CountModel): MetricDescription =>
  ({ name, title, unit, better, kind, per, extract: { tool: 'network', field }, description, ...(count ? { count } : {}) });
const perMib = (name: string, title: string, of: ProfilerExtraction['of'], unit: string, description: string): MetricDescription =>
  ({ name, title, unit, better: 'lower', kind: 'exact', per: 'mib', extract: { tool: 'profiler', of }, description });

const DMA = 'dma-map-latency';
const IOTLB = 'iotlb-invalidations';

export const METRICS: readonly MetricDescription[] = [
  { name: EXPOSURE_METRIC, title: 'Completed I/Os', unit: 'IOs', better: 'higher', kind: 'exposure', per: 'repetition', extract: { tool: 'fio', quantity: 'total_ios' },
    description: 'I/Os completed in the repetition (all jobs); the exposure that turns per-I/O counts back into event counts for rate tests. A network repetition\'s I/Os are the packets its test link\'s two NICs sent during the workload (the sum of their tx_packets: data and ACKs, both ends, from the kernel\'s counters right around it): per-I/O counts of a network cell are per packet.' },
  fio('iops', 'IOPS', 'IO/s', 'higher', 'second', { quantity: 'iops' }, 'Completed I/Os per second, reads and writes together, summed over jobs.'),
  fio('read_iops', 'Read IOPS', 'IO/s', 'higher', 'second', { quantity: 'iops', direction: 'read' }, 'Completed reads per second (absent when the job reads nothing).'),
  fio('write_iops', 'Write IOPS', 'IO/s', 'higher', 'second', { quantity: 'iops', direction: 'write' }, 'Completed writes per second (absent when the job writes nothing).'),
  fio('bw_mib_s', 'Bandwidth', 'MiB/s', 'higher', 'second', { quantity: 'bw_mib_s' }, 'Bytes moved per second, reads and writes together.'),
  fio('clat_mean_us', 'Completion latency, mean', 'µs', 'lower', 'io', { quantity: 'clat_mean_us' }, 'Mean completion latency (submission to completion) over all I/Os.'),
  fio('clat_p50_us', 'Completion latency, p50', 'µs', 'lower', 'io', { quantity: 'clat_percentile_us', percentile: 50 }, 'Median completion latency.'),
  fio('clat_p90_us', 'Completion latency, p90', 'µs', 'lower', 'io', { quantity: 'clat_percentile_us', percentile: 90 }, '90th percentile completion latency.'),
  fio('clat_p99_us', 'Completion latency, p99', 'µs', 'lower', 'io', { quantity: 'clat_percentile_us', percentile: 99 }, '99th percentile completion latency.'),
  fio('clat_p999_us', 'Completion latency, p99.9', 'µs', 'lower', 'io', { quantity: 'clat_percentile_us', percentile: 99.9 }, '99.9th percentile completion latency.'),
  fio('cpu_usr_pct', 'CPU user', '%', 'lower', 'second', { quantity: 'cpu_usr_pct' }, 'fio user CPU time as a share of wall time.'),
  fio('cpu_sys_pct', 'CPU system', '%', 'lower', 'second', { quantity: 'cpu_sys_pct' }, 'fio system CPU time as a share of wall time; IOMMU mapping cost lands here.'),
  traced('dma_map_per_io', 'DMA maps per I/O', 'maps/IO', 'count', 'io', { script: DMA, maps: ['maps', 'map_sg'], reduce: 'sum-for-disk' },
    'DMA-API map calls (dma_map_page_attrs and sg variants) for the test disk divided by completed I/Os. Exact: one map per I/O (or per segment) in every mode.',
    { variation: 'exact' }),
  traced('dma_map_p50_ns', 'DMA map latency, p50', 'ns', 'timing', 'io', { script: DMA, maps: ['map_ns'], reduce: { percentile: 50 } },
    'Median latency of iommu_dma_map_page; from a traced repetition, so inflated by tracing.'),
  traced('dma_map_p99_ns', 'DMA map latency, p99', 'ns', 'timing', 'io', { script: DMA, maps: ['map_ns'], reduce: { percentile: 99 } },
    '99th percentile latency of iommu_dma_map_page; from a traced repetition.'),
  traced('dma_unmap_p50_ns', 'DMA unmap latency, p50', 'ns', 'timing', 'io', { script: DMA, maps: ['unmap_ns'], reduce: { percentile: 50 } },
    'Median latency of iommu_dma_unmap_page; from a traced repetition.'),
  traced('iotlb_sync_flush_per_io', 'Synchronous IOTLB flushes per I/O', 'flushes/IO', 'count', 'io', { script: IOTLB, maps: ['intel_qi_sync', 'viommu_sync'], reduce: 'sum' },
    'Synchronous invalidations (Intel qi_submit_sync, virtio-iommu viommu_sync_req) per completed I/O: the cost strict mode pays. Exact in strict mode (one per unmap) and in passthrough/off (none); varies in lazy mode, where the flush-queue timer and its fill drive them.',
    { variation: 'exact', variesIn: ['lazy'] }),
  traced('fq_flush_per_io', 'Flush-queue flushes per I/O', 'flushes/IO', 'count', 'io', { script: IOTLB, maps: ['fq_flush'], reduce: 'sum' },
    'Deferred flush-queue flushes (fq_flush_iotlb) per completed I/O: how lazy mode batches invalidations. Varies in lazy mode (a timer and the queue\'s fill drive it, so its rate per I/O follows the I/O rate); none in the other modes.',
    { variation: 'exact', variesIn: ['lazy'] }),
  traced('iova_alloc_per_io', 'IOVA allocations per I/O', 'allocs/IO', 'count', 'io', { script: 'iova-alloc', maps: ['alloc'], reduce: 'sum' },
    'alloc_iova_fast calls per completed I/O. Exact: one IOVA per mapping in the translating modes, none otherwise.',
    { variation: 'exact' }),
  traced('iommu_faults', 'IOMMU faults', 'faults', 'count', 'repetition', { script: 'iommu-faults', maps: ['faults'], reduce: 'sum' },
    'iommu:io_page_fault events during the repetition (a count per repetition, not per I/O); rare independent events, compared as a rate per repetition; any non-zero value is worth a look.',
    { variation: 'poisson' }),
  bench('dmabench_map_us', 'DMA map latency (benchmark), mean', 'map_us',
    "Mean time of one dma_map_single on the test device, measured inside the kernel by CONFIG_DMA_MAP_BENCHMARK's threads (no tracing); 0.1 µs resolution."),
  bench('dmabench_map_sd_us', 'DMA map latency (benchmark), SD', 'map_sd_us',
    "Standard deviation of the map times within the repetition (the kernel's own figure): how uneven mapping is, e.g. an IOVA allocator's slow path."),
  bench('dmabench_unmap_us', 'DMA unmap latency (benchmark), mean', 'unmap_us',
    "Mean time of one dma_unmap_single: strict mode's synchronous IOTLB invalidation is paid here, lazy mode's deferred one mostly is not."),
  bench('dmabench_unmap_sd_us', 'DMA unmap latency (benchmark), SD', 'unmap_sd_us',
    'Standard deviation of the unmap times within the repetition; lazy mode\'s occasional flush-queue flush shows here.'),
  net(MIB_EXPOSURE_METRIC, 'MiB on the test link', 'MiB', 'higher', 'exposure', 'repetition', 'mib',
    "Bytes the test link's two NICs sent during the workload (tx_bytes, headers included), in MiB: what per-MiB counts are divided by."),
  net('net_throughput_mbit_s', 'Network throughput', 'Mbit/s', 'higher', 'timing', 'second', 'throughput_mbit_s',
    "Payload received per second over all streams (iperf3's receiver sum; bidirectional: both directions added)."),
  net('net_packets_per_s', 'Packets per second', 'packets/s', 'higher', 'timing', 'second', 'packets_per_s',
    "Packets on the test link per second: the NICs' tx_packets during the workload over iperf3's measured seconds (omitted seconds included)."),
  net('net_retransmits', 'TCP retransmits', 'retransmits', 'lower', 'count', 'repetition', 'retransmits',
    "TCP segments the senders retransmitted in the repetition (iperf3's sum_sent.retransmits); varies from run to run, compared over repetitions.", { variation: 'varies' }),
  net('net_cpu_sender_pct', 'CPU, sending end', '%', 'lower', 'timing', 'second', 'cpu_sender_pct',
    "CPU time of the sending iperf3 process (user + system) as a share of wall time (iperf3's cpu_utilization_percent); the DMA mapping of transmitted packets is paid partly here, partly in softirq."),
  net('net_cpu_receiver_pct', 'CPU, receiving end', '%', 'lower', 'timing', 'second', 'cpu_receiver_pct',
    'CPU time of the receiving iperf3 process as a share of wall time.'),
  net('net_udp_lost_pct', 'UDP datagrams lost', '%', 'lower', 'timing', 'repetition', 'udp_lost_pct',
    'Datagrams sent but not received, in percent of those sent (udp-stream only).'),
  net('net_udp_jitter_ms', 'UDP jitter', 'ms', 'lower', 'timing', 'io', 'udp_jitter_ms',
    "iperf3's smoothed interarrival jitter at the receiver (RFC 1889), udp-stream only."),
  net('net_rr_per_s', 'Request/response round trips per second', 'RTs/s', 'higher', 'timing', 'second', 'rr_per_s',
    "tcp-rr: round trips completed per second of sockperf's measured duration (one request in flight; warm-up left out)."),
  net('net_rtt_mean_us', 'Round-trip time, mean', 'µs', 'lower', 'timing', 'io', 'rtt_mean_us', 'tcp-rr: mean time from sending a request to receiving its response (sockperf --full-rtt).'),
  net('net_rtt_p50_us', 'Round-trip time, p50', 'µs', 'lower', 'timing', 'io', 'rtt_p50_us', 'tcp-rr: median round-trip time.'),
  net('net_rtt_p99_us', 'Round-trip time, p99', 'µs', 'lower', 'timing', 'io', 'rtt_p99_us', 'tcp-rr: 99th percentile round-trip time.'),
  net('net_rtt_p999_us', 'Round-trip time, p99.9', 'µs', 'lower', 'timing', 'io', 'rtt_p999_us', 'tcp-rr: 99.9th percentile round-trip time.'),
  insns('insn_iommu_per_io', 'IOMMU-path instructions per I/O', IOMMU_PATH,
    'Guest instructions per I/O in the IOMMU path: the DMA API, the IOVA allocator, the IOMMU page tables and the IOMMU driver (core/subsystems.ts). The figure that says what a configuration costs the CPU; repeats to about 0.01 % across boots and host load.'),
  insns('insn_page_tables_per_io', 'IOMMU page-table instructions per I/O', ['page-tables'], 'Instructions per I/O making and removing IOMMU mappings (core map/unmap, the page-table walk, virtio-iommu map requests).'),
  insns('insn_iommu_driver_per_io', 'IOMMU driver instructions per I/O', ['iommu-driver'], 'Instructions per I/O in the rest of the IOMMU driver: invalidations, queues, domains.'),
  insns('insn_iova_per_io', 'IOVA allocator instructions per I/O', ['iova'], 'Instructions per I/O allocating and freeing I/O virtual addresses.'),
  insns('insn_dma_api_per_io', 'DMA API instructions per I/O', ['dma-api'], 'Instructions per I/O in dma_map_*/dma_unmap_*, dma-iommu (with the flush queue) and dma-direct.'),
  insns('insn_block_per_io', 'Block-layer instructions per I/O', ['block'], 'Instructions per I/O in the block layer; varies a little with how many completions one interrupt handles.'),
  insns('insn_driver_per_io', 'Device-driver instructions per I/O', ['device-driver'], 'Instructions per I/O in the NVMe and virtio drivers.'),
  insns('insn_kernel_other_per_io', 'Other kernel instructions per I/O', ['kernel'], 'Instructions per I/O in the rest of the kernel (system calls, interrupts, scheduling); the idle loop is left out.'),
  insns('insn_user_per_io', 'User instructions per I/O', ['user'], 'User-mode instructions per I/O (fio itself).'),
  calls('calls_dma_map_per_io', 'DMA maps per I/O (exact)', ['dma_map_page_attrs', 'dma_map_sg_attrs'], 'io',
    'dma_map_page_attrs and dma_map_sg_attrs calls per I/O, counted by the plugin (the functions bpf/dma-map-latency.bt counts). One per I/O in every mode.', { variation: 'exact' }),
  calls('calls_dma_unmap_per_io', 'DMA unmaps per I/O (exact)', ['dma_unmap_page_attrs', 'dma_unmap_sg_attrs'], 'io', 'dma_unmap_page_attrs and dma_unmap_sg_attrs calls per I/O, counted by the plugin.', { variation: 'exact' }),
  calls('calls_sync_inval_per_io', 'Synchronous invalidations per I/O (exact)', ['qi_submit_sync', 'viommu_sync_req'], 'io',
    'qi_submit_sync (Intel) and viommu_sync_req (virtio-iommu) calls per I/O, counted by the plugin: what strict mode pays, one per unmap. Varies in lazy mode (the flush-queue timer drives them).', { variation: 'exact', variesIn: ['lazy'] }),
  calls('calls_fq_flush_per_io', 'Flush-queue flushes per I/O (exact)', ['fq_flush_iotlb'], 'io', 'fq_flush_iotlb calls per I/O (lazy mode\'s deferred flushes), counted by the plugin; a timer drives them.', { variation: 'exact', variesIn: ['lazy'] }),
  calls('calls_iova_alloc_per_io', 'IOVA allocations per I/O (exact)', ['alloc_iova_fast'], 'io', 'alloc_iova_fast calls per I/O, counted by the plugin: one per mapping in the translating modes.', { variation: 'exact' }),
  calls('calls_iommu_faults', 'IOMMU faults (exact)', ['report_iommu_fault'], 'repetition', 'report_iommu_fault calls in the repetition, counted by the plugin; any non-zero value is worth a look.', { variation: 'poisson' }),
  perMib('insn_iommu_per_mib', 'IOMMU-path instructions per MiB', { instructions: IOMMU_PATH }, 'insns/MiB',
    'Network workloads: guest instructions in the IOMMU path per MiB moved on the test link (per packet: insn_iommu_per_io). What a configuration costs per byte, whatever the packet size.'),
  perMib('calls_dma_map_per_mib', 'DMA maps per MiB (exact)', { calls: ['dma_map_page_attrs', 'dma_map_sg_attrs'] }, 'calls/MiB',
    'Network workloads: DMA map calls per MiB moved on the test link, counted by the plugin (receive buffers and transmitted packets alike).'),
  perMib('calls_dma_unmap_per_mib', 'DMA unmaps per MiB (exact)', { calls: ['dma_unmap_page_attrs', 'dma_unmap_sg_attrs'] }, 'calls/MiB',
    'Network workloads: DMA unmap calls per MiB moved on the test link, counted by the plugin.'),
  perMib('calls_sync_inval_per_mib', 'Synchronous invalidations per MiB (exact)', { calls: ['qi_submit_sync', 'viommu_sync_req'] }, 'calls/MiB',
    'Network workloads: synchronous IOTLB invalidations per MiB moved on the test link, counted by the plugin.'),
  perMib('calls_fq_flush_per_mib', 'Flush-queue flushes per MiB (exact)', { calls: ['fq_flush_iotlb'] }, 'calls/MiB',
    "Network workloads: lazy mode's deferred flushes per MiB moved on the test link, counted by the plugin (a timer drives them)."),
];

/** Which tool produces the metric. */
export function sourceOf(d: MetricDescription): MetricSource {
  return d.extract.tool;
}

/**
 * The workload tools whose cells have the metric: fio's cells have fio's and bpftrace's, the DMA-map
 * benchmark's and the network's their own; the plugin counts all (its per-MiB counts only network cells).
 */
export function workloadToolsOf(d: MetricDescription): readonly WorkloadKind[] {
  if (d.extract.tool === 'profiler') return d.per === 'mib' ? ['network'] : WORKLOAD_KINDS;
  if (d.extract.tool === 'network') return ['network'];
  // bpftrace counts fio's repetitions and a static host's network ones (a guest's network cells have the plugin).
  if (d.extract.tool === 'bpftrace') return ['fio', 'network'];
  return d.extract.tool === 'dma-map-benchmark' ? ['dma-map-benchmark'] : ['fio'];
}

/** The bpftrace script that produces the metric, if it is a traced one. */
export function scriptOf(d: MetricDescription): string | undefined {
  return d.extract.tool === 'bpftrace' ? d.extract.script : undefined;
}

/** Where the value comes from, in words (docs/metrics.md). */
export function describeExtraction(d: MetricDescription): string {
  const x = d.extract;
  if (x.tool === 'bpftrace') {
    const r = x.reduce;
    const how = r === 'sum' ? 'sum of' : r === 'sum-for-disk' ? "the test disk's entries of" : `p${r.percentile} of the histogram`;
    return `bpftrace \`bpf/${x.script}.bt\`: ${how} ${x.maps.map((m) => `\`@${m}\``).join(' + ')}${d.per === 'io' && d.kind === 'count' ? ' ÷ `ios`' : ''}`;
  }
  if (x.tool === 'profiler') {
    const what = 'instructions' in x.of ? `instructions of ${x.of.instructions.map((s) => `\`${s}\``).join(' + ')}` : `calls of ${x.of.calls.map((f) => `\`${f}\``).join(' + ')}`;
    return `QEMU plugin (infra/profiler): ${what}${d.per === 'io' ? ' ÷ the window\'s I/Os' : d.per === 'mib' ? ' ÷ the window\'s MiB on the test link' : ''}`;
  }
  if (x.tool === 'network') {
    if (x.field === 'mib' || x.field === 'packets_per_s') return `the test NICs' counters (tx_packets, tx_bytes) around the workload${x.field === 'packets_per_s' ? ' ÷ the tool\'s seconds' : ''}`;
    return x.field.startsWith('r') ? `sockperf ping-pong --full-rtt (tcp-rr): ${x.field}` : `iperf3 \`--json\` (streams): ${x.field}`;
  }
  if (x.tool === 'dma-map-benchmark') return `\`dma_map_benchmark\` (the kernel's selftest tool): ${x.field.startsWith('map') ? 'map' : 'unmap'} latency, ${x.field.includes('_sd_') ? 'standard deviation' : 'average'}`;
  const field = x.quantity === 'clat_percentile_us' ? `p${x.percentile} of the merged \`clat_ns.bins\`` : `\`${x.quantity}\``;
  return `fio json+: ${field}${'direction' in x && x.direction ? ` (${x.direction}s)` : ''}, over all jobs`;
}

/**
 * What one repetition's value counts in a rate test: per-I/O counts weigh by
 * the repetition's I/Os (value × I/Os = events), per-repetition counts by one
 * repetition (value = events).
 */
export function exposureOf(d: MetricDescription, metrics: Readonly<Record<string, number>>): number {
  if (d.per === 'io') return metrics[EXPOSURE_METRIC] ?? NaN;
  return d.per === 'mib' ? metrics[MIB_EXPOSURE_METRIC] ?? NaN : 1;
}

/** Whether a metric is a count normalised by an exposure (per I/O or per MiB), so its rate test weighs by it. */
export const isNormalised = (d: MetricDescription): boolean => d.per === 'io' || d.per === 'mib';

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
 * How a count behaves as measured. A count exact in the kernel is exact as
 * measured when its traced repetitions proved it complete (every probe
 * attached before the workload, no missed event: runner/traced.ts). Counts
 * recorded before the lab checked that were partial under the virtual clock,
 * where bpftrace attached slowly (bench:count-dispersion on 2026-12-01: DMA maps
 * 0.69–0.70 per I/O, CV 10 %, where TCG gave 1.000 every time): such a count
 * varies there and is compared over repetitions (docs/statistics.md); on the
 * wall clock it stays exact, as measured then.
 */
export function measuredVariation(d: MetricDescription, mode: IommuMode, evidence: { readonly provenComplete: boolean; readonly timebase: 'wall' | 'virtual' }): CountVariation | undefined {
  const v = countVariation(d, mode);
  return v === 'exact' && d.per === 'io' && !evidence.provenComplete && evidence.timebase === 'virtual' ? 'varies' : v;
}

/** The metrics a scenario gets when it names none: what fio gives without tracing. */
export const DEFAULT_METRICS: readonly string[] = ['iops', 'bw_mib_s', 'clat_p50_us', 'clat_p99_us', 'cpu_sys_pct'];
/** What a scenario with DMA-map benchmark workloads gets by default beside them. */
export const DEFAULT_DMA_MAP_METRICS: readonly string[] = ['dmabench_map_us', 'dmabench_unmap_us'];
/** What a scenario with network workloads gets by default beside them. */
export const DEFAULT_NETWORK_METRICS: readonly string[] = ['net_throughput_mbit_s', 'net_packets_per_s', 'net_retransmits', 'net_cpu_sender_pct'];

/** The default metrics for the workload tools a scenario runs. */
export function defaultMetrics(tools: ReadonlySet<WorkloadKind>): readonly string[] {
  return [
    ...(tools.has('fio') ? DEFAULT_METRICS : []),
    ...(tools.has('dma-map-benchmark') ? DEFAULT_DMA_MAP_METRICS : []),
    ...(tools.has('network') ? DEFAULT_NETWORK_METRICS : []),
  ];
}
