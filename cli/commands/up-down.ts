import { EXIT } from '../../core/errors.js';
import { expand } from '../../cell/expand.js';
import { requireImage } from '../../guest-images/build.js';
import { assertLocalRoot, down, up } from '../../infra/up.js';
import { isLocalUri } from '../../infra/hypervisor.js';
import { HOSTS_OPTION, HYPERVISORS_OPTION, hypervisorsOf, jsonOption } from '../options.js';
import { loadScenarioFile } from '../../scenario/load.js';
import { defineCommand } from '../table.js';


export const upCommand = defineCommand({
  name: 'up',
  summary: "Boot one guest per VM profile × IOMMU configuration of a scenario (without Pulumi) and write the inventory.",
  args: ['<scenario>'],
  options: [
    { flags: '--inventory <file>', description: 'where to write the inventory', default: 'results/inventory.json' },
    HYPERVISORS_OPTION,
    HOSTS_OPTION,
    { flags: '--only <guests>', description: 'comma-separated guest names: bring up part of the matrix' },
    jsonOption('the inventory and boot times'),
  ],
  example: 'sudo iommu-lab up scenarios/quick.yaml --inventory results/inventory.json',
  async run(args, options, io) {
    const loaded = await loadScenarioFile(args[0], options.hosts ? { hostsFile: options.hosts } : {});
    const plan = expand(loaded);
    const hypervisors = await hypervisorsOf(options, args[0]);
    if (hypervisors.some((h) => isLocalUri(h.uri))) assertLocalRoot();
    const image = await requireImage();
    const only = options.only?.split(',').filter(Boolean);
    const res = await up({
      loaded, plan, image, hypervisors, inventoryFile: options.inventory,
      ...(only ? { only } : {}),
      onProgress: (t) => io.err(t),
      onGuest: (g, boot) => io.err(`${g}: SSH after ${boot.seconds.toFixed(1)} s${boot.retried ? ` (retried once: ${boot.retried})` : ''}`),
    });
    if (options.json) io.out(JSON.stringify({ ...res, failed: res.failed.map((f) => ({ guest: f.guest, uri: f.uri, code: f.error.code, message: f.error.message })) }, null, 2));
    else {
      io.out(`${res.inventory.targets.length} guest(s) up; inventory: ${options.inventory}`);
      for (const f of res.failed) io.out(`not up: ${f.guest} on ${f.uri}: ${f.error.format()}`);
    }
    return res.failed.length ? EXIT.failed : EXIT.ok;
  },
});

export const downCommand = defineCommand({
  name: 'down',
  summary: "Remove the lab's guests (domains carrying the lab's metadata) and their files; also what a crash left.",
  args: [],
  options: [
    HYPERVISORS_OPTION,
    HOSTS_OPTION,
    { flags: '--scenario <name>', description: "only this scenario's guests" },
  ],
  example: 'sudo iommu-lab down',
  async run(_args, options, io) {
    const res = await down(await hypervisorsOf(options), options.scenario ? { scenario: options.scenario } : {});
    io.out(`removed ${res.removed.length} guest(s)${res.removed.length ? `: ${res.removed.join(', ')}` : ''}${res.leftovers.length ? `; cleaned ${res.leftovers.length} leftover director${res.leftovers.length === 1 ? 'y' : 'ies'}` : ''}`);
    for (const f of res.failed) io.out(`not cleaned: ${f.uri}: ${f.error.format()}`);
    return res.failed.length ? EXIT.failed : EXIT.ok;
  },
});
