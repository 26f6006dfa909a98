/**
 * The Pulumi dynamic provider for one lab guest, over the same functions that
 * `iommu-lab up`/`down` use (infra/guest.ts). Pulumi serializes this object
 * into the resource's `__provider` property and later runs it in a separate
 * process: the methods load the lab's modules themselves (dynamic import of
 * absolute paths captured here as strings) instead of closing over imported
 * bindings, which closure serialization cannot carry.
 */
import type * as pulumi from '@pulumi/pulumi';
import type { InventoryTarget } from '../../inventory/types.js';
import type { GuestDescription } from '../guest.js';

/** The guest as `up` describes it (infra/guest.ts), with the image by its directory: Pulumi's inputs are plain data. */
export interface GuestInputs extends GuestDescription {
  /** Directory of the cached image (with manifest.json). */
  readonly imageDir: string;
}

export interface GuestOutputs extends GuestInputs {
  readonly target: InventoryTarget;
  readonly bootSeconds: number;
}

const GUEST_MODULE = new URL('../guest.js', import.meta.url).href;
const BUILD_MODULE = new URL('../../guest-images/build.js', import.meta.url).href;

export const guestProvider: pulumi.dynamic.ResourceProvider = {
  async create(inputs: GuestInputs) {
    const guestMod = (await import(GUEST_MODULE)) as typeof import('../guest.js');
    const buildMod = (await import(BUILD_MODULE)) as typeof import('../../guest-images/build.js');
    const manifest = await buildMod.readManifest(inputs.imageDir);
    if (!manifest) throw new Error(`no image manifest in ${inputs.imageDir}: run iommu-lab image build`);
    const { imageDir, ...guest } = inputs;
    const running = await guestMod.createGuest({ ...guest, image: { dir: imageDir, manifest } });
    const outs: GuestOutputs = { ...inputs, target: running.target, bootSeconds: running.boot.seconds };
    return { id: `${inputs.uri}#${guestMod.domainName(inputs.guest)}`, outs };
  },

  async delete(_id: string, outs: GuestOutputs) {
    const guestMod = (await import(GUEST_MODULE)) as typeof import('../guest.js');
    await guestMod.removeGuest(outs.uri, outs.guest, outs.hypervisorSsh);
  },

  /**
   * `pulumi refresh`: the guest as libvirt has it. A domain that is gone (undefined
   * out of band) is reported gone, so the state forgets it and the next `up` boots it.
   */
  async read(id: string, props: GuestOutputs) {
    const guestMod = (await import(GUEST_MODULE)) as typeof import('../guest.js');
    const live = await guestMod.guestLiveness(props.uri, props.guest, props.hypervisorSsh);
    return live === 'gone' ? {} : { id, props };
  },

  async diff(_id: string, olds: GuestOutputs, news: GuestInputs) {
    // A guest is its configuration: any change means a new boot.
    const keys = ['guest', 'scenario', 'profile', 'kernel', 'kernelBuild', 'iommu', 'imageDir', 'uri'] as const;
    const replaces: string[] = keys.filter((k) => JSON.stringify(olds[k]) !== JSON.stringify(news[k]));
    // A guest removed or stopped out of band (virsh undefine or destroy, a host reboot) no longer
    // serves its target: `pulumi up` replaces it (delete, then create: a fresh boot).
    if (replaces.length === 0) {
      const guestMod = (await import(GUEST_MODULE)) as typeof import('../guest.js');
      const live = await guestMod.guestLiveness(olds.uri, olds.guest, olds.hypervisorSsh).catch(() => 'running' as const);
      if (live !== 'running') replaces.push('target');
    }
    return { changes: replaces.length > 0 || olds.bootTimeoutS !== news.bootTimeoutS, replaces, deleteBeforeReplace: true };
  },
};
