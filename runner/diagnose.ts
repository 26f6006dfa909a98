/**
 * What really ended a repetition on a lab guest. A repetition whose guest died
 * fails in many ways at once — fio killed, the SSH channel closed, a
 * connection refused, a timeout — and none of them is the cause. Before a
 * failure is retried or recorded, the guest is asked: a domain that no longer
 * runs, or a kernel panic on its serial console, makes it `guest-died` with the
 * console's last lines (and the guest is healed); otherwise the failure stands
 * as it is (an SSH failure to a running guest stays an SSH failure).
 */
import { GuestDiedError, InterruptedError, isLabError } from '../core/errors.js';
import { guestDeath } from '../infra/guest.js';
import type { InventoryTarget } from '../inventory/types.js';

export async function diagnose(target: InventoryTarget, e: unknown, during: string): Promise<unknown> {
  if (!target.vm || e instanceof GuestDiedError || e instanceof InterruptedError) return e;
  const death = await guestDeath(target);
  if (!death) return e;
  const was = isLabError(e) ? ` (the lab saw: ${e.message.split('\n')[0]})` : '';
  return new GuestDiedError(`${target.name} died during ${during}: ${death.why}${was}`, { detail: death.tail, cause: e });
}
