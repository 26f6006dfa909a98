/** `iommu-lab kernel build | check`: your own kernel, built and checked the lab's way (docs/kernels.md). */
import { EXIT, UsageError } from '../../core/errors.js';
import { IOMMU_DEVICES, type IommuDevice } from '../../core/iommu.js';
import { buildKernel } from '../../guest-images/kernel/build.js';
import { factsOf } from '../../guest-images/kernel/config.js';
import { identityOf, inspectBuild } from '../../guest-images/kernel/under-test.js';
import { interruptible, jobsOf, jsonOption, kernelBaseOf } from '../options.js';
import { defineCommand } from '../table.js';

function devicesOf(v: unknown): IommuDevice[] {
  const list = String(v ?? IOMMU_DEVICES.join(',')).split(',').map((d) => d.trim()).filter(Boolean);
  const bad = list.filter((d) => !(IOMMU_DEVICES as readonly string[]).includes(d));
  if (bad.length) throw new UsageError(`unknown IOMMU device ${bad.join(', ')}`, `use ${IOMMU_DEVICES.join(', ')}`);
  return list as IommuDevice[];
}

export const kernelCommand = defineCommand({
  name: 'kernel',
  summary: "Your own kernel under test. build: configure a source tree with the lab's fragment (guest-images/kernel/lab.config) on a base, build it out of tree with ccache, and print the directory a scenario's kernels: path names (cached by tree state and configuration). check: say whether a build can run as a lab guest, and what is missing.",
  args: ['<action>', '<path>'],
  options: [
    { flags: '--base <base>', description: "build: 'tiny' (tinyconfig + guest-images/kernel/tiny.config: the smallest that boots the lab's guest), 'defconfig', or a .config file of yours", default: 'tiny' },
    { flags: '--jobs <n>', description: 'build: parallel jobs (default: one per CPU)' },
    { flags: '--no-tracing', description: "build: leave out the options only bpftrace needs (BTF, and so debug information; kprobes, ftrace): about half the build time, for a kernel measured by the QEMU plugin's exact counts alone (a scenario that traces refuses it, naming what it lacks)" },
    { flags: '--devices <list>', description: 'check: the IOMMU devices the kernel must support (comma-separated)', default: IOMMU_DEVICES.join(',') },
    jsonOption('the result'),
  ],
  example: 'iommu-lab kernel build ~/linux && iommu-lab kernel check ~/linux-build',
  async run(args, options, io) {
    const [action, path] = args as [string, string];
    switch (action) {
      case 'build': {
        const jobs = jobsOf(options);
        const { signal, dispose } = interruptible(io, 'stopping make');
        try {
          const k = await buildKernel({ tree: path, base: kernelBaseOf(options), tracing: options.tracing !== false, ...(jobs ? { jobs } : {}), onLog: (l) => io.err(l), signal });
          if (options.json) io.out(JSON.stringify(k, null, 2));
          else io.out(`${k.cached ? 'cached' : 'built'}: ${k.dir}\n  release ${k.release}\n  ${k.cached ? 'found' : 'built'} in ${k.seconds.toFixed(0)} s${k.tree.commit ? `\n  tree ${k.tree.describe ?? k.tree.commit}${k.tree.dirty ? ' (uncommitted changes)' : ''}` : ''}\n  log ${k.log}\nuse it in a scenario:\n  kernels:\n    - { name: mine, path: ${k.dir} }`);
        } finally {
          dispose();
        }
        return EXIT.ok;
      }
      case 'check': {
        const b = inspectBuild({ name: 'check', path }, devicesOf(options.devices));
        const id = await identityOf(b);
        const facts = factsOf(b.config);
        if (options.json) io.out(JSON.stringify({ ok: true, identity: id, facts, modules: b.moduleDir ?? null }, null, 2));
        else io.out(`ok: ${b.bzimage}\n  release ${b.release}\n  bzImage sha256 ${id.bzimage_sha256}\n  config ${b.configFile} (sha256 ${id.config_sha256.slice(0, 16)}…)${id.git ? `\n  git ${id.git.describe}${id.git.dirty ? ' (dirty)' : ''}` : ''}\n  intel-iommu ${facts.intelIommu}, virtio-iommu ${facts.virtioIommu}, NVMe ${facts.nvme}, BTF ${facts.btf ? 'yes' : 'no'}, default DMA mode ${facts.defaultDmaPolicy}, DMA-map benchmark ${facts.dmaMapBenchmark ? 'yes' : 'no'}${b.moduleDir ? `\n  modules ${b.moduleDir}` : ''}`);
        return EXIT.ok;
      }
      default:
        throw new UsageError(`unknown kernel action "${action}"`, 'use build or check');
    }
  },
});
