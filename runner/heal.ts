/**
 * Healing a guest that died during a run: how many times it may be booted
 * again, per guest and over the whole run, before its repetitions fail as
 * guest-died. One budget per run, shared by its groups.
 */
import type { GuestDiedError } from '../core/errors.js';
import type { InventoryTarget } from '../inventory/types.js';

/** Times a guest that died during a repetition is booted again in one run (then its repetitions fail as guest-died). */
export const MAX_HEALS_PER_GUEST = 2;
/** Heals in one run over all guests: a host that kills every guest is not fought forever. */
export const MAX_HEALS_PER_RUN = 6;

export class HealBudget {
  readonly #used = new Map<string, number>();
  #total = 0;

  /** Whether the target may be booted again: a lab guest, with heals left of its own and of the run's. */
  allows(target: InventoryTarget): boolean {
    return Boolean(target.vm) && (this.#used.get(target.name) ?? 0) < MAX_HEALS_PER_GUEST && this.#total < MAX_HEALS_PER_RUN;
  }

  /** Counts one heal of the target; returns how many it has had. */
  take(target: InventoryTarget): number {
    const n = (this.#used.get(target.name) ?? 0) + 1;
    this.#used.set(target.name, n);
    this.#total++;
    return n;
  }
}

/** A repetition ended because its guest died while heals are left: the group boots the guest again and retries it. */
export class HealNeeded extends Error {
  constructor(override readonly cause: InstanceType<typeof GuestDiedError>) {
    super(cause.message);
  }
}
