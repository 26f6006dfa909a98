import { readFileSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { InvalidInputError } from '../../../core/errors.js';
import { bzImageRelease } from '../../../guest-images/kernel/bzimage.js';
import { configProblems, formatConfigProblems, fragmentFor, labRequirements, parseDotConfig, parseFragment } from '../../../guest-images/kernel/config.js';
import { inspectBuild } from '../../../guest-images/kernel/under-test.js';
import { expand, kernelSiblingKey } from '../../../cell/expand.js';
import { loadScenarioFile } from '../../../scenario/load.js';
import { labPath } from '../../../core/paths.js';
import { useTmpDir, writeIn } from '../../helpers/tmp.js';

const tmp = useTmpDir();

/** The setup header of the lab's own tiny 6.1 build (the first 16 KiB of its bzImage, saved from a real build). */
const REAL_HEADER = readFileSync(labPath('test/fixtures/kernel/bzImage-6.1-tiny.head'));

/** A .config with every option lab.config asks for. */
function fullConfig(): string {
  return labRequirements().map((r) => `${r.option}=y`).join('\n') + '\n';
}

/** A built kernel tree as the lab sees it: the real bzImage header, a .config, the release file. */
async function fakeTree(config: string, release = '6.1.192', at?: string): Promise<string> {
  const dir = at ?? (await tmp());
  await mkdir(join(dir, 'arch/x86/boot'), { recursive: true });
  await mkdir(join(dir, 'include/config'), { recursive: true });
  await writeFile(join(dir, 'arch/x86/boot/bzImage'), REAL_HEADER);
  await writeFile(join(dir, '.config'), config);
  await writeFile(join(dir, 'include/config/kernel.release'), `${release}\n`);
  return dir;
}

describe('lab.config, the options a lab guest needs', () => {
  it('every option says why, and the virtio-iommu driver is needed only with virtio-iommu', () => {
    const reqs = labRequirements();
    expect(reqs.length).toBeGreaterThan(40);
    for (const r of reqs) expect(r.why, r.option).not.toBe('the lab needs it');
    expect(reqs.find((r) => r.option === 'CONFIG_VIRTIO_IOMMU')).toMatchObject({ onlyFor: 'virtio', moduleOk: true });
    expect(reqs.find((r) => r.option === 'CONFIG_KPROBES')).toMatchObject({ moduleOk: false });
    expect(reqs.find((r) => r.option === 'CONFIG_BLK_DEV_NVME')).toMatchObject({ moduleOk: true });
  });

  it('names each missing option with why and one command that fixes them all', () => {
    const cfg = parseDotConfig(fullConfig().replace('CONFIG_KPROBES=y', '# CONFIG_KPROBES is not set').replace('CONFIG_DEBUG_INFO_BTF=y\n', ''));
    const problems = configProblems(cfg, { modules: false, devices: ['intel'], needs: ['tracing'] });
    expect(problems.map((p) => p.option)).toEqual(['CONFIG_KPROBES', 'CONFIG_DEBUG_INFO_BTF']);
    expect(problems[0]!.why).toMatch(/bpftrace/);
    const f = formatConfigProblems(problems, '/k/.config');
    expect(f.message).toContain('CONFIG_KPROBES is not set: bpftrace counts DMA maps');
    expect(f.fix).toContain('scripts/config --file /k/.config -e KPROBES -e DEBUG_INFO_BTF && make olddefconfig');
  });

  it('takes a driver as a module only when modules come with the kernel, and never a tracing option', () => {
    const text = fullConfig().replace('CONFIG_BLK_DEV_NVME=y', 'CONFIG_BLK_DEV_NVME=m').replace('CONFIG_KPROBES=y', 'CONFIG_KPROBES=m');
    const cfg = parseDotConfig(text);
    expect(configProblems(cfg, { modules: true, devices: ['intel'], needs: ['tracing'] }).map((p) => p.option)).toEqual(['CONFIG_KPROBES']);
    const without = configProblems(cfg, { modules: false, devices: ['intel'], needs: ['tracing'] });
    expect(without.map((p) => p.option)).toEqual(['CONFIG_BLK_DEV_NVME', 'CONFIG_KPROBES']);
    expect(without[0]!.why).toMatch(/it is a module, and no modules came with this kernel/);
  });

  it('asks for virtio-iommu only when the matrix has it', () => {
    const cfg = parseDotConfig(fullConfig().replace('CONFIG_VIRTIO_IOMMU=y\n', ''));
    expect(configProblems(cfg, { modules: false, devices: ['intel', 'none'] })).toEqual([]);
    expect(configProblems(cfg, { modules: false, devices: ['virtio'] }).map((p) => p.option)).toEqual(['CONFIG_VIRTIO_IOMMU']);
  });

  it('asks for the tracing options only when the scenario runs bpftrace, and for an option two groups need once', () => {
    const cfg = parseDotConfig(fullConfig().replace('CONFIG_KPROBES=y\n', '').replaceAll('CONFIG_DEBUG_FS=y\n', ''));
    expect(configProblems(cfg, { modules: false, devices: ['intel'] })).toEqual([]);
    expect(configProblems(cfg, { modules: false, devices: ['intel'], needs: ['tracing'] }).map((p) => p.option)).toEqual(['CONFIG_KPROBES', 'CONFIG_DEBUG_FS']);
    expect(configProblems(cfg, { modules: false, devices: ['intel'], needs: ['dma-map-benchmark'] }).map((p) => p.option)).toEqual(['CONFIG_DEBUG_FS']);
    expect(configProblems(cfg, { modules: false, devices: ['intel'], needs: ['tracing', 'dma-map-benchmark'] }).map((p) => p.option)).toEqual(['CONFIG_KPROBES', 'CONFIG_DEBUG_FS']);
  });

  it('merges the tracing options into a build only when asked, and every option once', () => {
    const lines = (tracing: boolean) => fragmentFor(labRequirements(), { tracing }).trim().split('\n');
    const without = lines(false);
    const all = lines(true);
    expect(new Set(all).size).toBe(all.length);
    for (const o of ['CONFIG_KPROBES', 'CONFIG_DEBUG_INFO_BTF', 'CONFIG_FUNCTION_TRACER', 'CONFIG_BPF_SYSCALL']) {
      expect(all).toContain(`${o}=y`);
      expect(without).not.toContain(`${o}=y`);
    }
    // The plugin's symbols, the IOMMU drivers, and debugfs for the DMA-map benchmark stay.
    for (const o of ['CONFIG_KALLSYMS', 'CONFIG_INTEL_IOMMU', 'CONFIG_VIRTIO_IOMMU', 'CONFIG_DEBUG_FS', 'CONFIG_DMA_MAP_BENCHMARK']) expect(without).toContain(`${o}=y`);
  });

  it('parses a why and an only that apply to their group, and module-ok to the next option only', () => {
    const reqs = parseFragment('# why: A\n# only: tracing\n# module-ok\nCONFIG_X=y\nCONFIG_Y=y\n\nCONFIG_Z=y\n');
    expect(reqs).toEqual([
      { option: 'CONFIG_X', why: 'A', moduleOk: true, onlyFor: 'tracing' },
      { option: 'CONFIG_Y', why: 'A', moduleOk: false, onlyFor: 'tracing' },
      { option: 'CONFIG_Z', why: 'the lab needs it', moduleOk: false },
    ]);
  });
});

describe('a bzImage says its release', () => {
  it('reads the version string of the boot protocol header of a real build', () => {
    expect(bzImageRelease(REAL_HEADER)).toMatch(/^6\.1\.\d+/);
  });
  it('is undefined for bytes that are not a bzImage', () => {
    expect(bzImageRelease(Buffer.from('#!/bin/sh\necho not a kernel\n'.repeat(40)))).toBeUndefined();
    const noMagic = Buffer.from(REAL_HEADER);
    noMagic.write('XXXX', 0x202, 'latin1');
    expect(bzImageRelease(noMagic)).toBeUndefined();
  });
});

describe('a kernel build found on disk', () => {
  it('accepts a built tree with every option', async () => {
    const dir = await fakeTree(fullConfig());
    const b = inspectBuild({ name: 'k', path: dir }, ['intel']);
    expect(b.release).toBe('6.1.192');
    expect(b.bzimage).toBe(join(dir, 'arch/x86/boot/bzImage'));
  });

  it('refuses a path that is not a kernel, a source tree that is not built, a config without what the lab needs', async () => {
    const empty = await tmp();
    expect(() => inspectBuild({ name: 'k', path: empty }, ['intel'])).toThrow(/is not a kernel build/);
    await writeFile(join(empty, 'Kconfig'), '');
    await writeFile(join(empty, 'Makefile'), '');
    expect(() => inspectBuild({ name: 'k', path: empty }, ['intel'])).toThrow(/has not been built/);
    const dir = await fakeTree(fullConfig().replace('CONFIG_INTEL_IOMMU=y\n', ''));
    expect(() => inspectBuild({ name: 'k', path: dir }, ['intel'])).toThrow(/lacks 1 option the lab needs:\n {2}CONFIG_INTEL_IOMMU is not set/);
  });

  it('refuses modules of another release, naming the ones it found', async () => {
    const dir = await fakeTree(fullConfig());
    const mods = await tmp();
    await mkdir(join(mods, 'lib/modules/6.1.99-other'), { recursive: true });
    expect(() => inspectBuild({ name: 'k', bzimage: join(dir, 'arch/x86/boot/bzImage'), config: join(dir, '.config'), modules: mods }, ['intel'])).toThrow(
      new RegExp(`${mods} has no modules for 6\\.1\\.\\d+.* \\(it has 6\\.1\\.99-other\\)`),
    );
  });
});

const KERNEL_SCENARIO = (path: string) => `name: k
workloads:
  - { name: rr, rw: randread, bs: 4k }
iommu:
  - device: intel
    mode: [strict, lazy]
kernels:
  - { name: base, path: ${path} }
  - { name: patched, path: ${path} }
targets:
  vms:
    - name: g
      kernel: [base, patched]
      disks: [{ name: nvme0, bus: nvme }]
`;

describe('kernels in a scenario', () => {
  it('a list of kernels is a matrix axis: a guest per kernel and configuration, kernels compared within each configuration', async () => {
    const tree = await fakeTree(fullConfig());
    const file = await writeIn(await tmp(), 's.yaml', KERNEL_SCENARIO(tree));
    const plan = expand(await loadScenarioFile(file));
    expect(plan.guests.map((g) => g.name)).toEqual(['g-base-intel-strict', 'g-base-intel-lazy', 'g-patched-intel-strict', 'g-patched-intel-lazy']);
    expect(plan.guests[0]!.kernelBuild).toEqual({ name: 'base', path: tree });
    expect(plan.cells.map((c) => c.id)).toEqual(['rr__intel-strict__g.base__nvme0', 'rr__intel-lazy__g.base__nvme0', 'rr__intel-strict__g.patched__nvme0', 'rr__intel-lazy__g.patched__nvme0']);
    expect(kernelSiblingKey(plan.cells[0]!)).toBe(kernelSiblingKey(plan.cells[2]!));
    expect(kernelSiblingKey(plan.cells[0]!)).not.toBe(kernelSiblingKey(plan.cells[1]!));
  });

  it('resolves a kernel path relative to the scenario file', async () => {
    const dir = await tmp();
    const tree = await fakeTree(fullConfig(), '6.1.192', join(dir, 'linux'));
    await mkdir(join(dir, 'sub'), { recursive: true });
    const loaded = await loadScenarioFile(await writeIn(join(dir, 'sub'), 's.yaml', KERNEL_SCENARIO('../linux')));
    expect(loaded.scenario.kernels[0]!.path).toBe(tree);
  });

  it('says at its line what is wrong with a kernel: unknown name, not a build, options missing', async () => {
    const tree = await fakeTree(fullConfig().replace('CONFIG_KALLSYMS=y\n', ''));
    const file = await writeIn(await tmp(), 's.yaml', KERNEL_SCENARIO(tree).replace('kernel: [base, patched]', 'kernel: [base, nope]'));
    const err = await loadScenarioFile(file).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InvalidInputError);
    const text = (err as InvalidInputError).format();
    expect(text).toContain(`${file}:13:22: targets.vms[0].kernel[1]: no kernel named "nope": the image has 6.1 and 6.12, and kernels: declares base, patched`);
    const file2 = await writeIn(await tmp(), 's.yaml', KERNEL_SCENARIO(tree));
    const text2 = ((await loadScenarioFile(file2).catch((e: unknown) => e)) as InvalidInputError).format();
    expect(text2).toContain(`${file2}:8:25: kernels[0].path: ${tree}/.config lacks 1 option the lab needs:`);
    expect(text2).toContain('CONFIG_KALLSYMS is not set');
    expect(text2).toContain('fix: scripts/config --file');
  });

  it('asks for the tracing options only of a scenario that runs bpftrace', async () => {
    // A kernel built with --no-tracing: measured by the QEMU plugin alone.
    const tree = await fakeTree(fullConfig().replace('CONFIG_BPF_SYSCALL=y\n', '').replace('CONFIG_DEBUG_INFO_BTF=y\n', ''));
    const plain = await writeIn(await tmp(), 's.yaml', KERNEL_SCENARIO(tree));
    expect(expand(await loadScenarioFile(plain)).cells).toHaveLength(4);
    const traced = await writeIn(await tmp(), 's.yaml', `${KERNEL_SCENARIO(tree)}tracing: { scripts: [iotlb-invalidations] }\n`);
    const text = ((await loadScenarioFile(traced).catch((e: unknown) => e)) as InvalidInputError).format();
    expect(text).toMatch(/kernels\[0\]\.path: .* lacks 2 options the lab needs:\n.*CONFIG_BPF_SYSCALL is not set: bpftrace/);
  });
});

describe('kernels compared within each IOMMU configuration', () => {
  it('says what the patched kernel changes against the base one, per configuration, with counts and timings', async () => {
    const { writeSyntheticRun } = await import('../../../analysis/synthetic.js');
    const { loadRun } = await import('../../../analysis/load.js');
    const { buildReport } = await import('../../../analysis/report/model.js');
    const { renderMarkdown } = await import('../../../analysis/report/markdown.js');
    const tree = await fakeTree(fullConfig());
    const dir = await tmp();
    const file = await writeIn(dir, 's.yaml', KERNEL_SCENARIO(tree).replace('rw: randread, bs: 4k }', 'rw: randread, bs: 4k }\nrepetitions: 6\ntracing: { scripts: [iotlb-invalidations], repetitions: 1 }').replace('kernel: [base, patched]', 'kernel: [base, patched]\n      boots: 2'));
    const scenario = await loadScenarioFile(file);
    // The patched kernel doubles strict's invalidations and costs 10 % of its IOPS; lazy is untouched.
    const patchedStrict = (cell: string) => cell.includes('intel-strict') && cell.includes('.patched');
    const run = await loadRun(await writeSyntheticRun({
      root: join(dir, 'results'), scenario, seed: 3, created: new Date('2026-12-01T02:00:00Z'), cvPct: 0.2,
      level: (cell) => (patchedStrict(cell) ? 9000 : 10000),
      flushesPerIo: (config, cell) => (config === 'intel-strict' ? (patchedStrict(cell) ? 2 : 1) : 0),
    }));
    const report = buildReport(run);
    const strict = report.kernelFindings.find((f) => f.label === 'patched vs base (intel-strict)')!;
    expect(strict.summary).toMatch(/iotlb_sync_flush_per_io 1\.000 → 2\.000/);
    expect(strict.timings.find((c) => c.metric === 'iops')).toMatchObject({ verdict: 'regression' });
    const lazy = report.kernelFindings.find((f) => f.label === 'patched vs base (intel-lazy)')!;
    expect(lazy.counts.every((c) => c.verdict !== 'regression')).toBe(true);
    expect(lazy.timings.find((c) => c.metric === 'iops')?.verdict).not.toBe('regression');
    // Configurations are still compared within each kernel, never across kernels.
    expect(report.modes.comparisons.every((c) => c.cell.split('__')[2] === c.reference.split('__')[2])).toBe(true);
    expect(renderMarkdown(report)).toContain('- **patched vs base (intel-strict)** (`rr__intel-strict__g__nvme0`): counts and timings differ');
  });
});

describe('kernel build refuses what it cannot build, before make runs', () => {
  it('a directory that is not a kernel source tree, and a tree with an in-tree configuration', async () => {
    const { buildKernel } = await import('../../../guest-images/kernel/build.js');
    const notTree = await tmp();
    await expect(buildKernel({ tree: notTree })).rejects.toMatchObject({ code: 'E_KERNEL_NOT_FOUND', message: expect.stringContaining('is not a Linux source tree') });
    const tree = await tmp();
    await mkdir(join(tree, 'arch/x86'), { recursive: true });
    await writeFile(join(tree, 'Kconfig'), '');
    await writeFile(join(tree, 'Makefile'), '');
    await writeFile(join(tree, '.config'), 'CONFIG_X=y\n');
    await expect(buildKernel({ tree })).rejects.toMatchObject({ code: 'E_KERNEL_BUILD', fix: expect.stringContaining(`make -C ${tree} mrproper`) });
  });
});
