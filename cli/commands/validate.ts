import { EXIT, InvalidInputError, LabError, UsageError } from '../../core/errors.js';
import { expand } from '../../cell/expand.js';
import { loadHostsFile, loadScenarioFile } from '../../scenario/load.js';
import { readYamlFile } from '../../scenario/yaml-source.js';
import { defineCommand } from '../table.js';
import { HOSTS_OPTION } from '../options.js';

type FileKind = 'scenario' | 'hosts';

async function kindOf(file: string): Promise<FileKind> {
  const src = await readYamlFile(file);
  const data = src.data;
  if (data && typeof data === 'object' && !Array.isArray(data)) {
    const keys = Object.keys(data);
    if (keys.includes('workloads') || keys.includes('iommu')) return 'scenario';
    if (keys.includes('hosts') && !keys.includes('targets')) return 'hosts';
  }
  return 'scenario';
}

export const validateCommand = defineCommand({
  name: 'validate',
  summary: 'Check scenario and hosts files; report every problem with file, line and fix.',
  args: ['<files...>'],
  options: [HOSTS_OPTION],
  example: 'iommu-lab validate scenarios/quick.yaml scenarios/hosts.example.yaml',
  async run(args, options, io) {
    const files = args[0];
    if (files.length === 0) throw new UsageError('no file given', 'iommu-lab validate FILE…');
    let failed: LabError | undefined;
    const problems = [];
    for (const file of files) {
      try {
        if ((await kindOf(file)) === 'hosts') {
          const h = await loadHostsFile(file);
          io.out(`ok  ${file}: hosts file with ${h.hosts.hosts.length} host(s)`);
        } else {
          const loaded = await loadScenarioFile(file, { hostsFile: options.hosts });
          const plan = expand(loaded);
          io.out(`ok  ${file}: scenario "${loaded.scenario.name}", ${plan.cells.length} cells on ${plan.guests.length} guest(s)`);
        }
      } catch (e) {
        if (e instanceof InvalidInputError) problems.push(...e.problems);
        else if (e instanceof LabError) failed = e;
        else throw e;
      }
    }
    if (problems.length > 0) throw new InvalidInputError(problems);
    if (failed) throw failed;
    return EXIT.ok;
  },
});
