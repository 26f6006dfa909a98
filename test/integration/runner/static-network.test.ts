/**
 * Network I/O on a static host, against real services: this machine is the
 * host (a real OpenSSH server on 127.0.0.1), its test NIC one end of a veth
 * pair, and the peer a second host in a network namespace the test makes
 * (the pair's other end, its own sshd): real iperf3 and sockperf between
 * them, the host's NIC counters around the client. The peer that does not
 * answer and the NIC that is not there are named failures.
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expand } from '../../../cell/expand.js';
import { inventoryFromHosts } from '../../../inventory/load.js';
import { RunStore } from '../../../result/store.js';
import { runPlan } from '../../../runner/run.js';
import { loadScenarioFile } from '../../../scenario/load.js';
import { startSshd, type TestSshd } from '../../../tools/loopback-sshd.js';

const NS = 'iommu-lab-peer-test';
const [HOST_IF, PEER_IF] = ['lab-tnic0', 'lab-tnic1'];
const [HOST_ADDR, PEER_ADDR] = ['10.98.0.1', '10.98.0.2'];

let host: TestSshd;
let peer: TestSshd;
let work: string;
const ip = (...args: string[]) => execa('ip', args);

beforeAll(async () => {
  await ip('netns', 'del', NS).catch(() => undefined);
  await ip('link', 'del', HOST_IF).catch(() => undefined);
  await ip('netns', 'add', NS);
  await ip('link', 'add', HOST_IF, 'type', 'veth', 'peer', 'name', PEER_IF);
  await ip('link', 'set', PEER_IF, 'netns', NS);
  await ip('addr', 'add', `${HOST_ADDR}/24`, 'dev', HOST_IF);
  await ip('link', 'set', HOST_IF, 'up');
  await ip('-n', NS, 'addr', 'add', `${PEER_ADDR}/24`, 'dev', PEER_IF);
  await ip('-n', NS, 'link', 'set', PEER_IF, 'up');
  await ip('-n', NS, 'link', 'set', 'lo', 'up');
  host = await startSshd();
  peer = await startSshd({ netns: NS, address: PEER_ADDR });
  work = await mkdtemp(join(tmpdir(), 'iommu-lab-static-net-'));
});
afterAll(async () => {
  await host?.stop();
  await peer?.stop();
  await ip('link', 'del', HOST_IF).catch(() => undefined);
  await ip('netns', 'del', NS).catch(() => undefined);
  if (work) await rm(work, { recursive: true, force: true });
});

const hostsYaml = (o: { peerPort?: number; iface?: string } = {}) => `hosts:
  - name: localhost
    ssh: { host: 127.0.0.1, port: ${host.port}, user: ${host.user}, key: ${host.keyPath}, host_key_sha256: "${host.hostKeyFingerprint}" }
    iommu: { device: none, mode: off }
    nics:
      - { name: tnic, interface: ${o.iface ?? HOST_IF}, address: ${HOST_ADDR}, peer: peer, peer_address: ${PEER_ADDR}, behind_iommu: false }
  - name: peer
    ssh: { host: ${PEER_ADDR}, port: ${o.peerPort ?? peer.port}, user: ${peer.user}, key: ${peer.keyPath}, host_key_sha256: "${peer.hostKeyFingerprint}" }
    iommu: { device: none, mode: off }
`;

const SCENARIO = `name: static-net
seed: 1
repetitions: 2
workloads:
  - { kind: network, name: tcp, flows: [1, 2], runtime: 1, omit: 0 }
  - { kind: network, name: ping, test: tcp-rr, runtime: 2 }
iommu:
  - { device: none, mode: off }
targets:
  hosts: [localhost]
hosts_file: hosts.yaml
timeouts: { cell_s: 60 }
`;

async function run(name: string, hosts: string) {
  const dir = join(work, name);
  await execa('mkdir', ['-p', dir]);
  await writeFile(join(dir, 'hosts.yaml'), hosts);
  await writeFile(join(dir, 'scenario.yaml'), SCENARIO);
  const loaded = await loadScenarioFile(join(dir, 'scenario.yaml'));
  const summary = await runPlan({ loaded, plan: expand(loaded), inventory: inventoryFromHosts(loaded.hosts!, loaded.scenario.targets.hosts), resultsRoot: join(dir, 'results') });
  return { summary, store: await RunStore.open(summary.dir) };
}

describe('network workloads on a static host and its peer', () => {
  it('runs iperf3 and sockperf against the peer and counts the host NIC\'s packets', async () => {
    const { summary, store } = await run('ok', hostsYaml());
    expect(summary.failures).toEqual([]);
    expect(summary.passed).toBe(3 * 2);
    for (const r of await store.allReps()) {
      expect(r.outcome.state).toBe('passed');
      const m = r.outcome.state === 'passed' ? r.outcome.metrics : {};
      // The host's NIC alone is read: each packet on the link either left or entered it.
      expect(m['ios']).toBeGreaterThan(100);
      if (r.cell.startsWith('ping')) {
        expect(m['net_rtt_p50_us']).toBeGreaterThan(0);
        expect(m['net_rtt_p99_us']).toBeGreaterThanOrEqual(m['net_rtt_p50_us']!);
      } else {
        expect(m['net_throughput_mbit_s']).toBeGreaterThan(0);
        expect(m['mib']).toBeGreaterThan(0);
      }
      expect(r.files['nic-stats']).toBe('nic-stats.txt');
      expect(await readFile(join(summary.dir, 'cells', r.cell, `${r.rep.kind}-0${r.rep.index}`, 'nic-stats.txt'), 'utf8')).toMatch(new RegExp(`^net/-/${HOST_IF} \\d+`));
    }
    // The client left through the NIC under test, bound to its address.
    const cmd = await readFile(join(summary.dir, 'cells', 'tcp.f2__none-off__localhost__tnic', 'timing-01', 'command.txt'), 'utf8');
    expect(cmd).toBe(`iperf3 --client ${PEER_ADDR} --port 5201 --json --bind ${HOST_ADDR} --time 1 --omit 0 --parallel 2 --length 128k\n`);
    // No server is left on the peer.
    expect((await execa('pgrep', ['-f', `[i]perf3 --server .*${PEER_ADDR}|[s]ockperf server .*${PEER_ADDR}`], { reject: false })).stdout).toBe('');
  });

  it('names a peer that does not answer, and a NIC that is not on the host', async () => {
    const silent = await run('silent-peer', hostsYaml({ peerPort: 2 }));
    expect(silent.summary.passed).toBe(0);
    for (const f of silent.summary.failures) {
      expect(f.kind).toBe('network');
      expect(f.message).toMatch(/localhost: peer peer of test NIC tnic does not answer SSH at 10\.98\.0\.2:2/);
    }
    const missing = await run('missing-nic', hostsYaml({ iface: 'lab-nonic9' }));
    expect(missing.summary.failures.length).toBe(6);
    expect(missing.summary.failures[0]!).toMatchObject({ kind: 'iommu-mode-mismatch' });
    expect(missing.summary.failures[0]!.message).toMatch(/test NIC tnic: interface lab-nonic9 is not on the host/);
  });
});
