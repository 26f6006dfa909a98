import { cellWorkloadSeconds } from '../../cell/repetition.js';
import { describeJob } from '../../cell/types.js';
import { EXIT } from '../../core/errors.js';
import { expand } from '../../cell/expand.js';
import { loadScenarioFile } from '../../scenario/load.js';
import { table } from '../render.js';
import { defineCommand } from '../table.js';
import { HOSTS_OPTION, jsonOption } from '../options.js';

export const planCommand = defineCommand({
  name: 'plan',
  summary: 'Expand a scenario into its matrix of cells and print it (nothing is run).',
  args: ['<scenario>'],
  options: [
    HOSTS_OPTION,
    jsonOption('the plan'),
  ],
  example: 'iommu-lab plan scenarios/nightly.yaml --json | jq ".cells | length"',
  async run(args, options, io) {
    const loaded = await loadScenarioFile(args[0], { hostsFile: options.hosts });
    const plan = expand(loaded);
    const s = loaded.scenario;
    if (options.json) {
      io.out(JSON.stringify({ sha256: loaded.sha256, cellCount: plan.cells.length, ...plan }, null, 2));
      return EXIT.ok;
    }
    const rows = plan.cells.map((c) => [
      String(c.index + 1),
      c.id,
      c.target.name,
      `${c.iommu.device}/${c.iommu.mode}`,
      describeJob(c.job),
      c.disk,
    ]);
    io.out(table(['#', 'cell', 'target', 'iommu', 'job', 'device'], rows));
    const reps = plan.repetitions;
    const workloadSeconds = plan.cells.reduce((sum, c) => sum + cellWorkloadSeconds(c, reps, s.tracing), 0);
    io.out('');
    io.out(
      `${plan.cells.length} cells on ${plan.guests.length} guest(s)` +
        `${s.targets.hosts.length ? ` and ${s.targets.hosts.length} static host(s)` : ''}; ` +
        `${reps.timing} timing + ${reps.traced} traced repetitions per cell` +
        `${s.targets.vms.some((v) => (v.boots ?? 1) > 1) ? ` (VM guests booted ${[...new Set(s.targets.vms.map((v) => v.boots ?? 1))].join('/')} times each)` : ''}; ` +
        `workload time ${formatDuration(workloadSeconds)} before boots and preflight`,
    );
    return EXIT.ok;
  },
});

export function formatDuration(seconds: number): string {
  const h = Math.floor(seconds / 3600);
  const m = Math.floor((seconds % 3600) / 60);
  const s = Math.round(seconds % 60);
  return h ? `${h}h${String(m).padStart(2, '0')}m` : m ? `${m}m${String(s).padStart(2, '0')}s` : `${s}s`;
}
