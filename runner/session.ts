/**
 * Stage 1 of a target's life in a run: the SSH session. Connects with the
 * inventory's pinned keys, retrying connection-level failures with exponential
 * backoff (a wrong key or host key is never retried).
 */
import { sleep } from '../core/sleep.js';
import { parksWhenIdle } from '../infra/guest.js';
import type { InventoryTarget } from '../inventory/types.js';
import { isTransient, SshSession } from '../transport/ssh.js';

export interface ConnectPolicy {
  readonly connectTimeoutMs?: number;
  /** Retries after the first attempt. */
  readonly retries: number;
  readonly retryBaseMs: number;
  readonly signal?: AbortSignal;
  readonly onRetry?: (attempt: number, retries: number) => void;
}

export async function connectTarget(target: InventoryTarget, policy: ConnectPolicy): Promise<SshSession> {
  for (let attempt = 0; ; attempt++) {
    try {
      // A parked guest does not answer keepalives; its session must survive the pause.
      return await SshSession.connect(target.name, target.ssh, { connectTimeoutMs: policy.connectTimeoutMs ?? 20_000, ...(parksWhenIdle(target) ? { keepaliveIntervalMs: 0 } : {}) });
    } catch (e) {
      if (!isTransient(e) || attempt >= policy.retries || policy.signal?.aborted) throw e;
      policy.onRetry?.(attempt + 1, policy.retries);
      await sleep(policy.retryBaseMs * 2 ** attempt, policy.signal);
    }
  }
}

/**
 * The one connection to a target in a run. Only the link connects, reconnects
 * and closes, so every stage that holds it talks over the current session,
 * including after a lost connection was made again.
 */
export class TargetLink {
  #session: SshSession | undefined;

  constructor(readonly target: InventoryTarget, private readonly policy: ConnectPolicy) {}

  /** The current session; connect() must have succeeded. */
  get session(): SshSession {
    if (!this.#session) throw new Error(`${this.target.name}: not connected`);
    return this.#session;
  }

  /** A new session (the old one, if any, closed first), with the policy's retries. */
  async connect(): Promise<SshSession> {
    this.close();
    this.#session = await connectTarget(this.target, this.policy);
    return this.#session;
  }

  /** After a lost connection: the same as connect, named for why. */
  reconnect(): Promise<SshSession> {
    return this.connect();
  }

  close(): void {
    this.#session?.close();
    this.#session = undefined;
  }
}
