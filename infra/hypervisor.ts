/**
 * A hypervisor host: this machine (`qemu:///system`) or another one reached
 * over SSH (`qemu+ssh://user@host[:port]/system`), with the number of guests
 * it may run at once. A remote host is reached through one SSH connection of
 * the lab's own (ssh2, its host key pinned in the hosts file like every other
 * key), which carries everything the lab does there:
 *  - libvirt: a local Unix socket relayed to libvirtd's socket over the
 *    connection (OpenSSH direct-streamlocal), so `virsh -c qemu+unix:…` works
 *    unchanged and no `ssh` binary or known_hosts file is involved;
 *  - files: the image and kernels copied by digest, overlays and scratch disks
 *    made there (infra/remote-files.ts);
 *  - the guests' SSH: each guest forwards to the host's loopback, reached
 *    through a direct-tcpip channel (transport/ssh.ts, `ssh.via`).
 * Picture and set-up: docs/infra.md.
 */
import { createHash } from 'node:crypto';
import { rmSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { GuestSpec } from '../cell/types.js';
import { HypervisorHostKeyError, HypervisorUnpinnedError, HypervisorUnreachableError, LabError, SshAuthError, SshHostKeyMismatchError, UsageError } from '../core/errors.js';
import { resolveKeyPath } from '../inventory/load.js';
import type { InventorySsh } from '../inventory/types.js';
import type { LoadedHosts } from '../scenario/load.js';
import { closeSharedSessions, SshSession } from '../transport/ssh.js';

export interface Hypervisor {
  readonly uri: string;
  /** Guests this host may run at once. */
  readonly capacity: number;
  /** A remote host's SSH (from the hosts file); absent for this machine. */
  readonly ssh?: InventorySsh;
}

export const LOCAL: Hypervisor = { uri: 'qemu:///system', capacity: 8 };

export const isLocalUri = (uri: string): boolean => uri.startsWith('qemu:///');

/** `URI` or `URI=CAPACITY`, e.g. `qemu+ssh://root@lab2/system=4`. Remote ones get their keys from the hosts file (withPinnedKeys). */
export function parseHypervisor(text: string): Hypervisor {
  const m = /^(.+?)(?:=(\d+))?$/.exec(text.trim());
  if (!m || !/^qemu(\+\w+)?:\/\//.test(m[1]!)) {
    throw new UsageError(`"${text}" is not a libvirt QEMU URI`, 'write qemu:///system, or qemu+ssh://user@host/system, optionally with =CAPACITY');
  }
  const uri = m[1]!;
  if (!isLocalUri(uri) && !uri.startsWith('qemu+ssh://')) {
    throw new UsageError(`"${uri}": the lab reaches other hypervisors over SSH only`, 'write qemu+ssh://user@host[:port]/system');
  }
  const capacity = m[2] ? Number(m[2]) : 8;
  if (capacity < 1) throw new UsageError(`"${text}": a capacity of 0 runs no guest`, 'give each host a capacity of 1 or more, or leave it out');
  return { uri, capacity };
}

/** user, host and port of a qemu+ssh URI (root and 22 unless it says otherwise). */
export function sshEndpointOf(uri: string): { user: string; host: string; port: number } {
  let u: URL;
  try {
    u = new URL(uri);
  } catch {
    throw new UsageError(`"${uri}" is not a URI`, 'write qemu+ssh://user@host[:port]/system');
  }
  if (!u.hostname) throw new UsageError(`"${uri}" names no host`, 'write qemu+ssh://user@host[:port]/system');
  return { user: decodeURIComponent(u.username) || 'root', host: u.hostname.replace(/^\[|\]$/g, ''), port: u.port ? Number(u.port) : 22 };
}

/** The Unix socket of libvirtd on the remote host: `?socket=` of the URI, or the system instance's. */
export function remoteLibvirtSocket(uri: string): string {
  const u = new URL(uri);
  return u.searchParams.get('socket') ?? (u.pathname === '/session' ? '' : '/var/run/libvirt/libvirt-sock');
}

/**
 * The hypervisors a command uses: those named (`--hypervisor`), or else those
 * of the hosts file, or else this machine. A remote one must be in the hosts
 * file (its key and pinned host key); its capacity there applies unless the
 * command line gives one.
 */
export function resolveHypervisors(named: readonly string[], hosts?: LoadedHosts): Hypervisor[] {
  const entries = hosts?.hosts.hypervisors ?? [];
  const fromFile = (uri: string) => entries.find((e) => e.uri === uri);
  const list = named.length ? named.map((t) => ({ h: parseHypervisor(t), explicitCapacity: /=\d+\s*$/.test(t) })) : entries.map((e) => ({ h: parseHypervisor(e.uri), explicitCapacity: false }));
  if (!list.length) return [LOCAL];
  return list.map(({ h, explicitCapacity }) => {
    const e = fromFile(h.uri);
    const capacity = explicitCapacity || !e?.capacity ? h.capacity : e.capacity;
    if (isLocalUri(h.uri)) return { uri: h.uri, capacity };
    if (!e || !hosts) {
      throw new HypervisorUnpinnedError(`${h.uri} is a remote hypervisor, but ${hosts ? `${hosts.file} does not list it under hypervisors:` : 'no hosts file was given'}`, {
        fix: 'list it under hypervisors: in the hosts file with ssh: { key, host_key_sha256 } (pin the key: ssh-keyscan -t ed25519 HOST | ssh-keygen -lf -), and pass --hosts FILE',
      });
    }
    const ep = sshEndpointOf(h.uri);
    return { uri: h.uri, capacity, ssh: { ...ep, key_path: resolveKeyPath(e.ssh.key, hosts.file), host_key_sha256: e.ssh.host_key_sha256 } };
  });
}

/** Fills hosts in the order given, each up to its capacity. */
export function place(guests: readonly GuestSpec[], hypervisors: readonly Hypervisor[]): Map<string, Hypervisor> {
  const total = hypervisors.reduce((n, h) => n + h.capacity, 0);
  if (guests.length > total) {
    throw new UsageError(`${guests.length} guests do not fit on ${hypervisors.length} hypervisor host(s) with room for ${total}`, 'add hosts with --hypervisor URI=CAPACITY, raise a capacity, or bring up part of the matrix with --only');
  }
  const out = new Map<string, Hypervisor>();
  let h = 0;
  let used = 0;
  for (const g of guests) {
    while (used >= hypervisors[h]!.capacity) { h++; used = 0; }
    out.set(g.name, hypervisors[h]!);
    used++;
  }
  return out;
}

/**
 * The lab's SSH connection to a remote hypervisor (shared by everything the
 * lab does there), its failures named for the hypervisor: unreachable, or a
 * host key that is not the pinned one.
 */
export async function hypervisorSession(uri: string, ssh: InventorySsh): Promise<SshSession> {
  try {
    return await SshSession.shared(`hypervisor ${uri}`, ssh);
  } catch (e) {
    const why = e instanceof LabError ? e.message.replace(`hypervisor ${uri}: `, '') : '';
    if (e instanceof SshHostKeyMismatchError) throw new HypervisorHostKeyError(`hypervisor ${uri}: ${why.replace('the inventory pins', 'the hosts file pins')}`, { cause: e });
    if (e instanceof SshAuthError) throw new HypervisorUnreachableError(`hypervisor ${uri}: ${why}`, { cause: e });
    if (e instanceof LabError) throw new HypervisorUnreachableError(`hypervisor ${uri} is unreachable: ${why}`, { cause: e });
    throw e;
  }
}

const relays = new Map<string, Promise<{ server: Server; path: string }>>();

/**
 * The URI virsh uses for a hypervisor: its own for this machine; for a remote
 * one, a local socket relayed to the remote libvirtd over the lab's pinned SSH
 * connection (made on first use, closed by closeRemoteLinks).
 */
export async function virshUriFor(uri: string, ssh: InventorySsh | undefined): Promise<string> {
  if (!ssh) return uri;
  await hypervisorSession(uri, ssh); // fails here, named, when the host is unreachable or not the pinned one
  let relay = relays.get(uri);
  if (!relay) {
    const remote = remoteLibvirtSocket(uri);
    const path = join(tmpdir(), `iommu-lab-libvirt-${process.pid}-${createHash('sha256').update(uri).digest('hex').slice(0, 12)}.sock`);
    relay = new Promise((resolve, reject) => {
      rmSync(path, { force: true });
      const server = createServer((client: Socket) => {
        // Each virsh connection gets its own channel; the session is the shared one (made again if it dropped).
        hypervisorSession(uri, ssh).then((s) => s.forwardStreamLocal(remote)).then(
          (ch) => {
            client.pipe(ch).pipe(client);
            ch.on('error', () => client.destroy());
            client.on('error', () => ch.destroy());
          },
          () => client.destroy(),
        );
      });
      server.once('error', reject);
      server.listen(path, () => resolve({ server, path }));
    });
    relays.set(uri, relay);
  }
  const { path } = await relay;
  return `qemu+unix:///system?socket=${path}`;
}

/** Ends the relays and SSH connections to remote hypervisors (at the end of a command: they would keep the process alive). */
export async function closeRemoteLinks(): Promise<void> {
  const all = [...relays.values()];
  relays.clear();
  for (const r of all) {
    const relay = await r.catch(() => undefined);
    if (!relay) continue;
    await new Promise<void>((resolve) => relay.server.close(() => resolve()));
    rmSync(relay.path, { force: true });
  }
  await closeSharedSessions();
}
