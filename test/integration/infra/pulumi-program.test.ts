/**
 * The Pulumi program under pulumi.runtime.setMocks: the program is imported
 * only after the mocks are set (otherwise its outputs never resolve). The
 * dynamic resource's serialized provider text is kept for the VM test that
 * rehydrates it against real libvirt.
 */
import * as pulumi from '@pulumi/pulumi';
import { validatorFor } from '../../../core/json-schema.js';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { labPath } from '../../../core/paths.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inventorySchema } from '../../../inventory/schema.js';
import type { Inventory } from '../../../inventory/types.js';

interface Created { type: string; name: string; inputs: Record<string, unknown> }
const created: Created[] = [];
let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'iommu-lab-pulumi-'));
  // A stand-in image directory: the program only needs its path and manifest.
  await mkdir(join(dir, 'image'));
  await writeFile(join(dir, 'image', 'manifest.json'), '{}');
  pulumi.runtime.setAllConfig({
    'iommu-lab:scenario': 'scenarios/quick.yaml',
    // A remote host with its SSH inline, as a multi-host stack lists it.
    'iommu-lab:hypervisors': JSON.stringify(['qemu:///system=2', { uri: 'qemu+ssh://lab@lab2:2222/system', capacity: 4, ssh: { key: '/etc/iommu-lab/hv_ed25519', host_key_sha256: `SHA256:${'B'.repeat(43)}` } }]),
    'iommu-lab:imageDir': join(dir, 'image'),
  });
  await pulumi.runtime.setMocks(
    {
      newResource(args) {
        created.push({ type: args.type, name: args.name, inputs: args.inputs });
        if (args.type !== 'pulumi-nodejs:dynamic:Resource') return { id: `${args.name}-id`, state: args.inputs };
        // What the provider's create would return: the inventory target of the booted guest.
        const i = args.inputs as { guest: string; iommu: { device: string; mode: string }; profile: { name: string; disks: { name: string; bus: string }[] }; uri: string };
        const target = {
          name: i.guest, kind: 'vm',
          ssh: { host: '127.0.0.1', port: 22000 + created.length, user: 'root', key_path: '/var/cache/iommu-lab/images/x/lab_ed25519', host_key_sha256: `SHA256:${'A'.repeat(43)}` },
          iommu: i.iommu,
          disks: i.profile.disks.map((d) => ({ name: d.name, path: `/dev/lab/${d.name}`, bus: d.bus, behind_iommu: true, allow_destructive_writes: true })),
          vm: { profile: i.profile.name, hypervisor_uri: i.uri, domain: `iommu-lab-${i.guest}`, image_digest: `sha256:${'0'.repeat(64)}`, kernel: '6.12.95+deb12-amd64', cmdline: 'x', clock: 'tcg' },
        };
        return { id: `${i.uri}#iommu-lab-${i.guest}`, state: { ...args.inputs, target, bootSeconds: 7 } };
      },
      call: (args) => args.inputs,
    },
    'iommu-lab',
    'test',
  );
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const resolve = <T>(o: pulumi.Output<T>) => new Promise<T>((r) => o.apply((v) => { r(v); return v; }));

describe('Pulumi program (mocked engine)', () => {
  it('creates one iommu-lab:infra:Guest component per guest, each owning a dynamic resource', async () => {
    // The compiled program (npm test builds it first): see vitest.config.ts on dist/.
    const mod = (await import(pathToFileURL(labPath('dist/infra/pulumi/program.js')).href)) as typeof import('../../../infra/pulumi/program.js');
    const { program } = mod;
    const out = await program();
    const inventory = await resolve(out.inventory);

    const components = created.filter((c) => c.type === 'iommu-lab:infra:Guest').map((c) => c.name);
    expect(components).toEqual(['tcg-intel-strict', 'tcg-intel-lazy', 'tcg-intel-passthrough', 'tcg-virtio-lazy']);
    const dynamic = created.filter((c) => c.type === 'pulumi-nodejs:dynamic:Resource');
    expect(dynamic.map((c) => c.name)).toEqual(components.map((n) => `${n}-vm`));
    // Placement by capacity: two guests on the local host, the rest on lab2.
    expect(dynamic.map((c) => c.inputs['uri'])).toEqual(['qemu:///system', 'qemu:///system', 'qemu+ssh://lab@lab2:2222/system', 'qemu+ssh://lab@lab2:2222/system']);
    // The remote guests carry the host's SSH (user, host and port from the URI; the key pinned).
    expect(dynamic[0]!.inputs['hypervisorSsh']).toBeUndefined();
    expect(dynamic[2]!.inputs['hypervisorSsh']).toEqual({ user: 'lab', host: 'lab2', port: 2222, key_path: '/etc/iommu-lab/hv_ed25519', host_key_sha256: `SHA256:${'B'.repeat(43)}` });
    expect(dynamic[3]!.inputs['iommu']).toEqual({ device: 'virtio', mode: 'lazy' });
    expect(typeof dynamic[0]!.inputs['__provider']).toBe('string');

    const valid = validatorFor(inventorySchema);
    expect(valid(inventory), JSON.stringify(valid.errors)).toBe(true);
    expect((inventory as Inventory).source).toBe('pulumi');
    expect((inventory as Inventory).targets.map((t) => t.name)).toEqual(components);

    // Saved for test/vm/pulumi-provider.test.ts, which rehydrates it against real libvirt.
    await writeFile(join(tmpdir(), 'iommu-lab-pulumi-provider.txt'), dynamic[0]!.inputs['__provider'] as string);
  });

  it('serializes a provider whose refresh and diff notice a guest removed out of band (libvirt test driver)', async () => {
    const { createRequire } = await import('node:module');
    const requireFromString = createRequire(import.meta.url)('require-from-string') as (code: string) => { handler: () => pulumi.dynamic.ResourceProvider };
    const dyn = created.find((c) => c.type === 'pulumi-nodejs:dynamic:Resource')!;
    const provider = requireFromString(dyn.inputs['__provider'] as string).handler();
    // test:///default is libvirt's own test driver: a real driver, with one domain ("test") and none of ours.
    const olds = { ...(dyn.inputs as object), uri: 'test:///default', guest: 'never-booted', target: {}, bootSeconds: 1 } as never;
    const news = { ...(dyn.inputs as object), uri: 'test:///default', guest: 'never-booted' } as never;
    expect(await provider.read!('x', olds)).toEqual({});
    expect(await provider.diff!('x', olds, news)).toMatchObject({ changes: true, replaces: ['target'], deleteBeforeReplace: true });
    // A configuration change is named as such (and checked before libvirt is asked).
    expect(await provider.diff!('x', olds, { ...(news as object), iommu: { device: 'intel', mode: 'passthrough' } } as never)).toMatchObject({ changes: true, replaces: ['iommu'] });
  });

  it('serializes a provider that needs no closure over imported modules', () => {
    const text = created.find((c) => c.type === 'pulumi-nodejs:dynamic:Resource')!.inputs['__provider'] as string;
    expect(text).toContain('exports.handler');
    expect(text).toMatch(/file:\/\/.*\/infra\/guest\.js/);
  });
});
