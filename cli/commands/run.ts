import { EXIT, UsageError } from '../../core/errors.js';
import { expand } from '../../cell/expand.js';
import { composeInventory, loadInventoryFile } from '../../inventory/load.js';
import { runPlan } from '../../runner/run.js';
import { loadScenarioFile } from '../../scenario/load.js';
import { interruptible, jsonOption } from '../options.js';
import { progressPrinter } from '../progress.js';
import { defineCommand } from '../table.js';

export const runCommand = defineCommand({
  name: 'run',
  summary: 'Run a scenario on the targets of an inventory (or of a hosts file) and store the results.',
  args: ['<scenario>'],
  options: [
    { flags: '--inventory <file>', description: 'inventory written by `iommu-lab up` or `pulumi up`' },
    { flags: '--hosts <file>', description: "hosts file: run on the scenario's static hosts without provisioning" },
    { flags: '--results <dir>', description: 'results root', default: 'results' },
    { flags: '--resume <run-dir>', description: 'complete an interrupted run: only repetitions without a passed result run' },
    jsonOption('the summary'),
  ],
  example: 'iommu-lab run scenarios/quick.yaml --inventory results/inventory.json',
  async run(args, options, io) {
    const hostsFile = options.hosts;
    const loaded = await loadScenarioFile(args[0], { hostsFile });
    const plan = expand(loaded);
    if (!options.inventory && (plan.guests.length > 0 || !loaded.hosts)) {
      throw new UsageError('no inventory', plan.guests.length ? `bring the guests up with \`iommu-lab up ${args[0]}\` and pass --inventory FILE` : 'pass --hosts FILE or --inventory FILE');
    }
    // Static hosts of the scenario join the provisioned guests.
    const inventory = composeInventory({
      ...(options.inventory ? { guests: await loadInventoryFile(options.inventory) } : {}),
      ...(loaded.hosts ? { hosts: loaded.hosts } : {}), hostNames: loaded.scenario.targets.hosts,
    });

    const { signal, dispose } = interruptible(io, 'finishing the write in progress; resume with --resume');
    const progress = progressPrinter(io, [...new Set(plan.cells.map((c) => c.target.name))]);
    try {
      const summary = await runPlan({
        loaded, plan, inventory, resultsRoot: options.results,
        ...(options.resume ? { resume: options.resume } : {}),
        signal, onEvent: progress.onEvent,
      });
      progress.stop();
      if (options.json) io.out(JSON.stringify(summary, null, 2));
      else {
        io.out(`${summary.passed} passed, ${summary.failed} failed of ${summary.total} repetitions${summary.interrupted ? ' (interrupted)' : ''}`);
        for (const f of summary.failures.slice(0, 20)) io.out(`  ${f.cell} ${f.rep}: ${f.kind}: ${f.message}`);
        if (summary.failures.length > 20) io.out(`  … and ${summary.failures.length - 20} more (see result.json files)`);
        io.out(`results: ${summary.dir}`);
        if (summary.interrupted) io.out(`resume:  iommu-lab run ${args[0]} --resume ${summary.dir}${options.inventory ? ` --inventory ${options.inventory}` : hostsFile ? ` --hosts ${hostsFile}` : ''}`);
      }
      return summary.failed > 0 || summary.interrupted ? EXIT.failed : EXIT.ok;
    } finally {
      dispose();
    }
  },
});
