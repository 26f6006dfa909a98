/**
 * The whole pipeline on real TCG guests: `iommu-lab sweep` (image, guest up,
 * timing and traced repetitions, report, guest down) and then `iommu-lab repro`
 * of one of its cells, which must reproduce the exact per-I/O counts.
 */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { execa } from 'execa';
import { describe, expect, it } from 'vitest';
import { LOCAL } from '../../infra/up.js';
import { Virsh } from '../../infra/virsh.js';
import { useVmScenario } from '../helpers/vm-scenario.js';

const SCENARIO = `name: vmsweep
seed: 6
repetitions: 2
workloads:
  - { name: rr, rw: randread, bs: 4k, iodepth: 8, size: 64m, runtime: 3, ramp_time: 0 }
iommu:
  - device: intel
    mode: strict
targets:
  vms:
    - name: s
      vcpus: 2
      memory_mib: 1024
      kernel: "6.12"
      disks: [{ name: nvme0, bus: nvme, size_mib: 128 }]
tracing: { scripts: [iotlb-invalidations], repetitions: 1 }
metrics: [iops, iotlb_sync_flush_per_io]
timeouts: { cell_s: 120, boot_s: 180 }
`;

const vm = useVmScenario('vmsweep', SCENARIO);

const cli = (args: string[]) => execa('node', ['bin/iommu-lab.js', ...args], { reject: false, all: true });
const leftGuests = async () => (await new Virsh(LOCAL.uri).labDomains()).filter((d) => d.metadata.includes("scenario='vmsweep'"));

describe('sweep and repro on real guests', () => {
  let runDir = '';

  it('sweeps: guest up, 2 timing + 1 traced repetitions, report, guest down', async () => {
    const r = await cli(['sweep', vm.file, '--results', join(vm.dir, 'results')]);
    expect(r.exitCode, r.all).toBe(0);
    expect(r.stdout).toContain('3 passed, 0 failed of 3 repetitions');
    runDir = /summary: (.*)\/report\/summary\.md/.exec(r.stdout)![1]!;
    const report = JSON.parse(await readFile(join(runDir, 'report', 'report.json'), 'utf8'));
    const flushes = report.cells[0].metrics.iotlb_sync_flush_per_io;
    expect(flushes.median).toBeGreaterThan(0.97);
    expect(flushes.median).toBeLessThan(1.03);
    expect(existsSync(join(vm.dir, 'results', 'latest', 'vmsweep', 'junit.xml'))).toBe(true);
    expect(await leftGuests()).toEqual([]);
  });

  it('reproduces the cell with the same image and the same exact counts', async () => {
    const r = await cli(['repro', join(runDir, 'rr__intel-strict__s__nvme0'), '--results', join(vm.dir, 'results')]);
    expect(r.exitCode, r.all).toBe(0);
    expect(r.stdout).toMatch(/^iotlb_sync_flush_per_io\s+1\.000 \(1\)\s+1\.000 \(1\)\s+×1\.000\s+no-change/m);
    expect(r.stdout).toMatch(/^iops\s+\d+ \(2\)\s+\d+ \(2\)/m);
    expect(r.stdout).toContain(`new run: ${join(vm.dir, 'results', 'repro')}`);
    expect(await leftGuests()).toEqual([]);
  });
});
