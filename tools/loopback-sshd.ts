/**
 * A real OpenSSH server for tests and benchmarks (never for guests or hosts): its own config, host key and authorized
 * key, listening on 127.0.0.1 at a free port, as the user running the tests.
 */
import { execa, type ResultPromise } from 'execa';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, connect } from 'node:net';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';

export interface TestSshd {
  readonly port: number;
  readonly user: string;
  readonly keyPath: string;
  readonly hostKeyFingerprint: string;
  readonly dir: string;
  stop(): Promise<void>;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      srv.close(() => (typeof addr === 'object' && addr ? resolve(addr.port) : reject(new Error('no port'))));
    });
  });
}

async function waitForPort(port: number, ms: number, host = '127.0.0.1'): Promise<void> {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = connect(port, host);
      s.once('connect', () => { s.destroy(); resolve(true); });
      s.once('error', () => resolve(false));
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`sshd did not listen on ${port} within ${ms} ms`);
}

export async function fingerprint(pubFile: string): Promise<string> {
  const { stdout } = await execa('ssh-keygen', ['-lf', pubFile]);
  return stdout.split(' ')[1]!;
}

/**
 * Where the server listens: 127.0.0.1 at a free port, or (`netns`) port 22 of an address inside a
 * network namespace the caller made, reached from here through its veth pair.
 */
export interface SshdPlace {
  readonly netns: string;
  readonly address: string;
}

export async function startSshd(place?: SshdPlace): Promise<TestSshd> {
  const dir = await mkdtemp(join(tmpdir(), 'iommu-lab-sshd-'));
  await mkdir('/run/sshd', { recursive: true }); // privilege separation directory
  await execa('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', join(dir, 'host_ed25519')]);
  await execa('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', join(dir, 'client_ed25519')]);
  await writeFile(join(dir, 'authorized_keys'), await readFile(join(dir, 'client_ed25519.pub')));
  const user = userInfo().username;
  let lastErr = '';
  for (let attempt = 0; attempt < 5; attempt++) {
    const port = place ? 22 : await freePort();
    await writeFile(join(dir, 'sshd_config'), [
      `Port ${port}`,
      `ListenAddress ${place?.address ?? '127.0.0.1'}`,
      `HostKey ${join(dir, 'host_ed25519')}`,
      `PidFile ${join(dir, 'sshd.pid')}`,
      `AuthorizedKeysFile ${join(dir, 'authorized_keys')}`,
      'PermitRootLogin prohibit-password',
      'PasswordAuthentication no',
      'KbdInteractiveAuthentication no',
      'UsePAM no',
      'StrictModes no',
      'MaxStartups 50',
      'MaxSessions 50',
      'LogLevel ERROR',
      '',
    ].join('\n'));
    const sshd = ['/usr/sbin/sshd', '-D', '-e', '-f', join(dir, 'sshd_config')];
    const [cmd, ...args] = place ? ['ip', 'netns', 'exec', place.netns, ...sshd] : sshd;
    const proc: ResultPromise = execa(cmd!, args, { reject: false, stdin: 'ignore' });
    try {
      await waitForPort(port, 5000, place?.address);
    } catch (e) {
      proc.kill('SIGTERM');
      lastErr = String((await proc).stderr ?? e);
      continue;
    }
    return {
      port, user, dir,
      keyPath: join(dir, 'client_ed25519'),
      hostKeyFingerprint: await fingerprint(join(dir, 'host_ed25519.pub')),
      async stop() {
        proc.kill('SIGTERM');
        await proc;
        await rm(dir, { recursive: true, force: true });
      },
    };
  }
  throw new Error(`could not start sshd: ${lastErr}`);
}

/** A hosts file naming this machine as static host `localhost`, reached through the test sshd, with a scratch file as disk. */
export function localhostHostsYaml(sshd: TestSshd, dir: string, hostKey = sshd.hostKeyFingerprint): string {
  return `hosts:
  - name: localhost
    ssh: { host: 127.0.0.1, port: ${sshd.port}, user: ${sshd.user}, key: ${sshd.keyPath}, host_key_sha256: "${hostKey}" }
    iommu: { device: none, mode: off }
    disks:
      - { name: scratch, path: ${dir}/scratch.dat, behind_iommu: false }
`;
}
