/**
 * The Pulumi program: one `iommu-lab:infra:Guest` component per guest of the
 * scenario, each owning a dynamic-provider resource that boots it through
 * libvirt; the stack exports `inventory` in the format of
 * schemas/inventory.schema.json.
 *
 * Stack config (Pulumi.<stack>.yaml, namespace iommu-lab):
 *   scenario     path of the scenario file (required)
 *   hypervisors  list of hypervisor hosts, placed in order up to each capacity: a libvirt URI
 *                (optionally =CAPACITY), or { uri, capacity, ssh: { key, host_key_sha256 } } for
 *                a remote host (qemu+ssh://), as under `hypervisors:` in a hosts file
 *                (default: hostsFile's hypervisors, else [qemu:///system])
 *   hostsFile    a hosts file whose `hypervisors:` pin remote hosts named by URI alone
 *   imageDir     a built image's directory (default: the current recipe's, in the cache)
 */
import * as pulumi from '@pulumi/pulumi';
import { expand } from '../../cell/expand.js';
import { requireImage } from '../../guest-images/build.js';
import type { Inventory, InventoryTarget } from '../../inventory/types.js';
import { loadScenarioFile } from '../../scenario/load.js';
import { place, resolveHypervisors, type Hypervisor } from '../hypervisor.js';
import { loadHostsFile, type LoadedHosts } from '../../scenario/load.js';
import type { HypervisorEntry } from '../../scenario/types.js';
import { describeGuest } from '../guest.js';
import { guestProvider, type GuestInputs } from './provider.js';

export const GUEST_TYPE = 'iommu-lab:infra:Guest';

/** The dynamic resource: its provider boots and removes the guest. */
export class GuestVm extends pulumi.dynamic.Resource {
  declare readonly target: pulumi.Output<InventoryTarget>;
  declare readonly bootSeconds: pulumi.Output<number>;

  constructor(name: string, args: { [K in keyof GuestInputs]: pulumi.Input<GuestInputs[K]> }, opts?: pulumi.CustomResourceOptions) {
    super(guestProvider, name, { ...args, target: undefined, bootSeconds: undefined }, opts);
  }
}

/** One lab guest: what `pulumi up` shows per IOMMU configuration. */
export class LabGuest extends pulumi.ComponentResource {
  readonly target: pulumi.Output<InventoryTarget>;
  readonly bootSeconds: pulumi.Output<number>;

  constructor(name: string, args: GuestInputs, opts?: pulumi.ComponentResourceOptions) {
    super(GUEST_TYPE, name, { device: args.iommu.device, mode: args.iommu.mode }, opts);
    const vm = new GuestVm(`${name}-vm`, args, { parent: this });
    this.target = vm.target;
    this.bootSeconds = vm.bootSeconds;
    this.registerOutputs({ target: this.target, bootSeconds: this.bootSeconds });
  }
}

export interface ProgramOutputs {
  readonly inventory: pulumi.Output<Inventory>;
  readonly guests: readonly LabGuest[];
}

/** The stack's hypervisors: URIs (remote ones pinned in `hostsFile`) or entries with their SSH inline; this machine when none. */
export async function stackHypervisors(config: pulumi.Config): Promise<Hypervisor[]> {
  const raw = config.getObject<(string | HypervisorEntry)[]>('hypervisors') ?? [];
  const hostsFile = config.get('hostsFile');
  const fromFile = hostsFile ? await loadHostsFile(hostsFile) : undefined;
  const inline = raw.filter((e): e is HypervisorEntry => typeof e === 'object');
  // Inline entries' key paths are relative to the project directory (where Pulumi.yaml is).
  const hosts: LoadedHosts = { file: fromFile?.file ?? `${process.cwd()}/Pulumi.yaml`, hosts: { hosts: [], hypervisors: [...(fromFile?.hosts.hypervisors ?? []), ...inline] } };
  const named = raw.map((e) => (typeof e === 'string' ? e : `${e.uri}${e.capacity ? `=${e.capacity}` : ''}`));
  return resolveHypervisors(named, hosts);
}

export async function program(): Promise<ProgramOutputs> {
  const config = new pulumi.Config('iommu-lab');
  const scenarioFile = config.get('scenario');
  if (!scenarioFile) {
    throw new Error('no scenario configured: run `pulumi config set iommu-lab:scenario scenarios/quick.yaml`');
  }
  const hypervisors = await stackHypervisors(config);
  const loaded = await loadScenarioFile(scenarioFile);
  const plan = expand(loaded);
  const imageDir = config.get('imageDir') ?? (await requireImage()).dir;
  const placement = place(plan.guests, hypervisors);

  const guests = plan.guests.map(
    (g) =>
      new LabGuest(g.name, { ...describeGuest(g, loaded, placement.get(g.name)!), imageDir }),
  );
  const inventory = pulumi.all(guests.map((g) => g.target)).apply(
    (targets): Inventory => ({ version: 1, created: new Date().toISOString(), source: 'pulumi', targets }),
  );
  return { inventory, guests };
}
