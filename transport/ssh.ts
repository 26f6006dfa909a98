/**
 * The runner's transport: ssh2 with key authentication and a pinned host key.
 * There is no "accept any host key" path: a key whose SHA256 fingerprint is not
 * the one in the inventory ends the connection with both fingerprints in the
 * error. Every failure is one of core/errors.ts's SSH errors, whose kind becomes the
 * repetition's failure kind.
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { constants as osConstants } from 'node:os';
import type { Duplex } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { Client, type ClientChannel } from 'ssh2';
import { InterruptedError, LabError, SshAuthError, SshCommandError, SshConnectError, SshError, SshHostKeyMismatchError, SshTimeoutError } from '../core/errors.js';

export { SshError };
import type { InventorySsh } from '../inventory/types.js';

/** Connection-level failures are worth a retry; a wrong key, host key or command never is. */
export function isTransient(e: unknown): boolean {
  return e instanceof SshConnectError;
}

/** `SHA256:…` as OpenSSH prints it: base64 of the SHA-256 of the key blob, without padding. */
export function fingerprintOf(keyBlob: Buffer): string {
  return `SHA256:${createHash('sha256').update(keyBlob).digest('base64').replace(/=+$/, '')}`;
}

export interface ExecResult {
  /** The exit status; 128 + the signal's number for a process killed by a signal (as a shell says it). */
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

export interface ExecOptions {
  readonly timeoutMs?: number;
  readonly stdin?: string | Buffer;
  readonly onStdout?: (chunk: string) => void;
  readonly onStderr?: (chunk: string) => void;
  readonly signal?: AbortSignal;
  /** Resolve with a non-zero code instead of throwing (for probes that may fail). */
  readonly allowFailure?: boolean;
}

export interface ConnectOptions {
  readonly connectTimeoutMs?: number;
  readonly keepaliveIntervalMs?: number;
}

const tail = (s: string, lines = 20) => s.split('\n').slice(-lines).join('\n').trim();

export class SshSession {
  closed = false;

  private constructor(
    private readonly client: Client,
    readonly target: string,
    readonly endpoint: string,
  ) {
    client.on('close', () => { this.closed = true; });
    client.on('end', () => { this.closed = true; });
  }

  static async connect(target: string, ssh: InventorySsh, options: ConnectOptions = {}): Promise<SshSession> {
    let privateKey: Buffer;
    try {
      privateKey = await readFile(ssh.key_path);
    } catch (e) {
      throw new SshAuthError(`${target}: cannot read the SSH key ${ssh.key_path} (${(e as NodeJS.ErrnoException).code})`, { fix: 'check key_path in the inventory (or key in the hosts file)' });
    }
    // A guest on another hypervisor forwards SSH to that host's loopback: reach it through the
    // hypervisor's own SSH (a direct-tcpip channel), the hypervisor's host key pinned like the guest's.
    // (The hypervisor's connection gets its own budget: a guest's short boot-time attempts are not its.)
    const sock = ssh.via ? await SshSession.shared(`hypervisor of ${target}`, ssh.via).then((j) => j.forwardOut(ssh.host, ssh.port)) : undefined;
    const endpoint = `${ssh.user}@${ssh.host}:${ssh.port}${ssh.via ? ` via ${ssh.via.host}:${ssh.via.port}` : ''}`;
    const client = new Client();
    let seenFingerprint: string | undefined;
    return new Promise<SshSession>((resolve, reject) => {
      let settled = false;
      const fail = (err: LabError) => {
        if (settled) return;
        settled = true;
        // destroy, not end: a connection that never finished its handshake has nothing to close gracefully,
        // and an ended socket to a guest that never answers can keep the process alive after the command is done.
        client.destroy();
        reject(err);
      };
      client.on('ready', () => {
        settled = true;
        resolve(new SshSession(client, target, endpoint));
      });
      client.on('error', (err: Error & { level?: string; code?: string }) => {
        if (seenFingerprint !== undefined && seenFingerprint !== ssh.host_key_sha256) {
          fail(
            new SshHostKeyMismatchError(`${target}: host key of ${endpoint} is ${seenFingerprint}, but the inventory pins ${ssh.host_key_sha256}; refusing to connect`,
              { fix: 'if the host was legitimately reinstalled, pin the new key (ssh-keyscan -t ed25519 HOST | ssh-keygen -lf -); otherwise find out who answers on that address' },
            ),
          );
        } else if (err.level === 'client-authentication') {
          fail(new SshAuthError(`${target}: ${endpoint} refused the key ${ssh.key_path}`, { fix: `make sure the public key is in ~${ssh.user}/.ssh/authorized_keys on the target`, cause: err }));
        } else if (/Timed out while waiting for handshake/.test(err.message)) {
          fail(new SshConnectError(`${target}: no SSH handshake from ${endpoint} within ${options.connectTimeoutMs ?? 20000} ms`, { fix: 'is the target up and sshd listening on that port?', cause: err }));
        } else {
          fail(new SshConnectError(`${target}: cannot connect to ${endpoint}: ${err.message}`, { fix: 'is the target up and sshd listening on that port?', cause: err }));
        }
      });
      client.connect({
        ...(sock ? { sock } : { host: ssh.host, port: ssh.port }),
        username: ssh.user,
        privateKey,
        readyTimeout: options.connectTimeoutMs ?? 20_000,
        keepaliveInterval: options.keepaliveIntervalMs ?? 5_000,
        keepaliveCountMax: 6,
        hostVerifier: (key: Buffer) => {
          seenFingerprint = fingerprintOf(key);
          return seenFingerprint === ssh.host_key_sha256;
        },
      });
    });
  }

  /**
   * Runs one command. The command string is the lab's own (built from fixed
   * text and shellQuote()d, validated values), never a user string.
   */
  exec(command: string, options: ExecOptions = {}): Promise<ExecResult> {
    return new Promise<ExecResult>((resolve, reject) => {
      // ssh2 throws (not rejects) "Not connected" on a closed connection: that is a lost connection, worth a reconnect.
      if (this.closed) {
        reject(new SshConnectError(`${this.target}: the connection to ${this.endpoint} was closed`, { fix: 'the runner reconnects' }));
        return;
      }
      try {
        this.client.exec(command, (err, channel: ClientChannel) => {
          if (err) {
            reject(new SshConnectError(`${this.target}: cannot start a command: ${err.message}`, { fix: 'the SSH connection dropped; the runner retries', cause: err }));
            return;
          }
          let stdout = '';
          let stderr = '';
          let done = false;
          const timer = options.timeoutMs
            ? setTimeout(() => finish(new SshTimeoutError(`${this.target}: command did not finish within ${Math.round(options.timeoutMs! / 1000)} s: ${firstLine(command)}`, { fix: 'raise timeouts.cell_s in the scenario, or look at the target', detail: tail(stderr) })), options.timeoutMs)
            : undefined;
          const onAbort = () => finish(new InterruptedError(`${this.target}: interrupted`, { detail: tail(stderr) }));
          options.signal?.addEventListener('abort', onAbort, { once: true });
          const finish = (result: ExecResult | LabError) => {
            if (done) return;
            done = true;
            if (timer) clearTimeout(timer);
            options.signal?.removeEventListener('abort', onAbort);
            if (result instanceof LabError) {
              // Closing the channel hangs up the remote process group (sshd sends SIGHUP).
              channel.signal?.('KILL');
              channel.close();
              reject(result);
            } else if (result.code !== 0 && !options.allowFailure) {
              reject(new SshCommandError(`${this.target}: \`${firstLine(command)}\` exited with ${result.code}`, { detail: tail(result.stderr) }));
            } else {
              resolve(result);
            }
          };
          channel.on('data', (d: Buffer) => {
            const s = d.toString('utf8');
            stdout += s;
            options.onStdout?.(s);
          });
          channel.stderr.on('data', (d: Buffer) => {
            const s = d.toString('utf8');
            stderr += s;
            options.onStderr?.(s);
          });
          channel.on('exit', (code: number | null, signal?: string) => {
            // 'exit' may come before the last data; 'close' settles.
            (channel as unknown as { exitInfo: unknown }).exitInfo = { code, signal };
          });
          channel.on('close', () => {
            const info = (channel as unknown as { exitInfo?: { code: number | null; signal?: string } }).exitInfo;
            // A channel that closes without an exit status lost its connection (dropped link, keepalive
            // timeout, the session's sshd killed): worth a reconnect, not a failed command.
            if (!info) {
              finish(new SshConnectError(`${this.target}: the connection to ${this.endpoint} was lost while \`${firstLine(command)}\` ran`, { fix: 'the runner reconnects', detail: tail(stderr) }));
              return;
            }
            const code = info.code ?? (info.signal ? 128 + (osConstants.signals[`SIG${info.signal}` as NodeJS.Signals] ?? 0) : 255);
            finish({ code, stdout, stderr });
          });
          if (options.stdin !== undefined) channel.end(options.stdin);
          else channel.end();
        });
      } catch (e) {
        // The connection went between the check above and the call (ssh2 throws "Not connected").
        this.closed = true;
        reject(new SshConnectError(`${this.target}: the connection to ${this.endpoint} was lost: ${(e as Error).message}`, { fix: 'the runner reconnects', cause: e }));
      }
    });
  }

  /** One long-lived connection per endpoint and pinned key, shared (hypervisors: tunnels, libvirt, files); made again once it closed. */
  static shared(name: string, ssh: InventorySsh, options: ConnectOptions = {}): Promise<SshSession> {
    const key = `${ssh.user}@${ssh.host}:${ssh.port}#${ssh.host_key_sha256}#${ssh.key_path}`;
    const have = sharedSessions.get(key);
    const fresh = () => {
      const p = SshSession.connect(name, ssh, { ...options, connectTimeoutMs: options.connectTimeoutMs ?? 20_000 });
      sharedSessions.set(key, p);
      p.catch(() => sharedSessions.delete(key));
      return p;
    };
    if (!have) return fresh();
    return have.then((s) => (s.closed ? fresh() : s), fresh);
  }

  /** A direct-tcpip channel to HOST:PORT as the far end sees it (its loopback, for a guest's forwarded SSH). */
  forwardOut(host: string, port: number): Promise<Duplex> {
    return this.channel(`${host}:${port}`, (cb) => this.client.forwardOut('127.0.0.1', 0, host, port, cb));
  }

  /** A channel to a Unix socket on the far end (OpenSSH's direct-streamlocal): libvirtd's socket. */
  forwardStreamLocal(path: string): Promise<Duplex> {
    return this.channel(path, (cb) => this.client.openssh_forwardOutStreamLocal(path, cb));
  }

  private channel(what: string, open: (cb: (err: Error | undefined, ch: ClientChannel) => void) => void): Promise<Duplex> {
    return new Promise((resolve, reject) => {
      if (this.closed) {
        reject(new SshConnectError(`${this.target}: the connection to ${this.endpoint} was closed`, { fix: 'the runner reconnects' }));
        return;
      }
      try {
        open((err, ch) => (err ? reject(new SshConnectError(`${this.target}: ${this.endpoint} refused a channel to ${what}: ${err.message}`, { fix: 'is the guest up, and does the hypervisor\'s sshd allow forwarding (AllowTcpForwarding, AllowStreamLocalForwarding)?', cause: err })) : resolve(ch)));
      } catch (e) {
        this.closed = true;
        reject(new SshConnectError(`${this.target}: the connection to ${this.endpoint} was lost: ${(e as Error).message}`, { fix: 'the runner reconnects', cause: e }));
      }
    });
  }

  /** Streams a local file to the target (a gigabyte image too: never held in memory). */
  async uploadFile(remotePath: string, localPath: string, timeoutMs?: number): Promise<void> {
    const size = (await stat(localPath)).size;
    await new Promise<void>((resolve, reject) => {
      this.client.exec(`cat > ${shellQuote(remotePath)}`, (err, channel) => {
        if (err) {
          reject(new SshConnectError(`${this.target}: cannot start a command: ${err.message}`, { fix: 'the SSH connection dropped; try again', cause: err }));
          return;
        }
        let stderr = '';
        channel.stderr.on('data', (d: Buffer) => { stderr += d.toString('utf8'); });
        const timer = setTimeout(() => { channel.close(); reject(new SshTimeoutError(`${this.target}: copying ${localPath} (${size} bytes) did not finish within ${Math.round(timeoutMs! / 1000)} s`, { fix: 'a slow link to the hypervisor: copy the file by hand to the path named, or raise the budget' })); }, timeoutMs ?? Math.max(120_000, size / 5_000));
        let code: number | null = null;
        channel.on('exit', (c: number | null) => { code = c; });
        // The command's stdout must be read for the channel to close.
        channel.resume();
        channel.on('close', () => {
          clearTimeout(timer);
          if (code === 0) resolve();
          else reject(new SshCommandError(`${this.target}: writing ${remotePath} failed (exit ${String(code)})`, { detail: tail(stderr) }));
        });
        pipeline(createReadStream(localPath), channel).catch((e: unknown) => { clearTimeout(timer); reject(new SshConnectError(`${this.target}: copying ${localPath} broke off: ${(e as Error).message}`, { fix: 'try again', cause: e })); });
      });
    });
  }

  /** Writes a file on the target through the command's stdin (no SFTP subsystem needed). */
  async upload(remotePath: string, content: string | Buffer, mode = '0644'): Promise<void> {
    await this.exec(`umask 077 && cat > ${shellQuote(remotePath)} && chmod ${mode} ${shellQuote(remotePath)}`, { stdin: content, timeoutMs: 60_000 });
  }

  close(): void {
    this.client.end();
  }
}

const sharedSessions = new Map<string, Promise<SshSession>>();

/** Ends the shared connections (at the end of a command: an open one would keep the process alive). */
export async function closeSharedSessions(): Promise<void> {
  const all = [...sharedSessions.values()];
  sharedSessions.clear();
  for (const p of all) (await p.catch(() => undefined))?.close();
}

function firstLine(cmd: string): string {
  const l = cmd.split('\n')[0] ?? cmd;
  return l.length > 120 ? `${l.slice(0, 117)}...` : l;
}

/** Single-quotes a value for a POSIX shell. */
export function shellQuote(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}
