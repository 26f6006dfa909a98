/**
 * Loading a scenario: YAML with positions → JSON Schema (defaults filled in) →
 * cross-field checks that a schema cannot express. Nothing runs before this
 * returns; every problem in the file is reported at once.
 */
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { InvalidInputError, LabError, type Problem } from '../core/errors.js';
import type { OptionalNeed } from '../guest-images/kernel/config.js';
import { inspectBuild } from '../guest-images/kernel/under-test.js';
import { BPF_DIR } from '../core/paths.js';
import { combinationProblem, configName } from '../core/iommu.js';
import { defaultMetrics, describeMetric, scriptOf, sourceOf, workloadToolsOf } from '../core/metrics.js';
import { hostsSchema, scenarioSchema } from './schema.js';
import { checkSchema } from './schema-check.js';
import { isImageKernel, usesBpftrace, type DmaMapWorkloadSpec, type WorkloadSpec, type HostsFile, type KernelBuildSpec, type Scenario, type StaticHost } from './types.js';
import { networkProblems } from './network.js';
import { problemAt, readYamlFile, type PathSegment, type YamlSource } from './yaml-source.js';

export interface LoadedHosts {
  readonly file: string;
  readonly hosts: HostsFile;
}

export interface LoadedScenario {
  readonly file: string;
  readonly scenario: Scenario;
  /** sha256 of the file's bytes: identifies the scenario in results and baselines. */
  readonly sha256: string;
  readonly text: string;
  readonly hosts?: LoadedHosts;
}

export interface LoadOptions {
  /** Hosts file given on the command line; overrides the scenario's `hosts_file`. */
  readonly hostsFile?: string;
  /** Where bpftrace scripts live (tests point this elsewhere). */
  readonly bpfDir?: string;
  /**
   * The file that relative paths (hosts_file, kernels) are relative to, when the
   * text was copied elsewhere: repro loads a run's copy of its scenario.
   */
  readonly pathsRelativeTo?: string;
}

/**
 * A schema-valid scenario with the defaults the schema cannot fill: a
 * workload without kind is a fio job (ajv fills no defaults inside if/else),
 * and without metrics a scenario gets the defaults of the tools its workloads
 * run (core/metrics.ts). The loader and a stored run's reader both use it.
 */
export function withDefaults(data: unknown): Scenario {
  const written = data as Omit<Scenario, 'metrics'> & { metrics?: readonly string[] };
  const workloads = written.workloads.map((w) => ({ ...w, kind: w.kind ?? 'fio' }) as WorkloadSpec);
  return { ...written, workloads, metrics: written.metrics ?? defaultMetrics(new Set(workloads.map((w) => w.kind))) };
}

export { asList } from './types.js';
import { asList } from './types.js';

export async function loadHostsFile(file: string): Promise<LoadedHosts> {
  const src = await readYamlFile(file);
  const problems = checkSchema(src, hostsSchema);
  if (problems.length === 0) problems.push(...checkHosts(src, src.data as Partial<HostsFile>));
  if (problems.length > 0) throw new InvalidInputError(problems);
  const data = src.data as Partial<HostsFile>;
  return { file, hosts: { ...data, hosts: data.hosts ?? [] } };
}

export async function loadScenarioFile(file: string, options: LoadOptions = {}): Promise<LoadedScenario> {
  const src = await readYamlFile(file);
  const problems = checkSchema(src, scenarioSchema);
  if (problems.length > 0) throw new InvalidInputError(problems);
  const scenario = withDefaults(src.data);

  let hosts: LoadedHosts | undefined;
  const home = options.pathsRelativeTo ?? file;
  const hostsPath = options.hostsFile ?? (scenario.hosts_file ? resolveBeside(home, scenario.hosts_file) : undefined);
  if (scenario.targets.hosts.length > 0 && !hostsPath) {
    throw new InvalidInputError([
      problemAt(src, ['targets', 'hosts'], 'names static hosts, but no hosts file was given', 'add `hosts_file: hosts.yaml` to the scenario or pass --hosts FILE'),
    ]);
  }
  // Also without static hosts: the hosts file lists the remote hypervisors too.
  if (hostsPath) hosts = await loadHostsFile(hostsPath);

  problems.push(...checkScenario(src, scenario, hosts, options.bpfDir ?? BPF_DIR));
  if (problems.length > 0) throw new InvalidInputError(problems);
  // Kernel builds are named relative to the scenario; from here on their paths are absolute.
  const kernels = scenario.kernels.map((k) => absoluteKernel(home, k));
  problems.push(...checkKernelBuilds(src, { ...scenario, kernels }));
  if (problems.length > 0) throw new InvalidInputError(problems);
  return {
    file,
    scenario: { ...scenario, kernels },
    sha256: createHash('sha256').update(src.text).digest('hex'),
    text: src.text,
    ...(hosts ? { hosts } : {}),
  };
}

function absoluteKernel(file: string, k: KernelBuildSpec): KernelBuildSpec {
  const abs = (p: string | undefined) => (p === undefined ? undefined : resolveBeside(file, p));
  const out: Record<string, string> = { name: k.name };
  for (const key of ['path', 'bzimage', 'config', 'modules'] as const) {
    const v = abs(k[key]);
    if (v !== undefined) out[key] = v;
  }
  return out as unknown as KernelBuildSpec;
}

/**
 * Each build a VM profile boots is found and checked before anything boots: a
 * bzImage, a .config with every option the lab needs under the matrix's IOMMU
 * devices, modules of its release. Unused builds are not opened.
 */
function checkKernelBuilds(src: YamlSource, s: Scenario): Problem[] {
  const used = new Set(s.targets.vms.flatMap((v) => asList(v.kernel)));
  const devices = [...new Set(s.iommu.flatMap((e) => asList(e.device)))];
  const needs: OptionalNeed[] = [...(s.workloads.some((w) => w.kind === 'dma-map-benchmark') ? ['dma-map-benchmark' as const] : []), ...(usesBpftrace(s.tracing) ? ['tracing' as const] : [])];
  const problems: Problem[] = [];
  s.kernels.forEach((k, i) => {
    if (k.path !== undefined && k.bzimage !== undefined) {
      problems.push(problemAt(src, ['kernels', i], `kernel "${k.name}" gives both path: and bzimage:`, 'give path: (a built tree, its O= directory, or iommu-lab kernel build output), or bzimage: and config: (and modules:)'));
      return;
    }
    if (k.path === undefined && k.bzimage === undefined) {
      problems.push(problemAt(src, ['kernels', i], `kernel "${k.name}" names no build`, 'give path: (a built tree, its O= directory, or iommu-lab kernel build output), or bzimage: and config: (and modules:)'));
      return;
    }
    if (!used.has(k.name)) return;
    try {
      inspectBuild(k, devices, needs);
    } catch (e) {
      if (!(e instanceof LabError)) throw e;
      const key = k.path !== undefined ? 'path' : 'bzimage';
      problems.push(problemAt(src, ['kernels', i, key], e.message, e.fix ?? 'see docs/kernels.md'));
    }
  });
  return problems;
}

function resolveBeside(file: string, rel: string): string {
  return isAbsolute(rel) ? rel : resolve(dirname(file), rel);
}

function duplicates(src: YamlSource, base: readonly PathSegment[], names: readonly string[], what: string): Problem[] {
  const seen = new Map<string, number>();
  const out: Problem[] = [];
  names.forEach((n, i) => {
    const first = seen.get(n);
    if (first === undefined) seen.set(n, i);
    else out.push(problemAt(src, [...base, i, 'name'], `${what} "${n}" is declared twice (first at ${base.join('.')}[${first}])`, 'give each a different name'));
  });
  return out;
}

export function checkScenario(src: YamlSource, s: Scenario, hosts: LoadedHosts | undefined, bpfDir: string): Problem[] {
  const problems: Problem[] = [];
  problems.push(...duplicates(src, ['workloads'], s.workloads.map((w) => w.name), 'workload'));
  problems.push(...duplicates(src, ['targets', 'vms'], s.targets.vms.map((v) => v.name), 'VM profile'));
  s.targets.vms.forEach((v, i) => {
    if (v.disks.length === 0 && !v.nics?.length) problems.push(problemAt(src, ['targets', 'vms', i], `VM profile "${v.name}" has no test disk and no test link`, 'give it disks: (for fio and the DMA-map benchmark) or nics: (for network workloads)'));
    if ((v.boots ?? 1) > s.repetitions) problems.push(problemAt(src, ['targets', 'vms', i, 'boots'], `${v.boots} boots but only ${s.repetitions} timing repetitions: each boot needs at least one`, `set repetitions to at least ${v.boots}, or boots to at most ${s.repetitions}`));
  });

  if (s.targets.vms.length === 0 && s.targets.hosts.length === 0) {
    problems.push(problemAt(src, ['targets'], 'declares no VM profile and no host', 'add a VM profile under targets.vms, or a host under targets.hosts'));
  }

  const configs = new Map<string, number>();
  s.iommu.forEach((entry, i) => {
    for (const device of asList(entry.device)) {
      for (const mode of asList(entry.mode)) {
        const why = combinationProblem({ device, mode });
        if (why) problems.push(problemAt(src, ['iommu', i], `${device} × ${mode}: ${why}`, 'split the entry so that each device lists only modes it has'));
        const key = configName({ device, mode });
        const first = configs.get(key);
        if (first !== undefined && first !== i) problems.push(problemAt(src, ['iommu', i], `${key} is already listed in iommu[${first}]`, 'list each configuration once'));
        configs.set(key, i);
      }
    }
  });

  const usesVirtio = s.iommu.some((e) => asList(e.device).includes('virtio'));
  /** Whether a DMA-map benchmark workload runs on any of these disks. */
  const runsDmaMap = (disks: readonly string[]) => s.workloads.some((w) => w.kind === 'dma-map-benchmark' && disks.some((d) => !w.disks || w.disks.includes(d)));
  const vmDisks = new Set<string>();
  problems.push(...duplicates(src, ['kernels'], s.kernels.map((k) => k.name), 'kernel'));
  const builds = new Set(s.kernels.map((k) => k.name));
  s.targets.vms.forEach((vm, i) => {
    problems.push(...duplicates(src, ['targets', 'vms', i, 'disks'], vm.disks.map((d) => d.name), 'disk'));
    vm.disks.forEach((d) => vmDisks.add(d.name));
    const kernels = asList(vm.kernel);
    const at = (j: number) => (Array.isArray(vm.kernel) ? ['targets', 'vms', i, 'kernel', j] : ['targets', 'vms', i, 'kernel']);
    kernels.forEach((k, j) => {
      if (!isImageKernel(k) && !builds.has(k)) {
        problems.push(problemAt(src, at(j), `no kernel named "${k}": the image has 6.1 and 6.12, and kernels: declares ${builds.size ? [...builds].join(', ') : 'none'}`, 'declare it under kernels: (name and path of your build), or use "6.12"'));
      }
      if (runsDmaMap(vm.disks.map((d) => d.name)) && isImageKernel(k)) {
        problems.push(problemAt(src, at(j), `a dma-map-benchmark workload runs on this profile, but Debian's ${k} kernel is built without CONFIG_DMA_MAP_BENCHMARK`, 'build your own with iommu-lab kernel build (its fragment guest-images/kernel/lab.config sets the option), name it under kernels: and here (docs/dma-map-benchmark.md)'));
      }
      if (usesVirtio && k === '6.1') {
        problems.push(problemAt(src, at(j), "the matrix has virtio-iommu, but Debian's 6.1 kernel is built without CONFIG_VIRTIO_IOMMU", 'use kernel: "6.12"'));
      }
    });
  });

  const hostByName = new Map<string, StaticHost>((hosts?.hosts.hosts ?? []).map((h) => [h.name, h]));
  const hostDisks = new Set<string>();
  s.targets.hosts.forEach((name, i) => {
    const h = hostByName.get(name);
    if (!h) {
      const known = [...hostByName.keys()];
      problems.push(
        problemAt(src, ['targets', 'hosts', i], `host "${name}" is not in ${hosts?.file ?? 'the hosts file'}`, known.length ? `known hosts: ${known.join(', ')}` : 'declare it in the hosts file'),
      );
      return;
    }
    h.disks.forEach((d) => hostDisks.add(d.name));
  });

  problems.push(...networkProblems(src, s, s.targets.hosts.flatMap((h) => hostByName.get(h)?.nics?.map((n) => n.name) ?? [])));
  s.workloads.forEach((w, i) => {
    if (w.kind === 'network') return;
    (w.disks ?? []).forEach((d, j) => {
      if (!vmDisks.has(d) && !hostDisks.has(d)) {
        const known = [...new Set([...vmDisks, ...hostDisks])];
        problems.push(problemAt(src, ['workloads', i, 'disks', j], `disk "${d}" belongs to no target`, `known disks: ${known.join(', ') || 'none'}`));
      }
    });
    if (w.kind === 'dma-map-benchmark') {
      problems.push(...dmaMapProblems(src, s, i, hostByName));
      return;
    }
    const writes = asList(w.rw).some((rw) => rw !== 'read' && rw !== 'randread');
    if (!writes) return;
    // Refuse destructive writes before any connection is made (see the runner's guard too).
    for (const name of s.targets.hosts) {
      const h = hostByName.get(name);
      for (const d of h?.disks ?? []) {
        if (w.disks && !w.disks.includes(d.name)) continue;
        if (d.path.startsWith('/dev/') && !d.allow_destructive_writes) {
          problems.push(
            problemAt(src, ['workloads', i, 'rw'], `writes to the raw device ${d.path} of host "${name}", which would destroy its data`,
              `set allow_destructive_writes: true for disk "${d.name}" in ${hosts?.file ?? 'the hosts file'} if that is intended, or restrict this workload with disks: to other disks`),
          );
        }
      }
    }
  });

  s.tracing.scripts.forEach((script, i) => {
    if (!existsSync(join(bpfDir, `${script}.bt`))) {
      problems.push(problemAt(src, ['tracing', 'scripts', i], `no bpftrace script bpf/${script}.bt`, 'list the scripts in bpf/ without the .bt suffix'));
    }
  });

  // A metric comes from a tool (core/metrics.ts): fio and the DMA-map benchmark from their workloads; a traced
  // metric needs its script, traced repetitions, and a fio workload (the benchmark's cells are not traced).
  const traces = s.tracing.repetitions > 0 || s.tracing.in_timing_repetitions;
  const tools = new Set(s.workloads.map((w) => w.kind));
  s.metrics.forEach((name, i) => {
    const d = describeMetric(name);
    if (!d) return;
    if (sourceOf(d) === 'profiler') {
      if (!s.targets.vms.some((v) => v.profiler !== false)) {
        problems.push(problemAt(src, ['metrics', i], `${name} is counted by the lab's QEMU plugin, which only the scenario's emulated guests load, and no VM profile has it (profiler: false, or no vms:)`, `remove ${name} from metrics, or add a VM profile without profiler: false`));
      } else if (d.per === 'mib' && !tools.has('network')) {
        problems.push(problemAt(src, ['metrics', i], `${name} is per MiB moved on a test link, but no workload is a network one`, `add a network workload, or remove ${name} from metrics`));
      }
      return;
    }
    const tool = workloadToolsOf(d).find((t) => tools.has(t)) ?? workloadToolsOf(d)[0]!;
    if (!tools.has(tool)) {
      const from = tool === 'fio' ? (sourceOf(d) === 'bpftrace' ? 'bpftrace during fio' : 'fio') : tool === 'network' ? 'network workloads' : "the kernel's DMA-map benchmark";
      problems.push(problemAt(src, ['metrics', i], `${name} comes from ${from}, but no workload runs ${tool}, so nothing would produce it`, `add a ${tool} workload, or remove ${name} from metrics`));
      return;
    }
    const script = scriptOf(d);
    if (!script) return;
    if (!s.tracing.scripts.includes(script)) {
      problems.push(problemAt(src, ['metrics', i], `${name} comes from the bpftrace script ${script}, which tracing.scripts does not list, so nothing would produce it`, `add "${script}" to tracing.scripts, or remove ${name} from metrics`));
    } else if (!traces) {
      problems.push(problemAt(src, ['metrics', i], `${name} comes from bpftrace, but the scenario runs no traced repetition (tracing.repetitions is 0)`, 'set tracing.repetitions to at least 1 (traced repetitions run apart from the timing ones)'));
    }
  });

  for (const name of Object.keys(s.thresholds.metrics ?? {})) {
    if (!s.metrics.includes(name)) {
      problems.push(problemAt(src, ['thresholds', 'metrics'], `has a threshold for "${name}", which is not in metrics`, `add "${name}" to metrics, or remove its threshold`, name));
    }
  }
  return problems;
}

/**
 * A DMA-map benchmark workload takes its disks' PCI devices from their
 * drivers for the measurement: only on the lab's own guests (never a static
 * host's disk), and on disks no fio workload uses (a disk given back to its
 * driver may come back under another name).
 */
function dmaMapProblems(src: YamlSource, s: Scenario, i: number, hosts: ReadonlyMap<string, StaticHost>): Problem[] {
  const w = s.workloads[i] as DmaMapWorkloadSpec;
  const out: Problem[] = [];
  const on = (disks: readonly string[]) => disks.filter((d) => !w.disks || w.disks.includes(d));
  for (const name of s.targets.hosts) {
    const taken = on(hosts.get(name)?.disks.map((d) => d.name) ?? []);
    if (taken.length) out.push(problemAt(src, ['workloads', i], `would take disk ${taken.join(', ')} of static host "${name}" from its driver: the lab runs the DMA-map benchmark only on its own guests`, "restrict the workload with disks: to VM test disks (run the kernel's tools/testing/selftests/dma/dma_map_benchmark on a host by hand)"));
  }
  const disks = [...new Set(s.targets.vms.flatMap((v) => on(v.disks.map((d) => d.name))))];
  for (const [j, f] of s.workloads.entries()) {
    if (f.kind !== 'fio') continue;
    const shared = disks.filter((d) => !f.disks || f.disks.includes(d));
    if (shared.length) out.push(problemAt(src, ['workloads', i], `shares disk ${shared.join(', ')} with the fio workload "${f.name}" (workloads[${j}]): the benchmark takes a disk's device from its driver`, 'give the VM profile a disk for each (disks: [{ name: dmadev, bus: nvme }]) and restrict both workloads with disks:'));
  }
  return out;
}

function checkHosts(src: YamlSource, file: Partial<HostsFile>): Problem[] {
  const hosts = file.hosts ?? [];
  const problems = duplicates(src, ['hosts'], hosts.map((h) => h.name), 'host');
  problems.push(...duplicates(src, ['hypervisors'], (file.hypervisors ?? []).map((h) => h.uri), 'hypervisor'));
  const names = new Set(hosts.map((h) => h.name));
  hosts.forEach((h, i) => {
    problems.push(...duplicates(src, ['hosts', i, 'disks'], h.disks.map((d) => d.name), 'disk'));
    problems.push(...duplicates(src, ['hosts', i, 'nics'], (h.nics ?? []).map((n) => n.name), 'test NIC'));
    const isPeer = hosts.some((x) => x.nics?.some((n) => n.peer === h.name));
    if (h.disks.length === 0 && !h.nics?.length && !isPeer) problems.push(problemAt(src, ['hosts', i], `host "${h.name}" has no test disk and no test NIC, and is no NIC's peer`, 'give it disks: or nics:, or remove it'));
    (h.nics ?? []).forEach((n, j) => {
      if (n.peer === h.name) problems.push(problemAt(src, ['hosts', i, 'nics', j, 'peer'], `test NIC "${n.name}" names its own host as peer`, 'name another host of this file: the peer runs the server end of the link'));
      else if (!names.has(n.peer)) problems.push(problemAt(src, ['hosts', i, 'nics', j, 'peer'], `peer "${n.peer}" is not a host of this file`, `declare it under hosts: (its ssh: is how the lab starts the server), or name one of ${[...names].join(', ')}`));
      if (n.address === n.peer_address) problems.push(problemAt(src, ['hosts', i, 'nics', j, 'peer_address'], `peer_address is the NIC's own address ${n.address}`, "give the peer's address on the link"));
    });
    const why = combinationProblem(h.iommu);
    if (why) problems.push(problemAt(src, ['hosts', i, 'iommu', 'mode'], why, 'declare the mode the host runs in'));
    h.disks.forEach((d, j) => {
      if (d.path.split('/').includes('..')) problems.push(problemAt(src, ['hosts', i, 'disks', j, 'path'], 'contains ".."', 'write the path without ".."'));
    });
  });
  return problems;
}
