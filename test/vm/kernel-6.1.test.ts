/**
 * Debian 12's own kernel (6.1) on a real TCG guest: every bpftrace script
 * compiles and attaches, the probes 6.1 lacks (6.12's cache_tag_flush_* and
 * fq_ring_free_locked, and virtio-iommu, which Debian's 6.1 does not build) are
 * recorded as skipped with the reason instead of failing the cell, and Intel strict still counts one
 * synchronous IOTLB flush per I/O.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expand } from '../../cell/expand.js';
import { down, LOCAL, up, type UpResult } from '../../infra/up.js';
import { RunStore } from '../../result/store.js';
import { runPlan } from '../../runner/run.js';
import { SshSession } from '../../transport/ssh.js';
import { checkScripts, LAB_SCRIPTS } from '../../runner/trace-check.js';
import { loadScenarioFile } from '../../scenario/load.js';
import { labImage } from '../helpers/lab-image.js';

const SCENARIO = `name: vmold
seed: 4
repetitions: 1
workloads:
  - { name: rr, rw: randread, bs: 4k, iodepth: 8, size: 64m, runtime: 3, ramp_time: 0 }
iommu:
  - device: intel
    mode: strict
targets:
  vms:
    - name: old
      vcpus: 2
      memory_mib: 1024
      kernel: "6.1"
      disks:
        - { name: nvme0, bus: nvme, size_mib: 128 }
tracing:
  scripts: [iotlb-invalidations]
  repetitions: 1
timeouts: { cell_s: 120, boot_s: 180 }
`;

let dir: string;
let upped: UpResult;

beforeAll(async () => {
  const image = await labImage();
  dir = await mkdtemp(join(tmpdir(), 'iommu-lab-vm61-'));
  await writeFile(join(dir, 'vmold.yaml'), SCENARIO);
  await down([LOCAL], { scenario: 'vmold' });
  const loaded = await loadScenarioFile(join(dir, 'vmold.yaml'));
  upped = await up({ loaded, plan: expand(loaded), image, hypervisors: [LOCAL], inventoryFile: join(dir, 'inventory.json') });
});

afterAll(async () => {
  await down([LOCAL], { scenario: 'vmold' });
  await rm(dir, { recursive: true, force: true });
});

describe('tracing on the 6.1 kernel', () => {
  it('attaches every script, skipping what 6.1 lacks with the reason', async () => {
    const target = upped.inventory.targets[0]!;
    const session = await SshSession.connect(target.name, target.ssh);
    try {
      const kernel = (await session.exec('uname -r')).stdout.trim();
      expect(kernel).toMatch(/^6\.1\./);
      const checks = await checkScripts(session, kernel);
      expect(checks.map((c) => `${c.script}:${c.state}`), JSON.stringify(checks)).toEqual(LAB_SCRIPTS.map((s) => `${s}:attached`));
      const iotlb = checks.find((c) => c.script === 'iotlb-invalidations');
      if (iotlb?.state !== 'attached') throw new Error('unreachable');
      expect(iotlb.skipped.map((s) => s.probe)).toEqual(['kfunc:cache_tag_flush_range', 'kfunc:cache_tag_flush_all', 'kfunc:fq_ring_free_locked', 'kfunc:viommu_sync_req']);
      // Renamed in 6.12: 6.1 attaches the old name.
      expect(iotlb.probes).toContain('kfunc:fq_ring_free');
      expect(iotlb.probes).toContain('kfunc:iommu_flush_iotlb_psi');
      expect(iotlb.skipped[0]!.reason).toBe(`function (under its own name, for a kfunc) cache_tag_flush_range does not exist in kernel ${kernel}`);
      expect(iotlb.probes).toContain('kfunc:qi_submit_sync');
    } finally {
      session.close();
    }
  });

  it('counts one synchronous IOTLB flush per I/O under intel strict, and records the skips in the result', async () => {
    const loaded = await loadScenarioFile(join(dir, 'vmold.yaml'));
    const summary = await runPlan({ loaded, plan: expand(loaded), inventory: upped.inventory, resultsRoot: join(dir, 'results') });
    expect(summary.failures).toEqual([]);
    const store = await RunStore.open(summary.dir);
    const r = await store.readRep('rr__intel-strict__old__nvme0', { kind: 'traced', index: 1 });
    if (r?.outcome.state !== 'passed') throw new Error(JSON.stringify(r?.outcome));
    // Exactly one: kfuncs count every call, and the counts are proven complete.
    expect(r.outcome.metrics['iotlb_sync_flush_per_io']).toBe(1);
    expect(r.tracing?.['iotlb-invalidations']?.complete).toMatchObject({ recursion_misses: 0 });
    expect(r.tracing?.['iotlb-invalidations']?.skipped.map((s) => s.probe)).toContain('kfunc:viommu_sync_req');
  });
});
