/**
 * Network I/O on real guests, from the command line as a user runs it:
 * `iommu-lab sweep` of a TCP stream over a virtio-net test link (two NICs
 * behind the IOMMU, joined inside QEMU, one network namespace per end) on
 * Intel strict, lazy and passthrough and virtio-iommu lazy, and TCP
 * request/response (sockperf ping-pong) on the same link. The preflight
 * proves each NIC translated (its group type, ACCESS_PLATFORM); the QEMU
 * plugin's counts are exact per packet: two DMA maps (one per end), and in
 * strict exactly one synchronous invalidation per unmap; the report ranks the
 * modes by IOMMU-path instructions per packet.
 */
import { readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { execa } from 'execa';
import { describe, expect, it } from 'vitest';
import { LOCAL } from '../../infra/up.js';
import { Virsh } from '../../infra/virsh.js';
import { useVmScenario } from '../helpers/vm-scenario.js';

const SCENARIO = `name: vmnet
seed: 2
repetitions: 2
workloads:
  - { kind: network, name: tcp, flows: 1, runtime: 3, omit: 1 }
  - { kind: network, name: ping, test: tcp-rr, runtime: 2 }
iommu:
  - device: intel
    mode: [strict, lazy, passthrough]
  - device: virtio
    mode: lazy
targets:
  vms:
    - name: n
      vcpus: 2
      memory_mib: 1024
      kernel: "6.12"
      nics: [{ name: net0, model: virtio-net }]
metrics: [net_throughput_mbit_s, net_rtt_p50_us, net_rtt_p99_us, net_packets_per_s, insn_iommu_per_io, calls_dma_map_per_io, calls_sync_inval_per_io, calls_fq_flush_per_io, calls_dma_map_per_mib]
timeouts: { cell_s: 120, boot_s: 180 }
`;

const vm = useVmScenario('vmnet', SCENARIO);
const cli = (args: string[]) => execa('node', ['bin/iommu-lab.js', ...args], { reject: false, all: true });

type Metrics = Record<string, number>;

describe('network I/O on real guests', () => {
  it('sweeps a TCP stream and request/response on four configurations and counts exactly per packet', async () => {
    const r = await cli(['sweep', vm.file, '--results', join(vm.dir, 'results')]);
    expect(r.exitCode, r.all).toBe(0);
    expect(r.stdout).toContain('16 passed, 0 failed of 16 repetitions');
    const runDir = /summary: (.*)\/report\/summary\.md/.exec(r.stdout)![1]!;

    // The preflight proved both NICs of the link translated in each mode.
    const want: Record<string, string> = { 'n-intel-strict': 'DMA', 'n-intel-lazy': 'DMA-FQ', 'n-intel-passthrough': 'identity', 'n-virtio-lazy': 'DMA-FQ' };
    for (const [guest, type] of Object.entries(want)) {
      const pre = JSON.parse(await readFile(join(runDir, 'preflight', `${guest}.json`), 'utf8'));
      expect(pre.verdict, guest).toMatchObject({ ok: true, observed: { 'net0.a': type, 'net0.b': type } });
      for (const end of pre.facts.links.ends) expect(end.virtioFeatures[33], `${guest} ${end.end}`).toBe('1');
    }

    const reps = async (config: string, workload = 'tcp'): Promise<Metrics[]> => {
      const dir = join(runDir, 'cells', `${workload}__${config}__n__net0`);
      return Promise.all((await readdir(dir)).map(async (rep) => {
        const res = JSON.parse(await readFile(join(dir, rep, 'result.json'), 'utf8'));
        expect(res.outcome.state, `${config} ${rep}`).toBe('passed');
        expect(res.profile).toMatchObject({ ios_from: 'nic-stats' });
        return res.outcome.metrics as Metrics;
      }));
    };
    const all: Record<string, Metrics[]> = {};
    for (const c of ['intel-strict', 'intel-lazy', 'intel-passthrough', 'virtio-lazy']) {
      all[c] = await reps(c);
      process.stderr.write(`${c}: ${all[c]!.map((m) => `${m['net_throughput_mbit_s']!.toFixed(0)} Mbit/s, ${m['insn_iommu_per_io']!.toFixed(1)} insns/packet, ${m['calls_sync_inval_per_io']!.toFixed(4)} sync/packet`).join('; ')}\n`);
      for (const m of all[c]!) {
        // Each packet crosses two DMA paths: the sender's transmit map and the receiver's buffer map.
        expect(m['calls_dma_map_per_io']).toBeGreaterThan(1.99);
        expect(m['calls_dma_map_per_io']).toBeLessThan(2.01);
        expect(m['ios']).toBeGreaterThan(1000);
        expect(m['net_throughput_mbit_s']).toBeGreaterThan(0);
      }
    }
    // Strict: exactly one synchronous invalidation per unmap (the same count, divided by the same packets).
    for (const m of all['intel-strict']!) expect(m['calls_sync_inval_per_io']).toBe(m['calls_dma_unmap_per_io']);
    for (const m of all['intel-lazy']!) {
      expect(m['calls_sync_inval_per_io']! / m['calls_dma_unmap_per_io']!).toBeLessThan(0.02);
      expect(m['calls_fq_flush_per_io']).toBeGreaterThan(0);
    }
    for (const m of all['intel-passthrough']!) expect(m['calls_sync_inval_per_io']).toBe(0);
    // The IOMMU-path work per packet repeats within a boot, and orders the modes.
    const insn = (c: string) => all[c]!.map((m) => m['insn_iommu_per_io']!);
    for (const c of Object.keys(all)) expect(Math.max(...insn(c)) / Math.min(...insn(c)) - 1, c).toBeLessThan(0.005);
    expect(Math.max(...insn('intel-passthrough'))).toBeLessThan(Math.min(...insn('intel-lazy')));
    expect(Math.max(...insn('intel-lazy'))).toBeLessThan(Math.min(...insn('intel-strict')));

    // Request/response: round-trip times from sockperf, and the same exact counts per packet.
    for (const c of Object.keys(all)) {
      for (const m of await reps(c, 'ping')) {
        expect(m['net_rtt_p99_us']).toBeGreaterThanOrEqual(m['net_rtt_p50_us']!);
        expect(m['net_rr_per_s']).toBeGreaterThan(0);
        expect(m['calls_dma_map_per_io']).toBeGreaterThan(1.98);
        expect(m['calls_dma_map_per_io']).toBeLessThan(2.02);
        if (c === 'intel-strict') expect(m['calls_sync_inval_per_io']).toBe(m['calls_dma_unmap_per_io']);
      }
    }

    // The report ranks them with the exact per-packet counts, and says what a network I/O is.
    const report = JSON.parse(await readFile(join(runDir, 'report', 'report.json'), 'utf8'));
    const advice = report.advice.find((a: { group: string }) => a.group.endsWith('(intel)'));
    expect(advice).toMatchObject({ metric: 'net_throughput_mbit_s', per: 'packet', reference: 'intel-passthrough' });
    expect(advice.ranking.map((m: { config: string }) => m.config)).toEqual(['intel-passthrough', 'intel-lazy', 'intel-strict']);
    expect(advice.ranking[2].syncPerIo).toBeGreaterThan(1.99);
    const summary = await readFile(join(runDir, 'report', 'summary.txt'), 'utf8');
    expect(summary).toMatch(/For network workloads an I\/O is a packet on the test link/);
    expect((await new Virsh(LOCAL.uri).labDomains()).filter((d) => d.metadata.includes("scenario='vmnet'"))).toEqual([]);
  });
});
