/**
 * The lifecycle every command that measures shares (sweep, repro; bisect
 * sweeps each step): one command at a time per results root, the image, the
 * guests brought up by a provisioner, the static hosts beside them, the body
 * (the run), and the same provisioner taking the guests down whatever
 * happened — unless they are to be kept.
 */
import type { Plan } from '../cell/types.js';
import { buildImage, type Image } from '../guest-images/build.js';
import type { Provisioner } from '../infra/provisioner.js';
import type { GuestFailure } from '../infra/up.js';
import { composeInventory } from '../inventory/load.js';
import type { Inventory } from '../inventory/types.js';
import type { LoadedScenario } from '../scenario/load.js';
import { acquireLock } from './lock.js';

/** Wall seconds of the phases around a run. */
export interface PhaseSeconds {
  image: number;
  up: number;
  down: number;
}

export interface GuestsUp {
  /** The guests that came up, and the plan's static hosts. */
  readonly inventory: Inventory;
  /** Guests that did not come up, and why. */
  readonly failed: readonly GuestFailure[];
}

export interface WithGuestsOptions {
  /** Who brings the guests up and takes them down; none when the plan has no guests. */
  readonly provisioner: Provisioner | undefined;
  readonly loaded: LoadedScenario;
  readonly plan: Plan;
  readonly inventoryFile: string;
  /** Bring up only these guests of the plan. */
  readonly only?: readonly string[];
  /** Leave the guests up afterwards. */
  readonly keep?: boolean;
  /** Refuses an image the body must not run on (repro: the run's own image and kernel). */
  readonly checkImage?: (image: Image) => Promise<void>;
  readonly log: (line: string) => void;
  readonly signal?: AbortSignal;
  /** Filled in as the phases end. */
  readonly seconds?: PhaseSeconds;
}

/** Runs `body` holding the results root's lock (one command at a time: they would compete for the CPUs). */
export async function underLock<T>(root: string, what: string, body: () => Promise<T>): Promise<T> {
  const lock = await acquireLock(root, what);
  try {
    return await body();
  } finally {
    await lock.release();
  }
}

/** The plan's guests up (after the image), `body` run with them and the static hosts, the guests down always. */
export async function withGuests<T>(o: WithGuestsOptions, body: (up: GuestsUp) => Promise<T>): Promise<T> {
  const seconds = o.seconds ?? { image: 0, up: 0, down: 0 };
  const hostNames = o.loaded.scenario.targets.hosts.filter((h) => o.plan.cells.some((c) => c.target.name === h));
  try {
    let guests: Inventory | undefined;
    let failed: readonly GuestFailure[] = [];
    if (o.provisioner) {
      let t = Date.now();
      // The cached image, or built first (once per recipe).
      const image = await buildImage({ onLog: o.log });
      await o.checkImage?.(image);
      seconds.image = (Date.now() - t) / 1000;
      t = Date.now();
      const provisioned = await o.provisioner.up({
        loaded: o.loaded, plan: o.plan, image, inventoryFile: o.inventoryFile, ...(o.only ? { only: o.only } : {}),
        onProgress: o.log, ...(o.signal ? { signal: o.signal } : {}),
        onGuest: (g, boot) => o.log(`${g}: SSH after ${boot.seconds.toFixed(1)} s${boot.retried ? ` (retried once: ${boot.retried})` : ''}`),
      });
      guests = provisioned.inventory;
      failed = provisioned.failed;
      seconds.up = (Date.now() - t) / 1000;
    }
    const inventory = composeInventory({ ...(guests ? { guests } : {}), ...(o.loaded.hosts ? { hosts: o.loaded.hosts } : {}), hostNames });
    return await body({ inventory, failed });
  } finally {
    if (o.provisioner && !o.keep) {
      const t = Date.now();
      o.log('taking the guests down');
      await o.provisioner.down().catch((e) => o.log(`down failed: ${(e as Error).message}; run \`iommu-lab down --scenario ${o.loaded.scenario.name}\``));
      seconds.down = (Date.now() - t) / 1000;
    }
  }
}
