import { EXIT } from '../../core/errors.js';
import { expand } from '../../cell/expand.js';
import { requireImage } from '../../guest-images/build.js';
import { assertLocalRoot, down, up } from '../../infra/up.js';
import { hypervisorsOf } from '../options.js';
import { loadScenarioFile } from '../../scenario/load.js';
import type { CommandSpec } from '../table.js';


export const upCommand: CommandSpec = {
  name: 'up',
  summary: "Boot one guest per VM profile × IOMMU configuration of a scenario (without Pulumi) and write the inventory.",
  args: ['<scenario>'],
  options: [
    { flags: '--inventory <file>', description: 'where to write the inventory', default: 'results/inventory.json' },
    { flags: '--hypervisor <uris>', description: 'comma-separated libvirt URIs, each optionally =CAPACITY; remote ones (qemu+ssh://) are pinned in the hosts file (default: the hosts file\'s hypervisors, else qemu:///system)' },
    { flags: '--hosts <file>', description: 'hosts file: static hosts and remote hypervisors with their pinned keys (default: the scenario\'s hosts_file)' },
    { flags: '--only <guests>', description: 'comma-separated guest names: bring up part of the matrix' },
    { flags: '--json', description: 'print the inventory and boot times as JSON' },
  ],
  example: 'sudo iommu-lab up scenarios/quick.yaml --inventory results/inventory.json',
  async run(args, options, io) {
    const loaded = await loadScenarioFile(args[0] as string, options['hosts'] ? { hostsFile: options['hosts'] as string } : {});
    const plan = expand(loaded);
    const hypervisors = await hypervisorsOf(options, args[0] as string);
    if (hypervisors.some((h) => h.uri.startsWith('qemu:///'))) assertLocalRoot();
    const image = await requireImage();
    const only = (options['only'] as string | undefined)?.split(',').filter(Boolean);
    const res = await up({
      loaded, plan, image, hypervisors, inventoryFile: options['inventory'] as string,
      ...(only ? { only } : {}),
      onProgress: (t) => io.err(t),
      onGuest: (g, boot) => io.err(`${g}: SSH after ${boot.seconds.toFixed(1)} s${boot.retried ? ` (retried once: ${boot.retried})` : ''}`),
    });
    if (options['json']) io.out(JSON.stringify({ ...res, failed: res.failed.map((f) => ({ guest: f.guest, uri: f.uri, code: f.error.code, message: f.error.message })) }, null, 2));
    else {
      io.out(`${res.inventory.targets.length} guest(s) up; inventory: ${options['inventory'] as string}`);
      for (const f of res.failed) io.out(`not up: ${f.guest} on ${f.uri}: ${f.error.format()}`);
    }
    return res.failed.length ? EXIT.failed : EXIT.ok;
  },
};

export const downCommand: CommandSpec = {
  name: 'down',
  summary: "Remove the lab's guests (domains carrying the lab's metadata) and their files; also what a crash left.",
  args: [],
  options: [
    { flags: '--hypervisor <uris>', description: 'comma-separated libvirt URIs (default: the hosts file\'s hypervisors, else qemu:///system)' },
    { flags: '--hosts <file>', description: 'hosts file naming remote hypervisors with their pinned keys' },
    { flags: '--scenario <name>', description: "only this scenario's guests" },
  ],
  example: 'sudo iommu-lab down',
  async run(_args, options, io) {
    const res = await down(await hypervisorsOf(options), options['scenario'] ? { scenario: options['scenario'] as string } : {});
    io.out(`removed ${res.removed.length} guest(s)${res.removed.length ? `: ${res.removed.join(', ')}` : ''}${res.leftovers.length ? `; cleaned ${res.leftovers.length} leftover director${res.leftovers.length === 1 ? 'y' : 'ies'}` : ''}`);
    for (const f of res.failed) io.out(`not cleaned: ${f.uri}: ${f.error.format()}`);
    return res.failed.length ? EXIT.failed : EXIT.ok;
  },
};
