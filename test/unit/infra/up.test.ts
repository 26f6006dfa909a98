import { describe, expect, it } from 'vitest';
import type { GuestSpec } from '../../../cell/types.js';
import { knownBootFlake } from '../../../infra/guest.js';
import { parseHypervisor, place } from '../../../infra/up.js';
import { metadataAttr } from '../../../infra/virsh.js';

const guests = (n: number): GuestSpec[] => Array.from({ length: n }, (_, i) => ({ name: `g${i}`, profile: 'p', kernel: '6.12', iommu: { device: 'intel', mode: 'strict' } }));

describe('hypervisors', () => {
  it('parses URIs with optional capacity', () => {
    expect(parseHypervisor('qemu:///system')).toEqual({ uri: 'qemu:///system', capacity: 8 });
    expect(parseHypervisor('qemu+ssh://lab@host2/system=3')).toEqual({ uri: 'qemu+ssh://lab@host2/system', capacity: 3 });
    expect(() => parseHypervisor('lxc:///')).toThrow(/not a libvirt QEMU URI/);
  });

  it('places guests by capacity, in order, and refuses what does not fit', () => {
    const p = place(guests(5), [parseHypervisor('qemu:///system=2'), parseHypervisor('qemu+ssh://b/system=3')]);
    expect([...p.values()].map((h) => h.uri)).toEqual(['qemu:///system', 'qemu:///system', 'qemu+ssh://b/system', 'qemu+ssh://b/system', 'qemu+ssh://b/system']);
    expect(() => place(guests(6), [parseHypervisor('qemu:///system=2'), parseHypervisor('qemu+ssh://b/system=3')])).toThrow(/6 guests do not fit on 2 hypervisor host\(s\) with room for 5/);
  });
});

describe('boot faults', () => {
  it('recognizes the TCG interrupt-remapping timer panic as a flake worth one retry', () => {
    expect(knownBootFlake("[ 1.2] Kernel panic - not syncing: timer doesn't work through Interrupt-remapped IO-APIC")).toMatch(/interrupt-remapped IO-APIC/);
    expect(knownBootFlake('iommu-lab: guest ready')).toBeUndefined();
  });

  it('reads the lab metadata attributes that down filters on', () => {
    const md = "<guest xmlns=\"https://iommu-lab.dev/xmlns/guest/1\" name=\"t-intel-lazy\" scenario='quick' device=\"intel\"/>";
    expect(metadataAttr(md, 'scenario')).toBe('quick');
    expect(metadataAttr(md, 'name')).toBe('t-intel-lazy');
    expect(metadataAttr(md, 'absent')).toBeUndefined();
  });
});
