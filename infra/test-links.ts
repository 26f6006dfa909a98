/**
 * A VM profile's test links, laid out once for the domain XML and the
 * inventory: each link is two NICs of its model on a QEMU hub of their own
 * (`-netdev hubport`: frames go from one NIC to the other inside QEMU and
 * nowhere else), at fixed PCI slots, with fixed MACs the guest finds them by,
 * and one network namespace and address per end. Pure.
 */
import type { InventoryLink } from '../inventory/types.js';
import type { VmNicSpec } from '../scenario/types.js';

/** Slots 0x0a–0x0f: free of libvirt's own devices (root ports from 0x01) and the lab's others (0x11 up). */
const FIRST_SLOT = 0x0a;
/** Hub ids; QEMU's user-mode network of the SSH forward is not on a hub. */
const FIRST_HUB = 70;

export interface LinkEndLayout {
  readonly netdev: string;
  readonly mac: string;
  readonly slot: string;
  readonly namespace: string;
  readonly address: string;
}

export interface LinkLayout {
  readonly nic: VmNicSpec;
  readonly hub: number;
  readonly ends: readonly [LinkEndLayout, LinkEndLayout];
}

const hex2 = (n: number) => n.toString(16).padStart(2, '0');

export function linkLayout(nics: readonly VmNicSpec[]): LinkLayout[] {
  return nics.map((nic, i) => {
    const end = (e: 0 | 1): LinkEndLayout => ({
      netdev: `labnic${i}${'ab'[e]}`,
      // Locally administered (0x52), the lab's block 0x1a, the link, the end.
      mac: `52:54:00:1a:${hex2(i)}:${hex2(0x0a + e)}`,
      slot: `0x${hex2(FIRST_SLOT + 2 * i + e)}`,
      namespace: `lab-${nic.name}-${'ab'[e]}`,
      address: `10.77.${i}.${e + 1}/24`,
    });
    return { nic, hub: FIRST_HUB + i, ends: [end(0), end(1)] };
  });
}

/** QEMU arguments for the links: one hub each, two NICs on it. */
export function linkQemuArgs(nics: readonly VmNicSpec[]): string[] {
  return linkLayout(nics).flatMap((l) =>
    l.ends.flatMap((e) => ['-netdev', `hubport,id=${e.netdev},hubid=${l.hub}`, ...nicDevices(l.nic, e)]),
  );
}

/** Chassis numbers of the lab's own root ports: above libvirt's (1, 2, … by controller index). */
const FIRST_CHASSIS = 200;

function nicDevices(nic: VmNicSpec, e: LinkEndLayout): string[] {
  const nicArgs = `netdev=${e.netdev},mac=${e.mac},romfile=`;
  if (nic.model === 'igb') {
    // QEMU's igb is an SR-IOV physical function whose virtual functions sit 16 slots above it:
    // on the root bus they would collide with the chipset's devices, so it gets a root port of its own.
    const port = `${e.netdev}-port`;
    return ['-device', `pcie-root-port,id=${port},bus=pcie.0,addr=${e.slot},chassis=${FIRST_CHASSIS + Number.parseInt(e.slot, 16)}`, '-device', `igb,${nicArgs},bus=${port},addr=0x0`];
  }
  const at = `bus=pcie.0,addr=${e.slot}`;
  if (nic.model === 'e1000e') return ['-device', `e1000e,${nicArgs},${at}`];
  // iommu_platform=on negotiates ACCESS_PLATFORM (a modern-only device); ats=on gives it a device IOTLB.
  return ['-device', `virtio-net-pci,${nicArgs},${at},disable-legacy=on${nic.iommu_platform ? ',iommu_platform=on' : ''}${nic.ats ? ',ats=on' : ''}`];
}

/** The links as the inventory records them. */
export function inventoryNics(nics: readonly VmNicSpec[], behindIommu: boolean): InventoryLink[] {
  return linkLayout(nics).map((l) => ({
    kind: 'link',
    name: l.nic.name,
    model: l.nic.model,
    iommu_platform: l.nic.iommu_platform,
    ats: l.nic.ats,
    behind_iommu: behindIommu && (l.nic.model !== 'virtio-net' || l.nic.iommu_platform),
    ends: [l.ends[0], l.ends[1]].map((e) => ({ mac: e.mac, namespace: e.namespace, address: e.address })) as unknown as InventoryLink['ends'],
  }));
}
