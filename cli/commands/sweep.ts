/** sweep and repro: the whole pipeline as one command, and one cell again on this machine. */
import { EXIT } from '../../core/errors.js';
import { fmtNum, fmtP } from '../../analysis/format.js';
import { HOSTS_OPTION, HYPERVISORS_OPTION, hypervisorsOf, interruptible, jsonOption, provisionOf, resultsOption } from '../options.js';
import { repro } from '../../sweep/repro.js';
import { sweep } from '../../sweep/sweep.js';
import { parseShard } from '../../sweep/shard.js';
import { progressPrinter } from '../progress.js';
import { defineCommand } from '../table.js';

export const sweepCommand = defineCommand({
  name: 'sweep',
  summary: 'The whole pipeline: image, guests up, run with tracing, report against the baseline and the history, guests down. A sweep that did not finish (interrupted, or with failed repetitions) is completed by the next one, which runs only what is missing.',
  args: ['<scenario>'],
  options: [
    resultsOption('history, baselines, latest report'),
    HOSTS_OPTION,
    HYPERVISORS_OPTION,
    { flags: '--shard <i/n>', description: 'run shard i of n: a deterministic part of the matrix, whole guests (merge the shards with iommu-lab merge)' },
    { flags: '--keep', description: 'leave the guests up afterwards' },
    { flags: '--fresh', description: "start a new run instead of completing this scenario's unfinished one (interrupted, or with failed repetitions, within 12 h)" },
    { flags: '--keep-runs <n>', description: 'runs of the scenario kept under the root; older ones are removed (never the baseline)' },
    { flags: '--provision <how>', description: "'auto' (Pulumi when its CLI and a Pulumi.<scenario>.yaml stack exist), 'pulumi' or 'direct'", default: 'auto' },
    jsonOption('the result'),
  ],
  example: 'sudo iommu-lab sweep scenarios/quick.yaml',
  async run(args, options, io) {
    const hypervisors = await hypervisorsOf(options, args[0]);
    const { signal, dispose } = interruptible(io, 'finishing the write in progress, then taking the guests down');
    const progress = progressPrinter(io, []);
    try {
      const r = await sweep({
        scenarioFile: args[0], resultsRoot: options.results, hypervisors,
        ...(options.hosts ? { hostsFile: options.hosts } : {}),
        keepGuests: Boolean(options.keep), fresh: Boolean(options.fresh),
        ...(options.keepRuns ? { keepRuns: Number(options.keepRuns) } : {}),
        provision: provisionOf(options.provision),
        ...(options.shard ? { shard: parseShard(String(options.shard)) } : {}),
        signal, log: (l) => io.err(l), onRunEvent: progress.onEvent,
      });
      progress.stop();
      const s = r.summary;
      if (options.json) io.out(JSON.stringify(r, null, 2));
      else {
        io.out(`${s.passed} passed, ${s.failed} failed of ${s.total} repetitions${s.interrupted ? ' (interrupted: run the same command again to complete the run)' : ''}${r.resumed ? ' (resumed)' : ''}`);
        for (const f of s.failures.slice(0, 20)) io.out(`  ${f.cell} ${f.rep}: ${f.kind}: ${f.message}`);
        io.out(`time: ${r.seconds.total.toFixed(0)} s in all (image ${r.seconds.image.toFixed(0)}, up ${r.seconds.up.toFixed(0)}, run ${r.seconds.run.toFixed(0)} of which the workloads ${r.seconds.workload.toFixed(0)}, report ${r.seconds.report.toFixed(0)}, down ${r.seconds.down.toFixed(0)})`);
        if (r.pruned.length) io.out(`removed ${r.pruned.length} old run(s)`);
        if (r.shard) io.out(`shard:   ${r.dir} (merge the shards: iommu-lab merge RUN…)`);
        if (r.report) {
          io.out(`summary: ${r.report.markdown}`);
          io.out(`text:    ${r.report.text}`);
          io.out(`junit:   ${r.report.junit}`);
          io.out(`report:  ${r.report.html}`);
        }
      }
      return r.regression || s.failed > 0 || s.interrupted ? EXIT.failed : EXIT.ok;
    } finally {
      dispose();
    }
  },
});

export const reproCommand = defineCommand({
  name: 'repro',
  summary: 'Run one cell of a stored run again on this machine (same scenario, image, domain, kernel command line, fio job and tracing) and compare.',
  args: ['<run-dir/cell-id>'],
  options: [
    { flags: '--results <dir>', description: 'where the new run goes (under repro/)', default: 'results' },
    HOSTS_OPTION,
    HYPERVISORS_OPTION,
    { flags: '--any-image', description: 'reproduce on the cached image (and a kernel build) even if its digest differs from the run\'s (the output says so)' },
    { flags: '--keep', description: 'leave the guest up afterwards' },
  ],
  example: 'sudo iommu-lab repro results/2026-11-24T10-35-47Z-quick-1a2b/randread-4k__intel-lazy__virtual__nvme0',
  async run(args, options, io) {
    const hypervisors = await hypervisorsOf(options);
    const { signal, dispose } = interruptible(io, 'finishing the write in progress, then taking the guest down');
    try {
      const r = await repro({
        target: args[0], resultsRoot: options.results, hypervisors,
        ...(options.hosts ? { hostsFile: options.hosts } : {}),
        anyImage: Boolean(options.anyImage), keepGuests: Boolean(options.keep), signal, log: (l) => io.err(l),
      });
      io.out(`cell ${r.cell}: original run ${r.original.manifest.id} (${r.original.manifest.host}) against this machine (${r.summary.run})`);
      if (r.imageNote) io.out(`note: ${r.imageNote}`);
      io.out('metric                     original (n)          now (n)               change [CI]                 verdict');
      for (const c of r.comparison.comparisons) {
        const change = c.metricKind === 'count' ? (Number.isFinite(c.ratio) ? `×${fmtNum(c.ratio)}` : 'new') : `${((c.ratio - 1) * 100).toFixed(1)} % [${((c.lower - 1) * 100).toFixed(1)}, ${((c.upper - 1) * 100).toFixed(1)}]`;
        io.out(`${c.metric.padEnd(26)} ${`${fmtNum(c.ref.median)} (${c.ref.n})`.padEnd(21)} ${`${fmtNum(c.cand.median)} (${c.cand.n})`.padEnd(21)} ${change.padEnd(27)} ${c.verdict} (q ${fmtP(c.q)})`);
      }
      for (const l of r.comparison.leftOut) io.out(`left out: ${l.metric ?? ''} ${l.reason}`);
      for (const f of r.summary.failures) io.out(`failed: ${f.rep}: ${f.kind}: ${f.message}`);
      io.out(`new run: ${r.summary.dir}`);
      return r.summary.failed > 0 || r.summary.interrupted ? EXIT.failed : EXIT.ok;
    } finally {
      dispose();
    }
  },
});
