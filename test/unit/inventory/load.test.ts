import { homedir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { InvalidInputError } from '../../../core/errors.js';
import { composeInventory, inventoryFromHosts, loadInventoryFile } from '../../../inventory/load.js';
import { loadHostsFile } from '../../../scenario/load.js';
import { useTmpDir, writeIn } from '../../helpers/tmp.js';

const tmp = useTmpDir();
const FP = 'SHA256:3o1ZtXcHlE4bM0V0KnmC7rJm9pmrRrL3m1k5k5ZfGmQ';

describe('hosts files', () => {
  it('turn into an inventory of static targets with resolved key paths', async () => {
    const loaded = await loadHostsFile('scenarios/hosts.example.yaml');
    const inv = inventoryFromHosts(loaded);
    expect(inv.source).toBe('hosts-file');
    expect(inv.targets[0]).toMatchObject({
      name: 'bench01',
      kind: 'static',
      ssh: { host: 'bench01.example.org', port: 22, key_path: join(homedir(), '.ssh/iommu-lab_ed25519'), host_key_sha256: FP },
      iommu: { device: 'intel', mode: 'strict' },
    });
    expect(inv.targets[0]!.disks[1]).toEqual({ name: 'nvme1', path: '/dev/nvme1n1', behind_iommu: true, allow_destructive_writes: false });
  });

  it('compose with provisioned guests into the run\'s inventory: guests first, a guest of the same name wins', async () => {
    const hosts = await loadHostsFile('scenarios/hosts.example.yaml');
    const alone = composeInventory({ hosts, hostNames: ['bench01'] });
    expect([alone.source, alone.targets.map((t) => t.name)]).toEqual(['hosts-file', ['bench01']]);
    const guest = { ...alone.targets[0]!, name: 'g1', kind: 'vm' as const };
    const guests = { version: 1 as const, created: 'x', source: 'iommu-lab up' as const, targets: [guest] };
    expect(composeInventory({ guests, hosts, hostNames: ['bench01'] }).targets.map((t) => t.name)).toEqual(['g1', 'bench01']);
    expect(composeInventory({ guests: { ...guests, targets: [{ ...guest, name: 'bench01' }] }, hosts, hostNames: ['bench01'] }).targets.map((t) => t.kind)).toEqual(['vm']);
    expect(composeInventory({ guests, hostNames: [] })).toBe(guests);
    expect(composeInventory({ hostNames: [] }).targets).toEqual([]);
  });

  it('reject an unpinned or malformed host key with the command that gets it', async () => {
    const file = await writeIn(await tmp(), 'h.yaml', `hosts:
  - name: h1
    ssh: { host: 127.0.0.1, user: root, key: k, host_key_sha256: "abc" }
    iommu: { device: intel, mode: lazy }
    disks: [{ name: d, path: /tmp/f, behind_iommu: false }]
`);
    const err = (await loadHostsFile(file).catch((e: unknown) => e)) as InvalidInputError;
    expect(err).toBeInstanceOf(InvalidInputError);
    expect(err.format()).toContain(`${file}:3:66: hosts[0].ssh.host_key_sha256: "abc" is not a valid value here`);
    expect(err.format()).toContain('ssh-keyscan -t ed25519 HOST | ssh-keygen -lf -');
  });

  it('reject a host without an IOMMU in a translated mode', async () => {
    const file = await writeIn(await tmp(), 'h.yaml', `hosts:
  - name: h1
    ssh: { host: 127.0.0.1, user: root, key: k, host_key_sha256: "${FP}" }
    iommu: { device: none, mode: strict }
    disks: [{ name: d, path: /tmp/f, behind_iommu: false }]
`);
    await expect(loadHostsFile(file)).rejects.toThrow(InvalidInputError);
  });
});

describe('inventory files', () => {
  it('load, validate and resolve key paths beside the file', async () => {
    const dir = await tmp();
    const file = await writeIn(dir, 'inventory.json', JSON.stringify({
      version: 1, created: '2026-11-24T10:00:00Z', source: 'iommu-lab up',
      targets: [{
        name: 'tcg-intel-lazy', kind: 'vm',
        ssh: { host: '127.0.0.1', port: 2201, user: 'root', key_path: 'keys/id', host_key_sha256: FP },
        iommu: { device: 'intel', mode: 'lazy' },
        disks: [{ name: 'nvme0', path: '/dev/nvme0n1', bus: 'nvme', behind_iommu: true, allow_destructive_writes: true, pci_address: '0000:00:10.0' }],
      }],
    }));
    const inv = await loadInventoryFile(file);
    expect(inv.targets[0]!.ssh.key_path).toBe(join(dir, 'keys/id'));
  });

  it('reject duplicate targets', async () => {
    const t = { name: 'a', kind: 'static', ssh: { host: 'h', port: 22, user: 'u', key_path: '/k', host_key_sha256: FP }, iommu: { device: 'none', mode: 'off' }, disks: [] };
    const file = await writeIn(await tmp(), 'inv.json', JSON.stringify({ version: 1, created: '2026-11-24T10:00:00Z', source: 'pulumi', targets: [t, t] }, null, 1));
    await expect(loadInventoryFile(file)).rejects.toThrow(/1 problem/);
  });
});
