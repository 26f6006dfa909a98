/**
 * The Pulumi dynamic provider as the Pulumi engine would run it: the program's
 * resource is created under mocks to obtain its serialized `__provider` text;
 * that text is loaded in isolation (require-from-string, as Pulumi's dynamic
 * provider host does) and its create/read/diff/delete are called against real
 * libvirt, as `pulumi up` and `pulumi refresh` would: a guest removed out of
 * band is noticed and booted again.
 */
import * as pulumi from '@pulumi/pulumi';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { labPath } from '../../core/paths.js';
import type { Image } from '../../guest-images/build.js';
import { domainName } from '../../infra/guest.js';
import { GUESTS_DIR } from '../../infra/host.js';
import type { GuestInputs, GuestOutputs } from '../../infra/pulumi/provider.js';
import { down, LOCAL } from '../../infra/up.js';
import { Virsh } from '../../infra/virsh.js';
import { SshSession } from '../../transport/ssh.js';
import { labImage } from '../helpers/lab-image.js';

const requireFromString = createRequire(import.meta.url)('require-from-string') as (code: string) => { handler: () => pulumi.dynamic.ResourceProvider };

let image: Image;
let providerText = '';

beforeAll(async () => {
  image = await labImage();
  await down([LOCAL], { scenario: 'pulumi-test' });
  await pulumi.runtime.setMocks(
    {
      newResource(args) {
        if (args.type === 'pulumi-nodejs:dynamic:Resource') providerText = args.inputs['__provider'] as string;
        return { id: `${args.name}-id`, state: args.inputs };
      },
      call: (args) => args.inputs,
    },
    'iommu-lab',
    'vm-test',
  );
});

afterAll(async () => {
  await down([LOCAL], { scenario: 'pulumi-test' });
});

const inputs = (): GuestInputs => ({
  guest: 'pl-intel-lazy',
  kernel: '6.12',
  scenario: 'pulumi-test',
  profile: { name: 'pl', vcpus: 2, memory_mib: 1024, kernel: '6.12', clock: 'tcg', disks: [{ name: 'nvme0', bus: 'nvme', size_mib: 64 }] },
  iommu: { device: 'intel', mode: 'lazy' },
  imageDir: image.dir,
  uri: LOCAL.uri,
  bootTimeoutS: 180,
});

describe('the serialized Pulumi provider against real libvirt', () => {
  it('creates a reachable guest and deletes it without leftovers', async () => {
    const mod = (await import(pathToFileURL(labPath('dist/infra/pulumi/program.js')).href)) as typeof import('../../infra/pulumi/program.js');
    new mod.LabGuest('pl-intel-lazy', inputs());
    for (let i = 0; i < 100 && !providerText; i++) await new Promise((r) => setTimeout(r, 50));
    expect(providerText).toContain('exports.handler');

    const provider = requireFromString(providerText).handler();
    const created = await provider.create!(inputs());
    const outs = created.outs as GuestOutputs;
    expect(created.id).toBe(`qemu:///system#${domainName('pl-intel-lazy')}`);
    expect(outs.target).toMatchObject({ name: 'pl-intel-lazy', kind: 'vm', iommu: { device: 'intel', mode: 'lazy' } });
    process.stderr.write(`provider create: boot to SSH ${outs.bootSeconds.toFixed(1)} s\n`);

    const session = await SshSession.connect(outs.target.name, outs.target.ssh);
    try {
      const r = await session.exec('cat /sys/kernel/iommu_groups/*/type | sort -u');
      expect(r.stdout.trim()).toBe('DMA-FQ');
    } finally {
      session.close();
    }

    const diff = await provider.diff!(created.id, outs, { ...inputs(), iommu: { device: 'intel', mode: 'strict' } });
    expect(diff).toMatchObject({ changes: true, replaces: ['iommu'], deleteBeforeReplace: true });

    // Unchanged and running: nothing to do; read returns it as it is.
    expect(await provider.diff!(created.id, outs, inputs())).toMatchObject({ changes: false, replaces: [] });
    expect(await provider.read!(created.id, outs)).toMatchObject({ id: created.id });

    // Removed out of band: refresh forgets it, and `pulumi up` (diff → delete → create) boots it again.
    const virsh = new Virsh(LOCAL.uri);
    await virsh.remove(domainName('pl-intel-lazy'));
    expect(await provider.read!(created.id, outs)).toEqual({});
    const repair = await provider.diff!(created.id, outs, inputs());
    expect(repair).toMatchObject({ changes: true, replaces: ['target'], deleteBeforeReplace: true });
    await provider.delete!(created.id, outs);
    const again = await provider.create!(inputs());
    const outs2 = again.outs as GuestOutputs;
    process.stderr.write(`provider repair: boot to SSH ${outs2.bootSeconds.toFixed(1)} s\n`);
    const s2 = await SshSession.connect(outs2.target.name, outs2.target.ssh);
    try {
      expect((await s2.exec('cat /sys/kernel/iommu_groups/*/type | sort -u')).stdout.trim()).toBe('DMA-FQ');
    } finally {
      s2.close();
    }

    await provider.delete!(again.id, outs2);
    expect(await virsh.state(domainName('pl-intel-lazy'))).toBeUndefined();
    expect(existsSync(`${GUESTS_DIR}/${domainName('pl-intel-lazy')}`)).toBe(false);
  });
});
