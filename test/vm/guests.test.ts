/**
 * End to end on real QEMU guests (TCG here): bring up Intel strict, Intel lazy
 * and virtio-iommu lazy guests, prove over SSH that their test disks' IOMMU
 * groups are DMA, DMA-FQ and DMA-FQ, dry-run the bpftrace scripts, run timing
 * and traced repetitions with the runner (the per-I/O counts tell the modes
 * apart) over two boots of each guest, check the QEMU plugin's exact counts
 * (the same IOMMU-path instructions per I/O in both boots, exactly one
 * synchronous invalidation per I/O in strict), and tear everything down with
 * nothing left behind.
 */
import { existsSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { expand } from '../../cell/expand.js';
import { GUESTS_DIR } from '../../infra/host.js';
import { down, LOCAL, up, type UpResult } from '../../infra/up.js';
import { Virsh } from '../../infra/virsh.js';
import { RunStore } from '../../result/store.js';
import { judgeIommu, runPreflight } from '../../runner/preflight.js';
import { runPlan } from '../../runner/run.js';
import { checkScripts, LAB_SCRIPTS } from '../../runner/trace-check.js';
import { SshSession } from '../../transport/ssh.js';
import { loadScenarioFile } from '../../scenario/load.js';
import { useVmScenario } from '../helpers/vm-scenario.js';

const SCENARIO = `name: vmtest
seed: 3
repetitions: 2
workloads:
  - { name: rr, rw: randread, bs: 4k, iodepth: 8, size: 64m, runtime: 3, ramp_time: 1, disks: [nvme0] }
iommu:
  - device: intel
    mode: [strict, lazy]
  - device: virtio
    mode: lazy
targets:
  vms:
    - name: t
      vcpus: 2
      memory_mib: 1024
      kernel: "6.12"
      boots: 2
      disks:
        - { name: nvme0, bus: nvme, size_mib: 128 }
        - { name: vblk0, bus: virtio-blk, size_mib: 128 }
tracing:
  scripts: [iotlb-invalidations, block-io]
  repetitions: 1
timeouts: { cell_s: 120, boot_s: 180 }
`;

let upped: UpResult;

const vm = useVmScenario('vmtest', SCENARIO);

describe('lab guests on libvirt + QEMU', () => {
  it('boots one guest per configuration and writes the inventory', async () => {
    const loaded = await loadScenarioFile(vm.file);
    upped = await up({ loaded, plan: expand(loaded), image: vm.image, hypervisors: [LOCAL], inventoryFile: join(vm.dir, 'inventory.json') });
    expect(upped.inventory.targets.map((t) => t.name)).toEqual(['t-intel-strict', 't-intel-lazy', 't-virtio-lazy']);
    for (const [name, boot] of Object.entries(upped.boots)) {
      process.stderr.write(`boot to SSH: ${name} ${boot.seconds.toFixed(1)} s (${boot.virtType}${boot.retried ? `, retried: ${boot.retried}` : ''})\n`);
    }
    expect(existsSync(join(vm.dir, 'inventory.json'))).toBe(true);
  });

  it('has the IOMMU mode it was asked for, read from sysfs over SSH', async () => {
    const want: Record<string, string> = { 't-intel-strict': 'DMA', 't-intel-lazy': 'DMA-FQ', 't-virtio-lazy': 'DMA-FQ' };
    for (const target of upped.inventory.targets) {
      const session = await SshSession.connect(target.name, target.ssh);
      try {
        // Independently of the runner's preflight: walk up from each test disk to the device that has an IOMMU group.
        // Under QEMU 10 an NVMe namespace hangs off a virtual multipath subsystem: its DMA is the controller's.
        const types = await session.exec('for d in nvme0 vblk0; do p=$(readlink -f /sys/class/block/$(basename $(readlink -f /dev/lab/$d))); case "$p" in */nvme-subsystem/*) c=$(ls -d "$(dirname "$p")"/nvme[0-9]* | head -n 1); p=$(readlink -f "$c/device");; esac; while [ "$p" != / ] && [ ! -e "$p/iommu_group" ]; do p=$(dirname "$p"); done; echo "$d $(cat $p/iommu_group/type)"; done');
        expect(types.stdout.trim().split('\n')).toEqual([`nvme0 ${want[target.name]}`, `vblk0 ${want[target.name]}`]);
        const pre = await runPreflight(session, target);
        const verdict = judgeIommu(target, pre.facts);
        expect(verdict, JSON.stringify(pre.facts.disks)).toMatchObject({ ok: true, observed: { nvme0: want[target.name], vblk0: want[target.name] } });
        expect(pre.facts.btf).toBe(true);
        expect(pre.facts.tools.fio).toMatch(/^fio-3\./);
      } finally {
        session.close();
      }
    }
  });

  it('attaches every bpftrace script on the 6.12 kernel (dry run)', async () => {
    for (const target of upped.inventory.targets) {
      const session = await SshSession.connect(target.name, target.ssh);
      try {
        const checks = await checkScripts(session, (await session.exec('uname -r')).stdout.trim());
        expect(checks.map((c) => `${c.script}:${c.state}`), JSON.stringify(checks)).toEqual(LAB_SCRIPTS.map((s) => `${s}:attached`));
      } finally {
        session.close();
      }
    }
  });

  it('runs timing and traced repetitions on every guest, and the counts tell the modes apart', async () => {
    const loaded = await loadScenarioFile(vm.file);
    const summary = await runPlan({ loaded, plan: expand(loaded), inventory: upped.inventory, resultsRoot: join(vm.dir, 'results') });
    expect(summary.failures).toEqual([]);
    expect(summary.passed).toBe(3 * 4);
    const store = await RunStore.open(summary.dir);
    const reps = await store.listReps('rr__intel-lazy__t__nvme0');
    expect(reps[0]!.provenance.iommu_groups).toMatchObject({ nvme0: 'DMA-FQ' });
    expect(reps[0]!.provenance.image_digest).toBe(vm.image.manifest.digest);

    const traced = async (cell: string, index: number) => {
      const r = await store.readRep(cell, { kind: 'traced', index });
      if (r?.outcome.state !== 'passed') throw new Error(`${cell} traced-${index}: ${JSON.stringify(r?.outcome)}`);
      return { metrics: r.outcome.metrics, checks: r.checks ?? [], tracing: r.tracing ?? {} };
    };
    // Counts are exact under emulation. Intel strict: one synchronous invalidation per unmap.
    const strict = await traced('rr__intel-strict__t__nvme0', 1);
    process.stderr.write(`per I/O: intel strict ${JSON.stringify(strict.metrics)}\n`);
    // Exactly one: the scripts count with kfuncs, and the runner proved every probe attached and nothing missed.
    expect(strict.metrics['iotlb_sync_flush_per_io']).toBe(1);
    expect(strict.tracing['iotlb-invalidations']?.complete).toMatchObject({ recursion_misses: 0 });
    expect(strict.metrics['fq_flush_per_io']).toBe(0);
    // Intel lazy: unmaps go to the flush queue, flushed in batches.
    const lazy = await traced('rr__intel-lazy__t__nvme0', 1);
    process.stderr.write(`per I/O: intel lazy ${JSON.stringify(lazy.metrics)}\n`);
    expect(lazy.metrics['iotlb_sync_flush_per_io']).toBeLessThan(0.05);
    expect(lazy.metrics['fq_flush_per_io']).toBeGreaterThan(0);
    // virtio-iommu lazy: the map is still a synchronous request, the unmap is queued.
    const vlazy = await traced('rr__virtio-lazy__t__nvme0', 1);
    process.stderr.write(`per I/O: virtio lazy ${JSON.stringify(vlazy.metrics)}\n`);
    expect(vlazy.metrics['iotlb_sync_flush_per_io']).toBeGreaterThan(0.97);
    expect(vlazy.metrics['iotlb_sync_flush_per_io']).toBeLessThan(1.1);
    // The second traced repetition runs block-io alone and checks the I/O pattern.
    const pattern = await traced('rr__intel-strict__t__nvme0', 2);
    expect(Object.keys(pattern.tracing)).toEqual(['block-io']);
    expect(pattern.checks).toEqual([expect.objectContaining({ name: 'io-pattern', ok: true })]);
  });

  it("counts the same IOMMU-path work in two boots, and exactly one synchronous invalidation per I/O in strict (the QEMU plugin)", async () => {
    const store = await RunStore.open(join(vm.dir, 'results', (await readdir(join(vm.dir, 'results'))).find((d) => d.includes('vmtest'))!));
    const timing = async (cell: string) => (await store.listReps(cell)).filter((r) => r.rep.kind === 'timing' && r.outcome.state === 'passed');
    const strict = await timing('rr__intel-strict__t__nvme0');
    const lazy = await timing('rr__intel-lazy__t__nvme0');
    expect(strict.length).toBe(2);
    expect(new Set(strict.map((r) => r.provenance.boot_id)).size).toBe(2);
    const m = (r: (typeof strict)[number]) => (r.outcome.state === 'passed' ? r.outcome.metrics : {});
    const [a, b] = strict.map((r) => m(r)['insn_iommu_per_io']!);
    process.stderr.write(`IOMMU-path instructions per I/O, intel strict, boot 1 and 2: ${a} ${b}; lazy ${lazy.map((r) => m(r)['insn_iommu_per_io']).join(' ')}\n`);
    expect(Math.abs(a! - b!) / a!).toBeLessThan(0.0005);
    for (const r of strict) {
      expect(r.profile).toMatchObject({ count: 'inline', ios_from: 'disk-stats' });
      expect(m(r)['calls_sync_inval_per_io']).toBe(1);
      expect(m(r)['calls_dma_map_per_io']).toBe(1);
      expect(r.files['profile']).toBe('profile.tsv');
    }
    // Lazy defers the invalidation: less IOMMU work per I/O than strict, and almost no synchronous invalidation.
    for (const r of lazy) {
      expect(m(r)['insn_iommu_per_io']).toBeLessThan(a! * 0.95);
      expect(m(r)['calls_sync_inval_per_io']).toBeLessThan(0.05);
    }
  });

  it('tears everything down, leaving nothing behind', async () => {
    const res = await down([LOCAL], { scenario: 'vmtest' });
    expect([...res.removed].sort()).toEqual(['iommu-lab-t-intel-lazy', 'iommu-lab-t-intel-strict', 'iommu-lab-t-virtio-lazy']);
    expect((await new Virsh(LOCAL.uri).labDomains()).filter((d) => d.metadata.includes("scenario='vmtest'"))).toEqual([]);
    const left = existsSync(GUESTS_DIR) ? (await readdir(GUESTS_DIR)).filter((n) => n.startsWith('iommu-lab-t-')) : [];
    expect(left).toEqual([]);
  });
});
