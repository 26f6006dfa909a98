import type { DomainSpec } from '../../infra/domain-xml.js';

/** A full domain spec for tests, with both kinds of test disk. */
export const baseSpec = (device: DomainSpec['iommu']['device'], mode: DomainSpec['iommu']['mode']): DomainSpec => ({
  domain: `iommu-lab-t-${device}-${mode}`, guest: `t-${device}-${mode}`, scenario: 'quick',
  profile: { name: 't', vcpus: 2, memory_mib: 2048, kernel: '6.12', clock: 'tcg', disks: [{ name: 'nvme0', bus: 'nvme', size_mib: 256 }, { name: 'vblk0', bus: 'virtio-blk', size_mib: 256 }] },
  iommu: { device, mode }, virtType: 'qemu',
  rootOverlay: '/var/lib/iommu-lab/guests/x/root.qcow2', kernel: '/k/vmlinuz', initrd: '/k/initrd', imageDigest: 'sha256:abc',
  disks: [{ name: 'nvme0', bus: 'nvme', size_mib: 256, file: '/g/nvme0.raw' }, { name: 'vblk0', bus: 'virtio-blk', size_mib: 256, file: '/g/vblk0.raw' }],
  sshPort: 22345, consoleLog: '/g/console.log',
});
