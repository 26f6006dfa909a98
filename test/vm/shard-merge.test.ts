/**
 * A sweep split in two shards on this machine and merged gives what the
 * unsharded sweep gives: the same cells, the same verdicts between the IOMMU
 * modes, the same exact counts. Two VM profiles, because each clock is exact
 * in one thing:
 *  - `v`, the virtual clock on virtio-blk, two boots per guest (one timing
 *    repetition each): timings of
 *    different boots agree well enough that intel strict against passthrough
 *    is a verdict of the configuration, not of the boots;
 *  - `t`, wall-clock TCG on NVMe. Its timings, from one boot per
 *    configuration, are inconclusive, the same way in both.
 * On both, the QEMU plugin's counts are exact (strict: one synchronous IOTLB
 * invalidation per I/O, passthrough none), from the timing repetitions: no
 * traced ones. Every sweep is --fresh: a retry of the test must not complete
 * the last try's runs.
 */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Report } from '../../analysis/report/model.js';
import { printedReport, runBin } from '../helpers/run-cli.js';
import { useVmScenario } from '../helpers/vm-scenario.js';

const SCENARIO = `name: vmshard
seed: 21
repetitions: 2
workloads:
  - { name: rr, rw: randread, bs: 4k, iodepth: 16, size: 64m, runtime: 2, ramp_time: 0 }
iommu:
  - { device: intel, mode: strict }
  - { device: intel, mode: passthrough }
targets:
  vms:
    - name: v
      vcpus: 2
      memory_mib: 1024
      kernel: "6.12"
      clock: virtual
      boots: 2
      # virtio-blk: under the virtual clock an NVMe queue of a passthrough guest can stall (docs/timing.md).
      disks: [{ name: vblk0, bus: virtio-blk, size_mib: 128 }]
    - name: t
      vcpus: 2
      memory_mib: 1024
      kernel: "6.12"
      disks: [{ name: nvme0, bus: nvme, size_mib: 128 }]
metrics: [iops, calls_sync_inval_per_io]
timeouts: { cell_s: 120, boot_s: 240 }
`;

const vm = useVmScenario('vmshard', SCENARIO);
const cli = runBin;
const reportOf = printedReport;

describe('a sweep in two shards, merged', () => {
  it('gives the same cells, verdicts and counts as the unsharded sweep', async () => {
    const whole = await cli(['sweep', vm.file, '--results', join(vm.dir, 'whole'), '--fresh']);
    expect(whole.exitCode, whole.all).toBe(0);
    expect(whole.stdout).toContain('8 passed, 0 failed of 8 repetitions');

    const shardDirs: string[] = [];
    let cellsInShards = 0;
    for (const i of [1, 2]) {
      const r = await cli(['sweep', vm.file, '--results', join(vm.dir, `shard${i}`), '--shard', `${i}/2`, '--fresh']);
      expect(r.exitCode, r.all).toBe(0);
      expect(r.stdout).toMatch(/([246]) passed, 0 failed of \1 repetitions/);
      expect(r.stdout).not.toContain('report:');
      shardDirs.push(/^shard: {3}(\S+)/m.exec(r.stdout)![1]!);
      cellsInShards += Number(/\((\d+) of 4 cells\)/.exec(r.all)![1]);
    }
    expect(cellsInShards).toBe(4);
    const merged = await cli(['merge', ...shardDirs, '--results', join(vm.dir, 'merged')]);
    expect(merged.exitCode, merged.all).toBe(0);
    expect(merged.stdout).toContain('merged 2 shard(s): 4 cells, 8 passed and 0 failed repetitions');

    const a = await reportOf(whole.stdout);
    const b = await reportOf(merged.stdout);
    expect(b.cells.map((c) => c.cell)).toEqual(a.cells.map((c) => c.cell));
    const verdicts = (r: Report) => r.modes.comparisons.map((c) => `${c.cell} ${c.metric} ${c.verdict}`).sort();
    expect(verdicts(b)).toEqual(verdicts(a));
    // The virtual clock's timing verdict is a real one: strict is slower than passthrough, in both.
    expect(verdicts(a)).toContain('rr__intel-strict__v__vblk0 iops regression');
    // Exact counts, the same in both and on both clocks: NVMe strict one synchronous invalidation per I/O, passthrough none.
    const count = (r: Report, cell: string) => r.cells.find((c) => c.cell === cell)!.metrics['calls_sync_inval_per_io']!.median;
    for (const r of [a, b]) {
      expect(count(r, 'rr__intel-strict__t__nvme0')).toBe(1);
      // virtio-blk maps its header, data and status apart: one invalidation per unmapped buffer.
      expect(count(r, 'rr__intel-strict__v__vblk0')).toBeGreaterThanOrEqual(1);
      expect(count(r, 'rr__intel-passthrough__t__nvme0')).toBe(0);
      expect(count(r, 'rr__intel-passthrough__v__vblk0')).toBe(0);
    }
  });
});
