/** `iommu-lab bisect`: the first commit of a kernel tree where a metric went bad, from real boots and real measurements. */
import { EXIT, UsageError } from '../../core/errors.js';
import { fmtNum } from '../../analysis/format.js';
import { bisect } from '../../sweep/bisect.js';
import { HOSTS_OPTION, HYPERVISORS_OPTION, hypervisorsOf, interruptible, jobsOf, jsonOption, kernelBaseOf, resultsOption } from '../options.js';
import { defineCommand } from '../table.js';

export const bisectCommand = defineCommand({
  name: 'bisect',
  summary: "Find the commit of a kernel git tree that changed a metric: git bisect with the lab as the test (build with the lab's fragment, boot, sweep the scenario, decide good, bad or skip from the statistics). Endpoints are measured first; every step is a run in the results store and a line in bisect.json; started again, it resumes from that log.",
  args: ['<scenario>'],
  options: [
    { flags: '--tree <dir>', description: 'the kernel git tree (clean: no uncommitted changes to tracked files)' },
    { flags: '--good <commit>', description: 'a commit where the metric is as it should be' },
    { flags: '--bad <commit>', description: 'a later commit where it is not' },
    { flags: '--cell <id>', description: "the scenario's cell whose metric decides (iommu-lab plan lists the ids)" },
    { flags: '--metric <name>', description: 'the deciding metric: an exact count (e.g. iotlb_sync_flush_per_io under the tcg clock), or a timing under the virtual clock' },
    { flags: '--base <base>', description: "kernel configuration base: 'tiny', 'defconfig' or a .config file (see iommu-lab kernel build)", default: 'tiny' },
    { flags: '--jobs <n>', description: 'parallel jobs for the builds (default: one per CPU)' },
    resultsOption('the bisection lives under bisect/'),
    HYPERVISORS_OPTION,
    HOSTS_OPTION,
    jsonOption('the result'),
  ],
  example: 'sudo iommu-lab bisect my.yaml --tree ~/linux --good v6.1 --bad HEAD --cell rr__intel-strict__g__nvme0 --metric iotlb_sync_flush_per_io',
  async run(args, options, io) {
    for (const k of ['tree', 'good', 'bad', 'cell', 'metric'] as const) {
      if (!options[k]) throw new UsageError(`bisect needs --${k}`, 'e.g. iommu-lab bisect my.yaml --tree ~/linux --good v6.1 --bad HEAD --cell CELL --metric iotlb_sync_flush_per_io');
    }
    const base = kernelBaseOf(options);
    const jobs = jobsOf(options);
    const { signal, dispose } = interruptible(io, 'stopping the step in progress; run the same command again to resume');
    try {
      const r = await bisect({
        scenarioFile: args[0], tree: String(options.tree), good: String(options.good), bad: String(options.bad),
        cell: String(options.cell), metric: String(options.metric), base, ...(jobs ? { jobs } : {}),
        resultsRoot: String(options.results ?? 'results'), hypervisors: await hypervisorsOf(options, args[0]), signal, log: (l) => io.err(l),
      });
      if (options.json) io.out(JSON.stringify(r, null, 2));
      else {
        io.out(`commit        role  verdict  ${String(r.log.args.metric).padEnd(10)} build      measure  subject`);
        for (const s of r.log.steps) {
          io.out(`${s.commit.slice(0, 12)}  ${s.role === 'step' ? 'step' : s.role === 'good-endpoint' ? 'good' : 'bad '}  ${s.verdict.padEnd(7)}  ${s.values.map(fmtNum).join(',').padEnd(10)} ${`${s.build.seconds.toFixed(0)} s${s.build.cached ? '*' : ''}`.padEnd(10)} ${`${s.measureSeconds.toFixed(0)} s`.padEnd(8)} ${s.subject}`);
        }
        if (r.firstBad) io.out(`first bad commit: ${r.firstBad.commit} ${r.firstBad.subject}`);
        else io.out(`no single first bad commit: git could not tell apart ${r.candidates?.join(', ') ?? 'the remaining commits'} (steps were skipped as inconclusive)`);
        io.out(`${r.log.steps.length} measurements in ${r.seconds.toFixed(0)} s (* = build cached); log: ${r.dir}/bisect.json`);
      }
      return r.firstBad ? EXIT.ok : EXIT.failed;
    } finally {
      dispose();
    }
  },
});
