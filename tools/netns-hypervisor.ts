/**
 * A second hypervisor host for tests and benchmarks, on this machine but not
 * on its loopback: a network namespace of its own, reached over a veth pair at
 * an address of its own, with its own OpenSSH server and its own libvirtd and
 * virtlogd in a private mount namespace (their sockets, state, domain
 * definitions, and the lab's cache and guest directories are its own, empty
 * at first). Its guests' forwarded SSH ports listen on the namespace's
 * loopback only: a lab that does not tunnel through the host's SSH cannot
 * reach them. Needs root, iproute2, util-linux (nsenter, unshare), libvirt.
 */
import { execa, type ResultPromise } from 'execa';
import { existsSync, readFileSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fingerprint } from './loopback-sshd.js';

export interface NetnsHypervisor {
  /** `qemu+ssh://root@ADDRESS/system` */
  readonly uri: string;
  readonly address: string;
  readonly keyPath: string;
  readonly hostKeyFingerprint: string;
  readonly namespace: string;
  readonly dir: string;
  /** A hosts-file `hypervisors:` entry for it. */
  hostsEntry(capacity?: number): string;
  /** Runs a command inside the host (its network and mount namespaces). */
  exec(command: string): Promise<{ stdout: string; stderr: string; exitCode: number }>;
  stop(): Promise<void>;
}

export interface NetnsOptions {
  /** A tmpfs of this size over /var/cache/iommu-lab there (a host without room for the image). */
  readonly cacheMiB?: number;
}

/** Directories the host has of its own (bind-mounted over the real ones in its mount namespace). */
const PRIVATE_DIRS = ['/etc/libvirt', '/run/libvirt', '/var/lib/libvirt', '/var/cache/libvirt', '/var/log/libvirt', '/var/lib/iommu-lab', '/var/cache/iommu-lab'];

async function waitForTcp(host: string, port: number, ms: number): Promise<boolean> {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = connect(port, host);
      s.once('connect', () => { s.destroy(); resolve(true); });
      s.once('error', () => resolve(false));
    });
    if (ok) return true;
    await new Promise((r) => setTimeout(r, 100));
  }
  return false;
}

let made = 0;

export async function startNetnsHypervisor(options: NetnsOptions = {}): Promise<NetnsHypervisor> {
  // Unique per process and call (two hosts of one test must not share a name or a subnet); veth names stay under 16 characters.
  const seq = ++made;
  const tag = `${process.pid % 100000}${seq}`;
  const ns = `iommulab-hv${tag}`;
  const outer = `ilh${tag}a`;
  const inner = `ilh${tag}b`;
  const net = 10 + ((process.pid % 200) + seq * 37) % 240;
  const address = `10.213.${net}.2`;
  const dir = await mkdtemp(join(tmpdir(), 'iommu-lab-hv-'));
  await chmod(dir, 0o755);
  const ip = (args: string[]) => execa('ip', args);
  await ip(['netns', 'add', ns]);
  let proc: ResultPromise | undefined;
  const stop = async () => {
    // Daemons first (their pid files), then the shell holding the mount namespace, then the network.
    for (const f of ['libvirtd.pid', 'virtlogd.pid', 'sshd.pid']) {
      const pid = Number(readFileSafe(join(dir, f)));
      if (pid > 0) {
        try { process.kill(pid, 'SIGTERM'); } catch { /* gone */ }
      }
    }
    for (let i = 0; i < 50 && ['libvirtd.pid', 'sshd.pid'].some((f) => alive(Number(readFileSafe(join(dir, f))))); i++) await new Promise((r) => setTimeout(r, 100));
    proc?.kill('SIGTERM');
    await proc?.catch(() => {});
    await execa('ip', ['netns', 'del', ns], { reject: false });
    await execa('umount', ['-l', join(dir, 'cache')], { reject: false });
    await rm(dir, { recursive: true, force: true });
  };
  try {
    await ip(['link', 'add', outer, 'type', 'veth', 'peer', 'name', inner]);
    await ip(['link', 'set', inner, 'netns', ns]);
    await ip(['addr', 'add', `10.213.${net}.1/24`, 'dev', outer]);
    await ip(['link', 'set', outer, 'up']);
    for (const args of [['addr', 'add', `${address}/24`, 'dev', inner], ['link', 'set', inner, 'up'], ['link', 'set', 'lo', 'up']]) await ip(['netns', 'exec', ns, 'ip', ...args]);

    const dirs = PRIVATE_DIRS.map((d) => ({ real: d, mine: join(dir, d.replace(/^\//, '').replace(/\//g, '_')) }));
    for (const d of dirs) await mkdir(d.mine, { recursive: true });
    await execa('cp', ['-a', '/etc/libvirt/.', dirs[0]!.mine]);
    // libvirt's own state of this machine must not show there (defined domains live in /etc/libvirt/qemu).
    await execa('sh', ['-c', `rm -f ${dirs[0]!.mine}/qemu/*.xml ${dirs[0]!.mine}/qemu/autostart/*.xml`]);
    if (options.cacheMiB) {
      await mkdir(join(dir, 'cache'), { recursive: true });
      await execa('mount', ['-t', 'tmpfs', '-o', `size=${options.cacheMiB}m`, 'tmpfs', join(dir, 'cache')]);
      dirs.find((d) => d.real === '/var/cache/iommu-lab')!.mine = join(dir, 'cache');
    }

    await execa('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', join(dir, 'host_ed25519')]);
    await execa('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', join(dir, 'client_ed25519')]);
    await writeFile(join(dir, 'authorized_keys'), await readFile(join(dir, 'client_ed25519.pub')));
    await writeFile(join(dir, 'sshd_config'), [
      'Port 22', `ListenAddress ${address}`, `HostKey ${join(dir, 'host_ed25519')}`, `PidFile ${join(dir, 'sshd.pid')}`,
      `AuthorizedKeysFile ${join(dir, 'authorized_keys')}`, 'PermitRootLogin prohibit-password', 'PasswordAuthentication no',
      'KbdInteractiveAuthentication no', 'UsePAM no', 'StrictModes no', 'AllowTcpForwarding yes', 'AllowStreamLocalForwarding yes',
      'MaxStartups 50', 'MaxSessions 50', 'LogLevel ERROR', '',
    ].join('\n'));
    await mkdir('/run/sshd', { recursive: true });
    await writeFile(join(dir, 'start.sh'), [
      'set -e',
      ...dirs.map((d) => `mount --bind ${d.mine} ${d.real}`),
      `virtlogd -d -p ${join(dir, 'virtlogd.pid')}`,
      `libvirtd -d -p ${join(dir, 'libvirtd.pid')}`,
      `exec /usr/sbin/sshd -D -e -f ${join(dir, 'sshd_config')}`,
      '',
    ].join('\n'));
    proc = execa('nsenter', [`--net=/run/netns/${ns}`, 'unshare', '-m', '--propagation', 'private', 'sh', join(dir, 'start.sh')], { reject: false, stdin: 'ignore', all: true });
    if (!(await waitForTcp(address, 22, 15_000))) {
      proc.kill('SIGTERM');
      throw new Error(`the namespace's sshd did not listen on ${address}:22: ${String((await proc).all ?? '')}`);
    }
    const inNs = (command: string) => execa('nsenter', [`--net=/run/netns/${ns}`, `--mount=/proc/${proc!.pid}/ns/mnt`, 'sh', '-c', command], { reject: false }).then((r) => ({ stdout: String(r.stdout ?? ''), stderr: String(r.stderr ?? ''), exitCode: r.exitCode ?? 1 }));
    // libvirtd answers once its socket is up (it probes QEMU's capabilities first).
    for (let i = 0; i < 100 && (await inNs('virsh -c qemu:///system version >/dev/null 2>&1')).exitCode !== 0; i++) await new Promise((r) => setTimeout(r, 200));
    const fp = await fingerprint(join(dir, 'host_ed25519.pub'));
    const uri = `qemu+ssh://root@${address}/system`;
    return {
      uri, address, dir, namespace: ns, keyPath: join(dir, 'client_ed25519'), hostKeyFingerprint: fp,
      hostsEntry: (capacity = 4) => `  - uri: ${uri}\n    capacity: ${capacity}\n    ssh: { key: ${join(dir, 'client_ed25519')}, host_key_sha256: "${fp}" }\n`,
      exec: inNs,
      stop,
    };
  } catch (e) {
    await stop();
    throw e;
  }
}

function readFileSafe(path: string): string {
  try {
    return existsSync(path) ? readFileSync(path, 'utf8').trim() : '';
  } catch {
    return '';
  }
}

function alive(pid: number): boolean {
  if (!(pid > 0)) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
