import { dirname, isAbsolute, resolve } from 'node:path';
import { homedir } from 'node:os';
import { InvalidInputError } from '../core/errors.js';
import type { LoadedHosts } from '../scenario/load.js';
import { checkSchema } from '../scenario/schema-check.js';
import { problemAt, readYamlFile } from '../scenario/yaml-source.js';
import { inventorySchema } from './schema.js';
import type { Inventory, InventoryTarget } from './types.js';

/** `~/x` is the user's home; a relative path is relative to the file that names it. */
export function resolveKeyPath(path: string, besideFile: string): string {
  if (path === '~' || path.startsWith('~/')) return resolve(homedir(), path.slice(2));
  return isAbsolute(path) ? path : resolve(dirname(besideFile), path);
}

export async function loadInventoryFile(file: string): Promise<Inventory> {
  const src = await readYamlFile(file);
  const problems = checkSchema(src, inventorySchema);
  if (problems.length === 0) {
    const seen = new Set<string>();
    (src.data as Inventory).targets.forEach((t, i) => {
      if (seen.has(t.name)) problems.push(problemAt(src, ['targets', i, 'name'], `target "${t.name}" appears twice`, 'each target needs its own name'));
      seen.add(t.name);
    });
  }
  if (problems.length > 0) throw new InvalidInputError(problems);
  const inv = src.data as Inventory;
  return {
    ...inv,
    targets: inv.targets.map((t) => ({ ...t, ssh: { ...t.ssh, key_path: resolveKeyPath(t.ssh.key_path, file) } })),
  };
}

/** Static hosts need no provisioning: their inventory comes straight from the hosts file. */
export function inventoryFromHosts(loaded: LoadedHosts, names?: readonly string[]): Inventory {
  const targets: InventoryTarget[] = loaded.hosts.hosts
    .filter((h) => !names || names.includes(h.name))
    .map((h) => ({
      name: h.name,
      kind: 'static',
      ssh: {
        host: h.ssh.host,
        port: h.ssh.port,
        user: h.ssh.user,
        key_path: resolveKeyPath(h.ssh.key, loaded.file),
        host_key_sha256: h.ssh.host_key_sha256,
      },
      iommu: h.iommu,
      disks: h.disks.map((d) => ({
        name: d.name,
        path: d.path,
        behind_iommu: d.behind_iommu,
        allow_destructive_writes: d.allow_destructive_writes,
      })),
    }));
  return { version: 1, created: new Date().toISOString(), source: 'hosts-file', targets };
}

/** The scenario's static hosts added to an inventory of provisioned guests (a target already there wins). */
export function withStaticHosts(inventory: Inventory, hosts: LoadedHosts | undefined, names: readonly string[]): Inventory {
  if (!hosts) return inventory;
  const have = new Set(inventory.targets.map((t) => t.name));
  const extra = inventoryFromHosts(hosts, names).targets.filter((t) => !have.has(t.name));
  return extra.length ? { ...inventory, targets: [...inventory.targets, ...extra] } : inventory;
}
