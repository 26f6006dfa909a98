/**
 * A target's test links at its preflight (runner/links.sh): each end moved
 * into its network namespace, then proved translated like a test disk — its
 * IOMMU group's type is the mode's, and a virtio-net NIC negotiated
 * ACCESS_PLATFORM (feature bit 33), without which its DMA bypasses the IOMMU.
 * The parser and the judgement are pure.
 */
import { readFileSync } from 'node:fs';
import { expectedGroupType, iommuActive, modeOfGroupType, type IommuConfig } from '../core/iommu.js';
import { labPath } from '../core/paths.js';
import type { InventoryNic } from '../inventory/types.js';
import { shellQuote, type SshSession } from '../transport/ssh.js';

/** VIRTIO_F_ACCESS_PLATFORM: without it a virtio device bypasses the (v)IOMMU. */
export const ACCESS_PLATFORM_BIT = 33;

export interface LinkEndFacts {
  readonly link: string;
  readonly end: 'a' | 'b';
  readonly mac: string;
  readonly missing: boolean;
  readonly ifname?: string;
  readonly pci?: string;
  readonly group?: string;
  readonly groupType?: string;
  /** virtio feature bits as sysfs prints them (bit 0 first), for virtio-net ends. */
  readonly virtioFeatures?: string;
  readonly driver?: string;
}

export interface LinkFacts {
  readonly ends: readonly LinkEndFacts[];
  /** `iperf3 --version`'s first line, or `missing`. */
  readonly iperf3: string;
}

export function parseLinks(stdout: string): LinkFacts {
  const ends: LinkEndFacts[] = [];
  let iperf3 = 'missing';
  for (const line of stdout.split('\n')) {
    const [key, ...f] = line.split('\t');
    if (key === 'iperf3') iperf3 = (f[0] ?? '').trim() || 'missing';
    if (key !== 'nic') continue;
    const [link = '', end = 'a', mac = '', ifname = '', pci = '', group = '', groupType = '', virtioFeatures = '', driver = ''] = f;
    const e = end === 'b' ? 'b' : 'a';
    if (ifname === 'missing') {
      ends.push({ link, end: e, mac, missing: true });
      continue;
    }
    ends.push({
      link, end: e, mac, missing: false, ifname,
      ...(pci ? { pci } : {}), ...(group ? { group } : {}), ...(groupType ? { groupType } : {}),
      ...(virtioFeatures ? { virtioFeatures } : {}), ...(driver ? { driver } : {}),
    });
  }
  return { ends, iperf3 };
}

/** The ends the lab measures of a test NIC: both of a guest's link, the host's own of a peer NIC. */
const endsOf = (nic: InventoryNic): readonly ('a' | 'b')[] => (nic.kind === 'peer' ? ['a'] : ['a', 'b']);

/** Every way the links' NICs differ from what the configuration needs: missing, bypassing, in another mode. */
export function linkProblems(nics: readonly InventoryNic[], iommu: IommuConfig, facts: LinkFacts): string[] {
  const reasons: string[] = [];
  const active = iommuActive(iommu);
  for (const nic of nics) {
    for (const end of endsOf(nic)) {
      const f = facts.ends.find((x) => x.link === nic.name && x.end === end);
      const what = nic.kind === 'peer' ? `test NIC ${nic.name}` : `test link ${nic.name} end ${end}`;
      if (!f || f.missing) {
        reasons.push(nic.kind === 'peer' ? `${what}: interface ${nic.interface} is not on the host` : `${what} (${nic.model}, MAC ${nic.ends[end === 'a' ? 0 : 1].mac}) is not in the target`);
        continue;
      }
      if (!nic.behind_iommu) continue;
      const seen = modeOfGroupType(f.groupType);
      if (seen !== iommu.mode || (active && !f.group)) {
        reasons.push(`${what} (${f.ifname}, ${f.pci ?? 'no PCI device'}): expected ${expectedGroupType(iommu.mode)} (${iommu.mode}), found ${f.group ? `group ${f.group} of type ${f.groupType ?? '?'}` : 'no IOMMU group'} (${seen})`);
      }
      // Any virtio NIC, the lab's or a host's: without ACCESS_PLATFORM its DMA is not translated.
      if (active && f.virtioFeatures !== undefined && f.virtioFeatures[ACCESS_PLATFORM_BIT] !== '1') {
        reasons.push(`${what} (${f.ifname}): virtio feature ACCESS_PLATFORM (bit 33) is off, so its DMA bypasses the IOMMU${nic.kind === 'link' ? '; the lab boots virtio-net test NICs with iommu_platform=on' : ': set behind_iommu: false for it in the hosts file, or give the device iommu_platform'}`);
      }
    }
  }
  return reasons;
}

let scriptText: string | undefined;

/** Sets the links up (namespaces, addresses) and reads what each end is. */
export async function prepareLinks(session: SshSession, nics: readonly InventoryNic[]): Promise<{ raw: string; facts: LinkFacts }> {
  scriptText ??= readFileSync(labPath('runner', 'links.sh'), 'utf8');
  const args = nics.flatMap((n) => (n.kind === 'peer' ? [n.name, 'host', n.interface, '-', '-'] : n.ends.flatMap((e, i) => [n.name, 'ab'[i]!, e.mac, e.namespace, e.address]))).map(shellQuote).join(' ');
  const { stdout } = await session.exec(`sh -s -- ${args}`, { stdin: scriptText, timeoutMs: 60_000 });
  return { raw: stdout, facts: parseLinks(stdout) };
}
