/**
 * A sweep split in two shards on this machine and merged gives what the
 * unsharded sweep gives: the same cells, the same verdicts between the IOMMU
 * modes, the same exact counts. Virtual clock, so that timings of different
 * boots agree well enough for verdicts to be a property of the configuration.
 * Every sweep is --fresh: a retry of the test must not complete the last try's runs.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { execa } from 'execa';
import { describe, expect, it } from 'vitest';
import type { Report } from '../../analysis/report/model.js';
import { useVmScenario } from '../helpers/vm-scenario.js';

const SCENARIO = `name: vmshard
seed: 21
repetitions: 5
workloads:
  - { name: rr, rw: randread, bs: 4k, iodepth: 16, size: 64m, runtime: 2, ramp_time: 1 }
iommu:
  - { device: intel, mode: strict }
  - { device: intel, mode: passthrough }
targets:
  vms:
    - name: s
      vcpus: 2
      memory_mib: 1024
      kernel: "6.12"
      clock: virtual
      # virtio-blk: under the virtual clock an NVMe queue of an intel passthrough guest can stall for
      # ~60 s of guest time (docs/timing.md), which the runner measures again and may give up on.
      disks: [{ name: vblk0, bus: virtio-blk, size_mib: 128 }]
tracing: { scripts: [dma-map-latency], repetitions: 1 }
metrics: [iops, dma_map_per_io]
timeouts: { cell_s: 120, boot_s: 240 }
`;

const vm = useVmScenario('vmshard', SCENARIO);
const cli = (args: string[]) => execa('node', ['bin/iommu-lab.js', ...args], { reject: false, all: true });
const reportOf = async (stdout: string) => JSON.parse(await readFile(join(/summary: (.*)\/report\/summary\.md/.exec(stdout)![1]!, 'report', 'report.json'), 'utf8')) as Report;

describe('a sweep in two shards, merged', () => {
  it('gives the same cells, verdicts and counts as the unsharded sweep', async () => {
    const whole = await cli(['sweep', vm.file, '--results', join(vm.dir, 'whole'), '--fresh']);
    expect(whole.exitCode, whole.all).toBe(0);
    expect(whole.stdout).toContain('12 passed, 0 failed of 12 repetitions');

    const shardDirs: string[] = [];
    for (const i of [1, 2]) {
      const r = await cli(['sweep', vm.file, '--results', join(vm.dir, `shard${i}`), '--shard', `${i}/2`, '--fresh']);
      expect(r.exitCode, r.all).toBe(0);
      expect(r.stdout).toContain('6 passed, 0 failed of 6 repetitions');
      expect(r.stdout).not.toContain('report:');
      shardDirs.push(/^shard: {3}(\S+)/m.exec(r.stdout)![1]!);
    }
    const merged = await cli(['merge', ...shardDirs, '--results', join(vm.dir, 'merged')]);
    expect(merged.exitCode, merged.all).toBe(0);
    expect(merged.stdout).toContain('merged 2 shard(s): 2 cells, 12 passed and 0 failed repetitions');

    const a = await reportOf(whole.stdout);
    const b = await reportOf(merged.stdout);
    expect(b.cells.map((c) => c.cell)).toEqual(a.cells.map((c) => c.cell));
    const verdicts = (r: Report) => r.modes.comparisons.map((c) => `${c.cell} ${c.metric} ${c.verdict}`).sort();
    expect(verdicts(b)).toEqual(verdicts(a));
    expect(verdicts(a).some((v) => v.includes('iops') && !v.endsWith('inconclusive'))).toBe(true);
    // DMA maps per I/O: what the mode makes the driver do for each request, the same in every boot.
    const counts = (r: Report) => r.cells.map((c) => [c.cell, c.metrics['dma_map_per_io']!.median] as const);
    for (const [[cell, x], [, y]] of counts(a).map((p, i) => [p, counts(b)[i]!] as const)) {
      expect(Math.abs(x - y), `${cell}: ${x} vs ${y}`).toBeLessThanOrEqual(0.01 * Math.max(x, y));
    }
    // (Every mode maps through the DMA API; what differs is the IOMMU's work behind it.)
    for (const [, x] of counts(a)) expect(x).toBeGreaterThan(0.9);
  });
});
