/**
 * The checks a scenario's network workloads and test links need beyond the
 * schema, each located at what to change: a link whose NIC would bypass the
 * IOMMU, options that only some models or IOMMU devices have, a UDP stream
 * without its rate, workloads naming links no target has.
 */
import { iommuActive } from '../core/iommu.js';
import type { Problem } from '../core/errors.js';
import { asList, type NetworkWorkloadSpec, type Scenario, type VmNicSpec } from './types.js';
import { problemAt, type YamlSource } from './yaml-source.js';

/** The largest UDP payload in one IPv4 datagram (65535 − 20 − 8); sockperf's largest message too. */
export const MAX_UDP_MESSAGE = 65507;
/** sockperf's smallest message: its own header. */
export const MIN_RR_MESSAGE = 14;
/** The shortest tcp-rr that leaves sockperf valid round trips (1 s left none here). */
export const MIN_RR_SECONDS = 2;

/** A size as fio and iperf3 write it ("128k") in bytes, with binary suffixes. */
export function sizeBytes(size: string | number): number {
  const m = /^(\d+)([kKmMgGtT]?)$/.exec(String(size));
  if (!m) return NaN;
  const exp = ' kmgt'.indexOf((m[2] || ' ').toLowerCase());
  return Number(m[1]) * 1024 ** exp;
}

function linkProblems(src: YamlSource, s: Scenario, vm: number, link: number): Problem[] {
  const nic: VmNicSpec = s.targets.vms[vm]!.nics![link]!;
  const at = (key: string) => ['targets', 'vms', vm, 'nics', link, key];
  const configs = s.iommu.flatMap((e) => asList(e.device).flatMap((device) => asList(e.mode).map((mode) => ({ device, mode }))));
  const out: Problem[] = [];
  if (nic.model !== 'virtio-net' && (!nic.iommu_platform || nic.ats)) {
    out.push(problemAt(src, at(nic.ats ? 'ats' : 'iommu_platform'), `${nic.ats ? 'ats' : 'iommu_platform'} is a virtio-net option; ${nic.model} always maps its buffers through the DMA API (behind the IOMMU)`, `remove it, or use model: virtio-net`));
  }
  const translated = configs.filter((c) => iommuActive(c));
  if (nic.model === 'virtio-net' && !nic.iommu_platform && translated.length) {
    out.push(problemAt(src, at('iommu_platform'), `test link "${nic.name}": a virtio-net NIC without iommu_platform does not negotiate ACCESS_PLATFORM, so its DMA bypasses the IOMMU in ${translated.map((c) => `${c.device}-${c.mode}`).join(', ')}: the link would measure no IOMMU at all`, 'remove iommu_platform: false (the default is true)'));
  }
  const notIntel = configs.filter((c) => c.device !== 'intel' && c.device !== 'none');
  if (nic.ats && notIntel.length) {
    out.push(problemAt(src, at('ats'), `ats needs intel-iommu's device IOTLB, but the matrix also has ${[...new Set(notIntel.map((c) => c.device))].join(', ')}`, 'put the link with ats in a scenario whose iommu: lists only intel (and none)'));
  }
  return out;
}

function workloadProblems(src: YamlSource, s: Scenario, i: number, links: ReadonlySet<string>): Problem[] {
  const w = s.workloads[i] as NetworkWorkloadSpec;
  const at = (...path: (string | number)[]) => ['workloads', i, ...path];
  const out: Problem[] = [];
  if (links.size === 0) {
    out.push(problemAt(src, at('kind'), `network workload "${w.name}" has no test NIC to run on: no VM profile declares nics:, and no host of the scenario has nics: in the hosts file`, 'give a VM profile a test link: nics: [{ name: net0, model: virtio-net }], or a static host a NIC and its peer (docs/network.md)'));
  }
  (w.nics ?? []).forEach((n, j) => {
    if (!links.has(n)) out.push(problemAt(src, at('nics', j), `test NIC "${n}" belongs to no VM profile and no host of the scenario`, `known test NICs: ${[...links].join(', ') || 'none'}`));
  });
  if (w.test === 'udp-stream' && w.udp_rate === undefined) {
    out.push(problemAt(src, at('test'), 'a udp-stream needs udp_rate: UDP has no congestion control, so the lab will not send as fast as it can', 'add udp_rate:, the bits per second each stream sends, e.g. "200M"'));
  }
  if (w.test !== 'udp-stream' && w.udp_rate !== undefined) {
    out.push(problemAt(src, at('udp_rate'), `udp_rate is for test: udp-stream; ${w.test === 'tcp-rr' ? 'a request/response test sends the next request when the response is back' : 'a TCP stream sends as fast as the link takes'}`, 'remove udp_rate, or set test: udp-stream'));
  }
  const listed = <T>(key: string, v: T | readonly T[] | undefined) => asList(v ?? []).map((x, j) => ({ x, path: Array.isArray(v) ? at(key, j) : at(key) }));
  for (const { x, path } of listed('message_size', w.message_size)) {
    if (w.test === 'udp-stream' && sizeBytes(x) > MAX_UDP_MESSAGE) out.push(problemAt(src, path, `a UDP message of ${x} does not fit in one datagram (at most ${MAX_UDP_MESSAGE} bytes)`, 'use a message_size of at most 65507, e.g. 1448 (one packet on a 1500-byte MTU)'));
    if (w.test === 'tcp-rr' && (sizeBytes(x) < MIN_RR_MESSAGE || sizeBytes(x) > MAX_UDP_MESSAGE)) out.push(problemAt(src, path, `a request of ${x} bytes: sockperf sends ${MIN_RR_MESSAGE} to ${MAX_UDP_MESSAGE} bytes (its header is ${MIN_RR_MESSAGE})`, 'use a message_size from 14 to 65507, e.g. 64'));
  }
  if (w.test === 'tcp-rr') {
    if (w.runtime < MIN_RR_SECONDS) out.push(problemAt(src, at('runtime'), `a tcp-rr of ${w.runtime} s: sockperf leaves out its warm-up (0.4 s) and the end of the run, and under ${MIN_RR_SECONDS} s keeps no round trip`, `set runtime to ${MIN_RR_SECONDS} or more`));
    for (const { x, path } of listed('flows', w.flows)) {
      if (x !== 1) out.push(problemAt(src, path, `tcp-rr keeps one request in flight on one connection, so ${x} flows cannot be measured as one round-trip time`, 'remove flows (1); for load with many connections use tcp-stream'));
    }
    for (const { x, path } of listed('direction', w.direction)) {
      if (x !== 'transmit') out.push(problemAt(src, path, `a round trip goes both ways: direction ${x} means nothing for tcp-rr`, 'remove direction'));
    }
  }
  return out;
}

/** Every problem of the scenario's test links and network workloads; `hostNics` are the NICs of the scenario's static hosts. */
export function networkProblems(src: YamlSource, s: Scenario, hostNics: readonly string[] = []): Problem[] {
  const out: Problem[] = [];
  const links = new Set<string>(hostNics);
  s.targets.vms.forEach((vm, i) => {
    const seen = new Map<string, number>();
    (vm.nics ?? []).forEach((n, j) => {
      const first = seen.get(n.name);
      if (first !== undefined) out.push(problemAt(src, ['targets', 'vms', i, 'nics', j, 'name'], `test link "${n.name}" is declared twice (first at nics[${first}])`, 'give each a different name'));
      seen.set(n.name, j);
      links.add(n.name);
      out.push(...linkProblems(src, s, i, j));
    });
  });
  s.workloads.forEach((w, i) => {
    if (w.kind === 'network') out.push(...workloadProblems(src, s, i, links));
  });
  return out;
}
