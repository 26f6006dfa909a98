/**
 * runner/preflight.sh itself, on fake sysfs trees shaped like the real ones it walks: the way from a
 * test disk's block device to the PCI device whose IOMMU group decides the mode.
 */
import { execFileSync } from 'node:child_process';
import { mkdir, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { labPath } from '../../../core/paths.js';
import { parsePreflight } from '../../../runner/preflight.js';
import { useTmpDir } from '../../helpers/tmp.js';

const tmp = useTmpDir();

/** A sysfs with one IOMMU group (0) of `type` holding PCI device 0000:00:12.0, and /dev/block/MAJ:MIN → `blockDir`. */
async function fakeSysfs(root: string, disk: string, blockDir: (sys: string) => string, type = 'DMA'): Promise<string> {
  const sys = join(root, 'sys');
  const pci = join(sys, 'devices/pci0000:00/0000:00:12.0');
  await mkdir(join(sys, 'kernel/iommu_groups/0'), { recursive: true });
  await writeFile(join(sys, 'kernel/iommu_groups/0/type'), `${type}\n`);
  await mkdir(pci, { recursive: true });
  await symlink(join(sys, 'kernel/iommu_groups/0'), join(pci, 'iommu_group'));
  const majmin = execFileSync('stat', ['-c', '%Hd:%Ld', disk], { encoding: 'utf8' }).trim();
  await mkdir(join(sys, 'dev/block'), { recursive: true });
  const block = blockDir(sys);
  await mkdir(block, { recursive: true });
  // The script looks the disk up by the device numbers of the file system that holds it.
  await symlink(block, join(sys, 'dev/block', majmin));
  return sys;
}

function preflight(sys: string, disk: string) {
  const out = execFileSync('sh', [labPath('runner', 'preflight.sh'), sys, 'nvme0', disk], { encoding: 'utf8' });
  return parsePreflight(out).disks[0];
}

describe('preflight.sh finds the IOMMU group of a test disk', () => {
  it('through the PCI parent of a plain NVMe namespace (QEMU 7.2, no multipath)', async () => {
    const root = await tmp();
    const disk = join(root, 'disk');
    await writeFile(disk, '');
    const sys = await fakeSysfs(root, disk, (s) => join(s, 'devices/pci0000:00/0000:00:12.0/nvme/nvme0/nvme0n1'));
    expect(preflight(sys, disk)).toMatchObject({ pci: '0000:00:12.0', group: '0', groupType: 'DMA' });
  });

  it('through the controller of an NVMe multipath subsystem (QEMU 10: the namespace hangs off nvme-subsys0)', async () => {
    const root = await tmp();
    const disk = join(root, 'disk');
    await writeFile(disk, '');
    const sys = await fakeSysfs(root, disk, (s) => join(s, 'devices/virtual/nvme-subsystem/nvme-subsys0/nvme0n1'), 'DMA-FQ');
    const ctrl = join(sys, 'devices/pci0000:00/0000:00:12.0/nvme/nvme0');
    await mkdir(ctrl, { recursive: true });
    await symlink(join(sys, 'devices/pci0000:00/0000:00:12.0'), join(ctrl, 'device'));
    await symlink(ctrl, join(sys, 'devices/virtual/nvme-subsystem/nvme-subsys0/nvme0'));
    expect(preflight(sys, disk)).toMatchObject({ pci: '0000:00:12.0', group: '0', groupType: 'DMA-FQ' });
  });

  it('reports no group when the subsystem has no controller it can follow', async () => {
    const root = await tmp();
    const disk = join(root, 'disk');
    await writeFile(disk, '');
    const sys = await fakeSysfs(root, disk, (s) => join(s, 'devices/virtual/nvme-subsystem/nvme-subsys0/nvme0n1'));
    const d = preflight(sys, disk);
    expect(d?.group).toBeUndefined();
    expect(d?.sysfsPath).toContain('nvme-subsys0');
  });
});
