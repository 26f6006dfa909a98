/** report, compare and baseline: the analysis on the command line. Exit 0 no regression, 1 regression, 2 bad input. */
import { dirname, join } from 'node:path';
import { EXIT, UsageError } from '../../core/errors.js';
import { analyse, type Analysis } from '../../analysis/analyse.js';
import { fmtP } from '../../analysis/format.js';
import { getBaseline, setBaseline } from '../../analysis/history.js';
import { loadRun } from '../../analysis/load.js';
import { renderText } from '../../analysis/report/text.js';
import { defineCommand, type Io } from '../table.js';
import { jsonOption } from '../options.js';

/** Prints what an analysis found; the exit code says whether there is a regression. */
function print({ report, files }: Analysis, options: { readonly format?: string; readonly json?: boolean | undefined }, io: Io) {
  if (options.format === 'text') {
    // The email report alone on stdout (it ends with the headline); the files are written as always.
    io.out(renderText(report).trimEnd());
    return report.headline.exitCode === 1 ? EXIT.failed : EXIT.ok;
  }
  if (options.json) {
    io.out(JSON.stringify({ regression: report.regression, files, baseline: report.baseline?.set, modes: report.modes, problems: report.problems }, null, 2));
  } else {
    const cs = report.baseline?.set.comparisons ?? [];
    for (const c of cs.filter((x) => x.verdict === 'regression')) io.out(`REGRESSION ${c.cell} ${c.metric}: ${c.reason}`);
    for (const f of report.findings) io.out(`${f.label} [${f.group}]: ${f.summary}`);
    for (const p of report.problems) io.err(`warning: ${p.file}: ${p.message}`);
    const left = [...(report.baseline?.set.leftOut ?? []), ...report.modes.leftOut];
    if (left.length) io.err(`${left.length} comparison(s) left out (listed in the report)`);
    if (report.baseline) {
      const n = (v: string) => cs.filter((c) => c.verdict === v).length;
      io.out(`against baseline ${report.baseline.id}: ${n('regression')} regression, ${n('improvement')} improvement, ${n('no-change')} no change, ${n('inconclusive')} inconclusive (min q ${fmtP(Math.min(...cs.map((c) => c.q)))})`);
    }
    io.out(`report:  ${files.html}`);
    io.out(`summary: ${files.markdown}`);
    io.out(`text:    ${files.text}`);
    io.out(`junit:   ${files.junit}`);
  }
  io.out(report.headline.text);
  return report.headline.exitCode === 1 ? EXIT.failed : EXIT.ok;
}

export const reportCommand = defineCommand({
  name: 'report',
  summary: "Analyse a run: configurations against each other, against the scenario's baseline, and change points over the history under the results root; writes HTML, Markdown, JUnit and JSON.",
  args: ['<run-dir>'],
  options: [
    { flags: '--baseline <run-dir>', description: "compare with this run instead of the scenario's stored baseline ('none' for no baseline)" },
    { flags: '--history <root>', description: "results root whose runs of the same scenario form the history (default: the run's parent)" },
    { flags: '--out <dir>', description: 'where the report files go (default: RUN/report)' },
    { flags: '--format <format>', description: "what to print: 'summary' (the findings and the files' paths) or 'text' (the plain-text report for email, 72 columns, also written as summary.txt)", default: 'summary' },
    { flags: '--reference <config>', description: "the configuration the text report's tables are relative to, e.g. intel-lazy (default: the untranslated one of each workload)" },
    jsonOption('the comparisons'),
  ],
  example: 'iommu-lab report results/2026-11-24T10-35-47Z-quick-1a2b --format text',
  async run(args, options, io) {
    const run = await loadRun(args[0]);
    const b = options.baseline;
    if (!['summary', 'text'].includes(String(options.format))) throw new UsageError(`--format ${String(options.format)} is not a report format`, 'use summary or text');
    return print(await analyse(run, {
      ...(options.reference ? { reference: options.reference } : {}),
      ...(options.history ? { root: options.history } : {}),
      baseline: b === 'none' ? 'none' : b ? await loadRun(b) : 'stored',
      ...(options.out ? { outDir: options.out } : {}),
    }), options, io);
  },
});

export const compareCommand = defineCommand({
  name: 'compare',
  summary: 'Compare a candidate run with a base run of the same scenario, cell by cell; exit 1 on a regression.',
  args: ['<base-run>', '<candidate-run>'],
  options: [
    { flags: '--out <dir>', description: 'where the report files go (default: CANDIDATE/compare)' },
    { flags: '--force', description: 'compare runs of different scenarios on the cells they share' },
    jsonOption('the comparisons'),
  ],
  example: 'iommu-lab compare results/RUN_A results/RUN_B',
  async run(args, options, io) {
    const base = await loadRun(args[0]);
    const cand = await loadRun(args[1]);
    // Earlier runs beside the base tell how much boots differ; no change points here (that is `report`).
    return print(await analyse(cand, {
      root: dirname(base.dir), baseline: base, force: Boolean(options.force), trends: false,
      outDir: options.out ?? join(cand.dir, 'compare'),
    }), options, io);
  },
});

export const baselineCommand = defineCommand({
  name: 'baseline',
  summary: "Set (`baseline set RUN`) or show (`baseline show RUN_OR_ROOT SCENARIO`) a scenario's baseline run.",
  args: ['<action>', '[args...]'],
  options: [],
  example: 'iommu-lab baseline set results/2026-11-24T10-35-47Z-quick-1a2b',
  async run(args, _options, io) {
    const action = args[0];
    const rest = args[1] ?? [];
    if (action === 'set' && rest.length === 1) {
      const b = await setBaseline(rest[0]!);
      io.out(`baseline of ${b.scenario}: ${b.run} (${b.file})`);
      return EXIT.ok;
    }
    if (action === 'show' && rest.length === 2) {
      const dir = await getBaseline(rest[0]!, rest[1]!);
      if (!dir) {
        io.out(`no baseline for ${rest[1]} under ${rest[0]}`);
        return EXIT.failed;
      }
      io.out(dir);
      return EXIT.ok;
    }
    throw new UsageError(`baseline ${action ?? ''} ${rest.join(' ')}: unknown form`, 'iommu-lab baseline set RUN_DIR, or iommu-lab baseline show RESULTS_ROOT SCENARIO');
  },
});
