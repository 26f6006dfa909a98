/**
 * What a kernel must be configured with to run as a lab guest. The single
 * source is the Kconfig fragment `lab.config` beside this file (users merge it
 * into their own configuration); this module reads it as requirements and
 * checks a kernel's `.config` against them. Pure: text in, problems out.
 */
import { readFileSync } from 'node:fs';
import { labPath } from '../../core/paths.js';
import type { IommuDevice } from '../../core/iommu.js';
import type { WorkloadKind } from '../../core/metrics.js';

export type Tristate = 'y' | 'm' | 'n';

export interface Requirement {
  /** `CONFIG_INTEL_IOMMU` */
  readonly option: string;
  readonly why: string;
  /** A module is fine: the lab puts it in the guest's initramfs. */
  readonly moduleOk: boolean;
  /** Needed only when the matrix has this IOMMU device, runs this workload tool, or runs bpftrace. */
  readonly onlyFor?: IommuDevice | OptionalNeed;
}

/**
 * What needs kernel options of its own beyond running a guest: a workload tool (`# only:
 * dma-map-benchmark`; fio needs none) or bpftrace (`# only: tracing`: traced repetitions).
 */
export type OptionalNeed = Exclude<WorkloadKind, 'fio'> | 'tracing';

export const LAB_FRAGMENT = 'guest-images/kernel/lab.config';
export const TINY_FRAGMENT = 'guest-images/kernel/tiny.config';

/**
 * A Kconfig fragment as requirements: each `CONFIG_X=y` with its group's `# why:` and `# only:`
 * (a group ends at a blank line) and its own `# module-ok`.
 */
export function parseFragment(text: string): Requirement[] {
  const out: Requirement[] = [];
  let why = '';
  let onlyFor: Requirement['onlyFor'];
  let moduleOk = false;
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '') {
      // A blank line ends a group: its why and only apply to every option in it, module-ok only to the next option.
      why = '';
      onlyFor = undefined;
      continue;
    }
    const w = /^#\s*why:\s*(.+)$/.exec(line);
    if (w) { why = w[1]!; continue; }
    const o = /^#\s*only:\s*(\S+)$/.exec(line);
    if (o) { onlyFor = o[1] as Requirement['onlyFor']; continue; }
    if (/^#\s*module-ok\s*$/.test(line)) { moduleOk = true; continue; }
    const c = /^(CONFIG_[A-Z0-9_]+)=y$/.exec(line);
    if (c) {
      out.push({ option: c[1]!, why: why || 'the lab needs it', moduleOk, ...(onlyFor ? { onlyFor } : {}) });
      moduleOk = false;
    }
  }
  return out;
}

/**
 * The fragment to merge into a build: the lab's options, without those needed only for bpftrace
 * when `tracing` is false (then the build needs no debug information, the longest part of it).
 */
export function fragmentFor(requirements: readonly Requirement[], o: { tracing: boolean }): string {
  const options = new Set(requirements.filter((r) => o.tracing || r.onlyFor !== 'tracing').map((r) => r.option));
  return [...options].map((x) => `${x}=y\n`).join('');
}

let cached: Requirement[] | undefined;
export function labRequirements(): Requirement[] {
  cached ??= parseFragment(readFileSync(labPath(LAB_FRAGMENT), 'utf8'));
  return cached;
}

/** A `.config` as option → value (`y`, `m`, a string or number); `# CONFIG_X is not set` and absent options read as `n`. */
export function parseDotConfig(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of text.split('\n')) {
    const m = /^(CONFIG_[A-Za-z0-9_]+)=(.*)$/.exec(line.trim());
    if (m) out.set(m[1]!, m[2]!.replace(/^"(.*)"$/, '$1'));
  }
  return out;
}

export function tristate(config: ReadonlyMap<string, string>, option: string): Tristate {
  const v = config.get(option);
  return v === 'y' || v === 'm' ? v : 'n';
}

export interface ConfigProblem {
  readonly option: string;
  readonly has: Tristate;
  readonly why: string;
  readonly fix: string;
}

/**
 * What is missing for the lab. `modules` says whether the kernel comes with its
 * modules (otherwise `=m` is as good as missing); `devices` are the IOMMU
 * devices the matrix puts this kernel under, `needs` the workload tools and
 * bpftrace when the scenario uses them.
 */
export function configProblems(config: ReadonlyMap<string, string>, options: { modules: boolean; devices: readonly IommuDevice[]; needs?: readonly OptionalNeed[] }, requirements = labRequirements()): ConfigProblem[] {
  const out: ConfigProblem[] = [];
  const wanted: readonly string[] = [...options.devices, ...(options.needs ?? [])];
  const seen = new Set<string>();
  for (const r of requirements) {
    if (r.onlyFor && !wanted.includes(r.onlyFor)) continue;
    // An option two groups need (DEBUG_FS: tracing and the DMA-map benchmark) is one problem.
    if (seen.has(r.option)) continue;
    seen.add(r.option);
    const has = tristate(config, r.option);
    if (has === 'y' || (has === 'm' && r.moduleOk && options.modules)) continue;
    const name = r.option.replace(/^CONFIG_/, '');
    const why = has === 'm' ? `${r.why} (it is a module, and ${r.moduleOk ? 'no modules came with this kernel' : 'the lab needs it built in'})` : r.why;
    out.push({ option: r.option, has, why, fix: `scripts/config --file .config -e ${name}` });
  }
  return out;
}

/** Several problems as one message: one line each, then the one command that fixes them all. */
export function formatConfigProblems(problems: readonly ConfigProblem[], configFile: string): { message: string; fix: string } {
  const lines = problems.map((p) => `  ${p.option} is ${p.has === 'n' ? 'not set' : `=${p.has}`}: ${p.why}`);
  const names = problems.map((p) => `-e ${p.option.replace(/^CONFIG_/, '')}`).join(' ');
  return {
    message: `${configFile} lacks ${problems.length} option${problems.length === 1 ? '' : 's'} the lab needs:\n${lines.join('\n')}`,
    fix: `scripts/config --file ${configFile} ${names} && make olddefconfig, then build again (or: iommu-lab kernel build, which merges ${LAB_FRAGMENT})`,
  };
}

/** The kernel's facts the lab records and reasons with (the same shape as the image's kernels). */
export function factsOf(config: ReadonlyMap<string, string>): { btf: boolean; virtioIommu: Tristate; intelIommu: Tristate; nvme: Tristate; dmaMapBenchmark: boolean; defaultDmaPolicy: 'lazy' | 'strict' | 'passthrough' | 'unknown' } {
  const policy = tristate(config, 'CONFIG_IOMMU_DEFAULT_DMA_LAZY') === 'y' ? 'lazy' : tristate(config, 'CONFIG_IOMMU_DEFAULT_DMA_STRICT') === 'y' ? 'strict' : tristate(config, 'CONFIG_IOMMU_DEFAULT_PASSTHROUGH') === 'y' ? 'passthrough' : 'unknown';
  return {
    btf: tristate(config, 'CONFIG_DEBUG_INFO_BTF') === 'y',
    virtioIommu: tristate(config, 'CONFIG_VIRTIO_IOMMU'),
    intelIommu: tristate(config, 'CONFIG_INTEL_IOMMU'),
    nvme: tristate(config, 'CONFIG_BLK_DEV_NVME'),
    dmaMapBenchmark: tristate(config, 'CONFIG_DMA_MAP_BENCHMARK') === 'y',
    defaultDmaPolicy: policy,
  };
}
