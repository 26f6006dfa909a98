/**
 * libvirt domain XML for one lab guest: a pure function of the IOMMU
 * configuration, the VM profile and the image. Written for Debian 12's
 * libvirt 9.0 / QEMU 7.2 and newer; tests run virt-xml-validate on every
 * (device, mode) pair. Facts behind the choices are in docs/infra.md.
 */
import { createHash } from 'node:crypto';
import { CLOCKS } from '../core/clock.js';
import type { IommuDevice, IommuMode, VmProfile } from '../scenario/types.js';
import { kernelCmdline } from './kernel-cmdline.js';
import { linkQemuArgs } from './test-links.js';

export const LAB_XMLNS = 'https://iommu-lab.dev/xmlns/guest/1';

export interface GuestDiskFile {
  readonly name: string;
  readonly bus: 'nvme' | 'virtio-blk';
  readonly size_mib: number;
  /** Raw scratch file on the hypervisor host; absent when the clock puts test disks on QEMU's instant null-co backend. */
  readonly file?: string;
}

export interface DomainSpec {
  /** libvirt domain name: `iommu-lab-<guest>`. */
  readonly domain: string;
  readonly guest: string;
  readonly scenario: string;
  readonly profile: VmProfile;
  readonly iommu: { readonly device: IommuDevice; readonly mode: IommuMode };
  readonly virtType: 'kvm' | 'qemu';
  readonly rootOverlay: string;
  readonly kernel: string;
  readonly initrd: string;
  readonly imageDigest: string;
  readonly disks: readonly GuestDiskFile[];
  readonly sshPort: number;
  readonly consoleLog: string;
  readonly emulator?: string;
  /** The lab's QEMU plugin (infra/profiler): counts the guest's kernel work per function, outside the guest. */
  readonly profiler?: ProfilerLoad;
}

export interface ProfilerLoad {
  readonly plugin: string;
  /** Where it writes its windows; QEMU's user must be able to write there. */
  readonly dir: string;
  readonly count: 'inline' | 'callback';
}

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/'/g, '&apos;').replace(/"/g, '&quot;');

/** Stable UUID from the domain name: `virsh define` of an existing name with another UUID fails. */
export function domainUuid(domain: string): string {
  const h = createHash('sha256').update(`iommu-lab:${domain}`).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-8${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

// Fixed PCI slots for devices added through <qemu:commandline>: without an
// explicit bus/addr they take slot 1 before libvirt's root ports do.
const NET_ADDR = '0x11';
const nvmeAddr = (i: number) => `0x${(0x12 + i).toString(16)}`;
const instantVirtioAddr = (i: number) => `0x${(0x1a + i).toString(16)}`;

/**
 * A test disk's block backend on QEMU's command line. With a file: the raw
 * scratch file. Without one (virtual clock): `null-co`, which completes every
 * request at once — reads return zeroes, writes are discarded — so the guest
 * never waits on the host's storage and its time counts only its own work.
 */
function blockdevArgs(d: GuestDiskFile): string[] {
  const node = `lab-${d.name}`;
  return d.file
    ? ['-drive', `file=${d.file},if=none,id=${node},format=raw,cache=none,aio=threads`]
    : ['-blockdev', `driver=null-co,node-name=${node},size=${d.size_mib * 1024 * 1024},read-zeroes=on`];
}

export function domainXml(spec: DomainSpec): string {
  const { profile, iommu } = spec;
  const intel = iommu.device === 'intel';
  const clock = CLOCKS[profile.clock];
  const cmdline = kernelCmdline(iommu.device, iommu.mode, profile.clock);
  // Scratch-file virtio disks are plain libvirt <disk>s; instant ones need -blockdev null-co, which libvirt 9.0 cannot say.
  const virtioDisks = spec.disks.filter((d) => d.bus === 'virtio-blk' && d.file);
  const instantVirtioDisks = spec.disks.filter((d) => d.bus === 'virtio-blk' && !d.file);
  const nvmeDisks = spec.disks.filter((d) => d.bus === 'nvme');

  const qemuArgs: string[] = [
    '-netdev', `user,id=labnet,restrict=on,hostfwd=tcp:127.0.0.1:${spec.sshPort}-:22`,
    // romfile= : no iPXE option ROM; SeaBIOS running it under TCG cost seconds per boot.
    '-device', `virtio-net-pci,netdev=labnet,bus=pcie.0,addr=${NET_ADDR},romfile=`,
    ...nvmeDisks.flatMap((d, i) => [...blockdevArgs(d), '-device', `nvme,drive=lab-${d.name},serial=${d.name},bus=pcie.0,addr=${nvmeAddr(i)}`]),
    // iommu_platform=on negotiates ACCESS_PLATFORM (the vIOMMU translates the disk); it needs a modern-only device.
    ...instantVirtioDisks.flatMap((d, i) => [...blockdevArgs(d), '-device', `virtio-blk-pci,drive=lab-${d.name},serial=${d.name},iommu_platform=on,disable-legacy=on,bus=pcie.0,addr=${instantVirtioAddr(i)}`]),
    ...linkQemuArgs(profile.nics ?? []),
    ...clock.qemuArgs,
    ...(spec.profiler ? ['-plugin', `${spec.profiler.plugin},out=${spec.profiler.dir},count=${spec.profiler.count}`] : []),
  ];

  const iommuXml = intel
    ? // caching_mode stays off: with it the guest silently runs strict even when lazy is asked
      // ("IOMMU batching disallowed due to virtualization"); it is only needed for VFIO.
      // iotlb='on' (device-iotlb): a test link with ats needs it.
      `<iommu model='intel'><driver intremap='on' caching_mode='off' aw_bits='48'${(profile.nics ?? []).some((n) => n.ats) ? ` iotlb='on'` : ''}/></iommu>`
    : iommu.device === 'virtio'
      ? `<iommu model='virtio'/>`
      : '';

  const lines = [
    `<domain type='${spec.virtType}' xmlns:qemu='http://libvirt.org/schemas/domain/qemu/1.0'>`,
    `  <name>${esc(spec.domain)}</name>`,
    `  <uuid>${domainUuid(spec.domain)}</uuid>`,
    `  <title>iommu-lab guest ${esc(spec.guest)}</title>`,
    `  <metadata>`,
    `    <lab:guest xmlns:lab='${LAB_XMLNS}' name='${esc(spec.guest)}' scenario='${esc(spec.scenario)}' profile='${esc(profile.name)}' device='${iommu.device}' mode='${iommu.mode}' ssh-port='${spec.sshPort}' image='${esc(spec.imageDigest)}'/>`,
    `  </metadata>`,
    `  <memory unit='MiB'>${profile.memory_mib}</memory>`,
    `  <vcpu placement='static'>${profile.vcpus}</vcpu>`,
    `  <os>`,
    `    <type arch='x86_64' machine='q35'>hvm</type>`,
    `    <kernel>${esc(spec.kernel)}</kernel>`,
    `    <initrd>${esc(spec.initrd)}</initrd>`,
    `    <cmdline>${esc(cmdline)}</cmdline>`,
    `  </os>`,
    `  <features>`,
    `    <acpi/>`,
    `    <apic/>`,
    ...(intel ? [`    <ioapic driver='qemu'/>`] : []),
    `  </features>`,
    spec.virtType === 'kvm' ? `  <cpu mode='host-passthrough'/>` : `  <cpu mode='maximum'/>`,
    `  <clock offset='utc'/>`,
    `  <on_poweroff>destroy</on_poweroff>`,
    `  <on_reboot>destroy</on_reboot>`,
    `  <on_crash>destroy</on_crash>`,
    `  <devices>`,
    ...(spec.emulator ? [`    <emulator>${esc(spec.emulator)}</emulator>`] : []),
    // The root disk is not behind the IOMMU (no iommu='on'): it must not wait for, or be slowed by, the configuration under test.
    `    <disk type='file' device='disk'>`,
    `      <driver name='qemu' type='qcow2' cache='unsafe' discard='unmap'/>`,
    `      <source file='${esc(spec.rootOverlay)}'/>`,
    `      <target dev='vda' bus='virtio'/>`,
    `      <serial>labroot</serial>`,
    `    </disk>`,
    ...virtioDisks.flatMap((d, i) => [
      `    <disk type='file' device='disk'>`,
      // iommu='on' negotiates ACCESS_PLATFORM: without it virtio bypasses the vIOMMU.
      `      <driver name='qemu' type='raw' cache='none' io='threads' iommu='on'/>`,
      `      <source file='${esc(d.file!)}'/>`,
      `      <target dev='vd${String.fromCharCode(98 + i)}' bus='virtio'/>`,
      `      <serial>${esc(d.name)}</serial>`,
      `    </disk>`,
    ]),
    `    <controller type='usb' model='none'/>`,
    `    <serial type='file'>`,
    `      <source path='${esc(spec.consoleLog)}' append='off'/>`,
    `      <target port='0'/>`,
    `    </serial>`,
    `    <rng model='virtio'><backend model='random'>/dev/urandom</backend></rng>`,
    `    <memballoon model='none'/>`,
    ...(iommuXml ? [`    ${iommuXml}`] : []),
    `  </devices>`,
    `  <qemu:commandline>`,
    ...qemuArgs.map((a) => `    <qemu:arg value='${esc(a)}'/>`),
    `  </qemu:commandline>`,
    `</domain>`,
  ];
  return `${lines.join('\n')}\n`;
}
