import { describe, expect, it } from 'vitest';
import { expand, expandWorkload } from '../../../cell/expand.js';
import { repetitionShape, tracedScripts } from '../../../cell/repetition.js';
import { loadScenarioFile } from '../../../scenario/load.js';
import { useTmpDir, writeIn } from '../../helpers/tmp.js';

const tmp = useTmpDir();

const SCENARIO = `name: m
workloads:
  - name: rr
    rw: [randread, randwrite]
    bs: 4k
    iodepth: [1, 16, 64]
  - name: seq
    rw: read
    bs: 128k
    disks: [vblk0]
iommu:
  - device: intel
    mode: [strict, lazy]
  - device: none
    mode: off
targets:
  vms:
    - name: vm
      disks:
        - { name: nvme0, bus: nvme }
        - { name: vblk0, bus: virtio-blk }
`;

describe('expand', () => {
  it('multiplies list values, configurations and disks, in written order', async () => {
    const file = await writeIn(await tmp(), 's.yaml', SCENARIO);
    const plan = expand(await loadScenarioFile(file));
    // per configuration: rr = 2 rw × 3 qd × 2 disks = 12, seq = 1 on vblk0 only
    expect(plan.cells).toHaveLength(3 * 13);
    expect(plan.guests.map((g) => g.name)).toEqual(['vm-intel-strict', 'vm-intel-lazy', 'vm-none-off']);
    expect(plan.cells.slice(0, 4).map((c) => c.id)).toEqual([
      'rr.randread.qd1__intel-strict__vm__nvme0',
      'rr.randread.qd1__intel-strict__vm__vblk0',
      'rr.randread.qd16__intel-strict__vm__nvme0',
      'rr.randread.qd16__intel-strict__vm__vblk0',
    ]);
    expect(plan.cells[12]!.id).toBe('seq__intel-strict__vm__vblk0');
    expect(plan.cells.map((c) => c.index)).toEqual(plan.cells.map((_, i) => i));
  });

  it('gives identical, unique, file-name-safe ids on every expansion', async () => {
    const file = await writeIn(await tmp(), 's.yaml', SCENARIO);
    const a = expand(await loadScenarioFile(file)).cells.map((c) => c.id);
    const b = expand(await loadScenarioFile(file)).cells.map((c) => c.id);
    expect(a).toEqual(b);
    expect(new Set(a).size).toBe(a.length);
    for (const id of a) expect(id).toMatch(/^[a-z0-9._-]+$/);
  });

  it('records which list values make a cell differ', () => {
    const variants = expandWorkload({
      kind: 'fio', name: 'w', rw: 'randread', bs: ['4k', '64k'], iodepth: 8, numjobs: 1, ioengine: 'libaio',
      size: '1g', runtime: 5, ramp_time: 0, direct: true,
    });
    expect(variants.map((v) => v.axes)).toEqual([{ bs: '4k' }, { bs: '64k' }]);
    expect(variants[1]!.job).toMatchObject({ workload: 'w', bs: '64k', iodepth: 8, rw: 'randread' });
  });

  it('rejects two list values that would give the same id', async () => {
    const file = await writeIn(await tmp(), 's.yaml', SCENARIO.replace('bs: 128k', 'bs: [128k, 128K]'));
    const err = await loadScenarioFile(file).then(expand).catch((e: Error & { format(): string }) => e.format());
    expect(err).toContain('two cells get the id seq.bs128k__intel-strict__vm__vblk0');
  });

  it('puts static hosts in the configuration they declare', async () => {
    const dir = await tmp();
    const { readFile } = await import('node:fs/promises');
    const hosts = await readFile('scenarios/hosts.example.yaml', 'utf8');
    await writeIn(dir, 'hosts.yaml', hosts.replace('allow_destructive_writes: false', 'allow_destructive_writes: true'));
    const file = await writeIn(dir, 's.yaml', `${SCENARIO.replace('targets:\n', 'targets:\n  hosts: [bench01]\n').replace('disks: [vblk0]', 'disks: [vblk0, scratch]')}hosts_file: hosts.yaml\n`);
    const plan = expand(await loadScenarioFile(file));
    const host = plan.cells.filter((c) => c.target.kind === 'static');
    expect(host.map((c) => c.id)).toEqual([
      'rr.randread.qd1__intel-strict__bench01__scratch',
      'rr.randread.qd1__intel-strict__bench01__nvme1',
      'rr.randread.qd16__intel-strict__bench01__scratch',
      'rr.randread.qd16__intel-strict__bench01__nvme1',
      'rr.randread.qd64__intel-strict__bench01__scratch',
      'rr.randread.qd64__intel-strict__bench01__nvme1',
      'rr.randwrite.qd1__intel-strict__bench01__scratch',
      'rr.randwrite.qd1__intel-strict__bench01__nvme1',
      'rr.randwrite.qd16__intel-strict__bench01__scratch',
      'rr.randwrite.qd16__intel-strict__bench01__nvme1',
      'rr.randwrite.qd64__intel-strict__bench01__scratch',
      'rr.randwrite.qd64__intel-strict__bench01__nvme1',
      'seq__intel-strict__bench01__scratch',
    ]);
  });
});

describe('traced repetitions', () => {
  it('gives every script repetitions of its own, one script per repetition', async () => {
    const file = await writeIn(await tmp(), 's.yaml', `${SCENARIO}tracing:\n  scripts: [iotlb-invalidations, dma-map-latency, block-io]\n  repetitions: 2\n`);
    const loaded = await loadScenarioFile(file);
    expect(expand(loaded).repetitions).toEqual({ timing: 5, traced: 6 });
    const t = loaded.scenario.tracing;
    expect([1, 2, 3, 4, 5, 6].map((index) => tracedScripts(t, { kind: 'traced', index }))).toEqual([
      ['iotlb-invalidations'], ['dma-map-latency'], ['block-io'], ['iotlb-invalidations'], ['dma-map-latency'], ['block-io'],
    ]);
    expect(tracedScripts(t, { kind: 'timing', index: 1 })).toEqual([]);
  });

  it('traces every script inside the timing repetitions only when the scenario asks', async () => {
    const file = await writeIn(await tmp(), 's.yaml', `${SCENARIO}tracing:\n  scripts: [iotlb-invalidations, block-io]\n  in_timing_repetitions: true\n`);
    const loaded = await loadScenarioFile(file);
    expect(expand(loaded).repetitions.traced).toBe(0);
    expect(tracedScripts(loaded.scenario.tracing, { kind: 'timing', index: 2 })).toEqual(['iotlb-invalidations', 'block-io']);
  });

  it('runs a traced repetition without a ramp, and says so wherever fio time is counted', async () => {
    const file = await writeIn(await tmp(), 's.yaml', `${SCENARIO}tracing:\n  scripts: [iotlb-invalidations]\n  repetitions: 1\n`);
    const loaded = await loadScenarioFile(file);
    const cell = expand(loaded).cells[0]!;
    const timing = repetitionShape({ ...cell, job: { ...cell.job, runtime: 10, ramp_time: 2 } }, { kind: 'timing', index: 1 }, loaded.scenario.tracing);
    const traced = repetitionShape({ ...cell, job: { ...cell.job, runtime: 10, ramp_time: 2 } }, { kind: 'traced', index: 1 }, loaded.scenario.tracing);
    expect([timing.traced, timing.job.ramp_time, timing.workloadSeconds]).toEqual([false, 2, 12]);
    expect([traced.traced, traced.scripts, traced.job.ramp_time, traced.workloadSeconds]).toEqual([true, ['iotlb-invalidations'], 0, 10]);
  });
});
