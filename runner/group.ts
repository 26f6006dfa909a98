/**
 * One concurrency group's repetitions (runner/run.ts concurrencyGroup): the
 * guests of one hypervisor host, or one static host, measured one repetition
 * at a time in the interleaved order of runner/order.ts, boot by boot.
 *
 * The group owns its targets' states (ready with their link, or failed with
 * why) and heals a guest that died while the run's heal budget lasts. Every
 * repetition ends as one recorded result; only a full results disk or the
 * run's signal stops the group early.
 */
import { availableParallelism } from 'node:os';
import type { Scenario } from '../scenario/types.js';
import { bootsSideBySide } from '../core/clock.js';
import { DiskFullError, GuestDiedError, InterruptedError, SshTimeoutError } from '../core/errors.js';
import { forEachLimit } from '../core/pool.js';
import { sleep } from '../core/sleep.js';
import { parkGuest, rebootGuest, unparkGuest } from '../infra/guest.js';
import { runsHere } from '../infra/host.js';
import type { InventoryTarget } from '../inventory/types.js';
import type { RunStore } from '../result/store.js';
import { repId, type Check, type Failure } from '../result/types.js';
import { isTransient } from '../transport/ssh.js';
import { diagnose } from './diagnose.js';
import { failureOf } from './failure.js';
import { HealNeeded, MAX_HEALS_PER_GUEST, type HealBudget } from './heal.js';
import type { Task } from './order.js';
import type { Recorder } from './record.js';
import { measureRepetition } from './repetition.js';
import { TargetLink, type ConnectPolicy } from './session.js';
import { prepareTarget, releaseTarget, type ReadyTarget, type TargetState } from './target.js';
import { destructiveWriteRefusal } from './refusal.js';

/** What every group of a run shares. */
export interface RunContext {
  readonly run: string;
  readonly scenario: Scenario;
  readonly store: RunStore;
  readonly recorder: Recorder;
  readonly targets: ReadonlyMap<string, InventoryTarget>;
  /** Targets that could not be provided: their repetitions are recorded failed with this. */
  readonly unavailable: ReadonlyMap<string, Failure>;
  readonly heals: HealBudget;
  readonly signal: AbortSignal;
  /** How a target is connected to (retries after the first attempt, their backoff). */
  readonly connect: Omit<ConnectPolicy, 'signal' | 'onRetry'>;
  /** Other host load (CPUs) above which a virtual-time repetition is run again. */
  readonly loadLimit: number;
  readonly sysfsRoot?: string;
  /** Says what a target is doing now (progress). */
  readonly say: (target: InventoryTarget, state: string) => void;
}

type GuestDied = InstanceType<typeof GuestDiedError>;

export class GroupRun {
  /** Each target's state in the current boot; absent until its first repetition of the boot. */
  readonly #states = new Map<string, TargetState>();
  /** The boot the group's guests are in (`boots:` in the VM profile); tasks come ordered by boot. */
  #boot: number | undefined;

  constructor(private readonly ctx: RunContext) {}

  async run(tasks: readonly Task[]): Promise<void> {
    try {
      for (const [i, task] of tasks.entries()) {
        if (this.ctx.signal.aborted) return;
        if (this.#boot !== undefined && task.boot !== this.#boot) {
          await this.#nextBoot(tasks.slice(i), task.boot);
          if (this.ctx.signal.aborted) return;
        }
        this.#boot = task.boot;
        await this.#task(task);
      }
    } finally {
      await this.#releaseAll();
    }
  }

  /** One task: recorded failed without a connection where it cannot run, else measured. */
  async #task(task: Task): Promise<void> {
    const { recorder, signal } = this.ctx;
    const missing = this.ctx.unavailable.get(task.cell.target.name);
    if (missing) {
      await recorder.record({ name: task.cell.target.name, kind: task.cell.target.kind }, task, { state: 'failed', failure: missing }, new Date());
      return;
    }
    const target = this.ctx.targets.get(task.cell.target.name)!;
    const refusal = destructiveWriteRefusal(target, task.cell);
    if (refusal) {
      await recorder.record(target, task, { state: 'failed', failure: refusal }, new Date());
      return;
    }
    let st = this.#states.get(target.name);
    if (st?.kind !== 'failed') await unparkGuest(target).catch(() => {}); // a guest that is gone shows as an SSH failure
    try {
      if (!st) {
        st = await this.#prepareOrHeal(target);
        if (signal.aborted) return;
        this.#states.set(target.name, st);
      }
      if (st.kind === 'failed') {
        await recorder.record(target, task, { state: 'failed', failure: st.failure }, new Date(), st.extra ?? {});
        return;
      }
      this.ctx.say(target, `${task.cell.id} ${repId(task.rep)}`);
      await this.#measureOrHeal(target, st, task);
    } finally {
      // Parked between its repetitions: an idle virtual-clock guest would spin a host core.
      await parkGuest(target).catch(() => {});
    }
  }

  async #measureOrHeal(target: InventoryTarget, st: ReadyTarget, task: Task): Promise<void> {
    try {
      await this.#measure(target, st, task);
    } catch (e) {
      if (e instanceof DiskFullError) throw e;
      if (this.ctx.signal.aborted) return;
      if (e instanceof HealNeeded) {
        this.#states.set(target.name, await this.#heal(target, task, e.cause));
        return;
      }
      // Reconnecting failed, or the guest died with no heals left: the target is gone for the rest of this boot.
      this.#states.set(target.name, { kind: 'failed', failure: failureOf(e), extra: st.extra });
    }
  }

  /**
   * One repetition, recorded: a lost connection is made again and the
   * repetition retried (with backoff); a guest that died is handed to the heal
   * (HealNeeded) while heals are left; anything else is recorded as the failure
   * it is. Throws when the target is gone for the rest of its boot.
   */
  async #measure(target: InventoryTarget, st: ReadyTarget, task: Task, notes: readonly Check[] = []): Promise<void> {
    const { recorder, signal } = this.ctx;
    const started = new Date();
    const what = `${task.cell.id} ${repId(task.rep)}`;
    for (let attempt = 0; ; attempt++) {
      try {
        const m = await measureRepetition({
          run: this.ctx.run, scenario: this.ctx.scenario, target, st, task, loadLimit: this.ctx.loadLimit, signal,
          onState: (s) => this.ctx.say(target, s),
        });
        const checks = [...(m.extra.checks ?? []), ...(m.outcome.state === 'passed' ? notes : [])];
        await recorder.record(target, task, m.outcome, started, { ...m.extra, checks });
        return;
      } catch (thrown) {
        if (signal.aborted || thrown instanceof InterruptedError) {
          recorder.interrupted(target, task, failureOf(thrown instanceof InterruptedError ? thrown : new InterruptedError(`${target.name}: interrupted during ${what}`)));
          return;
        }
        if (thrown instanceof DiskFullError) throw thrown;
        // Named for what it is: a guest that died shows as many things (fio killed, SSH closed).
        const e = await diagnose(target, thrown, what);
        if (isTransient(e) && attempt < this.ctx.connect.retries) {
          const again = await this.#reconnect(target, st, attempt, what);
          if (again.connected) continue;
          await this.#recordFailure(target, st, task, again.error, started);
          throw again.error;
        }
        await this.#recordFailure(target, st, task, e, started);
        // Otherwise it fails the rest of this boot at once (the next boot boots it again).
        if (e instanceof GuestDiedError) throw e;
        // The target may be wedged: the next repetition gets a fresh connection (or the boot's rest fails with why not).
        if (isTransient(e) || e instanceof SshTimeoutError) await st.link.reconnect();
        return;
      }
    }
  }

  /** A lost connection made again after a backoff; what went wrong instead (the guest may have died meanwhile). */
  async #reconnect(target: InventoryTarget, st: ReadyTarget, attempt: number, what: string): Promise<{ readonly connected: true } | { readonly connected: false; readonly error: unknown }> {
    this.ctx.say(target, `connection lost, reconnecting (${attempt + 1}/${this.ctx.connect.retries})`);
    st.link.close();
    await sleep(this.ctx.connect.retryBaseMs * 2 ** attempt, this.ctx.signal);
    try {
      await st.link.reconnect();
      return { connected: true };
    } catch (again) {
      return { connected: false, error: await diagnose(target, again, what) };
    }
  }

  /** A guest that died is healed while heals last (HealNeeded); else the failure is recorded. */
  async #recordFailure(target: InventoryTarget, st: ReadyTarget, task: Task, e: unknown, started: Date): Promise<void> {
    // Only once the heals are spent is the death recorded, so a repetition is never counted twice.
    if (e instanceof GuestDiedError && this.ctx.heals.allows(target)) throw new HealNeeded(e);
    await this.ctx.recorder.record(target, task, { state: 'failed', failure: failureOf(e) }, started, st.extra);
  }

  /** Counts a heal, says so, and boots the dead guest again (same domain, disks and keys). */
  async #bootAgain(target: InventoryTarget, cause: GuestDied): Promise<void> {
    const n = this.ctx.heals.take(target);
    this.ctx.say(target, `${cause.message.split('\n')[0]}; booting it again (${n}/${MAX_HEALS_PER_GUEST})`);
    await rebootGuest(target, this.ctx.scenario.timeouts.boot_s * 1000);
    await unparkGuest(target);
  }

  /**
   * The guest died during a repetition: boot it again, connect and preflight
   * afresh, and run the repetition again, for as long as the heals last (a
   * TCG guest that crashes at random can crash in the retry too: CI saw a
   * kernel panic 12 s into the boot that healed a killed sshd). The result says
   * that it was retried and why. A guest that does not come back, or dies with
   * no heals left, fails the repetition as guest-died with the latest cause.
   * Returns the guest's new state.
   */
  async #heal(target: InventoryTarget, task: Task, first: GuestDied): Promise<TargetState> {
    const started = new Date();
    const causes: string[] = [];
    for (let cause = first; ;) {
      causes.push(cause.message.split('\n')[0]!);
      try {
        await this.#bootAgain(target, cause);
      } catch (e) {
        await this.ctx.recorder.record(target, task, { state: 'failed', failure: failureOf(cause) }, started);
        return { kind: 'failed', failure: failureOf(e) };
      }
      const st = await this.#prepare(target);
      if (st.kind !== 'ready') {
        await this.ctx.recorder.record(target, task, { state: 'failed', failure: failureOf(cause) }, started, st.extra ?? {});
        return st;
      }
      this.ctx.say(target, `${task.cell.id} ${repId(task.rep)} (again)`);
      try {
        await this.#measure(target, st, task, [{ name: 'retried', ok: true, detail: retriedDetail(causes) }]);
        return st;
      } catch (e) {
        if (e instanceof DiskFullError) throw e;
        // Died again with heals left (without, #measure recorded the failure itself and threw GuestDiedError).
        if (!(e instanceof HealNeeded)) return { kind: 'failed', failure: failureOf(e), extra: st.extra };
        cause = e.cause;
      }
    }
  }

  /** Connect (a new link) and preflight. */
  #prepare(target: InventoryTarget): Promise<TargetState> {
    const link = new TargetLink(target, { ...this.ctx.connect, signal: this.ctx.signal, onRetry: (n, of) => this.ctx.say(target, `connect failed, retry ${n}/${of}`) });
    return prepareTarget(target, { run: this.ctx.run, store: this.ctx.store, link, onState: (s) => this.ctx.say(target, s), ...(this.ctx.sysfsRoot ? { sysfsRoot: this.ctx.sysfsRoot } : {}) });
  }

  /**
   * Connect and preflight; a lab guest that cannot be reached because it died
   * (between repetitions, or before the first) is booted again while heals are
   * left, and its failure named guest-died when none are.
   */
  async #prepareOrHeal(target: InventoryTarget): Promise<TargetState> {
    for (;;) {
      const st = await this.#prepare(target);
      if (st.kind === 'ready' || !target.vm || this.ctx.signal.aborted) return st;
      const died = await diagnose(target, new Error(st.failure.message), 'its preflight');
      if (!(died instanceof GuestDiedError)) return st;
      if (!this.ctx.heals.allows(target)) return { kind: 'failed', failure: failureOf(died), ...(st.extra ? { extra: st.extra } : {}) };
      try {
        await this.#bootAgain(target, died);
      } catch (e) {
        return { kind: 'failed', failure: failureOf(e) };
      }
    }
  }

  /** Every guest with repetitions in the next boot boots again, side by side where they are local. */
  async #nextBoot(rest: readonly Task[], boot: number): Promise<void> {
    const next = [...new Set(rest.filter((t) => t.boot === boot).map((t) => t.cell.target.name))]
      .map((n) => this.ctx.targets.get(n))
      // A guest that failed in the last boot boots again too: a new boot may well work (one that never came up does not).
      .filter((t): t is InventoryTarget => Boolean(t?.vm));
    // As `up` boots them (core/clock.ts bootsSideBySide).
    const side = bootsSideBySide(next.every((t) => runsHere(t.vm!)), next.map((t) => t.vm!.clock), availableParallelism());
    await forEachLimit(next, side, async (t) => {
      this.ctx.say(t, `rebooting for boot ${boot}`);
      const st = this.#states.get(t.name);
      this.#states.delete(t.name);
      try {
        await unparkGuest(t);
        if (st?.kind === 'ready') await releaseTarget(st);
        await rebootGuest(t, this.ctx.scenario.timeouts.boot_s * 1000);
      } catch (e) {
        if (!this.ctx.signal.aborted) this.#states.set(t.name, { kind: 'failed', failure: failureOf(e) });
      }
    });
  }

  /** At the group's end: every ready target's remote files removed and its link closed, the guest parked. */
  async #releaseAll(): Promise<void> {
    for (const [name, st] of this.#states) {
      const target = this.ctx.targets.get(name)!;
      if (st.kind === 'ready') {
        await unparkGuest(target).catch(() => {});
        await releaseTarget(st);
        await parkGuest(target).catch(() => {});
      }
      this.ctx.say(target, 'done');
    }
  }
}

function retriedDetail(causes: readonly string[]): string {
  return causes.length === 1
    ? `the first attempt ended when the guest died (${causes[0]}); it was booted again and the repetition run anew`
    : `${causes.length} attempts ended when the guest died (${causes.join('; ')}); it was booted again each time and the repetition run anew`;
}
