/**
 * A network repetition's outputs as metrics (core/metrics.ts, tool `network`):
 * iperf3's `--json` end summary (streams), sockperf's ping-pong summary
 * (request/response), and the test NICs' counters read right
 * around the workload (runner/detached.sh, `net/NS/IF tx_packets tx_bytes
 * rx_packets rx_bytes`). Pure; tested on saved real outputs
 * (test/fixtures/network/).
 */
import type { NetworkJob } from '../cell/types.js';
import { NetworkError } from '../core/errors.js';

interface Sum {
  readonly bytes?: number;
  readonly seconds?: number;
  readonly bits_per_second?: number;
  readonly retransmits?: number;
  readonly jitter_ms?: number;
  readonly lost_percent?: number;
}

interface Iperf3Json {
  readonly error?: string;
  readonly end?: {
    readonly sum?: Sum;
    readonly sum_sent?: Sum;
    readonly sum_received?: Sum;
    readonly sum_sent_bidir_reverse?: Sum;
    readonly sum_received_bidir_reverse?: Sum;
    readonly cpu_utilization_percent?: { readonly host_total?: number; readonly remote_total?: number };
  };
}

/** What the NICs carried in the window. */
export interface Traffic {
  readonly packets: number;
  readonly bytes: number;
}

export const MIB = 1024 * 1024;

type Counters = readonly [txPackets: number, txBytes: number, rxPackets: number, rxBytes: number];

/** `net/NS/IF tx_packets tx_bytes rx_packets rx_bytes` lines → counters per interface. */
function nicCounters(text: string): Map<string, Counters> {
  const m = new Map<string, Counters>();
  for (const line of text.split('\n')) {
    const f = line.trim().split(/\s+/);
    if (!f[0]?.startsWith('net/') || f.length < 5) continue;
    m.set(f[0], [Number(f[1]), Number(f[2]), Number(f[3]), Number(f[4])]);
  }
  return m;
}

/**
 * Packets and bytes on the link between the two readings, each packet once: with both ends of a guest's
 * link read, every packet is sent by one and received by the other, so their tx counters count it; with
 * one NIC (a static host's, its peer elsewhere), a packet either leaves or enters it: tx + rx.
 * Undefined when a NIC is missing from either reading.
 */
export function windowTraffic(before: string, after: string): Traffic | undefined {
  const a = nicCounters(before);
  const b = nicCounters(after);
  if (a.size === 0 || a.size !== b.size) return undefined;
  let packets = 0;
  let bytes = 0;
  for (const [nic, x] of a) {
    const y = b.get(nic);
    if (!y || ![...x, ...y].every(Number.isFinite)) return undefined;
    const both = a.size === 1;
    packets += y[0] - x[0] + (both ? y[2] - x[2] : 0);
    bytes += y[1] - x[1] + (both ? y[3] - x[3] : 0);
  }
  return { packets, bytes };
}

function parseJson(stdout: string): Iperf3Json {
  const start = stdout.indexOf('{');
  if (start < 0) throw new NetworkError('iperf3 printed no JSON', { detail: stdout.slice(0, 2000) });
  try {
    return JSON.parse(stdout.slice(start)) as Iperf3Json;
  } catch (e) {
    throw new NetworkError(`iperf3's JSON cannot be read: ${(e as Error).message}`, { detail: stdout.slice(0, 2000) });
  }
}

/** iperf3's error, when its JSON carries one (it exits 1 then). */
export function iperf3Error(stdout: string): string | undefined {
  try {
    return parseJson(stdout).error;
  } catch {
    return undefined;
  }
}

const finite = (x: number | undefined): x is number => typeof x === 'number' && Number.isFinite(x);

/** sockperf colours some lines (ESC [ … m): gone before parsing. */
const plain = (s: string) => s.replace(/\x1b\[[0-9;]*m/g, '');

/** A `key=value` of sockperf's summary line that starts with `prefix`, or NaN. */
function field(text: string, prefix: string, key: string): number {
  const line = text.split('\n').find((l) => l.includes(prefix));
  const m = line ? new RegExp(`${key}=([0-9.]+)`).exec(line) : null;
  return m ? Number(m[1]) : NaN;
}

/** sockperf's `---> percentile P = V` lines, as P → V (µs). */
function percentiles(text: string): Map<number, number> {
  const out = new Map<number, number>();
  for (const m of text.matchAll(/---> percentile ([0-9.]+) = +([0-9.]+)/g)) out.set(Number(m[1]), Number(m[2]));
  return out;
}

/** How far sockperf ran past its seconds (its total run time, guest time), in %: the virtual clock's jump check. */
export function sockperfOverrunPct(stdout: string, runtimeS: number): number | undefined {
  const total = field(plain(stdout), '[Total Run]', 'RunTime');
  return Number.isFinite(total) ? (100 * (total - runtimeS)) / runtimeS : undefined;
}

/**
 * A request/response repetition's metrics from `sockperf ping-pong --full-rtt` (round-trip times, µs, over the
 * valid duration: its warm-up left out) and the NICs' counters.
 */
export function requestResponseMetrics(stdout: string, traffic: Traffic): Record<string, number> {
  const text = plain(stdout);
  const seconds = field(text, '[Valid Duration]', 'RunTime');
  // The NICs' counters cover the whole run, its warm-up included.
  const total = field(text, '[Total Run]', 'RunTime');
  const received = field(text, '[Valid Duration]', 'ReceivedMessages');
  const mean = field(text, '====> avg-rtt', 'avg-rtt');
  const p = percentiles(text);
  if (!(seconds > 0) || !Number.isFinite(received) || !Number.isFinite(mean) || !p.has(50) || !p.has(99)) {
    const error = /ERROR: (.*)/.exec(text)?.[1];
    if (/No valid observations found/.test(text)) throw new NetworkError('sockperf kept no valid round trip: it leaves out its warm-up and the end of the run, and nothing was left', { detail: text.slice(-2000), fix: 'raise the workload\'s runtime (2 s or more)' });
    throw new NetworkError(error ? `sockperf: ${error}` : 'sockperf printed no round-trip summary ([Valid Duration], avg-rtt, percentiles): the test did not complete', { detail: text.slice(-2000) });
  }
  return {
    net_rr_per_s: received / seconds,
    net_rtt_mean_us: mean,
    net_rtt_p50_us: p.get(50)!,
    net_rtt_p99_us: p.get(99)!,
    ...(p.has(99.9) ? { net_rtt_p999_us: p.get(99.9)! } : {}),
    net_packets_per_s: traffic.packets / (total > 0 ? total : seconds),
    ios: traffic.packets,
    mib: traffic.bytes / MIB,
  };
}

/**
 * The repetition's network metrics. Throughput is what the receivers got (both directions added when
 * bidirectional); the sending end's CPU is the client's unless the client receives (`receive`).
 */
export function networkMetrics(stdout: string, job: Pick<NetworkJob, 'test' | 'direction'>, traffic: Traffic): Record<string, number> {
  const j = parseJson(stdout);
  if (j.error) throw new NetworkError(`iperf3: ${j.error}`);
  const end = j.end;
  const received = job.test === 'udp-stream' ? end?.sum_received ?? end?.sum : end?.sum_received;
  const sent = end?.sum_sent ?? end?.sum;
  if (!received || !finite(received.bits_per_second) || !sent || !finite(sent.seconds) || !(sent.seconds > 0)) {
    throw new NetworkError('iperf3\'s JSON has no end summary (end.sum_received, end.sum_sent): the test did not complete', { detail: stdout.slice(-2000) });
  }
  const reverse = job.direction === 'bidirectional' ? end?.sum_received_bidir_reverse?.bits_per_second ?? 0 : 0;
  const cpu = end?.cpu_utilization_percent ?? {};
  const [senderCpu, receiverCpu] = job.direction === 'receive' ? [cpu.remote_total, cpu.host_total] : [cpu.host_total, cpu.remote_total];
  const out: Record<string, number> = {
    net_throughput_mbit_s: (received.bits_per_second + reverse) / 1e6,
    net_packets_per_s: traffic.packets / sent.seconds,
    ios: traffic.packets,
    mib: traffic.bytes / MIB,
  };
  if (finite(senderCpu)) out['net_cpu_sender_pct'] = senderCpu;
  if (finite(receiverCpu)) out['net_cpu_receiver_pct'] = receiverCpu;
  if (job.test === 'tcp-stream') {
    out['net_retransmits'] = (sent.retransmits ?? 0) + (job.direction === 'bidirectional' ? end?.sum_sent_bidir_reverse?.retransmits ?? 0 : 0);
  } else {
    const udp = end?.sum ?? received;
    if (finite(udp.lost_percent)) out['net_udp_lost_pct'] = udp.lost_percent;
    if (finite(udp.jitter_ms)) out['net_udp_jitter_ms'] = udp.jitter_ms;
  }
  return out;
}
