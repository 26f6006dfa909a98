/**
 * The Pulumi program: one `iommu-lab:infra:Guest` component per guest of the
 * scenario, each owning a dynamic-provider resource that boots it through
 * libvirt; the stack exports `inventory` in the format of
 * schemas/inventory.schema.json.
 *
 * Stack config (Pulumi.<stack>.yaml, namespace iommu-lab):
 *   scenario     path of the scenario file (required)
 *   hypervisors  list of libvirt URIs, each optionally =CAPACITY (default [qemu:///system])
 *   imageDir     a built image's directory (default: the current recipe's, in the cache)
 */
import * as pulumi from '@pulumi/pulumi';
import { expand } from '../../cell/expand.js';
import { requireImage } from '../../guest-images/build.js';
import type { Inventory, InventoryTarget } from '../../inventory/types.js';
import { loadScenarioFile } from '../../scenario/load.js';
import { LOCAL, parseHypervisor, place } from '../up.js';
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

export async function program(): Promise<ProgramOutputs> {
  const config = new pulumi.Config('iommu-lab');
  const scenarioFile = config.get('scenario');
  if (!scenarioFile) {
    throw new Error('no scenario configured: run `pulumi config set iommu-lab:scenario scenarios/quick.yaml`');
  }
  const hypervisors = (config.getObject<string[]>('hypervisors') ?? []).map(parseHypervisor);
  const loaded = await loadScenarioFile(scenarioFile);
  const plan = expand(loaded);
  const imageDir = config.get('imageDir') ?? (await requireImage()).dir;
  const placement = place(plan.guests, hypervisors.length ? hypervisors : [LOCAL]);
  const profiles = new Map(loaded.scenario.targets.vms.map((v) => [v.name, v]));

  const guests = plan.guests.map(
    (g) =>
      new LabGuest(g.name, {
        guest: g.name,
        scenario: loaded.scenario.name,
        profile: profiles.get(g.profile)!,
        kernel: g.kernel,
        ...(g.kernelBuild ? { kernelBuild: g.kernelBuild } : {}),
        iommu: g.iommu,
        imageDir,
        uri: placement.get(g.name)!.uri,
        bootTimeoutS: loaded.scenario.timeouts.boot_s,
      }),
  );
  const inventory = pulumi.all(guests.map((g) => g.target)).apply(
    (targets): Inventory => ({ version: 1, created: new Date().toISOString(), source: 'pulumi', targets }),
  );
  return { inventory, guests };
}
