/**
 * Network I/O as a workload: the scenario's validation (test links, what
 * each option needs, every bad input located with its fix), its expansion
 * into cells (flows, direction and message size as axes; no traced
 * repetition), the domain's NICs, iperf3's arguments, and the parsers on
 * outputs saved from real guests (test/fixtures/network/).
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { expand } from '../../../cell/expand.js';
import { isNetworkJob, type NetworkJob } from '../../../cell/types.js';
import { linkQemuArgs, inventoryNics } from '../../../infra/test-links.js';
import { interleave } from '../../../runner/order.js';
import { linkProblems, parseLinks } from '../../../runner/links.js';
import { iperf3ClientArgs, iperf3OverrunPct, sockperfClientArgs } from '../../../runner/network-tools.js';
import { networkMetrics, requestResponseMetrics, sockperfOverrunPct, windowTraffic } from '../../../runner/network-parse.js';
import { loadHostsFile, loadScenarioFile } from '../../../scenario/load.js';
import { inventoryFromHosts } from '../../../inventory/load.js';
import { rejected } from '../../helpers/rejected.js';
import { useTmpDir, writeIn } from '../../helpers/tmp.js';

const F = join(import.meta.dirname, '../../fixtures/network');
const tmp = useTmpDir();

const SCENARIO = (o: { workload?: string; nics?: string; iommu?: string; metrics?: string; hosts?: string } = {}) => `name: n
repetitions: 2
workloads:
  - { name: rr, rw: randread, bs: 4k }
  - ${o.workload ?? '{ kind: network, name: tcp, flows: [1, 4], direction: [transmit, receive], runtime: 5 }'}
iommu:
${o.iommu ?? '  - { device: intel, mode: [strict, lazy] }'}
targets:
  vms:
    - name: g
      disks: [{ name: nvme0, bus: nvme }]
      nics: ${o.nics ?? '[{ name: net0 }]'}
tracing: { scripts: [iotlb-invalidations], repetitions: 1 }
${o.metrics ?? ''}`;

const problems = async (text: string): Promise<string> => rejected(loadScenarioFile(await writeIn(await tmp(), 's.yaml', text)), 'the scenario');

describe('a network workload in a scenario', () => {
  it('expands flows and direction into cells on each test link, with its own default metrics and no traced repetition', async () => {
    const loaded = await loadScenarioFile(await writeIn(await tmp(), 's.yaml', SCENARIO()));
    expect(loaded.scenario.metrics).toEqual(['iops', 'bw_mib_s', 'clat_p50_us', 'clat_p99_us', 'cpu_sys_pct', 'net_throughput_mbit_s', 'net_packets_per_s', 'net_retransmits', 'net_cpu_sender_pct']);
    expect(loaded.scenario.targets.vms[0]!.nics).toEqual([{ name: 'net0', model: 'virtio-net', iommu_platform: true, ats: false }]);
    const plan = expand(loaded);
    const net = plan.cells.filter((c) => isNetworkJob(c.job));
    expect(net.map((c) => c.id)).toEqual([
      'tcp.transmit.f1__intel-strict__g__net0', 'tcp.transmit.f4__intel-strict__g__net0', 'tcp.receive.f1__intel-strict__g__net0', 'tcp.receive.f4__intel-strict__g__net0',
      'tcp.transmit.f1__intel-lazy__g__net0', 'tcp.transmit.f4__intel-lazy__g__net0', 'tcp.receive.f1__intel-lazy__g__net0', 'tcp.receive.f4__intel-lazy__g__net0',
    ]);
    expect(net[1]!.job).toEqual({ kind: 'network', workload: 'tcp', test: 'tcp-stream', flows: 4, direction: 'transmit', message_size: '128k', runtime: 5, omit: 1 });
    // fio runs on the disk only, the network workload on the link only; only fio's cells have traced repetitions.
    expect(plan.cells.filter((c) => !isNetworkJob(c.job)).map((c) => c.disk)).toEqual(['nvme0', 'nvme0']);
    const tasks = [...interleave(plan.cells, plan.repetitions, 1).values()].flat();
    expect(tasks.filter((t) => isNetworkJob(t.cell.job)).every((t) => t.rep.kind === 'timing')).toBe(true);
    expect(tasks.filter((t) => isNetworkJob(t.cell.job)).length).toBe(8 * 2);
  });

  it('refuses a virtio-net link that would bypass the IOMMU, and options its model or IOMMU does not have', async () => {
    const bypass = await problems(SCENARIO({ nics: '[{ name: net0, iommu_platform: false }]' }));
    expect(bypass).toMatch(/targets\.vms\[0\]\.nics\[0\]\.iommu_platform: test link "net0": a virtio-net NIC without iommu_platform does not negotiate ACCESS_PLATFORM, so its DMA bypasses the IOMMU in intel-strict, intel-lazy/);
    expect(bypass).toMatch(/fix: remove iommu_platform: false/);
    // Without a translating configuration there is nothing to bypass.
    await expect(loadScenarioFile(await writeIn(await tmp(), 's.yaml', SCENARIO({ nics: '[{ name: net0, iommu_platform: false }]', iommu: '  - { device: none, mode: off }' })))).resolves.toBeDefined();
    expect(await problems(SCENARIO({ nics: '[{ name: net0, model: e1000e, ats: true }]' }))).toMatch(/nics\[0\]\.ats: ats is a virtio-net option; e1000e always maps its buffers through the DMA API/);
    expect(await problems(SCENARIO({ nics: '[{ name: net0, ats: true }]', iommu: '  - { device: [intel, virtio], mode: lazy }' }))).toMatch(/nics\[0\]\.ats: ats needs intel-iommu's device IOTLB, but the matrix also has virtio/);
    expect(await problems(SCENARIO({ nics: '[{ name: net0, model: rtl8139 }]' }))).toMatch(/nics\[0\]\.model: .*\n\s+fix: .*virtio-net.*e1000e.*igb/s);
    expect(await problems(SCENARIO({ nics: '[{ name: net0 }, { name: net0, model: igb }]' }))).toMatch(/nics\[1\]\.name: test link "net0" is declared twice/);
  });

  it('refuses a UDP stream without a rate or with a message larger than a datagram, unknown links, too many flows, and a workload without a link', async () => {
    expect(await problems(SCENARIO({ workload: '{ kind: network, name: u, test: udp-stream }' }))).toMatch(/workloads\[1\]\.test: a udp-stream needs udp_rate.*\n\s+fix: add udp_rate:/);
    expect(await problems(SCENARIO({ workload: '{ kind: network, name: u, test: udp-stream, udp_rate: 100M, message_size: [1448, 64k] }' }))).toMatch(/workloads\[1\]\.message_size\[1\]: a UDP message of 64k does not fit in one datagram \(at most 65507 bytes\)/);
    expect(await problems(SCENARIO({ workload: '{ kind: network, name: t, udp_rate: 100M }' }))).toMatch(/workloads\[1\]\.udp_rate: udp_rate is for test: udp-stream/);
    expect(await problems(SCENARIO({ workload: '{ kind: network, name: t, nics: [eth9] }' }))).toMatch(/workloads\[1\]\.nics\[0\]: test NIC "eth9" belongs to no VM profile and no host of the scenario\n\s+fix: known test NICs: net0/);
    expect(await problems(SCENARIO({ workload: '{ kind: network, name: t, flows: 512 }' }))).toMatch(/workloads\[1\]\.flows.*\n\s+fix: .*iperf3 runs 1 to 128 parallel streams/);
    const noLink = SCENARIO().replace('      nics: [{ name: net0 }]\n', '');
    expect(await problems(noLink)).toMatch(/workloads\[1\]\.kind: network workload "tcp" has no test NIC to run on: no VM profile declares nics:, and no host of the scenario has nics: in the hosts file\n\s+fix: give a VM profile a test link/);
    expect(await problems(SCENARIO({ metrics: 'metrics: [iops, calls_dma_map_per_mib]\n' }).replace(/  - \{ kind: network.*\n/, '').replace('  - { name: rr', '  - { name: rr'))).toMatch(/calls_dma_map_per_mib is per MiB moved on a test link, but no workload is a network one/);
    const rr = await problems(SCENARIO({ workload: '{ kind: network, name: rr, test: tcp-rr, flows: [1, 4], direction: receive, message_size: [8, 64], runtime: 1 }' }));
    expect(rr).toMatch(/workloads\[1\]\.runtime: a tcp-rr of 1 s: sockperf leaves out its warm-up \(0\.4 s\) and the end of the run, and under 2 s keeps no round trip/);
    expect(rr).toMatch(/workloads\[1\]\.flows\[1\]: tcp-rr keeps one request in flight on one connection, so 4 flows cannot be measured as one round-trip time/);
    expect(rr).toMatch(/workloads\[1\]\.direction: a round trip goes both ways: direction receive means nothing for tcp-rr\n\s+fix: remove direction/);
    expect(rr).toMatch(/workloads\[1\]\.message_size\[0\]: a request of 8 bytes: sockperf sends 14 to 65507 bytes/);
    const neither = SCENARIO().replace('      disks: [{ name: nvme0, bus: nvme }]\n', '').replace('      nics: [{ name: net0 }]\n', '');
    expect(await problems(neither)).toMatch(/targets\.vms\[0\]: VM profile "g" has no test disk and no test link/);
  });
});

describe('a static host\'s test NICs in the hosts file', () => {
  const HOSTS = (nic: string, peer = '  - { name: p2, ssh: { host: 192.0.2.2, user: root, key: k, host_key_sha256: "SHA256:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA" }, iommu: { device: none, mode: off } }\n') => `hosts:
  - name: h1
    ssh: { host: 192.0.2.1, user: root, key: k, host_key_sha256: "SHA256:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA" }
    iommu: { device: intel, mode: strict }
    nics: [${nic}]
${peer}`;
  const hostsProblems = async (text: string) => rejected(loadHostsFile(await writeIn(await tmp(), 'hosts.yaml', text)), 'the hosts file');

  it('accepts a NIC with a peer that has nothing of its own, and gives the peer\'s SSH to the inventory', async () => {
    const loaded = await loadHostsFile(await writeIn(await tmp(), 'hosts.yaml', HOSTS('{ name: n1, interface: enp1s0f0, address: 10.0.0.1, peer: p2, peer_address: 10.0.0.2, behind_iommu: true }')));
    const inv = inventoryFromHosts(loaded, ['h1']);
    expect(inv.targets.map((t) => t.name)).toEqual(['h1']);
    expect(inv.targets[0]!.nics).toEqual([{ kind: 'peer', name: 'n1', interface: 'enp1s0f0', address: '10.0.0.1', behind_iommu: true, peer: { name: 'p2', address: '10.0.0.2', ssh: expect.objectContaining({ host: '192.0.2.2', port: 22, user: 'root' }) } }]);
  });

  it('refuses a peer that is not in the file or is the host itself, a peer address that is the NIC\'s, and bad addresses', async () => {
    expect(await hostsProblems(HOSTS('{ name: n1, interface: enp1s0f0, address: 10.0.0.1, peer: bench9, peer_address: 10.0.0.2, behind_iommu: true }'))).toMatch(/hosts\[0\]\.nics\[0\]\.peer: peer "bench9" is not a host of this file\n\s+fix: declare it under hosts:/);
    expect(await hostsProblems(HOSTS('{ name: n1, interface: enp1s0f0, address: 10.0.0.1, peer: h1, peer_address: 10.0.0.2, behind_iommu: true }'))).toMatch(/hosts\[0\]\.nics\[0\]\.peer: test NIC "n1" names its own host as peer/);
    expect(await hostsProblems(HOSTS('{ name: n1, interface: enp1s0f0, address: 10.0.0.1, peer: p2, peer_address: 10.0.0.1, behind_iommu: true }'))).toMatch(/hosts\[0\]\.nics\[0\]\.peer_address: peer_address is the NIC's own address 10\.0\.0\.1/);
    expect(await hostsProblems(HOSTS('{ name: n1, interface: enp1s0f0, address: 10.0.0.300, peer: p2, peer_address: 10.0.0.2, behind_iommu: true }'))).toMatch(/hosts\[0\]\.nics\[0\]\.address: .*\n\s+fix: an IPv4 address such as 192\.0\.2\.10/);
    // A host that is nobody's peer and has nothing to measure is a mistake.
    expect(await hostsProblems(HOSTS('{ name: n1, interface: enp1s0f0, address: 10.0.0.1, peer: p2, peer_address: 10.0.0.2, behind_iommu: true }') + '  - { name: p3, ssh: { host: 192.0.2.3, user: root, key: k, host_key_sha256: "SHA256:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA" }, iommu: { device: none, mode: off } }\n')).toMatch(/hosts\[2\]: host "p3" has no test disk and no test NIC, and is no NIC's peer/);
  });
});

describe('test links in the guest', () => {
  it('are two NICs of the model on a QEMU hub of their own, at fixed slots and MACs, virtio-net with ACCESS_PLATFORM', () => {
    expect(linkQemuArgs([{ name: 'net0', model: 'virtio-net', iommu_platform: true, ats: true }, { name: 'net1', model: 'e1000e', iommu_platform: true, ats: false }, { name: 'net2', model: 'igb', iommu_platform: true, ats: false }])).toEqual([
      '-netdev', 'hubport,id=labnic0a,hubid=70', '-device', 'virtio-net-pci,netdev=labnic0a,mac=52:54:00:1a:00:0a,romfile=,bus=pcie.0,addr=0x0a,disable-legacy=on,iommu_platform=on,ats=on',
      '-netdev', 'hubport,id=labnic0b,hubid=70', '-device', 'virtio-net-pci,netdev=labnic0b,mac=52:54:00:1a:00:0b,romfile=,bus=pcie.0,addr=0x0b,disable-legacy=on,iommu_platform=on,ats=on',
      '-netdev', 'hubport,id=labnic1a,hubid=71', '-device', 'e1000e,netdev=labnic1a,mac=52:54:00:1a:01:0a,romfile=,bus=pcie.0,addr=0x0c',
      '-netdev', 'hubport,id=labnic1b,hubid=71', '-device', 'e1000e,netdev=labnic1b,mac=52:54:00:1a:01:0b,romfile=,bus=pcie.0,addr=0x0d',
      // igb's virtual functions would sit 16 slots above it: it gets a root port of its own.
      '-netdev', 'hubport,id=labnic2a,hubid=72', '-device', 'pcie-root-port,id=labnic2a-port,bus=pcie.0,addr=0x0e,chassis=214', '-device', 'igb,netdev=labnic2a,mac=52:54:00:1a:02:0a,romfile=,bus=labnic2a-port,addr=0x0',
      '-netdev', 'hubport,id=labnic2b,hubid=72', '-device', 'pcie-root-port,id=labnic2b-port,bus=pcie.0,addr=0x0f,chassis=215', '-device', 'igb,netdev=labnic2b,mac=52:54:00:1a:02:0b,romfile=,bus=labnic2b-port,addr=0x0',
    ]);
    expect(inventoryNics([{ name: 'net0', model: 'virtio-net', iommu_platform: true, ats: false }], true)[0]!.ends).toEqual([
      { mac: '52:54:00:1a:00:0a', namespace: 'lab-net0-a', address: '10.77.0.1/24' },
      { mac: '52:54:00:1a:00:0b', namespace: 'lab-net0-b', address: '10.77.0.2/24' },
    ]);
  });

  it('takes each test\'s message size when the workload gives none', async () => {
    const loaded = await loadScenarioFile(await writeIn(await tmp(), 's.yaml', SCENARIO({ workload: '{ kind: network, name: ping, test: tcp-rr }' }).replace('repetitions: 2', 'repetitions: 2\nmetrics: [net_rtt_p99_us]')));
    const rr = expand(loaded).cells.filter((c) => isNetworkJob(c.job));
    expect(rr.map((c) => [c.id, (c.job as NetworkJob).message_size])).toEqual([['ping__intel-strict__g__net0', 64], ['ping__intel-lazy__g__net0', 64]]);
    expect(sockperfClientArgs(rr[0]!.job as NetworkJob, '10.77.0.2')).toEqual(['sockperf', 'ping-pong', '--ip', '10.77.0.2', '--port', '11111', '--tcp', '--msg-size', '64', '--time', '10', '--full-rtt', '--no-rdtsc']);
    expect(sockperfClientArgs({ ...(rr[0]!.job as NetworkJob), message_size: '4k' }, '10.77.0.2')).toContain('4096');
  });

  it('gives iperf3 the cell\'s job', () => {
    const job: NetworkJob = { kind: 'network', workload: 'w', test: 'udp-stream', flows: 4, direction: 'bidirectional', message_size: '1448', udp_rate: '200M', runtime: 5, omit: 1 };
    expect(iperf3ClientArgs(job, '10.77.0.2')).toEqual(['iperf3', '--client', '10.77.0.2', '--port', '5201', '--json', '--time', '5', '--omit', '1', '--parallel', '4', '--length', '1448', '--bidir', '--udp', '--bitrate', '200M']);
    expect(iperf3ClientArgs({ ...job, test: 'tcp-stream', direction: 'receive', flows: 1 }, '10.77.0.2')).toContain('--reverse');
  });
});

describe('the network parsers, on outputs saved from real guests', () => {
  const cases = readdirSync(F).filter((f) => f.endsWith('.expected.json')).map((f) => f.replace('.expected.json', ''));

  it('turn iperf3\'s JSON or sockperf\'s summary and the NICs\' counters into the metrics the run recorded', () => {
    expect(cases.length).toBeGreaterThanOrEqual(6);
    for (const c of cases) {
      const expected = JSON.parse(readFileSync(join(F, `${c}.expected.json`), 'utf8')) as { job: NetworkJob; metrics: Record<string, number> };
      const [before, after] = readFileSync(join(F, `${c}.nic-stats.txt`), 'utf8').split('--\n') as [string, string];
      const traffic = windowTraffic(before, after);
      expect(traffic, c).toBeDefined();
      const got = expected.job.test === 'tcp-rr'
        ? requestResponseMetrics(readFileSync(join(F, `${c}.sockperf.txt`), 'utf8'), traffic!)
        : networkMetrics(readFileSync(join(F, `${c}.iperf3.json`), 'utf8'), expected.job, traffic!);
      expect(got, c).toEqual(expected.metrics);
    }
  });

  it('read round-trip times from sockperf, without its colours, and its own run time for the clock check', () => {
    const out = readFileSync(join(F, 'rr-m64-strict-vnet.sockperf.txt'), 'utf8');
    const m = requestResponseMetrics(out, { packets: 1000, bytes: 1 << 20 });
    expect(m).toMatchObject({ net_rtt_mean_us: 362.5, net_rtt_p50_us: 338.475, net_rtt_p99_us: 613.075, net_rtt_p999_us: 1877.052 });
    expect(m['net_rr_per_s']).toBeCloseTo(2285 / 0.83, 6);
    expect(sockperfOverrunPct(out, 2)).toBeCloseTo(0.05, 6);
    // sockperf exits 0 when it cannot connect: the missing summary says so.
    expect(() => requestResponseMetrics('sockperf: [Total Run] RunTime=1.000 sec; Warm up time=400 msec; SentMessages=22276; ReceivedMessages=22275\nsockperf: No valid observations found. Try tune parameters: --time/--mps/--reply-every\n', { packets: 1, bytes: 1 })).toThrow(/sockperf kept no valid round trip/);
    expect(() => requestResponseMetrics('sockperf: == version #3.7-no.git ==\nsockperf: ERROR: Can`t connect socket (errno=111 Connection refused)\n', { packets: 1, bytes: 1 })).toThrow(/sockperf: Can`t connect socket \(errno=111 Connection refused\)/);
  });

  it('count every packet once (each end\'s transmissions), and say when a NIC is missing from a reading', () => {
    const [before, after] = readFileSync(join(F, 'tcp-transmit-vnet.nic-stats.txt'), 'utf8').split('--\n') as [string, string];
    expect(windowTraffic(before, after)).toEqual({ packets: (106376 - 12628) + (78149 - 75026), bytes: (156625307 - 15433112) + (112914757 - 112708171) });
    expect(windowTraffic(before, after.split('\n')[0]!)).toBeUndefined();
  });

  it('read the TCP retransmits, the UDP loss and jitter, and the right end\'s CPU per direction', () => {
    const tx = JSON.parse(readFileSync(join(F, 'tcp-transmit-vnet.expected.json'), 'utf8')) as { metrics: Record<string, number> };
    expect(Object.keys(tx.metrics).sort()).toEqual(['ios', 'mib', 'net_cpu_receiver_pct', 'net_cpu_sender_pct', 'net_packets_per_s', 'net_retransmits', 'net_throughput_mbit_s']);
    const udp = JSON.parse(readFileSync(join(F, 'udp-vnet.expected.json'), 'utf8')) as { metrics: Record<string, number> };
    expect(udp.metrics).toHaveProperty('net_udp_jitter_ms');
    expect(udp.metrics['net_throughput_mbit_s']).toBeCloseTo(50, 0);
    const json = readFileSync(join(F, 'tcp-receive-inet.iperf3.json'), 'utf8');
    const traffic = { packets: 1000, bytes: 1 << 20 };
    const receive = networkMetrics(json, { test: 'tcp-stream', direction: 'receive' }, traffic);
    const asTransmit = networkMetrics(json, { test: 'tcp-stream', direction: 'transmit' }, traffic);
    // -R: the client receives, so the sending end's CPU is the server's (iperf3's remote_total).
    expect(receive['net_cpu_sender_pct']).toBe(asTransmit['net_cpu_receiver_pct']);
    expect(receive['mib']).toBe(1);
  });

  it('say what is wrong with an output they cannot read', () => {
    expect(() => networkMetrics('iperf3: error - unable to connect to server', { test: 'tcp-stream', direction: 'transmit' }, { packets: 1, bytes: 1 })).toThrow(/iperf3 printed no JSON/);
    expect(() => networkMetrics('{"start": {}, "intervals": [], "end": {}, "error": "unable to connect to server: Connection refused"}', { test: 'tcp-stream', direction: 'transmit' }, { packets: 1, bytes: 1 })).toThrow(/iperf3: unable to connect to server/);
    expect(() => networkMetrics('{"start": {}, "intervals": [], "end": {}}', { test: 'tcp-stream', direction: 'transmit' }, { packets: 1, bytes: 1 })).toThrow(/no end summary/);
    expect(iperf3OverrunPct(readFileSync(join(F, 'udp-vnet.iperf3.json'), 'utf8'), 2)).toBeCloseTo(0, 0);
  });

  it('prove each end of a link translated, and name an end in another mode, missing, or bypassing the IOMMU', () => {
    const raw = readFileSync(join(F, 'links-intel-strict.txt'), 'utf8');
    const facts = parseLinks(raw);
    expect(facts.iperf3).toBe('iperf 3.12 (cJSON 1.7.15)');
    expect(facts.ends.map((e) => `${e.link}.${e.end} ${e.ifname} ${e.pci} ${e.groupType} ${e.driver}`)).toEqual([
      'vnet.a eth0 0000:00:0a.0 DMA virtio_net', 'vnet.b eth1 0000:00:0b.0 DMA virtio_net',
      'enet.a eth3 0000:00:0c.0 DMA e1000e', 'enet.b eth4 0000:00:0d.0 DMA e1000e',
      'inet.a eth5 0000:04:00.0 DMA igb', 'inet.b eth6 0000:05:00.0 DMA igb',
    ]);
    const nics = inventoryNics([{ name: 'vnet', model: 'virtio-net', iommu_platform: true, ats: true }, { name: 'enet', model: 'e1000e', iommu_platform: true, ats: false }, { name: 'inet', model: 'igb', iommu_platform: true, ats: false }], true);
    expect(linkProblems(nics, { device: 'intel', mode: 'strict' }, facts)).toEqual([]);
    expect(linkProblems(nics, { device: 'intel', mode: 'lazy' }, facts)[0]).toMatch(/^test link vnet end a \(eth0, 0000:00:0a\.0\): expected DMA-FQ \(lazy\), found group 4 of type DMA \(strict\)$/);
    const bypassing = parseLinks(raw.replace(/(\tDMA\t[01]{33})1/g, '$10'));
    expect(linkProblems(nics, { device: 'intel', mode: 'strict' }, bypassing)).toEqual([
      'test link vnet end a (eth0): virtio feature ACCESS_PLATFORM (bit 33) is off, so its DMA bypasses the IOMMU; the lab boots virtio-net test NICs with iommu_platform=on',
      'test link vnet end b (eth1): virtio feature ACCESS_PLATFORM (bit 33) is off, so its DMA bypasses the IOMMU; the lab boots virtio-net test NICs with iommu_platform=on',
    ]);
    const missing = parseLinks(raw.replace(/^nic\tinet\tb\t.*$/m, 'nic\tinet\tb\t52:54:00:1a:02:0b\tmissing'));
    expect(linkProblems(nics, { device: 'intel', mode: 'strict' }, missing)).toEqual(['test link inet end b (igb, MAC 52:54:00:1a:02:0b) is not in the target']);
  });
});
