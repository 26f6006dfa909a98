/**
 * Preflight: before any measurement, read what the target really runs with,
 * and above all the IOMMU configuration in effect for each test disk, from
 * sysfs (its IOMMU group's type), cross-checked with the boot messages. The
 * parser and the judgement are pure; the script is runner/preflight.sh.
 */
import { readFileSync } from 'node:fs';
import { labPath } from '../core/paths.js';
import type { InventoryTarget } from '../inventory/types.js';
import { cmdlineProblems, expectedGroupType, modeOfGroupType, iommuActive, type IommuConfig } from '../core/iommu.js';
import { shellQuote, type SshSession } from '../transport/ssh.js';
import { ACCESS_PLATFORM_BIT, linkProblems, prepareLinks, type LinkFacts } from './links.js';

export interface DiskFacts {
  readonly name: string;
  readonly path: string;
  readonly missing: boolean;
  readonly majmin?: string;
  readonly sysfsPath?: string;
  readonly pci?: string;
  readonly group?: string;
  readonly groupType?: string;
  /** virtio feature bits as sysfs prints them (a string of 0/1, bit 0 first), for virtio disks. */
  readonly virtioFeatures?: string;
}

export interface PreflightFacts {
  readonly kernel: string;
  readonly cmdline: string;
  /** /proc/sys/kernel/random/boot_id: which boot the repetitions ran in. */
  readonly bootId?: string;
  readonly tools: { readonly fio: string; readonly bpftrace: string };
  readonly btf: boolean;
  readonly iommuClass: readonly string[];
  readonly groups: Readonly<Record<string, string>>;
  readonly disks: readonly DiskFacts[];
  readonly boot: readonly string[];
  /** The test links' ends and iperf3 (runner/links.ts), when the target has links. */
  readonly links?: LinkFacts;
}

export function parsePreflight(stdout: string): PreflightFacts {
  let kernel = '';
  let cmdline = '';
  let bootId = '';
  let fio = 'missing';
  let bpftrace = 'missing';
  let btf = false;
  const iommuClass: string[] = [];
  const groups: Record<string, string> = {};
  const disks: DiskFacts[] = [];
  const boot: string[] = [];
  for (const line of stdout.split('\n')) {
    const [key, ...f] = line.split('\t');
    switch (key) {
      case 'kernel': kernel = f[0] ?? ''; break;
      case 'cmdline': cmdline = f.join('\t').trim(); break;
      case 'boot_id': bootId = (f[0] ?? '').trim(); break;
      case 'fio': fio = f[0] ?? 'missing'; break;
      case 'bpftrace': bpftrace = f[0] ?? 'missing'; break;
      case 'btf': btf = f[0] === 'yes'; break;
      case 'iommu_class': if (f[0]) iommuClass.push(f[0]); break;
      case 'group': if (f[0] && f[1] !== undefined) groups[f[0]] = f[1]; break;
      case 'boot': boot.push(f.join('\t')); break;
      case 'disk': {
        const [name = '', path = '', majmin = '', sysfsPath = '', pci = '', group = '', groupType = '', virtioFeatures = ''] = f;
        if (majmin === 'missing') { disks.push({ name, path, missing: true }); break; }
        disks.push({
          name, path, missing: false, majmin,
          ...(sysfsPath ? { sysfsPath } : {}), ...(pci ? { pci } : {}), ...(group ? { group } : {}),
          ...(groupType ? { groupType } : {}), ...(virtioFeatures ? { virtioFeatures } : {}),
        });
        break;
      }
      default: break;
    }
  }
  return { kernel, cmdline, ...(bootId ? { bootId } : {}), tools: { fio, bpftrace }, btf, iommuClass, groups, disks, boot };
}


export type IommuVerdict =
  | { readonly ok: true; readonly observed: Readonly<Record<string, string>> }
  | { readonly ok: false; readonly observed: Readonly<Record<string, string>>; readonly reasons: readonly string[] };

function deviceClassMatches(device: string, classes: readonly string[]): boolean {
  switch (device) {
    case 'intel': return classes.some((c) => c.startsWith('dmar'));
    case 'amd': return classes.some((c) => c.startsWith('ivhd'));
    case 'arm-smmu-v3': return classes.some((c) => c.startsWith('smmu3'));
    case 'virtio': return classes.some((c) => /^[0-9a-f]{4}:[0-9a-f]{2}:[0-9a-f]{2}\.[0-7]$/.test(c));
    default: return classes.length === 0;
  }
}

/** Compares what sysfs says with what the target was meant to run; every difference is a reason. */
export function judgeIommu(target: Pick<InventoryTarget, 'iommu' | 'disks' | 'kind' | 'nics'>, facts: PreflightFacts): IommuVerdict {
  const { device, mode } = target.iommu;
  const reasons: string[] = [];
  const observed: Record<string, string> = {};
  const active = iommuActive(target.iommu);

  // The command line the kernel booted with must select this mode: a lab guest gets every parameter
  // from the lab (all must be there), a real machine may rely on its kernel's defaults (none may contradict).
  for (const p of cmdlineProblems(target.iommu, facts.cmdline, target.kind === 'vm')) reasons.push(`kernel command line: ${p}`);

  if (!active) {
    if (facts.iommuClass.length > 0) reasons.push(`expected no active IOMMU, but /sys/class/iommu has ${facts.iommuClass.join(', ')}`);
  } else if (!deviceClassMatches(device, facts.iommuClass)) {
    reasons.push(`expected a ${device} IOMMU, but /sys/class/iommu has ${facts.iommuClass.join(', ') || 'nothing'}`);
  }

  const batchingOff = facts.boot.some((l) => l.includes('IOMMU batching disallowed due to virtualization'));
  for (const disk of target.disks) {
    const f = facts.disks.find((d) => d.name === disk.name);
    if (!f || f.missing) {
      reasons.push(`test disk ${disk.name} (${disk.path}) does not exist on the target`);
      continue;
    }
    observed[disk.name] = f.groupType ?? 'none';
    if (!disk.behind_iommu) continue;
    const seen = modeOfGroupType(f.groupType);
    if (seen !== mode || (active && !f.group)) {
      let why = `disk ${disk.name}: expected ${expectedGroupType(mode)} (${mode}), found ${f.group ? `group ${f.group} of type ${f.groupType ?? '?'}` : 'no IOMMU group'} (${seen})`;
      if (mode === 'lazy' && seen === 'strict' && batchingOff) {
        why += ': the kernel says "IOMMU batching disallowed due to virtualization" — caching mode forces strict; boot the guest without caching_mode';
      }
      reasons.push(why);
    }
    if (active && f.virtioFeatures !== undefined && f.virtioFeatures[ACCESS_PLATFORM_BIT] !== '1') {
      reasons.push(`disk ${disk.name}: virtio feature ACCESS_PLATFORM (bit 33) is off, so its DMA bypasses the IOMMU; give the disk <driver iommu='on'/>`);
    }
  }
  if (target.nics?.length) {
    if (!facts.links) reasons.push('the test links were not set up (no facts from runner/links.sh)');
    else reasons.push(...linkProblems(target.nics, { device: target.iommu.device as IommuConfig['device'], mode }, facts.links));
    for (const e of facts.links?.ends ?? []) observed[`${e.link}.${e.end}`] = e.groupType ?? 'none';
  }
  return reasons.length ? { ok: false, observed, reasons } : { ok: true, observed };
}

let scriptText: string | undefined;

export async function runPreflight(session: SshSession, target: InventoryTarget, sysfsRoot = '/sys'): Promise<{ raw: string; facts: PreflightFacts }> {
  scriptText ??= readFileSync(labPath('runner', 'preflight.sh'), 'utf8');
  const args = [sysfsRoot, ...target.disks.flatMap((d) => [d.name, d.path])].map(shellQuote).join(' ');
  const { stdout } = await session.exec(`sh -s -- ${args}`, { stdin: scriptText, timeoutMs: 60_000 });
  if (!target.nics?.length) return { raw: stdout, facts: parsePreflight(stdout) };
  // The links are set up here, once per boot: their namespaces and addresses are what the network cells use.
  const links = await prepareLinks(session, target.nics);
  return { raw: `${stdout}${links.raw}`, facts: { ...parsePreflight(stdout), links: links.facts } };
}
