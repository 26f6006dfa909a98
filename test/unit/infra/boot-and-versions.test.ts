/** A boot that cannot end well is named from the console at once; QEMU's version is read from virsh and checked. */
import { describe, expect, it } from 'vitest';
import { bootFailure } from '../../../infra/guest.js';
import { MIN_QEMU, olderThan, parseVirshVersion } from '../../../infra/virsh.js';

describe('bootFailure', () => {
  it('names the init giving up, with the fix for a root disk that never appeared', () => {
    const f = bootFailure('[    9.1] nvme nvme0: pci function 0000:00:12.0\niommu-lab init: no disk with serial labroot\n');
    expect(f).toMatchObject({ state: 'failed', why: "the guest's init gave up: no disk with serial labroot" });
    expect(f?.fix).toMatch(/disk driver|virtio_iommu/);
  });

  it('names a kernel panic and tells a missing root from a TCG flake', () => {
    expect(bootFailure('Kernel panic - not syncing: VFS: Unable to mount root fs on unknown-block(0,0)')?.fix).toMatch(/initramfs/);
    expect(bootFailure("Kernel panic - not syncing: timer doesn't work through Interrupt-remapped IO-APIC")?.fix).toMatch(/flake/);
    expect(bootFailure('Kernel panic - not syncing: Fatal exception')?.why).toBe('the guest kernel panicked while booting: Fatal exception');
  });

  it('says nothing of a boot that is going on or done', () => {
    expect(bootFailure('[    0.0] Linux version 6.12.95\n[    3.2] DMAR: Intel(R) Virtualization Technology for Directed I/O\n')).toBeUndefined();
    expect(bootFailure('iommu-lab: guest ready')).toBeUndefined();
  });
});

describe('hypervisor versions', () => {
  it('parses virsh version as libvirt 11.3 prints it', () => {
    const out = 'Compiled against library: libvirt 11.3.0\nUsing library: libvirt 11.3.0\nUsing API: QEMU 11.3.0\nRunning hypervisor: QEMU 10.0.2\n';
    expect(parseVirshVersion(out)).toEqual({ qemu: '10.0.2', libvirt: '11.3.0' });
  });

  it('parses libvirt 9.0 with QEMU 7.2 (Debian 12) and finds it too old', () => {
    const v = parseVirshVersion('Compiled against library: libvirt 9.0.0\nUsing library: libvirt 9.0.0\nUsing API: QEMU 9.0.0\nRunning hypervisor: QEMU 7.2.19\n');
    expect(v.qemu).toBe('7.2.19');
    expect(olderThan(v.qemu!, MIN_QEMU)).toBe(true);
  });

  it('compares dotted versions numerically', () => {
    expect(olderThan('8.0.5', '8.1')).toBe(true);
    expect(olderThan('8.1', '8.1')).toBe(false);
    expect(olderThan('10.0.2', '8.1')).toBe(false);
    expect(olderThan('9.10', '9.9')).toBe(false);
  });

  it('gives no QEMU version for a hypervisor that is not QEMU (the test driver)', () => {
    expect(parseVirshVersion('Using library: libvirt 11.3.0\nRunning hypervisor: Test 0.0.1\n')).toEqual({ libvirt: '11.3.0' });
  });
});
