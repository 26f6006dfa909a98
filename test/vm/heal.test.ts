/**
 * A guest that dies during a repetition is named, booted again and the
 * repetition run anew (runner/group.ts GroupRun heal): here the guest's QEMU is destroyed
 * (`virsh destroy`) while its first timing repetition runs. The sweep must
 * end with every repetition passed, the retried one saying why, no stack trace,
 * and the guest taken down.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { execa } from 'execa';
import { describe, expect, it } from 'vitest';
import { LOCAL } from '../../infra/up.js';
import { Virsh } from '../../infra/virsh.js';
import { useVmScenario } from '../helpers/vm-scenario.js';

const SCENARIO = `name: vmheal
seed: 3
repetitions: 2
workloads:
  - { name: rr, rw: randread, bs: 4k, iodepth: 8, size: 64m, runtime: 8, ramp_time: 0 }
iommu:
  - device: intel
    mode: strict
targets:
  vms:
    - name: h
      vcpus: 2
      memory_mib: 1024
      kernel: "6.12"
      disks: [{ name: nvme0, bus: nvme, size_mib: 128 }]
metrics: [iops]
timeouts: { cell_s: 120, boot_s: 180 }
`;

const vm = useVmScenario('vmheal', SCENARIO);

describe('a guest that dies during a repetition', () => {
  it('is named, booted again, and the repetition run anew; nothing is counted twice', async () => {
    const sweep = execa('node', ['bin/iommu-lab.js', 'sweep', vm.file, '--results', join(vm.dir, 'results')], { reject: false, all: true });
    let killed = false;
    sweep.all!.on('data', (d: Buffer) => {
      // The first timing repetition has started: take the guest away under it.
      if (!killed && /rr__intel-strict__h__nvme0 timing-01\s*$/m.test(d.toString())) {
        killed = true;
        setTimeout(() => { void new Virsh(LOCAL.uri).run(['destroy', 'iommu-lab-h-intel-strict'], { allowFailure: true }); }, 3000);
      }
    });
    const r = await sweep;
    expect(killed, r.all).toBe(true);
    expect(r.exitCode, r.all).toBe(0);
    expect(r.all).toContain('booting it again (1/2)');
    expect(r.all).toContain('2 passed, 0 failed of 2 repetitions');
    expect(r.all).not.toMatch(/\n\s+at .+:\d+:\d+/); // no stack trace
    const runDir = /summary: (.*)\/report\/summary\.md/.exec(r.stdout)![1]!;
    const rep = JSON.parse(await readFile(join(runDir, 'cells', 'rr__intel-strict__h__nvme0', 'timing-01', 'result.json'), 'utf8'));
    expect(rep.outcome.state).toBe('passed');
    expect(rep.checks).toEqual(expect.arrayContaining([expect.objectContaining({ name: 'retried', detail: expect.stringContaining('the guest stopped running') })]));
    // The retried repetition ran in a new boot of the guest.
    const rep2 = JSON.parse(await readFile(join(runDir, 'cells', 'rr__intel-strict__h__nvme0', 'timing-02', 'result.json'), 'utf8'));
    expect(rep.provenance.boot_id).toBe(rep2.provenance.boot_id);
    expect(await new Virsh(LOCAL.uri).labDomains().then((ds) => ds.filter((d) => d.metadata.includes("scenario='vmheal'")))).toEqual([]);
  }, 600_000);
});
