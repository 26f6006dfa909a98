/**
 * `iommu-lab up` / `down` without Pulumi: one guest per (VM profile × IOMMU
 * configuration) of a scenario, placed on the hypervisor hosts by capacity,
 * and an inventory file the runner reads. The Pulumi program (infra/pulumi)
 * drives the same guest functions through a dynamic provider.
 */
import type { GuestSpec, Plan } from '../cell/types.js';
import { InterruptedError, LabError, NotRootError, UsageError } from '../core/errors.js';
import type { Image } from '../guest-images/build.js';
import type { Inventory, InventoryTarget } from '../inventory/types.js';
import { writeJsonAtomic } from '../core/atomic.js';
import type { LoadedScenario } from '../scenario/load.js';
import { availableParallelism } from 'node:os';
import { bootsSideBySide } from '../core/clock.js';
import { createGuest, describeGuest, domainName, removeGuestFrom, type BootRecord } from './guest.js';
import { isLocalUri, place, type Hypervisor } from './hypervisor.js';
import { hypervisorHost } from './host.js';
import { metadataAttr } from './virsh.js';

export { LOCAL, parseHypervisor, place, type Hypervisor } from './hypervisor.js';

/** A guest that did not come up, and why: its cells fail with it, the other guests' run. */
export interface GuestFailure {
  readonly guest: string;
  readonly uri: string;
  readonly error: LabError;
}

export interface UpOptions {
  readonly loaded: LoadedScenario;
  readonly plan: Plan;
  readonly image: Image;
  readonly hypervisors: readonly Hypervisor[];
  readonly inventoryFile: string;
  readonly only?: readonly string[];
  readonly onGuest?: (guest: string, boot: BootRecord, target: InventoryTarget) => void;
  readonly onProgress?: (text: string) => void;
  /** Stops booting further guests (the ones booting finish; the caller takes them down). */
  readonly signal?: AbortSignal;
}

export interface UpResult {
  /** The guests that came up. */
  readonly inventory: Inventory;
  readonly boots: Readonly<Record<string, BootRecord>>;
  /** Guests that did not (an unreachable host, a wrong host key, no disk, a boot that failed twice). */
  readonly failed: readonly GuestFailure[];
}

export async function up(options: UpOptions): Promise<UpResult> {
  const guests = options.plan.guests.filter((g) => !options.only || options.only.includes(g.name));
  if (options.only) {
    const unknown = options.only.filter((n) => !options.plan.guests.some((g) => g.name === n));
    if (unknown.length) throw new UsageError(`no guest ${unknown.join(', ')} in this scenario`, `guests: ${options.plan.guests.map((g) => g.name).join(', ')}`);
  }
  const placement = place(guests, options.hypervisors);
  const profiles = new Map(options.loaded.scenario.targets.vms.map((v) => [v.name, v]));
  const targets: InventoryTarget[] = [];
  const boots: Record<string, BootRecord> = {};
  const taken = new Set<number>();
  const write = () => writeJsonAtomic(options.inventoryFile, inventoryOf(targets));
  const failed: GuestFailure[] = [];
  const byHost = new Map<string, GuestSpec[]>();
  for (const g of guests) byHost.set(placement.get(g.name)!.uri, [...(byHost.get(placement.get(g.name)!.uri) ?? []), g]);

  // Hosts boot in parallel; within one, as many side by side as core/clock.ts bootsSideBySide says.
  await Promise.all(
    [...byHost].map(async ([uri, all]) => {
      const parallel = bootsSideBySide(isLocalUri(uri), all.map((g) => profiles.get(g.profile)!.clock), availableParallelism());
      const queue = [...all];
      await Promise.all(Array.from({ length: Math.min(parallel, queue.length) }, () => bootNext(uri, queue)));
    }),
  );
  async function bootNext(uri: string, queue: GuestSpec[]): Promise<void> {
    for (let g = queue.shift(); g; g = queue.shift()) {
      if (options.signal?.aborted) return;
      options.onProgress?.(`${g.name}: booting on ${uri}`);
      let running;
      try {
        running = await createGuest({ ...describeGuest(g, options.loaded, placement.get(g.name)!), image: options.image }, { taken });
      } catch (e) {
        // One guest (or one host) failing does not stop the others: its cells fail with the reason.
        if (!(e instanceof LabError) || (e as LabError).code === InterruptedError.code) throw e;
        const error = e as LabError;
        failed.push({ guest: g.name, uri, error });
        options.onProgress?.(`${g.name}: did not come up on ${uri}: ${error.message.split('\n')[0]}`);
        continue;
      }
      targets.push(running.target);
      boots[g.name] = running.boot;
      await write();
      options.onGuest?.(g.name, running.boot, running.target);
    }
  }
  if (options.signal?.aborted) throw new InterruptedError(`interrupted while guests were booting (${targets.length} of ${guests.length} up)`, { fix: 'run the same command again' });
  targets.sort((a, b) => guests.findIndex((g) => g.name === a.name) - guests.findIndex((g) => g.name === b.name));
  await write();
  return { inventory: inventoryOf(targets), boots, failed };
}

function inventoryOf(targets: readonly InventoryTarget[]): Inventory {
  return { version: 1, created: new Date().toISOString(), source: 'iommu-lab up', targets: [...targets] };
}

export interface DownResult {
  readonly removed: readonly string[];
  readonly leftovers: readonly string[];
  /** Hosts that could not be cleaned (unreachable, libvirtd down); the others were. */
  readonly failed: readonly { readonly uri: string; readonly error: LabError }[];
}

/**
 * Removes the lab's guests: every domain carrying the lab's metadata on the
 * given hosts (optionally only one scenario's), and guest directories no domain
 * owns any more (what a crash leaves). Nothing else is touched.
 */
export async function down(hypervisors: readonly Hypervisor[], options: { scenario?: string } = {}): Promise<DownResult> {
  const removed: string[] = [];
  const leftovers: string[] = [];
  const failed: { uri: string; error: LabError }[] = [];
  for (const h of hypervisors) {
    try {
      await downOne(h);
    } catch (e) {
      // One host that cannot be reached does not keep the others' guests up; with one host, its error is the answer.
      if (!(e instanceof LabError) || hypervisors.length === 1) throw e;
      failed.push({ uri: h.uri, error: e });
    }
  }
  return { removed, leftovers, failed };

  async function downOne(h: Hypervisor): Promise<void> {
    const host = await hypervisorHost(h.uri, h.ssh);
    const mine = (await host.virsh.labDomains()).filter((d) => !options.scenario || metadataAttr(d.metadata, 'scenario') === options.scenario);
    // Removing is waiting on libvirt, not work: all of a host's guests at once.
    await Promise.all(mine.map((d) => removeGuestFrom(host, d.name)));
    removed.push(...mine.map((d) => d.name));
    // Guest directories without a domain: a crash between files and define.
    for (const name of await host.guestDirs()) {
      if ((await host.virsh.state(name)) !== undefined) continue;
      await host.removeGuestFiles(name);
      leftovers.push(host.kind === 'remote' ? `${h.uri}:${name}` : name);
    }
  }
}

export function assertLocalRoot(): void {
  if (process.getuid?.() !== 0) {
    throw new NotRootError('bringing guests up needs root (qemu:///system, files under /var/lib/iommu-lab)', { fix: 'run as root, e.g. sudo npx iommu-lab up …' });
  }
}

export { domainName };
