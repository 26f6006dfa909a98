/**
 * The network tools a cell runs, as data: iperf3 for streams (TCP, UDP at a
 * rate), sockperf ping-pong for request/response — each one's server, client
 * arguments, output file, metrics and the virtual clock's jump check.
 */
import type { NetworkJob } from '../cell/types.js';
import { sizeBytes } from '../scenario/network.js';
import { networkMetrics, requestResponseMetrics, sockperfOverrunPct, type Traffic } from './network-parse.js';

/** The servers' ports (iperf3's and sockperf's own). A server listens only on its end's address. */
const PORT = 5201;
const RR_PORT = 11111;

/** The iperf3 client's arguments for a job (iperf3 3.12: -P, -l, -R, --bidir, -u -b, -O, -J). */
export function iperf3ClientArgs(job: NetworkJob, server: string, bind?: string): string[] {
  return [
    'iperf3', '--client', server, '--port', String(PORT), '--json', ...(bind ? ['--bind', bind] : []),
    '--time', String(job.runtime), '--omit', String(job.omit),
    '--parallel', String(job.flows), '--length', String(job.message_size),
    ...(job.direction === 'receive' ? ['--reverse'] : job.direction === 'bidirectional' ? ['--bidir'] : []),
    ...(job.test === 'udp-stream' ? ['--udp', '--bitrate', job.udp_rate ?? '1M'] : []),
  ];
}

/**
 * sockperf's client arguments for a request/response job: round-trip times, the target's own clock (no
 * TSC reads). sockperf 3.7 cannot bind its client to an address: the route to the server's address picks
 * the NIC.
 */
export function sockperfClientArgs(job: NetworkJob, server: string): string[] {
  return ['sockperf', 'ping-pong', '--ip', server, '--port', String(RR_PORT), '--tcp', '--msg-size', String(sizeBytes(job.message_size)), '--time', String(job.runtime), '--full-rtt', '--no-rdtsc'];
}

/** What differs between the network tools: the server, the client, and what their output says. */
export interface NetworkTool {
  readonly name: string;
  readonly port: number;
  server(addr: string): string;
  client(job: NetworkJob, addr: string, bind?: string): string[];
  metrics(stdout: string, job: NetworkJob, traffic: Traffic): Record<string, number>;
  overrunPct(stdout: string, runtimeS: number): number | undefined;
  /** The file its output is kept as. */
  readonly output: string;
}

export const IPERF3: NetworkTool = {
  name: 'iperf3', port: PORT, output: 'iperf3.json',
  server: (addr) => `iperf3 --server --one-off --daemon --bind ${addr} --port ${PORT}`,
  client: iperf3ClientArgs,
  metrics: networkMetrics,
  overrunPct: (stdout, s) => iperf3OverrunPct(stdout, s),
};

const SOCKPERF: NetworkTool = {
  name: 'sockperf', port: RR_PORT, output: 'sockperf.txt',
  server: (addr) => `sockperf server --ip ${addr} --port ${RR_PORT} --tcp --daemonize`,
  client: sockperfClientArgs,
  metrics: (stdout, _job, traffic) => requestResponseMetrics(stdout, traffic),
  overrunPct: sockperfOverrunPct,
};

export const toolOfJob = (job: Pick<NetworkJob, 'test'>): NetworkTool => (job.test === 'tcp-rr' ? SOCKPERF : IPERF3);

/** How far iperf3 ran past its measured seconds, in guest time (%): the virtual clock's jump check. */
export function iperf3OverrunPct(stdout: string, runtimeS: number): number | undefined {
  try {
    const j = JSON.parse(stdout.slice(stdout.indexOf('{'))) as { end?: { sum_sent?: { seconds?: number }; sum?: { seconds?: number } } };
    const s = j.end?.sum_sent?.seconds ?? j.end?.sum?.seconds;
    return s && s > 0 ? (100 * (s - runtimeS)) / runtimeS : undefined;
  } catch {
    return undefined;
  }
}
