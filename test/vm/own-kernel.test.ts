/**
 * Your own kernel under test, for real: Debian's linux-source-6.1 built with
 * the lab's fragment (tiny base, without the tracing options), booted as lab guests under intel strict and
 * lazy (the preflight proves each mode), two kernels compared within each
 * mode, and `bisect` finding the commit that doubled the strict unmap path's
 * IOTLB invalidations from real boots and the QEMU plugin's exact counts, one
 * repetition a side, no tracing (tools/kernel-test-tree.ts).
 * The build time, the step times and the whole bisection are measured in
 * bench/kernel.ts, not asserted here.
 */
import { execa, type ResultPromise } from 'execa';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { down, LOCAL } from '../../infra/up.js';
import type { RepResult } from '../../result/types.js';
import { kernelTestTree, type TestTree } from '../../tools/kernel-test-tree.js';
import { labImage } from '../helpers/lab-image.js';

const NAME = 'own-kernel';
const STACK = /\n\s+at .+:\d+:\d+/;
const cli = (args: string[]) => execa('node', ['bin/iommu-lab.js', ...args], { reject: false, all: true });

const scenario = (kernels: string, kernel: string) => `name: ${NAME}
seed: 5
repetitions: 1
workloads:
  - { name: rr, rw: randread, bs: 4k, iodepth: 8, size: 64m, runtime: 3, ramp_time: 0 }
iommu:
  - device: intel
    mode: [strict, lazy]
kernels:
${kernels}
targets:
  vms:
    - name: k
      vcpus: 2
      memory_mib: 1024
      kernel: ${kernel}
      disks: [{ name: nvme0, bus: nvme, size_mib: 128 }]
metrics: [iops, calls_sync_inval_per_io, insn_iommu_per_io]
timeouts: { cell_s: 120, boot_s: 180 }
`;

/**
 * The DMA-map benchmark on its own disk (it takes the device from its driver),
 * fio on the other; two boots, so that the comparison knows how much boots
 * differ; the virtual clock with two vCPUs (under QEMU 7.2 the tiny 6.1 build
 * hung bringing up the second under -icount; QEMU 8.1 fixed the round-robin
 * vCPU scheduling it hung on: docs/timing.md#qemu-10).
 */
const DMA_SCENARIO = (build: string) => `name: ${NAME}
seed: 5
repetitions: 2
workloads:
  - { name: rr, rw: randread, bs: 4k, iodepth: 8, size: 64m, runtime: 3, ramp_time: 0, disks: [nvme0] }
  - { kind: dma-map-benchmark, name: dmamap, threads: 1, granule: 1, runtime: 3, disks: [nvme1] }
iommu:
  - device: intel
    mode: [strict, lazy]
kernels:
  - { name: base, path: ${build} }
targets:
  vms:
    - name: d
      vcpus: 2
      memory_mib: 1024
      kernel: base
      clock: virtual
      boots: 2
      disks: [{ name: nvme0, bus: nvme, size_mib: 128 }, { name: nvme1, bus: nvme, size_mib: 128 }]
metrics: [iops, dmabench_map_us, dmabench_unmap_us]
timeouts: { cell_s: 120, boot_s: 180 }
`;

let tree: TestTree;
let dir: string;
const built: Record<'base' | 'patched', string> = { base: '', patched: '' };

async function build(commit: string): Promise<string> {
  await execa('git', ['-C', tree.dir, 'checkout', '-q', commit]);
  // Measured by the plugin alone (no traced repetitions here): no debug information, about half the build.
  const r = await cli(['kernel', 'build', tree.dir, '--no-tracing', '--json']);
  expect(r.exitCode, r.all).toBe(0);
  return (JSON.parse(r.stdout) as { dir: string }).dir;
}

beforeAll(async () => {
  await labImage();
  await down([LOCAL], { scenario: NAME });
  dir = await mkdtemp(join(tmpdir(), 'iommu-lab-own-kernel-'));
  tree = await kernelTestTree((l) => process.stderr.write(`${l}\n`));
  built.base = await build(tree.base);
  built.patched = await build(tree.c);
  await execa('git', ['-C', tree.dir, 'checkout', '-q', 'main']);
  // A build from nothing took 17–21 minutes on 2 cores (docs/kernels.md); a cache hit takes seconds.
}, 3_600_000);
afterAll(async () => {
  await down([LOCAL], { scenario: NAME });
  if (tree) await execa('git', ['-C', tree.dir, 'checkout', '-q', '-f', 'main'], { reject: false });
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('your own kernel under test', () => {
  it('checks a build: the release, its identity, and what the lab needs', async () => {
    const r = await cli(['kernel', 'check', built.base, '--json']);
    expect(r.exitCode, r.all).toBe(0);
    const j = JSON.parse(r.stdout) as { identity: { release: string; git: { commit: string; dirty: boolean } }; facts: { btf: boolean; intelIommu: string } };
    expect(j.identity.release).toMatch(/^6\.1\.\d+/);
    expect(j.identity.git).toMatchObject({ commit: tree.base, dirty: false });
    // Built with --no-tracing: no BTF; the DMA-map benchmark's debugfs file is there.
    expect(j.facts).toMatchObject({ btf: false, intelIommu: 'y', dmaMapBenchmark: true });
  });

  it('runs two self-built kernels under intel strict and lazy, the preflight proving each mode, and compares the kernels within each mode', async () => {
    const file = join(dir, `${NAME}.yaml`);
    await writeFile(file, scenario(`  - { name: base, path: ${built.base} }\n  - { name: patched, path: ${built.patched} }`, '[base, patched]'));
    const r = await cli(['sweep', file, '--results', join(dir, 'results')]);
    expect(r.all).not.toMatch(STACK);
    expect(r.exitCode, r.all).toBe(0);
    expect(r.stdout).toContain('4 passed, 0 failed of 4 repetitions');
    const runDir = /summary: (.*)\/report\/summary\.md/.exec(r.stdout)![1]!;
    const result = async (cell: string, rep: string) => JSON.parse(await readFile(join(runDir, 'cells', cell, rep, 'result.json'), 'utf8')) as RepResult;
    const strict = await result('rr__intel-strict__k.patched__nvme0', 'timing-01');
    // The preflight read the group type from sysfs: strict is DMA, lazy DMA-FQ.
    expect(strict.provenance.iommu_groups).toEqual({ nvme0: 'DMA' });
    expect((await result('rr__intel-lazy__k.base__nvme0', 'timing-01')).provenance.iommu_groups).toEqual({ nvme0: 'DMA-FQ' });
    expect(strict.provenance.kernel_build).toMatchObject({ name: 'patched', git: { commit: tree.c, dirty: false } });
    expect(strict.provenance.kernel).toMatch(/^6\.1\.\d+/);
    // The plugin counted them in the timing repetition itself, on the self-built kernel's own symbols.
    const flushes = (cell: string) => result(cell, 'timing-01').then((x) => (x.outcome.state === 'passed' ? x.outcome.metrics['calls_sync_inval_per_io']! : NaN));
    expect(await flushes('rr__intel-strict__k.base__nvme0')).toBe(1);
    expect(await flushes('rr__intel-strict__k.patched__nvme0')).toBe(2);
    const summary = await readFile(join(runDir, 'report', 'summary.md'), 'utf8');
    expect(summary).toContain('### Kernels compared (within each IOMMU configuration)');
    expect(summary).toMatch(/\*\*patched vs base \(intel-strict\)\*\*.*calls_sync_inval_per_io 1\.000 → 2\.000/);
  });

  it("runs the kernel's DMA-map benchmark on the self-built kernel under the virtual clock: strict's unmap costs more than lazy's, as its synchronous invalidation per unmap predicts, and repeats over boots", async () => {
    const file = join(dir, 'dma-map.yaml');
    await writeFile(file, DMA_SCENARIO(built.base));
    const r = await cli(['sweep', file, '--results', join(dir, 'results-dma')]);
    expect(r.all).not.toMatch(STACK);
    expect(r.exitCode, r.all).toBe(0);
    expect(r.stdout).toContain('8 passed, 0 failed of 8 repetitions');
    const runDir = /summary: (.*)\/report\/summary\.md/.exec(r.stdout)![1]!;
    const reps = async (cell: string) => Promise.all([1, 2].map(async (i) => {
      const x = JSON.parse(await readFile(join(runDir, 'cells', cell, `timing-0${i}`, 'result.json'), 'utf8')) as RepResult;
      if (x.outcome.state !== 'passed') throw new Error(`${cell} timing-0${i} did not pass`);
      return x;
    }));
    const strict = await reps('dmamap__intel-strict__d__nvme1');
    const lazy = await reps('dmamap__intel-lazy__d__nvme1');
    const unmap = (xs: RepResult[]) => xs.map((x) => (x.outcome.state === 'passed' ? x.outcome.metrics['dmabench_unmap_us']! : NaN));
    const seen = `strict ${unmap(strict).join(', ')}; lazy ${unmap(lazy).join(', ')}`;
    // Strict pays one synchronous IOTLB invalidation inside every unmap (the counts above: 1 per I/O); lazy defers it.
    expect(Math.min(...unmap(strict)), seen).toBeGreaterThan(Math.max(...unmap(lazy)) * 1.2);
    // In-kernel timings in guest instructions: the repetitions of the two boots agree (here they were equal to 0.1 µs).
    for (const xs of [unmap(strict), unmap(lazy)]) expect(Math.max(...xs) / Math.min(...xs) - 1, seen).toBeLessThan(0.02);
    // The device went back to nvme after each run, its block device linked again.
    for (const x of [...strict, ...lazy]) expect(x.checks?.find((c) => c.name === 'device-given-back')).toMatchObject({ ok: true, detail: expect.stringMatching(/driver nvme \(was nvme\), \/dev\/lab\/nvme1 -> \/dev\/nvme\dn1/) });
    // The preflight proved the benchmark's device translated in each mode; the raw output is kept.
    expect(strict[0]!.provenance.iommu_groups).toEqual({ nvme0: 'DMA', nvme1: 'DMA' });
    expect(lazy[0]!.provenance.iommu_groups).toEqual({ nvme0: 'DMA-FQ', nvme1: 'DMA-FQ' });
    expect(await readFile(join(runDir, 'cells', 'dmamap__intel-strict__d__nvme1', 'timing-01', 'dma_map_benchmark.txt'), 'utf8')).toMatch(/average unmap latency\(us\):[\d.]+ standard deviation:[\d.]+/);
    // The report compares the benchmark's metrics across the modes as it does fio's, with boots as a level of noise.
    const summary = await readFile(join(runDir, 'report', 'summary.md'), 'utf8');
    expect(summary).toMatch(/\*\*intel-strict vs intel-lazy\*\* \(`dmamap__d__nvme1`\): timings differ: virtual-time dmabench_unmap_us \+\d+\.\d %/);
    expect(summary).toMatch(/`dmamap__intel-strict__d__nvme1` \| intel-strict vs intel-lazy \| dmabench_unmap_us \(virtual\) \| .* \| \*\*regression\*\* \| .*2 vs 2 boots/);
  });

  it('bisect finds the injected commit from real boots and counts, and an interrupted bisection resumes from its log', async () => {
    const file = join(dir, 'bisect.yaml');
    await writeFile(file, scenario('  []', '"6.12"').replace('mode: [strict, lazy]', 'mode: strict').replace('kernels:\n  []\n', ''));
    const args = ['bisect', file, '--tree', tree.dir, '--good', 'lab-base', '--bad', 'lab-c', '--cell', 'rr__intel-strict__k__nvme0', '--metric', 'calls_sync_inval_per_io', '--results', join(dir, 'results')];
    // First: stopped (SIGTERM) once both endpoints are measured.
    const first = execa('node', ['bin/iommu-lab.js', ...args], { reject: false, all: true, forceKillAfterDelay: false });
    stopWhen(first, /bisect: bad against good: /);
    const r1 = await first;
    expect(r1.all).not.toMatch(STACK);
    expect(r1.exitCode, r1.all).not.toBe(0);
    // Then the same command: it resumes and finds the commit.
    const r = await cli(args);
    expect(r.all).not.toMatch(STACK);
    expect(r.exitCode, r.all).toBe(0);
    expect(r.all).toMatch(/bisect: resuming .* \([2-9] measurement\(s\) in its log\)/);
    expect(r.stdout).toContain(`first bad commit: ${tree.b} iommu/vt-d: invalidate the IOTLB twice on unmap (the injected regression)`);
    const log = JSON.parse(await readFile(join(/log: (.*)\/bisect\.json/.exec(r.stdout)![1]!, 'bisect.json'), 'utf8')) as { steps: { commit: string; role: string; verdict: string; median: number }[] };
    expect(log.steps.find((s) => s.role === 'good-endpoint')).toMatchObject({ commit: tree.base, median: 1 });
    expect(log.steps.find((s) => s.role === 'bad-endpoint')).toMatchObject({ commit: tree.c, median: 2 });
    for (const s of log.steps.filter((x) => x.role === 'step')) expect(s.verdict).toBe(s.commit === tree.a ? 'good' : 'bad');
    // The tree is back on its branch, clean.
    expect((await execa('git', ['-C', tree.dir, 'status', '--porcelain', '--untracked-files=no'])).stdout).toBe('');
    expect((await execa('git', ['-C', tree.dir, 'symbolic-ref', '--short', 'HEAD'])).stdout).toBe('main');
  });

  it('says what is wrong, without a stack: a dirty tree to bisect, a build that fails, a path that is not a kernel', async () => {
    const src = join(tree.dir, 'drivers/iommu/intel/iommu.c');
    const text = await readFile(src, 'utf8');
    try {
      await writeFile(src, `${text}\nthis is not C;\n`);
      const dirty = await cli(['bisect', join(dir, 'bisect.yaml'), '--tree', tree.dir, '--good', 'lab-base', '--bad', 'lab-c', '--cell', 'rr__intel-strict__k__nvme0', '--metric', 'calls_sync_inval_per_io']);
      expect(dirty.exitCode).toBe(2);
      expect(dirty.all).toMatch(/error\[E_BISECT\]: .* has uncommitted changes/);
      expect(dirty.all).toMatch(/fix: commit or stash them/);
      // The build directory the tests share (--no-tracing): only the broken file recompiles, and fails.
      const failed = await cli(['kernel', 'build', tree.dir, '--no-tracing']);
      expect(failed.exitCode).toBe(1);
      expect(failed.all).toMatch(/error\[E_KERNEL_BUILD\]: the kernel build failed in .* \(exit 2\); the whole log is /);
      expect(failed.all).toMatch(/iommu\.c.*error/);
      expect(failed.all).not.toMatch(STACK);
    } finally {
      await writeFile(src, text);
    }
    // A scenario that traces refuses the kernel built without the tracing options, at its line, saying what it lacks.
    const traced = join(dir, 'traced.yaml');
    await writeFile(traced, `${scenario(`  - { name: base, path: ${built.base} }`, 'base')}tracing: { scripts: [iotlb-invalidations] }\n`);
    const refused = await cli(['validate', traced]);
    expect(refused.exitCode, refused.all).toBe(2);
    expect(refused.all).toMatch(/kernels\[0\]\.path: .*config lacks \d+ options the lab needs:[^]*CONFIG_DEBUG_INFO_BTF is not set/);
    expect(refused.all).not.toMatch(STACK);
    const notKernel = await cli(['kernel', 'check', tmpdir()]);
    expect(notKernel.exitCode).toBe(2);
    expect(notKernel.all).toMatch(/error\[E_KERNEL_NOT_FOUND\]: .* is not a kernel build/);
  });
});

/** Sends SIGTERM once the child's output matches. */
function stopWhen(child: ResultPromise, when: RegExp): void {
  let seen = '';
  let sent = false;
  child.all!.on('data', (d: Buffer) => {
    seen += d.toString();
    if (!sent && when.test(seen)) {
      sent = true;
      child.kill('SIGTERM');
    }
  });
}
