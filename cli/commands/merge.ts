/** merge: the shards of a split sweep as one run, analysed like a sweep's (report, baseline, history, latest/). */
import { EXIT } from '../../core/errors.js';
import { merge } from '../../sweep/merge.js';
import { defineCommand } from '../table.js';
import { jsonOption } from '../options.js';

export const mergeCommand = defineCommand({
  name: 'merge',
  summary: 'Put the shards of a sweep (sweep --shard i/n on several machines) together as one run, checked to be one scenario, seed and split, and analyse it as a sweep does: report, baseline, history, latest/.',
  args: ['<run-dirs...>'],
  options: [
    { flags: '--results <dir>', description: 'results root the merged run goes to (history, baselines, latest report)', default: 'results' },
    { flags: '--allow-missing', description: 'merge although shards are missing (their cells show as not run)' },
    jsonOption('the result'),
  ],
  example: 'iommu-lab merge shards/*/2026-12-01T*-nightly-* --results results',
  async run(args, options, io) {
    const runs = args[0];
    const r = await merge({ runs, resultsRoot: options.results, allowMissing: Boolean(options.allowMissing), log: (l) => io.err(l) });
    if (options.json) io.out(JSON.stringify(r, null, 2));
    else {
      io.out(`merged ${r.shards} shard(s): ${r.cells} cells, ${r.passed} passed and ${r.failed} failed repetitions${r.missingCells.length ? `; ${r.missingCells.length} cells missing` : ''}`);
      io.out(`run:     ${r.dir}`);
      io.out(`summary: ${r.report.markdown}`);
      io.out(`junit:   ${r.report.junit}`);
      io.out(`report:  ${r.report.html}`);
    }
    return r.regression || r.failed > 0 || r.missingCells.length > 0 ? EXIT.failed : EXIT.ok;
  },
});
