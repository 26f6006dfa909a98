/**
 * Loading a scenario: YAML with positions → JSON Schema (defaults filled in) →
 * cross-field checks that a schema cannot express. Nothing runs before this
 * returns; every problem in the file is reported at once.
 */
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { InvalidInputError, type Problem } from '../core/errors.js';
import { BPF_DIR } from '../core/paths.js';
import { combinationProblem, configName } from '../core/iommu.js';
import { describeMetric, scriptOf } from '../core/metrics.js';
import { hostsSchema, scenarioSchema } from './schema.js';
import { checkSchema } from './schema-check.js';
import type { HostsFile, IommuDevice, IommuMode, Scenario, StaticHost } from './types.js';
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
}

export const asList = <T>(v: T | readonly T[]): readonly T[] => (Array.isArray(v) ? (v as readonly T[]) : [v as T]);

export async function loadHostsFile(file: string): Promise<LoadedHosts> {
  const src = await readYamlFile(file);
  const problems = checkSchema(src, hostsSchema);
  if (problems.length === 0) problems.push(...checkHosts(src, src.data as HostsFile));
  if (problems.length > 0) throw new InvalidInputError(problems);
  return { file, hosts: src.data as HostsFile };
}

export async function loadScenarioFile(file: string, options: LoadOptions = {}): Promise<LoadedScenario> {
  const src = await readYamlFile(file);
  const problems = checkSchema(src, scenarioSchema);
  if (problems.length > 0) throw new InvalidInputError(problems);
  const scenario = src.data as Scenario;

  let hosts: LoadedHosts | undefined;
  const hostsPath = options.hostsFile ?? (scenario.hosts_file ? resolveBeside(file, scenario.hosts_file) : undefined);
  if (scenario.targets.hosts.length > 0) {
    if (!hostsPath) {
      throw new InvalidInputError([
        problemAt(src, ['targets', 'hosts'], 'names static hosts, but no hosts file was given', 'add `hosts_file: hosts.yaml` to the scenario or pass --hosts FILE'),
      ]);
    }
    hosts = await loadHostsFile(hostsPath);
  }

  problems.push(...checkScenario(src, scenario, hosts, options.bpfDir ?? BPF_DIR));
  if (problems.length > 0) throw new InvalidInputError(problems);
  return {
    file,
    scenario,
    sha256: createHash('sha256').update(src.text).digest('hex'),
    text: src.text,
    ...(hosts ? { hosts } : {}),
  };
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
  const vmDisks = new Set<string>();
  s.targets.vms.forEach((vm, i) => {
    problems.push(...duplicates(src, ['targets', 'vms', i, 'disks'], vm.disks.map((d) => d.name), 'disk'));
    vm.disks.forEach((d) => vmDisks.add(d.name));
    if (usesVirtio && vm.kernel === '6.1') {
      problems.push(
        problemAt(src, ['targets', 'vms', i, 'kernel'], "the matrix has virtio-iommu, but Debian's 6.1 kernel is built without CONFIG_VIRTIO_IOMMU", 'use kernel: "6.12"'),
      );
    }
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

  s.workloads.forEach((w, i) => {
    (w.disks ?? []).forEach((d, j) => {
      if (!vmDisks.has(d) && !hostDisks.has(d)) {
        const known = [...new Set([...vmDisks, ...hostDisks])];
        problems.push(problemAt(src, ['workloads', i, 'disks', j], `disk "${d}" belongs to no target`, `known disks: ${known.join(', ') || 'none'}`));
      }
    });
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

  // A metric comes from a tool (core/metrics.ts): fio always runs; a traced metric needs its script and traced repetitions.
  const traces = s.tracing.repetitions > 0 || s.tracing.in_timing_repetitions;
  s.metrics.forEach((name, i) => {
    const d = describeMetric(name);
    const script = d && scriptOf(d);
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

function checkHosts(src: YamlSource, file: HostsFile): Problem[] {
  const problems = duplicates(src, ['hosts'], file.hosts.map((h) => h.name), 'host');
  file.hosts.forEach((h, i) => {
    problems.push(...duplicates(src, ['hosts', i, 'disks'], h.disks.map((d) => d.name), 'disk'));
    const why = combinationProblem(h.iommu);
    if (why) problems.push(problemAt(src, ['hosts', i, 'iommu', 'mode'], why, 'declare the mode the host runs in'));
    h.disks.forEach((d, j) => {
      if (d.path.split('/').includes('..')) problems.push(problemAt(src, ['hosts', i, 'disks', j, 'path'], 'contains ".."', 'write the path without ".."'));
    });
  });
  return problems;
}
