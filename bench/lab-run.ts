/**
 * What a benchmark does to measure on real guests: write its scenario, bring
 * the guests up on this machine, run the plan, and take them down whatever
 * happens. One home, so that a benchmark states only its scenario and what it
 * reads from the results.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { expand } from '../cell/expand.js';
import type { Plan } from '../cell/types.js';
import { requireImage } from '../guest-images/build.js';
import { down, LOCAL, up } from '../infra/up.js';
import { runPlan, type RunOptions, type RunSummary } from '../runner/run.js';
import { loadScenarioFile } from '../scenario/load.js';

export async function benchRun(dir: string, name: string, scenarioYaml: string, options: Partial<Omit<RunOptions, 'loaded' | 'plan' | 'inventory' | 'resultsRoot'>> = {}): Promise<{ plan: Plan; summary: RunSummary }> {
  const image = await requireImage();
  const file = join(dir, `${name}.yaml`);
  await writeFile(file, scenarioYaml);
  const loaded = await loadScenarioFile(file);
  const plan = expand(loaded);
  try {
    const { inventory } = await up({ loaded, plan, image, hypervisors: [LOCAL], inventoryFile: join(dir, 'inv.json') });
    const summary = await runPlan({ ...options, loaded, plan, inventory, resultsRoot: join(dir, 'results') });
    return { plan, summary };
  } finally {
    await down([LOCAL], { scenario: loaded.scenario.name });
  }
}
