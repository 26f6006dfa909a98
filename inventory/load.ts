import { dirname, isAbsolute, resolve } from 'node:path';
import { homedir } from 'node:os';
import { InvalidInputError } from '../core/errors.js';
import type { LoadedHosts } from '../scenario/load.js';
import { checkSchema } from '../scenario/schema-check.js';
import { problemAt, readYamlFile } from '../scenario/yaml-source.js';
import { inventorySchema } from './schema.js';
import type { Inventory, InventoryPeerNic, InventorySsh, InventoryTarget } from './types.js';
import type { StaticHost } from '../scenario/types.js';

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
  const sshOf = (h: StaticHost): InventorySsh => ({ host: h.ssh.host, port: h.ssh.port, user: h.ssh.user, key_path: resolveKeyPath(h.ssh.key, loaded.file), host_key_sha256: h.ssh.host_key_sha256 });
  // A NIC's peer may be any host of the file, in the scenario or not: its SSH is how the lab starts the server.
  const byName = new Map(loaded.hosts.hosts.map((h) => [h.name, h]));
  const nicsOf = (h: StaticHost): InventoryPeerNic[] => (h.nics ?? []).map((n) => ({
    kind: 'peer', name: n.name, interface: n.interface, address: n.address, behind_iommu: n.behind_iommu,
    peer: { name: n.peer, address: n.peer_address, ssh: sshOf(byName.get(n.peer)!) },
  }));
  const targets: InventoryTarget[] = loaded.hosts.hosts
    .filter((h) => !names || names.includes(h.name))
    .map((h) => ({
      name: h.name,
      kind: 'static',
      ssh: sshOf(h),
      iommu: h.iommu,
      disks: h.disks.map((d) => ({
        name: d.name,
        path: d.path,
        behind_iommu: d.behind_iommu,
        allow_destructive_writes: d.allow_destructive_writes,
      })),
      ...(h.nics?.length ? { nics: nicsOf(h) } : {}),
    }));
  return { version: 1, created: new Date().toISOString(), source: 'hosts-file', targets };
}

/**
 * The inventory a run uses, composed once: the provisioned guests (an
 * inventory from `up`, `pulumi up` or a file), joined by the scenario's static
 * hosts from its hosts file (a provisioned target of the same name wins). With
 * no guests it is the hosts alone.
 */
export function composeInventory(parts: { readonly guests?: Inventory; readonly hosts?: LoadedHosts; readonly hostNames: readonly string[] }): Inventory {
  const hosts = parts.hosts && parts.hostNames.length ? inventoryFromHosts(parts.hosts, parts.hostNames) : undefined;
  if (!parts.guests) return hosts ?? { version: 1, created: new Date().toISOString(), source: 'hosts-file', targets: [] };
  const have = new Set(parts.guests.targets.map((t) => t.name));
  const extra = (hosts?.targets ?? []).filter((t) => !have.has(t.name));
  return extra.length ? { ...parts.guests, targets: [...parts.guests.targets, ...extra] } : parts.guests;
}
