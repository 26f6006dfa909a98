/**
 * Runs a workload on a target detached from the SSH session (runner/detached.sh):
 * start it and return, wait for its end without talking to the guest where
 * possible, then read what it wrote. The connection may drop meanwhile — the
 * measurement goes on, and the runner reconnects to collect it.
 */
import { sleep } from '../core/sleep.js';
import { readFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { labPath } from '../core/paths.js';
import { GuestDiedError, InterruptedError, SshTimeoutError } from '../core/errors.js';
import { isTransient, shellQuote, type ExecResult, type SshSession } from '../transport/ssh.js';
import { GuestDiedOnConsole } from '../infra/isolation.js';
import type { TargetLink } from './session.js';

let scriptText: string | undefined;
export const detachedScript = () => (scriptText ??= readFileSync(labPath('runner', 'detached.sh'), 'utf8'));

/** The console line the script prints when a measurement ends. */
export const doneLine = (token: string) => `iommu-lab: done ${token} `;

export interface DetachedOptions {
  /** The target's working directory (holds detached.sh, uploaded by installDetached). */
  readonly remoteDir: string;
  readonly name: string;
  readonly command: readonly string[];
  readonly timeoutMs: number;
  /** How long the workload should take; polling starts then. */
  readonly expectedMs: number;
  readonly signal?: AbortSignal;
  /**
   * Resolves when the target said on its serial console that the measurement
   * ended (local VM guests); without it the runner polls over SSH.
   */
  readonly waitForConsole?: (line: string, timeoutMs: number, signal?: AbortSignal) => Promise<unknown>;
  /** The target's connection: its current session, made again when it dropped. */
  readonly link: Pick<TargetLink, 'session' | 'reconnect'>;
  /** Called right after the workload started, and when it is over: the measurement window. */
  readonly onStarted?: () => void | Promise<void>;
  /** The plugin's window (runner/profile/): the marker on the target, and the test disks whose I/Os the window counts. */
  readonly window?: { readonly marker: string; readonly disks: readonly string[] };
}

/** A detached workload's result; with a window, the test disks' block statistics just before and after it. */
export interface DetachedResult extends ExecResult {
  readonly diskStats?: { readonly before: string; readonly after: string };
}

export async function installDetached(session: SshSession, remoteDir: string): Promise<void> {
  await session.upload(`${remoteDir}/detached.sh`, detachedScript(), '0755');
}


/** Runs one command on the current session, reconnecting once when the connection had dropped. */
async function execAgain(o: DetachedOptions, command: string, timeoutMs: number): Promise<ExecResult> {
  try {
    return await o.link.session.exec(command, { timeoutMs, allowFailure: true });
  } catch (e) {
    if (!isTransient(e)) throw e;
    return (await o.link.reconnect()).exec(command, { timeoutMs, allowFailure: true });
  }
}

export async function runDetached(o: DetachedOptions): Promise<DetachedResult> {
  const token = randomBytes(6).toString('hex');
  const dir = `${o.remoteDir}/m-${o.name}-${token}`;
  const q = shellQuote;
  const useConsole = Boolean(o.waitForConsole);
  await o.link.session.exec(
    `mkdir -p ${q(dir)} && setsid sh ${q(`${o.remoteDir}/detached.sh`)} ${q(dir)} ${token} ${useConsole ? 1 : 0} ${o.window ? q(o.window.marker) : '-'} ${o.window?.disks.length ? q(o.window.disks.join(':')) : '-'} -- ${o.command.map(q).join(' ')} < /dev/null > /dev/null 2>&1 &`,
    { timeoutMs: 30_000 },
  );
  await o.onStarted?.();
  const kill = () => execAgain(o, `kill -KILL -- -$(cat ${q(`${dir}/pid`)}) 2>/dev/null; true`, 30_000).catch(() => undefined);
  const t0 = Date.now();
  try {
    if (o.waitForConsole) {
      await o.waitForConsole(doneLine(token), o.timeoutMs, o.signal);
    } else {
      await sleep(Math.min(o.expectedMs, o.timeoutMs), o.signal);
      for (;;) {
        if (o.signal?.aborted) break;
        const r = await execAgain(o, `test -f ${q(`${dir}/rc`)}`, 30_000);
        if (r.code === 0) break;
        if (Date.now() - t0 > o.timeoutMs) throw new Error('timeout');
        await sleep(1000, o.signal);
      }
    }
  } catch (e) {
    if (e instanceof GuestDiedOnConsole) {
      throw new GuestDiedError(`${o.link.session.target} died during ${o.name}: ${e.line}`, { fix: 'the serial console says why; the lab boots the guest again', detail: e.tail });
    }
    await kill();
    if (o.signal?.aborted) throw new InterruptedError(`${o.link.session.target}: interrupted`);
    throw new SshTimeoutError(`${o.link.session.target}: the detached ${o.name} did not finish within ${Math.round(o.timeoutMs / 1000)} s (${(e as Error).message})`, { fix: 'raise timeouts.cell_s in the scenario, or look at the target' });
  }
  if (o.signal?.aborted) {
    await kill();
    throw new InterruptedError(`${o.link.session.target}: interrupted`);
  }
  // Everything the measurement wrote, in one command: under TCG each SSH command costs the guest a process start.
  const files = await collect(o, dir, token);
  const code = Number((files.get('rc') ?? '').trim());
  const before = files.get('stat.before');
  const after = files.get('stat.after');
  return { code: files.has('rc') && Number.isInteger(code) ? code : 255, stdout: files.get('out') ?? '', stderr: files.get('err') ?? '', ...(o.window && before !== undefined && after !== undefined ? { diskStats: { before, after } } : {}) };
}

const COLLECTED = ['rc', 'out', 'err', 'stat.before', 'stat.after'] as const;

/** The measurement's files (those that exist), read and removed in one command; each is framed by a line with the measurement's token. */
async function collect(o: DetachedOptions, dir: string, token: string): Promise<Map<string, string>> {
  const mark = `--iommu-lab-${token}--`;
  const r = await execAgain(o, `cd ${shellQuote(dir)} && for f in ${COLLECTED.join(' ')}; do [ -f "$f" ] && { printf '%s %s\\n' ${shellQuote(mark)} "$f"; cat "$f"; printf '\\n'; }; done; cd / && rm -rf ${shellQuote(dir)}`, 60_000);
  const files = new Map<string, string>();
  const parts = r.stdout.split(`${mark} `);
  for (const part of parts.slice(1)) {
    const nl = part.indexOf('\n');
    // Each file was followed by one newline of the frame's own.
    files.set(part.slice(0, nl), part.slice(nl + 1, -1));
  }
  return files;
}
