/**
 * Writes the files derived from code: JSON Schemas in schemas/ (for editors and
 * other tools), docs/cli.md (from the command table), docs/metrics.md (from
 * the metric table) and docs/errors.md (from the error registry). `npm run generate`;
 * test/unit/tools/generated.test.ts fails when a committed copy is stale.
 */
import { readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { COMMANDS } from '../cli/commands/index.js';
import { ERROR_REGISTRY, EXIT, FAILURE_KIND_NAMES, FAILURE_KINDS } from '../core/errors.js';
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
    'docs/errors.md': errorsDoc(),
    'docs/runner.md': withSection(readFileSync(labPath('docs/runner.md'), 'utf8'), 'failure-kinds', failureKindsTable()),
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
    '*timing* metrics are compared over repetitions (and boots); *count* metrics as exact rates, or over repetitions where they vary; *exact* metrics (the QEMU plugin\'s counts, docs/profiler.md) boot against boot above a 0.05 % floor (docs/statistics.md).',
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

function errorsDoc(): string {
  const exit = (c: number) => (c === EXIT.badInput ? '2' : c === EXIT.failed ? '1' : '0');
  const cell = (s: string) => s.replace(/\|/g, '\\|');
  const lines = [
    '# Errors and failure kinds',
    '',
    '<!-- generated from core/errors.ts by `npm run generate`; do not edit -->',
    '',
    'Every error the lab expects has a stable code, a class of its own in `core/errors.ts`, the failure kind it gives a repetition it ends, and the exit code of the command it ends.',
    'The CLI prints a known error as `error[CODE]: message`, the lines that explain it (a stderr or console tail) and `fix: …`, never a stack.',
    'Anything else is a bug: the CLI prints one line and the file it wrote the stack to; a repetition it ends records kind `internal` with the stack in `stderr_tail`.',
    '',
    'The failure kinds a repetition can end with, and what the lab does about each, are listed in [runner.md](runner.md#failure-kinds) (from the same registry).',
    '',
    '## Codes',
    '',
    'Failure kind `—`: the error ends a command, not a repetition.',
    '',
    '| code | class | failure kind | exit | means | usual fix |',
    '| --- | --- | --- | --- | --- | --- |',
    ...[...ERROR_REGISTRY].sort((a, b) => a.code.localeCompare(b.code)).map((c) => `| \`${c.code}\` | \`${c.name}\` | ${c.spec.kind ? `\`${c.spec.kind}\`` : '—'} | ${exit(c.spec.exitCode)} | ${cell(c.spec.means)} | ${cell(c.spec.fix ?? '')} |`),
  ];
  return `${lines.join('\n')}\n`;
}

/** The failure kinds and what the lab does about each (core/errors.ts FAILURE_KINDS). */
function failureKindsTable(): string {
  const cell = (s: string) => s.replace(/\|/g, '\\|');
  return ['| kind | what happened and what the lab does |', '| --- | --- |', ...FAILURE_KIND_NAMES.map((k) => `| \`${k}\` | ${cell(FAILURE_KINDS[k])} |`)].join('\n');
}

/** A hand-written document with one generated section between `<!-- NAME:begin -->` and `<!-- NAME:end -->`. */
function withSection(doc: string, name: string, body: string): string {
  const begin = `<!-- ${name}:begin (generated from core/errors.ts by \`npm run generate\`) -->`;
  const end = `<!-- ${name}:end -->`;
  const i = doc.indexOf(begin);
  const j = doc.indexOf(end);
  if (i < 0 || j < i) throw new Error(`${name}: markers missing in the document`);
  return `${doc.slice(0, i + begin.length)}\n${body}\n${doc.slice(j)}`;
}
