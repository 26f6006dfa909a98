/**
 * Who brings a scenario's guests up, and takes the same guests down: one
 * interface, two implementations. `direct` drives libvirt itself
 * (infra/up.ts, as `iommu-lab up` does); `pulumi` runs `pulumi up` and
 * `pulumi destroy` on the scenario's stack, whose program (infra/pulumi) drives
 * the same guest functions through a dynamic provider. The sweep and repro
 * never mix them: whatever `up` used, `down` uses.
 */
import { existsSync } from 'node:fs';
import { execa } from 'execa';
import type { Plan } from '../cell/types.js';
import { InterruptedError, UsageError } from '../core/errors.js';
import type { Image } from '../guest-images/build.js';
import { loadInventoryFile } from '../inventory/load.js';
import type { Inventory, InventoryTarget } from '../inventory/types.js';
import { writeJsonAtomic } from '../core/atomic.js';
import type { LoadedScenario } from '../scenario/load.js';
import { removeGuest, type BootRecord } from './guest.js';
import { place, type Hypervisor } from './hypervisor.js';
import { up, type GuestFailure } from './up.js';

export interface ProvisionRequest {
  readonly loaded: LoadedScenario;
  readonly plan: Plan;
  readonly image: Image;
  /** Where the inventory is written (and kept up to date while guests boot). */
  readonly inventoryFile: string;
  /** Bring up only these guests of the plan. */
  readonly only?: readonly string[];
  readonly onProgress?: (text: string) => void;
  readonly onGuest?: (guest: string, boot: BootRecord, target: InventoryTarget) => void;
  /** SIGINT/SIGTERM: no further guest boots; `down` takes down those that did. */
  readonly signal?: AbortSignal;
}

/** The guests that came up, and those that did not (their cells fail with the reason; the others run). */
export interface Provisioned {
  readonly inventory: Inventory;
  readonly failed: readonly GuestFailure[];
}

export interface Provisioner {
  readonly kind: 'direct' | 'pulumi';
  /** Boots the guests and returns their inventory. */
  up(request: ProvisionRequest): Promise<Provisioned>;
  /** Takes down what `up` brought up (or was bringing up when it failed); the names removed. */
  down(): Promise<readonly string[]>;
}

/** libvirt directly, over the hypervisors given (placed by capacity). */
export function directProvisioner(hypervisors: readonly Hypervisor[]): Provisioner {
  let mine: { host: Hypervisor; guest: string }[] = [];
  return {
    kind: 'direct',
    async up(req) {
      const guests = req.plan.guests.filter((g) => !req.only || req.only.includes(g.name));
      // What `up` will boot and where (it places the same way): known before booting, so a failed
      // boot half-way still leaves `down` the full list.
      const placement = place(guests, hypervisors);
      mine = guests.map((g) => ({ host: placement.get(g.name)!, guest: g.name }));
      const res = await up({ ...req, hypervisors });
      return { inventory: res.inventory, failed: res.failed };
    },
    async down() {
      // One host that cannot be reached does not keep the others' guests up.
      const results = await Promise.allSettled(mine.map((g) => removeGuest(g.host.uri, g.guest, g.host.ssh)));
      const failedHosts = [...new Set(mine.filter((_, i) => results[i]!.status === 'rejected').map((g) => g.host.uri))];
      const names = mine.filter((_, i) => results[i]!.status === 'fulfilled').map((g) => g.guest);
      mine = [];
      if (failedHosts.length) throw new Error(`guests on ${failedHosts.join(', ')} could not be removed (${(results.find((r) => r.status === 'rejected') as PromiseRejectedResult).reason?.message ?? 'unknown'}); removed ${names.length}`);
      return names;
    },
  };
}

/** The commands the Pulumi provisioner runs, in order (exported for the test). */
export function pulumiCommands(stack: string): { up: string[][]; down: string[][] } {
  return {
    up: [['up', '--yes', '--skip-preview', '--refresh', '--stack', stack], ['stack', 'output', 'inventory', '--json', '--stack', stack]],
    down: [['destroy', '--yes', '--skip-preview', '--stack', stack]],
  };
}

/**
 * The scenario's Pulumi stack (`Pulumi.<scenario>.yaml`). `--refresh` makes
 * `up` ask libvirt first, so a guest removed out of band is booted again
 * (the provider's read and diff, infra/pulumi/provider.ts).
 */
export function pulumiProvisioner(stack: string, pulumi: (args: readonly string[]) => Promise<string> = runPulumi): Provisioner {
  const cmds = pulumiCommands(stack);
  let upped = false;
  return {
    kind: 'pulumi',
    async up(req) {
      if (req.only) throw new UsageError('the Pulumi stack brings up the whole matrix; --only needs the direct provisioner', 'use --provision direct');
      upped = true;
      await pulumi(cmds.up[0]!);
      if (req.signal?.aborted) throw new InterruptedError('interrupted while the stack was coming up', { fix: 'run the same command again' });
      const out = await pulumi(cmds.up[1]!);
      await writeJsonAtomic(req.inventoryFile, JSON.parse(out));
      // `pulumi up` fails as a whole when a guest does; what it exports came up.
      return { inventory: await loadInventoryFile(req.inventoryFile), failed: [] };
    },
    async down() {
      if (!upped) return [];
      await pulumi(cmds.down[0]!);
      upped = false;
      return [`stack ${stack}`];
    },
  };
}

async function runPulumi(args: readonly string[]): Promise<string> {
  const r = await execa('pulumi', args, { stdout: 'pipe', stderr: 'inherit' });
  return r.stdout;
}

async function pulumiUsable(stack: string): Promise<boolean> {
  if (!existsSync(`Pulumi.${stack}.yaml`)) return false;
  return (await execa('pulumi', ['version'], { reject: false })).exitCode === 0;
}

export type ProvisionHow = 'auto' | 'pulumi' | 'direct';

/** `auto`: Pulumi where its CLI and a stack for the scenario exist, else libvirt directly. */
export async function chooseProvisioner(how: ProvisionHow, scenario: string, hypervisors: readonly Hypervisor[]): Promise<Provisioner> {
  if (how === 'pulumi' || (how === 'auto' && (await pulumiUsable(scenario)))) return pulumiProvisioner(scenario);
  return directProvisioner(hypervisors);
}
