/**
 * A hypervisor host as the lab uses it: where a guest's files are made, what
 * QEMU opens, how a loopback port is tested, where its console is read. Two
 * kinds, the way Provisioner has two: this machine (LocalHost) and another
 * one reached over the lab's pinned SSH connection (RemoteHost).
 * Everything else about a guest is the same on both.
 */
import { execa } from 'execa';
import { existsSync } from 'node:fs';
import { chmod, chown, mkdir, readdir, readFile, rm, truncate, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { join } from 'node:path';
import type { SshSession } from '../transport/ssh.js';
import { ensureBlob, remoteConsoleTail, remoteGuestDirs, remoteListeningPorts, removeRemoteGuestDir, stageRemoteGuest } from './remote-files.js';
import type { Image } from '../guest-images/build.js';
import type { InventorySsh, InventoryVm } from '../inventory/types.js';
import type { DiskBus } from '../scenario/types.js';
import type { GuestDiskFile } from './domain-xml.js';
import { hypervisorSession, isLocalUri } from './hypervisor.js';
import { Virsh } from './virsh.js';

/** A guest's own files where its QEMU runs. */
export interface GuestFiles {
  readonly overlay: string;
  readonly disks: readonly GuestDiskFile[];
  readonly consoleLog: string;
}

/** Where QEMU on the host opens the image's root file system and the guest's kernel and initrd. */
export interface PlacedImage {
  readonly root: string;
  readonly kernel: string;
  readonly initrd: string;
}

/** What staging a guest's files needs: the root they lie over, and its disks. */
export interface GuestToStage {
  readonly domain: string;
  /** The image's root file system on the host (PlacedImage.root). */
  readonly root: string;
  readonly disks: readonly { readonly name: string; readonly bus: DiskBus; readonly size_mib: number }[];
  /** Disks without a file behind them (QEMU's null-co, the virtual clock). */
  readonly instantDisks: boolean;
}

export interface HypervisorHost {
  readonly uri: string;
  readonly kind: 'local' | 'remote';
  readonly virsh: Virsh;
  /** The host's SSH, for a remote one: its guests are reached through it. */
  readonly ssh?: InventorySsh;
  /** A test of whether a port on the host's 127.0.0.1 is free, taken now. */
  portTest(): Promise<(port: number) => boolean | Promise<boolean>>;
  /** The image's root and the guest's kernel where QEMU on the host can open them; once per guest. */
  placeImage(image: Image, kernel: { readonly vmlinuz: string; readonly initrd: string }): Promise<PlacedImage>;
  /** The guest's files made afresh (each boot attempt starts from new ones). */
  stageGuest(g: GuestToStage): Promise<GuestFiles>;
  /** The serial console log the lab can follow while the guest boots; undefined where it cannot (another host). */
  followedConsole(domain: string): string | undefined;
  /** The end of the guest's console (and QEMU's own log, where the lab can read it), for an error. */
  consoleTail(domain: string): Promise<string>;
  removeGuestFiles(domain: string): Promise<void>;
  /** Lab guest directories on the host (a crash between files and define leaves one without a domain). */
  guestDirs(): Promise<string[]>;
}

/** The host behind a libvirt URI; a remote one is connected to (and its key checked) first. */
export async function hypervisorHost(uri: string, ssh?: InventorySsh): Promise<HypervisorHost> {
  if (!ssh) return new LocalHost(uri);
  return new RemoteHost(uri, ssh, await hypervisorSession(uri, ssh));
}

/** Whether a guest of the inventory runs on this machine. */
export const runsHere = (vm: Pick<InventoryVm, 'hypervisor_uri'>): boolean => isLocalUri(vm.hypervisor_uri);

export const GUESTS_DIR = process.env['IOMMU_LAB_GUESTS'] ?? '/var/lib/iommu-lab/guests';
/** The serial console log of a guest of this machine. */
export const localConsoleLog = (domain: string): string => join(GUESTS_DIR, domain, 'console.log');
const QEMU_LOG_DIR = '/var/log/libvirt/qemu';

/**
 * This machine: guests' files under GUESTS_DIR, the image and kernels opened
 * where they are, ports tested by binding them, the console followed while the
 * guest boots, QEMU's own log read on failure.
 */
export class LocalHost implements HypervisorHost {
  readonly kind = 'local';
  readonly virsh: Virsh;

  constructor(readonly uri: string) {
    this.virsh = new Virsh(uri);
  }

  async portTest(): Promise<(port: number) => Promise<boolean>> {
    return portIsFree;
  }

  async placeImage(image: Image, kernel: { readonly vmlinuz: string; readonly initrd: string }): Promise<PlacedImage> {
    await exposeImage(image);
    return { root: join(image.dir, 'rootfs.qcow2'), kernel: kernel.vmlinuz, initrd: kernel.initrd };
  }

  async stageGuest(g: GuestToStage): Promise<GuestFiles> {
    const dir = join(GUESTS_DIR, g.domain);
    await rm(dir, { recursive: true, force: true });
    await mkdir(dir, { recursive: true, mode: 0o755 });
    const overlay = join(dir, 'root.qcow2');
    await execa('qemu-img', ['create', '-q', '-f', 'qcow2', '-F', 'qcow2', '-b', g.root, overlay]);
    const disks: GuestDiskFile[] = [];
    for (const d of g.disks) {
      // Instant disks (virtual clock) are QEMU's null-co: no file behind them.
      if (g.instantDisks) {
        disks.push({ name: d.name, bus: d.bus, size_mib: d.size_mib });
        continue;
      }
      const file = join(dir, `${d.name}.raw`);
      await writeFile(file, '');
      await truncate(file, d.size_mib * 1024 * 1024);
      disks.push({ name: d.name, bus: d.bus, size_mib: d.size_mib, file });
    }
    const consoleLog = join(dir, 'console.log');
    await writeFile(consoleLog, '');
    // libvirt relabels what <disk>, <kernel> and <initrd> name, but not files that only
    // <qemu:commandline> names (the NVMe disks): QEMU runs as libvirt-qemu and must own them.
    await ownedByQemu([dir, ...disks.flatMap((d) => (d.file ? [d.file] : [])), consoleLog]);
    return { overlay, disks, consoleLog };
  }

  followedConsole(domain: string): string {
    return localConsoleLog(domain);
  }

  async consoleTail(domain: string): Promise<string> {
    return `${await fileTail(this.followedConsole(domain))}${await qemuLogTail(domain)}`;
  }

  async removeGuestFiles(domain: string): Promise<void> {
    const dir = join(GUESTS_DIR, domain);
    if (existsSync(dir)) await rm(dir, { recursive: true, force: true });
  }

  async guestDirs(): Promise<string[]> {
    if (!existsSync(GUESTS_DIR)) return [];
    return (await readdir(GUESTS_DIR)).filter((n) => n.startsWith('iommu-lab-'));
  }
}

export async function portIsFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.once('error', () => resolve(false));
    srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(true)));
  });
}

/** The last lines of a file; empty when it cannot be read. */
export async function fileTail(file: string, lines = 40): Promise<string> {
  try {
    return (await readFile(file, 'utf8')).split('\n').slice(-lines).join('\n').trim();
  } catch {
    return '';
  }
}

/**
 * QEMU's own last words for a local domain (libvirt's per-domain log): what it refused or why it
 * aborted ("Bad icount read", a device option it does not know), which the guest's console cannot show.
 */
async function qemuLogTail(domain: string, lines = 8): Promise<string> {
  const text = await fileTail(join(QEMU_LOG_DIR, `${domain}.log`), 200);
  const own = text.split('\n').filter((l) => !/^(\d{4}-\d\d-\d\d |LC_ALL=|[A-Z_]+=\S* \\$|-\S+ \\$|char device redirected)/.test(l));
  const tail = own.slice(-lines).join('\n').trim();
  return tail ? `\n-- QEMU (${QEMU_LOG_DIR}/${domain}.log) --\n${tail}` : '';
}

/** Files QEMU writes (it runs as libvirt-qemu), made over to that user where it exists. */
export async function ownedByQemu(paths: readonly string[]): Promise<void> {
  const r = await execa('id', ['libvirt-qemu'], { reject: false });
  const m = /uid=(\d+).*gid=(\d+)/.exec(String(r.stdout ?? ''));
  if (!m) return;
  for (const p of paths) await chown(p, Number(m[1]), Number(m[2]));
}

/** The base image must be readable by QEMU's user through the whole path. */
export async function exposeImage(image: Image): Promise<void> {
  for (const name of Object.keys(image.manifest.artifacts)) {
    if (name === 'lab_ed25519') continue; // the private key stays private
    await chmod(join(image.dir, name), 0o644).catch(() => {});
  }
}

/**
 * Another machine, reached over the lab's one pinned SSH connection to it
 * (infra/hypervisor.ts): the image's root and the kernels copied there by
 * digest, the guest's files made there (infra/remote-files.ts), its ports read
 * from its /proc, its console read only when something failed.
 */
export class RemoteHost implements HypervisorHost {
  readonly kind = 'remote';
  readonly virsh: Virsh;

  constructor(readonly uri: string, readonly ssh: InventorySsh, private readonly session: SshSession) {
    this.virsh = new Virsh(uri, ssh);
  }

  async portTest(): Promise<(port: number) => boolean> {
    const listening = await remoteListeningPorts(this.session);
    return (port) => !listening.has(port);
  }

  async placeImage(image: Image, kernel: { readonly vmlinuz: string; readonly initrd: string }): Promise<PlacedImage> {
    return {
      root: await ensureBlob(this.session, this.uri, join(image.dir, 'rootfs.qcow2'), image.manifest.artifacts['rootfs.qcow2']),
      kernel: await ensureBlob(this.session, this.uri, kernel.vmlinuz),
      initrd: await ensureBlob(this.session, this.uri, kernel.initrd),
    };
  }

  stageGuest(g: GuestToStage): Promise<GuestFiles> {
    return stageRemoteGuest(this.session, { domain: g.domain, rootBlob: g.root, disks: g.disks, instantDisks: g.instantDisks });
  }

  followedConsole(): undefined {
    return undefined;
  }

  consoleTail(domain: string): Promise<string> {
    return remoteConsoleTail(this.session, domain);
  }

  removeGuestFiles(domain: string): Promise<void> {
    return removeRemoteGuestDir(this.session, domain);
  }

  guestDirs(): Promise<string[]> {
    return remoteGuestDirs(this.session);
  }
}
