/**
 * Writes the files derived from code: JSON Schemas in schemas/ (for editors and
 * other tools) and docs/cli.md (from the command table). `npm run generate`;
 * test/unit/tools/generated.test.ts fails when a committed copy is stale.
 */
import { writeFile } from 'node:fs/promises';
import { COMMANDS } from '../cli/commands/index.js';
import { describeExtraction, METRICS } from '../core/metrics.js';
import { labPath } from '../core/paths.js';
import { inventorySchema } from '../inventory/schema.js';
import { repResultSchema, runManifestSchema } from '../result/schema.js';
import { hostsSchema, scenarioSchema } from '../scenario/schema.js';

export function generatedFiles(): Record<string, string> {
  const json = (v: unknown) => `${JSON.stringify(v, null, 2)}\n`;
  return {
    'schemas/scenario.schema.json': json(scenarioSchema),
    'schemas/hosts.schema.json': json(hostsSchema),
    'schemas/inventory.schema.json': json(inventorySchema),
    'schemas/rep-result.schema.json': json(repResultSchema),
    'schemas/run.schema.json': json(runManifestSchema),
    'docs/cli.md': cliDoc(),
    'docs/metrics.md': metricsDoc(),
  };
}

function cliDoc(): string {
  const lines = ['# Command line', '', '<!-- generated from cli/commands by `npm run generate`; do not edit -->', ''];
  lines.push('Exit codes: `0` success (no regression), `1` a failed run or a regression, `2` invalid input or usage.', '');
  for (const c of COMMANDS) {
    lines.push(`## \`iommu-lab ${c.name}${c.args.length ? ` ${c.args.join(' ')}` : ''}\``, '', c.summary, '');
    if (c.options.length) {
      lines.push('| option | meaning |', '| --- | --- |');
      for (const o of c.options) lines.push(`| \`${o.flags}\` | ${o.description}${o.default !== undefined ? ` (default: \`${String(o.default)}\`)` : ''} |`);
      lines.push('');
    }
    if (c.example) lines.push('```sh', c.example, '```', '');
  }
  return `${lines.join('\n').trimEnd()}\n`;
}

function metricsDoc(): string {
  const lines = [
    '# Metrics',
    '',
    '<!-- generated from core/metrics.ts by `npm run generate`; do not edit -->',
    '',
    'Every metric the lab reports is described once, in `core/metrics.ts`; the scenario schema, reports and comparisons read that table.',
    'The parsers (fio, bpftrace) extract each metric as the table says, the scenario loader refuses a metric whose tool the scenario does not run, and comparisons read *per*:',
    'a count per I/O is weighed by the repetition\'s I/Os (`ios`), a count per repetition by the repetition.',
    '*timing* metrics are compared over repetitions (and boots); *count* metrics as exact rates, or over repetitions where they vary (docs/statistics.md).',
    '',
    '| name | title | unit | better | kind | per | extracted from | description |',
    '| --- | --- | --- | --- | --- | --- | --- | --- |',
  ];
  for (const m of METRICS) {
    lines.push(`| \`${m.name}\` | ${m.title} | ${m.unit} | ${m.better} | ${m.kind} | ${m.per} | ${describeExtraction(m)} | ${m.description} |`);
  }
  return `${lines.join('\n')}\n`;
}

const isMain = process.argv[1] && import.meta.url.endsWith(process.argv[1].replace(/^.*\/dist\//, '/dist/'));
if (isMain) {
  for (const [rel, text] of Object.entries(generatedFiles())) {
    await writeFile(labPath(rel), text);
    process.stderr.write(`wrote ${rel}\n`);
  }
}
