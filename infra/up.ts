/**
 * `iommu-lab up` / `down` without Pulumi: one guest per (VM profile × IOMMU
 * configuration) of a scenario, placed on the hypervisor hosts by capacity,
 * and an inventory file the runner reads. The Pulumi program (infra/pulumi)
 * drives the same guest functions through a dynamic provider.
 */
import { existsSync } from 'node:fs';
import { readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { GuestSpec, Plan } from '../cell/types.js';
import { InterruptedError, NotRootError, UsageError } from '../core/errors.js';
import type { Image } from '../guest-images/build.js';
import type { Inventory, InventoryTarget } from '../inventory/types.js';
import { writeJsonAtomic } from '../result/atomic.js';
import type { LoadedScenario } from '../scenario/load.js';
import { availableParallelism } from 'node:os';
import { CLOCKS } from '../core/clock.js';
import { createGuest, domainName, GUESTS_DIR, type BootRecord } from './guest.js';
import { metadataAttr, Virsh } from './virsh.js';

export interface Hypervisor {
  readonly uri: string;
  /** Guests this host may run at once. */
  readonly capacity: number;
}

/** `URI` or `URI=CAPACITY`, e.g. `qemu+ssh://lab2/system=4`. */
export function parseHypervisor(text: string): Hypervisor {
  const m = /^(.+?)(?:=(\d+))?$/.exec(text.trim());
  if (!m || !/^qemu(\+\w+)?:\/\//.test(m[1]!)) {
    throw new UsageError(`"${text}" is not a libvirt QEMU URI`, 'write qemu:///system, or qemu+ssh://user@host/system, optionally with =CAPACITY');
  }
  return { uri: m[1]!, capacity: m[2] ? Number(m[2]) : 8 };
}

export const LOCAL: Hypervisor = { uri: 'qemu:///system', capacity: 8 };

/** Fills hosts in the order given, each up to its capacity. */
export function place(guests: readonly GuestSpec[], hypervisors: readonly Hypervisor[]): Map<string, Hypervisor> {
  const total = hypervisors.reduce((n, h) => n + h.capacity, 0);
  if (guests.length > total) {
    throw new UsageError(`${guests.length} guests do not fit on ${hypervisors.length} hypervisor host(s) with room for ${total}`, 'add hosts with --hypervisor URI=CAPACITY, raise a capacity, or bring up part of the matrix with --only');
  }
  const out = new Map<string, Hypervisor>();
  let h = 0;
  let used = 0;
  for (const g of guests) {
    while (used >= hypervisors[h]!.capacity) { h++; used = 0; }
    out.set(g.name, hypervisors[h]!);
    used++;
  }
  return out;
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
  readonly inventory: Inventory;
  readonly boots: Readonly<Record<string, BootRecord>>;
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
  const byHost = new Map<string, GuestSpec[]>();
  for (const g of guests) byHost.set(placement.get(g.name)!.uri, [...(byHost.get(placement.get(g.name)!.uri) ?? []), g]);

  // One host boots its guests one after another (parallel TCG boots on a small host only
  // slow each other down), except virtual-clock guests on this machine: icount runs a guest on
  // one host thread and parks it once booted, so one boot per CPU goes in parallel. Different
  // hosts boot in parallel.
  await Promise.all(
    [...byHost].map(async ([uri, all]) => {
      const parallel = uri.startsWith('qemu:///') && all.every((g) => CLOCKS[profiles.get(g.profile)!.clock].parkWhenIdle) ? availableParallelism() : 1;
      const queue = [...all];
      await Promise.all(Array.from({ length: Math.min(parallel, queue.length) }, () => bootNext(uri, queue)));
    }),
  );
  async function bootNext(uri: string, queue: GuestSpec[]): Promise<void> {
    for (let g = queue.shift(); g; g = queue.shift()) {
      if (options.signal?.aborted) return;
      options.onProgress?.(`${g.name}: booting on ${uri}`);
      const running = await createGuest(
        { guest: g.name, scenario: options.loaded.scenario.name, profile: profiles.get(g.profile)!, kernel: g.kernel, ...(g.kernelBuild ? { kernelBuild: g.kernelBuild } : {}), iommu: g.iommu, image: options.image, uri, bootTimeoutS: options.loaded.scenario.timeouts.boot_s },
        { taken },
      );
      targets.push(running.target);
      boots[g.name] = running.boot;
      await write();
      options.onGuest?.(g.name, running.boot, running.target);
    }
  }
  if (options.signal?.aborted) throw new InterruptedError(`interrupted while guests were booting (${targets.length} of ${guests.length} up)`, { fix: 'run the same command again' });
  targets.sort((a, b) => guests.findIndex((g) => g.name === a.name) - guests.findIndex((g) => g.name === b.name));
  await write();
  return { inventory: inventoryOf(targets), boots };
}

function inventoryOf(targets: readonly InventoryTarget[]): Inventory {
  return { version: 1, created: new Date().toISOString(), source: 'iommu-lab up', targets: [...targets] };
}

export interface DownResult {
  readonly removed: readonly string[];
  readonly leftovers: readonly string[];
}

/**
 * Removes the lab's guests: every domain carrying the lab's metadata on the
 * given hosts (optionally only one scenario's), and guest directories no domain
 * owns any more (what a crash leaves). Nothing else is touched.
 */
export async function down(hypervisors: readonly Hypervisor[], options: { scenario?: string } = {}): Promise<DownResult> {
  const removed: string[] = [];
  for (const h of hypervisors) {
    const virsh = new Virsh(h.uri);
    const mine = (await virsh.labDomains()).filter((d) => !options.scenario || metadataAttr(d.metadata, 'scenario') === options.scenario);
    // Removing is waiting on libvirt, not work: all of a host's guests at once.
    await Promise.all(mine.map(async (d) => {
      await virsh.remove(d.name);
      await rm(join(GUESTS_DIR, d.name), { recursive: true, force: true });
    }));
    removed.push(...mine.map((d) => d.name));
  }
  // Local guest directories without a domain: a crash between files and define.
  const leftovers: string[] = [];
  if (hypervisors.some((h) => h.uri.startsWith('qemu:///')) && existsSync(GUESTS_DIR)) {
    const local = new Virsh(hypervisors.find((h) => h.uri.startsWith('qemu:///'))!.uri);
    for (const name of await readdir(GUESTS_DIR)) {
      if (!name.startsWith('iommu-lab-') || (await local.state(name)) !== undefined) continue;
      await rm(join(GUESTS_DIR, name), { recursive: true, force: true });
      leftovers.push(name);
    }
  }
  return { removed, leftovers };
}

export function assertLocalRoot(): void {
  if (process.getuid?.() !== 0) {
    throw new NotRootError('bringing guests up needs root (qemu:///system, files under /var/lib/iommu-lab)', { fix: 'run as root, e.g. sudo npx iommu-lab up …' });
  }
}

export { domainName };
