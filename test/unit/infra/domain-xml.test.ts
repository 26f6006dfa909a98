import { describe, expect, it } from 'vitest';
import { domainUuid, domainXml } from '../../../infra/domain-xml.js';
import { baseSpec } from '../../helpers/domain-spec.js';
import { kernelCmdline } from '../../../infra/kernel-cmdline.js';


describe('kernelCmdline', () => {
  it('sets the mode on the command line', () => {
    expect(kernelCmdline('intel', 'strict')).toContain('intel_iommu=on iommu.passthrough=0 iommu.strict=1');
    expect(kernelCmdline('intel', 'lazy')).toContain('intel_iommu=on iommu.passthrough=0 iommu.strict=0');
    expect(kernelCmdline('intel', 'passthrough')).toContain('intel_iommu=on iommu.passthrough=1');
    expect(kernelCmdline('intel', 'off')).toMatch(/intel_iommu=off$/);
    expect(kernelCmdline('virtio', 'lazy')).toMatch(/iommu.passthrough=0 iommu.strict=0$/);
    expect(kernelCmdline('virtio', 'lazy')).not.toContain('intel_iommu');
    expect(kernelCmdline('none', 'off')).not.toMatch(/iommu/);
  });
});

describe('domainXml', () => {
  it("loads the lab's QEMU plugin with its window directory and counting mode, and nothing without it", () => {
    const xml = domainXml({ ...baseSpec('intel', 'strict'), profiler: { plugin: '/var/cache/iommu-lab/profiler/abc/iommu-lab-profile.so', dir: '/var/lib/iommu-lab/guests/x/profile', count: 'callback' } });
    expect(xml).toContain("<qemu:arg value='-plugin'/>\n    <qemu:arg value='/var/cache/iommu-lab/profiler/abc/iommu-lab-profile.so,out=/var/lib/iommu-lab/guests/x/profile,count=callback'/>");
    expect(domainXml(baseSpec('intel', 'strict'))).not.toContain('-plugin');
  });

  it('gives Intel VT-d interrupt remapping, 48-bit addresses and no caching mode', () => {
    const xml = domainXml(baseSpec('intel', 'lazy'));
    expect(xml).toContain("<iommu model='intel'><driver intremap='on' caching_mode='off' aw_bits='48'/></iommu>");
    expect(xml).toContain("<ioapic driver='qemu'/>");
    expect(xml).toContain("<type arch='x86_64' machine='q35'>hvm</type>");
  });

  it('puts virtio test disks behind the IOMMU and the root disk not', () => {
    const xml = domainXml(baseSpec('virtio', 'strict'));
    expect(xml).toContain("<iommu model='virtio'/>");
    expect(xml).not.toContain('ioapic');
    const disks = xml.split('<disk ').slice(1);
    expect(disks[0]).toContain('<serial>labroot</serial>');
    expect(disks[0]).not.toContain("iommu='on'");
    expect(disks[1]).toContain("iommu='on'");
    expect(disks[1]).toContain('<serial>vblk0</serial>');
  });

  it('passes the NVMe controller and the loopback-only SSH forward through qemu:commandline with fixed slots', () => {
    const xml = domainXml(baseSpec('intel', 'strict'));
    expect(xml).toContain("<qemu:arg value='user,id=labnet,restrict=on,hostfwd=tcp:127.0.0.1:22345-:22'/>");
    expect(xml).toContain("<qemu:arg value='nvme,drive=lab-nvme0,serial=nvme0,bus=pcie.0,addr=0x12'/>");
    expect(xml).toContain("<qemu:arg value='virtio-net-pci,netdev=labnet,bus=pcie.0,addr=0x11,romfile='/>");
    expect(xml).not.toMatch(/<interface|bridge/);
  });

  it('has no IOMMU device for none, and icount when asked', () => {
    const spec = baseSpec('none', 'off');
    const xml = domainXml({ ...spec, profile: { ...spec.profile, clock: 'icount' } });
    expect(xml).not.toContain('<iommu');
    expect(xml).toContain("<qemu:arg value='-icount'/>");
  });

  it('marks the domain as the lab\'s with metadata and a stable UUID', () => {
    const xml = domainXml(baseSpec('intel', 'strict'));
    expect(xml).toContain("<lab:guest xmlns:lab='https://iommu-lab.dev/xmlns/guest/1' name='t-intel-strict' scenario='quick' profile='t' device='intel' mode='strict' ssh-port='22345' image='sha256:abc'/>");
    expect(xml).toContain(`<uuid>${domainUuid('iommu-lab-t-intel-strict')}</uuid>`);
    expect(domainUuid('a')).toBe(domainUuid('a'));
    expect(domainUuid('a')).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-8[0-9a-f]{3}-[0-9a-f]{12}$/);
  });

  it('uses KVM with host CPU where available', () => {
    const xml = domainXml({ ...baseSpec('intel', 'strict'), virtType: 'kvm' });
    expect(xml).toMatch(/^<domain type='kvm'/);
    expect(xml).toContain("<cpu mode='host-passthrough'/>");
  });
});

describe('the virtual clock', () => {
  const virtualSpec = (device: 'intel' | 'virtio', mode: 'strict' | 'lazy') => {
    const s = baseSpec(device, mode);
    return { ...s, profile: { ...s.profile, clock: 'virtual' as const }, disks: s.disks.map(({ file: _file, ...d }) => d) };
  };

  it('fixes the instruction-count clock without sleep and disables address-space randomisation', () => {
    const xml = domainXml(virtualSpec('intel', 'strict'));
    expect(xml).toContain("<qemu:arg value='-icount'/>\n    <qemu:arg value='shift=3,sleep=off,align=off'/>");
    expect(xml).toMatch(/<cmdline>[^<]*nokaslr norandmaps nohz=off iommu_lab.pacer=1[^<]*iommu.strict=1<\/cmdline>/);
    expect(kernelCmdline('intel', 'strict', 'virtual')).toContain('iommu_lab.pacer=1');
    expect(kernelCmdline('intel', 'strict', 'tcg')).not.toContain('pacer');
  });

  it('puts both kinds of test disk on null-co, the virtio one translated by the IOMMU', () => {
    const xml = domainXml(virtualSpec('virtio', 'lazy'));
    expect(xml).toContain("<qemu:arg value='driver=null-co,node-name=lab-nvme0,size=268435456,read-zeroes=on'/>");
    expect(xml).toContain("<qemu:arg value='nvme,drive=lab-nvme0,serial=nvme0,bus=pcie.0,addr=0x12'/>");
    expect(xml).toContain("<qemu:arg value='virtio-blk-pci,drive=lab-vblk0,serial=vblk0,iommu_platform=on,disable-legacy=on,bus=pcie.0,addr=0x1a'/>");
    // Only the root disk stays a libvirt <disk>, and no scratch file is named.
    expect(xml.split('<disk ').length - 1).toBe(1);
    expect(xml).not.toContain('.raw');
  });

  it('leaves the wall-clock set-ups as they were', () => {
    const xml = domainXml(baseSpec('intel', 'lazy'));
    expect(xml).not.toContain('icount');
    expect(xml).not.toContain('null-co');
    expect(xml).toContain("<qemu:arg value='file=/g/nvme0.raw,if=none,id=lab-nvme0,format=raw,cache=none,aio=threads'/>");
  });
});
