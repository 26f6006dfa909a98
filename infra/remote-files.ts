/**
 * A guest's files on a remote hypervisor, made over the lab's SSH connection
 * to it (no libvirt storage pool: the same plain files as on this machine, so
 * domain XML, QEMU's view and clean-up are the same on every host):
 *  - blobs: the image's root filesystem and the kernels, copied by content
 *    digest into /var/cache/iommu-lab/blobs/<sha256>-<name> only when missing,
 *    checked for free space before, verified by sha256 there after, and renamed
 *    into place only then (a file with that name is whole);
 *  - per guest, /var/lib/iommu-lab/guests/<domain>/: the qcow2 overlay over the
 *    root blob, scratch test disks, the serial console log.
 */
import { randomBytes } from 'node:crypto';
import { stat } from 'node:fs/promises';
import { basename } from 'node:path';
import { HypervisorCopyError, HypervisorDiskError, LabError } from '../core/errors.js';
import { sha256File } from '../guest-images/manifest.js';
import { shellQuote, type SshSession } from '../transport/ssh.js';
import type { DiskBus } from '../scenario/types.js';
import type { GuestDiskFile } from './domain-xml.js';

export const REMOTE_CACHE = '/var/cache/iommu-lab';
export const REMOTE_BLOBS = `${REMOTE_CACHE}/blobs`;
export const REMOTE_GUESTS = '/var/lib/iommu-lab/guests';
/** Room left beside a copied blob: overlays and console logs grow there too. */
const HEADROOM_BYTES = 64 * 1024 * 1024;

const q = shellQuote;

/** sha256 (hex) of a local file, computed once per path and version. */
const digests = new Map<string, { key: string; sha256: Promise<string> }>();
export async function localDigest(path: string): Promise<string> {
  const st = await stat(path);
  const key = `${st.size}:${st.mtimeMs}`;
  const have = digests.get(path);
  if (have?.key === key) return have.sha256;
  const sha256 = sha256File(path);
  digests.set(path, { key, sha256 });
  return sha256;
}

/** Copies in flight, so that guests booting side by side copy a blob once. */
const copies = new Map<string, Promise<string>>();

/**
 * The remote path of a local file's content on that host: copied there if
 * missing (`sha256` known: the image manifest's; else computed), never twice.
 */
export async function ensureBlob(s: SshSession, uri: string, local: string, sha256?: string): Promise<string> {
  const digest = sha256 ?? (await localDigest(local));
  const key = `${uri}#${digest}`;
  let p = copies.get(key);
  if (!p) {
    p = copyBlob(s, uri, local, digest);
    copies.set(key, p);
    p.catch(() => copies.delete(key));
  }
  return p;
}

async function copyBlob(s: SshSession, uri: string, local: string, sha256: string): Promise<string> {
  const remote = `${REMOTE_BLOBS}/${sha256}-${basename(local).replace(/[^A-Za-z0-9._+-]/g, '_')}`;
  const probe = await s.exec(
    `if [ -f ${q(remote)} ]; then echo present; exit 0; fi; mkdir -p ${q(REMOTE_BLOBS)} && chmod 755 ${q(REMOTE_CACHE)} ${q(REMOTE_BLOBS)} && df -Pk ${q(REMOTE_BLOBS)} | awk 'NR==2{print $4}'`,
    { timeoutMs: 60_000 },
  );
  if (probe.stdout.trim() === 'present') return remote;
  const size = (await stat(local)).size;
  const availBytes = Number(probe.stdout.trim()) * 1024;
  if (!(availBytes >= size + HEADROOM_BYTES)) {
    throw new HypervisorDiskError(`${uri} has ${mib(availBytes)} MiB free in ${REMOTE_BLOBS}; ${basename(local)} needs ${mib(size + HEADROOM_BYTES)} MiB (${mib(size)} MiB and room for the guests' overlays)`, {
      fix: `free space in ${REMOTE_CACHE} on that host (or mount a larger disk there), or leave the host out of --hypervisor`,
    });
  }
  const part = `${remote}.part-${randomBytes(4).toString('hex')}`;
  try {
    await s.uploadFile(part, local);
  } catch (e) {
    await s.exec(`rm -f ${q(part)}`, { allowFailure: true, timeoutMs: 30_000 }).catch(() => {});
    if (e instanceof LabError && /No space left/i.test(`${e.message}\n${e.detail}`)) throw new HypervisorDiskError(`${uri} ran out of disk while ${basename(local)} was copied to it`, { detail: e.detail });
    if (e instanceof LabError) throw new HypervisorCopyError(`copying ${basename(local)} to ${uri} failed: ${e.message}`, { detail: e.detail, cause: e });
    throw e;
  }
  const sum = await s.exec(`sha256sum ${q(part)}`, { timeoutMs: 300_000 });
  const there = sum.stdout.trim().split(/\s+/)[0];
  if (there !== sha256) {
    await s.exec(`rm -f ${q(part)}`, { allowFailure: true, timeoutMs: 30_000 });
    throw new HypervisorCopyError(`${basename(local)} arrived on ${uri} with sha256 ${String(there).slice(0, 16)}…, not ${sha256.slice(0, 16)}…`, { fix: 'try again; if it repeats, check the host\'s disk and memory' });
  }
  await s.exec(`chmod 644 ${q(part)} && mv -f ${q(part)} ${q(remote)}`, { timeoutMs: 30_000 });
  return remote;
}

const mib = (bytes: number) => Math.floor(bytes / 1024 / 1024);

export const remoteGuestDir = (domain: string) => `${REMOTE_GUESTS}/${domain}`;

/** The guest's directory made afresh: overlay over the root blob, scratch disks (none for instant disks), console log; QEMU's user owns what it writes. */
export async function stageRemoteGuest(
  s: SshSession,
  spec: { readonly domain: string; readonly rootBlob: string; readonly disks: readonly { name: string; bus: DiskBus; size_mib: number }[]; readonly instantDisks: boolean },
): Promise<{ overlay: string; disks: GuestDiskFile[]; consoleLog: string }> {
  const dir = remoteGuestDir(spec.domain);
  const overlay = `${dir}/root.qcow2`;
  const consoleLog = `${dir}/console.log`;
  const disks: GuestDiskFile[] = spec.disks.map((d) => (spec.instantDisks ? { name: d.name, bus: d.bus, size_mib: d.size_mib } : { name: d.name, bus: d.bus, size_mib: d.size_mib, file: `${dir}/${d.name}.raw` }));
  const owned = [dir, consoleLog, ...disks.flatMap((d) => (d.file ? [d.file] : []))];
  await s.exec([
    'set -e',
    `rm -rf ${q(dir)}`,
    `mkdir -p ${q(dir)}`,
    `chmod 755 ${q(REMOTE_GUESTS.replace(/\/guests$/, ''))} ${q(REMOTE_GUESTS)} ${q(dir)}`,
    `qemu-img create -q -f qcow2 -F qcow2 -b ${q(spec.rootBlob)} ${q(overlay)}`,
    ...disks.flatMap((d) => (d.file ? [`truncate -s ${d.size_mib}M ${q(d.file)}`] : [])),
    `: > ${q(consoleLog)}`,
    // libvirt relabels what <disk>, <kernel> and <initrd> name, not the NVMe disks of <qemu:commandline> (infra/guest.ts).
    `if id libvirt-qemu >/dev/null 2>&1; then chown libvirt-qemu:libvirt-qemu ${owned.map(q).join(' ')}; fi`,
  ].join('\n'), { timeoutMs: 120_000 });
  return { overlay, disks, consoleLog };
}

/** TCP ports listening on the remote host (its /proc: no tool needed there). */
export async function remoteListeningPorts(s: SshSession): Promise<Set<number>> {
  const r = await s.exec(`cat /proc/net/tcp /proc/net/tcp6 2>/dev/null | awk '$4=="0A"{print $2}'`, { timeoutMs: 30_000 });
  return new Set(r.stdout.split('\n').map((l) => Number.parseInt(l.split(':').pop() ?? '', 16)).filter((n) => Number.isInteger(n)));
}

export async function remoteConsoleTail(s: SshSession, domain: string, lines = 40): Promise<string> {
  const r = await s.exec(`tail -n ${lines} ${q(`${remoteGuestDir(domain)}/console.log`)}`, { timeoutMs: 30_000, allowFailure: true }).catch(() => undefined);
  return r?.stdout.trim() ?? '';
}

export async function removeRemoteGuestDir(s: SshSession, domain: string): Promise<void> {
  await s.exec(`rm -rf ${q(remoteGuestDir(domain))}`, { timeoutMs: 60_000 });
}

/** Lab guest directories on the host (what a crash may leave without a domain). */
export async function remoteGuestDirs(s: SshSession): Promise<string[]> {
  const r = await s.exec(`ls -1 ${q(REMOTE_GUESTS)} 2>/dev/null || true`, { timeoutMs: 30_000 });
  return r.stdout.split('\n').map((l) => l.trim()).filter((n) => n.startsWith('iommu-lab-'));
}
