/**
 * Boot to SSH under the lab's real set-up (libvirt, direct kernel boot, the
 * cached image): wall seconds from `virsh start` to a successful SSH command,
 * with the moment the guest's init printed "guest ready" on the serial console.
 *
 * Usage: npm run bench:boot [-- BOOTS DEVICE MODE KERNEL]   (defaults: 5 intel lazy 6.12)
 * Needs root, libvirtd (scripts/start-libvirtd.sh) and the image (iommu-lab image build).
 */
import { readFile } from 'node:fs/promises';
import { requireImage } from '../guest-images/build.js';
import { createGuest, domainName, removeGuest } from '../infra/guest.js';
import { localConsoleLog } from '../infra/host.js';
import { guestName } from '../cell/expand.js';
import type { IommuDevice, IommuMode } from '../scenario/types.js';

const [boots = '5', device = 'intel', mode = 'lazy', kernel = '6.12'] = process.argv.slice(2);
const image = await requireImage();
const profile = { name: 'bench', vcpus: 2, memory_mib: 2048, kernel: kernel as '6.1' | '6.12', clock: 'tcg' as const, disks: [{ name: 'nvme0', bus: 'nvme' as const, size_mib: 256 }] };
const guest = guestName('bench', { device: device as IommuDevice, mode: mode as IommuMode });
const uri = 'qemu:///system';
const total: number[] = [];
const ready: number[] = [];
for (let i = 0; i < Number(boots); i++) {
  const t0 = Date.now();
  let readyAt: number | undefined;
  const log = localConsoleLog(domainName(guest));
  const poll = setInterval(async () => {
    if (readyAt) return;
    const text = await readFile(log, 'utf8').catch(() => '');
    if (text.includes('iommu-lab: guest ready')) readyAt = Date.now();
  }, 50);
  try {
    const g = await createGuest({ guest, scenario: 'bench', profile, kernel: profile.kernel, iommu: { device: device as IommuDevice, mode: mode as IommuMode }, image, uri, bootTimeoutS: 180 });
    total.push(g.boot.seconds);
    // createGuest's own clock starts at `virsh start`; the console poll started before define.
    if (readyAt) ready.push((readyAt - t0) / 1000 - ((Date.now() - t0) / 1000 - g.boot.seconds));
    console.log(`boot ${i + 1}: ${g.boot.seconds.toFixed(1)} s to SSH (${g.boot.virtType === "qemu" ? "TCG" : "KVM"}${g.boot.kvmFallback ? ", KVM refused: " + g.boot.kvmFallback : ""}, attempts ${g.boot.attempts}${g.boot.retried ? `, retried: ${g.boot.retried}` : ''})`);
  } finally {
    clearInterval(poll);
    await removeGuest(uri, guest);
  }
}
const med = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN;
console.log(`${device}/${mode} kernel ${kernel}, ${total.length} boots (IOMMU_LAB_ACCEL=${process.env['IOMMU_LAB_ACCEL'] ?? 'auto'}): median ${med(total).toFixed(1)} s to SSH (min ${Math.min(...total).toFixed(1)}, max ${Math.max(...total).toFixed(1)}); init ready at about ${med(ready).toFixed(1)} s`);
