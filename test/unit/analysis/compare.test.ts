import { existsSync } from 'node:fs';
/**
 * Comparisons, verdicts and reports on synthetic result sets: real run
 * directories written through the results store, lognormal timings, exact counts.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { compareModes, compareRuns, compareSamples, judgeAll, pairFindings } from '../../../analysis/compare/index.js';
import { countVariation, describeMetric } from '../../../core/metrics.js';
import { loadRun } from '../../../analysis/load.js';
import { renderJUnit } from '../../../analysis/report/junit.js';
import { renderMarkdown } from '../../../analysis/report/markdown.js';
import { renderText } from '../../../analysis/report/text.js';
import { renderHtml } from '../../../analysis/report/html.js';
import { buildReport, headlineOf } from '../../../analysis/report/model.js';
import { gaussian, lognormal, writeSyntheticRun } from '../../../analysis/synthetic.js';
import { prng } from '../../../runner/order.js';
import { loadScenarioFile } from '../../../scenario/load.js';
import { runCli } from '../../helpers/run-cli.js';
import { useTmpDir, writeIn } from '../../helpers/tmp.js';

const tmp = useTmpDir();

const SCENARIO = (reps: number, boots = 2) => `name: syn
seed: 1
repetitions: ${reps}
workloads:
  - { name: rr, rw: randread, bs: 4k, iodepth: [1, 16], runtime: 10 }
iommu:
  - device: intel
    mode: [passthrough, lazy, strict]
targets:
  vms:
    - name: t
      boots: ${boots}
      disks: [{ name: nvme0, bus: nvme }]
tracing: { scripts: [iotlb-invalidations], repetitions: 1 }
metrics: [iops, clat_p50_us, iotlb_sync_flush_per_io]
thresholds: { alpha: 0.05, min_effect_pct: 3, max_cv_pct: 10 }
`;

const FLUSHES: Record<string, number> = { 'intel-passthrough': 0, 'intel-lazy': 0.0065, 'intel-strict': 1 };

async function runs(reps: number, candidateLevel: (cell: string, config: string) => number, cvPct = 2, boots = 2) {
  const dir = await tmp();
  const scenario = await loadScenarioFile(await writeIn(dir, 'syn.yaml', SCENARIO(reps, boots)));
  const root = join(dir, 'results');
  const base = await writeSyntheticRun({ root, scenario, seed: 11, created: new Date('2026-11-01T02:00:00Z'), level: () => 10000, cvPct, flushesPerIo: (c) => FLUSHES[c]! });
  const cand = await writeSyntheticRun({ root, scenario, seed: 12, created: new Date('2026-11-02T02:00:00Z'), level: candidateLevel, cvPct, flushesPerIo: (c) => FLUSHES[c]! });
  return { dir, root, base, cand };
}

describe('a run against its baseline', () => {
  it('finds a 10 % IOPS drop in one cell as a regression, with the interval covering it, and nothing else', async () => {
    const { base, cand } = await runs(10, (cell) => (cell === 'rr.qd16__intel-strict__t__nvme0' ? 9000 : 10000));
    const set = compareRuns(await loadRun(base), await loadRun(cand));
    const reg = set.comparisons.filter((c) => c.verdict === 'regression');
    expect(reg.map((c) => `${c.cell} ${c.metric}`)).toContain('rr.qd16__intel-strict__t__nvme0 iops');
    const iops = reg.find((c) => c.metric === 'iops')!;
    expect(iops.lower).toBeLessThan(0.9);
    expect(iops.upper).toBeGreaterThan(0.9);
    expect(iops.upper).toBeLessThan(0.97);
    // Two boots a side: boot means are the units, their noise pooled over the cells' replicate boots.
    expect(iops.test).toBe('boot-t');
    expect(iops).toMatchObject({ boots: { ref: 2, cand: 2, noise: { source: 'replicate boots' } } });
    // Every other cell's IOPS: no regression reported.
    expect(set.comparisons.filter((c) => c.metric === 'iops' && c.cell !== iops.cell && c.verdict === 'regression')).toEqual([]);
    // Counts are unchanged, exactly.
    expect(set.comparisons.filter((c) => c.metricKind === 'count' && (c.verdict === 'regression' || c.verdict === 'improvement'))).toEqual([]);
    expect(set.comparisons.find((c) => c.cell === 'rr.qd16__intel-passthrough__t__nvme0' && c.metric === 'iotlb_sync_flush_per_io')!.reason).toBe('no events on either side');
  });

  it('with one boot a side and no history, says that the boot-to-boot variation is unknown instead of declaring a change', async () => {
    const { base, cand } = await runs(10, (cell) => (cell.includes('strict') ? 9700 : 10000), 0.3, 1);
    const set = compareRuns(await loadRun(base), await loadRun(cand));
    const c = set.comparisons.find((x) => x.cell === 'rr.qd16__intel-strict__t__nvme0' && x.metric === 'iops')!;
    expect(c.verdict).toBe('inconclusive');
    expect(c.test).toBe('none');
    expect(c.reason).toContain('nothing estimates how much boots differ');
    expect(c.test === 'none' ? c.within!.ratio : NaN).toBeCloseTo(0.97, 2);
  });

  it('3 repetitions a side in the same boots can never be significant, and says so', () => {
    const side = (v: number[]) => ({ values: v, exposures: v.map(() => 1), boots: v.map(() => 'b1') });
    const p = compareSamples(side([100, 101, 102]), side([80, 81, 82]), describeMetric('iops')!, { alpha: 0.05, min_effect_pct: 3, max_cv_pct: 10 }, { kind: 'baseline', cell: 'c', reference: 'c', label: 'x', group: 'g' });
    if (typeof p === 'string') throw new Error(p);
    const c = judgeAll([p], [], { alpha: 0.05, min_effect_pct: 3, max_cv_pct: 10 }).comparisons[0]!;
    expect(c.test).toBe('mann-whitney-exact');
    expect(c.verdict).toBe('inconclusive');
    expect(c.reason).toContain('cannot go below p = 0.10');
    expect(c.reason).toContain('use ≥ 4 a side');
  });

  it('flags noisy cells instead of trusting them', async () => {
    const { base, cand } = await runs(10, () => 10000, 20);
    const set = compareRuns(await loadRun(base), await loadRun(cand));
    const timings = set.comparisons.filter((c) => c.metricKind === 'timing');
    expect(timings.every((c) => c.noisy && c.verdict === 'inconclusive')).toBe(true);
    expect(timings[0]!.reason).toMatch(/^noisy: CV \d+\.\d % above max_cv_pct 10 %/);
  });

  it('goes on past a corrupt result, a truncated one and a missing cell, naming each', async () => {
    const { base, cand } = await runs(5, () => 10000);
    const cellDir = join(cand, 'cells', 'rr.qd1__intel-lazy__t__nvme0');
    await writeFile(join(cellDir, 'timing-01', 'result.json'), '{"version": 1, "run": "x"');
    const r2 = JSON.parse(await readFile(join(cellDir, 'timing-02', 'result.json'), 'utf8'));
    delete r2.provenance;
    await writeFile(join(cellDir, 'timing-02', 'result.json'), JSON.stringify(r2));
    const run = await loadRun(cand);
    expect(run.problems.map((p) => p.file.replace(cand, 'RUN'))).toEqual([
      'RUN/cells/rr.qd1__intel-lazy__t__nvme0/timing-01/result.json',
      'RUN/cells/rr.qd1__intel-lazy__t__nvme0/timing-02/result.json',
    ]);
    expect(run.problems[0]!.message).toMatch(/^not valid JSON/);
    expect(run.problems[1]!.message).toContain("must have required property 'provenance'");
    const set = compareRuns(await loadRun(base), run);
    expect(set.comparisons.find((c) => c.cell === 'rr.qd1__intel-lazy__t__nvme0' && c.metric === 'iops')!.cand.n).toBe(3);
  });
});

describe('configurations within one run', () => {
  it('reports that strict costs exact flushes even when the timings cannot tell', async () => {
    const { cand } = await runs(3, () => 10000, 8);
    const set = compareModes(await loadRun(cand));
    const f = pairFindings(set).find((x) => x.label === 'intel-strict vs intel-passthrough' && x.group === 'rr.qd16__t__nvme0')!;
    expect(f.summary).toMatch(/^the exact counts differ \(iotlb_sync_flush_per_io 0 → 1\.000\); the timings cannot tell/);
    const count = f.counts.find((c) => c.metric === 'iotlb_sync_flush_per_io')!;
    expect(count).toMatchObject({ test: 'poisson-rate', verdict: 'regression', variation: 'exact' });
  });

  it('a count that varies in lazy mode is compared over repetitions, never by a Poisson test on one a side', async () => {
    const { cand } = await runs(3, () => 10000, 8);
    const set = compareModes(await loadRun(cand));
    const c = set.comparisons.find((x) => x.label === 'intel-strict vs intel-lazy' && x.metric === 'iotlb_sync_flush_per_io')!;
    expect(c).toMatchObject({ test: 'none', verdict: 'inconclusive', variation: 'varies', needsReps: 4 });
    expect(c.reason).toContain('needs ≥ 4 a side, has 1 and 1');
  });
});

describe('counts that are not exact (issue figures)', () => {
  const T = { alpha: 0.05, min_effect_pct: 2, max_cv_pct: 2 };
  const head = { kind: 'baseline' as const, cell: 'intel-lazy', reference: 'intel-lazy', label: 'candidate vs baseline', group: 'g' };
  const side = (values: number[], ios: number, boot: string) => ({ values, exposures: values.map(() => ios), boots: values.map(() => boot) });
  const judge1 = (a: ReturnType<typeof side>, b: ReturnType<typeof side>, metric: string, modes: ['lazy' | 'strict', 'lazy' | 'strict']) => {
    const d = describeMetric(metric)!;
    const p = compareSamples(a, b, d, T, head, { variation: { ref: countVariation(d, modes[0])!, cand: countVariation(d, modes[1])! } });
    if (typeof p === 'string') throw new Error(p);
    return judgeAll([p], [], T).comparisons[0]!;
  };

  it('two runs of intel lazy minutes apart: flush-queue and synchronous flushes per I/O are not a change, either way round', () => {
    // repro of one quick-sweep cell: 7.54e-3 → 5.28e-3 flush-queue flushes, 7.26e-3 → 5.28e-3 synchronous ones, one traced repetition a side.
    for (const [metric, a, b] of [['fq_flush_per_io', 7.54e-3, 5.28e-3], ['iotlb_sync_flush_per_io', 7.26e-3, 5.28e-3]] as const) {
      for (const [x, y] of [[a, b], [b, a]] as [number, number][]) {
        const c = judge1(side([x], 45_000, 'r1'), side([y], 45_000, 'r2'), metric, ['lazy', 'lazy']);
        expect(c.verdict, metric).toBe('inconclusive');
        expect(c.test).toBe('none');
        expect(c.reason).toContain('needs ≥ 4 a side');
      }
    }
  });

  it('with enough traced repetitions, lazy run-to-run variation is not a change, and a real one is', () => {
    const r = prng(5);
    const lazy = (m: number) => Array.from({ length: 6 }, () => m * (1 + 0.15 * (r() - 0.5)));
    const same = judge1(side(lazy(6.5e-3), 45_000, 'b'), side(lazy(6.5e-3), 45_000, 'b'), 'fq_flush_per_io', ['lazy', 'lazy']);
    expect(same.verdict === 'regression' || same.verdict === 'improvement').toBe(false);
    const doubled = judge1(side(lazy(6.5e-3), 45_000, 'b'), side(lazy(13e-3), 45_000, 'b'), 'fq_flush_per_io', ['lazy', 'lazy']);
    expect(doubled.verdict).toBe('regression');
  });

  it('strict mode synchronous flushes stay exact: 1.000 against 0.5 is a change on one repetition a side', () => {
    const c = judge1(side([1], 45_000, 'r1'), side([0.5], 45_000, 'r2'), 'iotlb_sync_flush_per_io', ['strict', 'strict']);
    expect(c).toMatchObject({ test: 'poisson-rate', verdict: 'improvement' });
  });

  it('IOMMU faults are a count per repetition: 1 against 3 is not a regression (Poisson p = 0.62)', () => {
    const d = describeMetric('iommu_faults')!;
    const p = compareSamples(side([1], 100_000, 'a'), side([3], 100_000, 'b'), d, T, head);
    if (typeof p === 'string') throw new Error(p);
    const c = judgeAll([p], [], T).comparisons[0]!;
    expect(c.p).toBeCloseTo(0.625, 2);
    expect(c.verdict).toBe('inconclusive');
    expect(c.reason).toContain('rate per repetition');
  });
});

describe('reports', () => {
  it('Markdown names the regression; JUnit makes it a failure and inconclusive ones skipped', async () => {
    const { base, cand } = await runs(10, (cell) => (cell === 'rr.qd16__intel-strict__t__nvme0' ? 9000 : 10000));
    const report = buildReport(await loadRun(cand), { baseline: await loadRun(base) });
    expect(report.regression).toBe(true);
    const md = renderMarkdown(report);
    expect(md).toMatch(/^## ❌ Regression; 4 comparisons inconclusive \(exit 1\) — syn/);
    expect(md).toContain('| `rr.qd16__intel-strict__t__nvme0` | candidate vs baseline | iops |');
    const xml = renderJUnit(report);
    expect(xml).toMatch(/<testcase classname="syn\.rr\.qd16__intel-strict__t__nvme0" name="iops" time="0">\s*<failure message="iops: -/);
    expect((xml.match(/<testcase /g) ?? []).length).toBe(report.baseline!.set.comparisons.length + report.modes.comparisons.length);
  });

  it('the headline never says "no regression" alone above failed repetitions, in any format', async () => {
    const { cand } = await runs(10, () => 10000);
    const clean = buildReport(await loadRun(cand));
    expect(clean.headline).toMatchObject({ state: 'clean', exitCode: 0 });
    expect(renderMarkdown(clean)).toMatch(/^## ✅ No regression.*\(exit 0\)/);
    const failures = [{ cell: 'rr.qd1__intel-strict__t__nvme0', rep: 'timing-03', kind: 'host-contention', message: '3 attempts were disturbed' }];
    const withFailures = { ...clean, failures, headline: headlineOf({ ...clean, failures }) };
    expect(withFailures.headline).toEqual({ state: 'failed', exitCode: 1, text: expect.stringMatching(/^1 repetition failed: no regression among the rest.*\(exit 1\)$/) });
    expect(renderMarkdown(withFailures)).toMatch(/^## ❌ 1 repetition failed: no regression among the rest/);
    expect(renderHtml(withFailures)).toContain('<div class="banner bad">1 repetition failed: no regression among the rest');
    const xml = renderJUnit(withFailures);
    expect(xml).toMatch(/<testcase classname="syn\.repetitions\.rr\.qd1__intel-strict__t__nvme0" name="timing-03">\s*<failure message="host-contention: 3 attempts were disturbed" type="host-contention"\/>/);
    // Every suite carries the headline and the exit code; so does the text report's second line.
    const suites = (xml.match(/<testsuite /g) ?? []).length;
    expect((xml.match(/<property name="headline" value="1 repetition failed: no regression among the rest[^"]*\(exit 1\)"\/>/g) ?? []).length).toBe(suites);
    expect((xml.match(/<property name="exit_code" value="1"\/>/g) ?? []).length).toBe(suites);
    expect(renderText(withFailures).replace(/\n\s*/g, ' ')).toContain(` ${withFailures.headline.text} kernel `);
    expect(renderText(withFailures)).toMatch(/Failed repetitions \(1\): rr\.qd1__intel-strict__t__nvme0 timing-03\s+\(host-contention\)/);
  });

  it('the CLI exits 1 on a regression, 0 without, 2 for runs of different scenarios', async () => {
    const bad = await runs(10, (cell) => (cell === 'rr.qd16__intel-strict__t__nvme0' ? 9000 : 10000));
    const r1 = await runCli('compare', bad.base, bad.cand);
    expect(r1.code, r1.stderr).toBe(1);
    expect(r1.stdout).toContain('REGRESSION rr.qd16__intel-strict__t__nvme0 iops');
    expect(r1.stdout).toMatch(/report: {2}.*compare\/report\.html/);
    const good = await runs(10, () => 10000);
    expect((await runCli('compare', good.base, good.cand)).code).toBe(0);
    const other = await tmp();
    const s2 = await loadScenarioFile(await writeIn(other, 'other.yaml', SCENARIO(3).replace('name: syn', 'name: other')));
    const otherRun = await writeSyntheticRun({ root: join(other, 'results'), scenario: s2, seed: 3, created: new Date(), level: () => 1, cvPct: 1 });
    const r3 = await runCli('compare', good.base, otherRun);
    expect(r3.code).toBe(2);
    expect(r3.stderr).toContain('error[E_COMPARE_SCENARIOS]');
    expect((await runCli('compare', good.base, other)).stderr).toContain('error[E_RUN_UNREADABLE]');
  });

  it('report --format text prints the email report alone, its exit code the headline\'s; an unknown reference or format is bad input', async () => {
    const bad = await runs(10, (cell) => (cell === 'rr.qd16__intel-strict__t__nvme0' ? 9000 : 10000));
    const r = await runCli('report', bad.cand, '--baseline', bad.base, '--format', 'text');
    expect(r.code, r.stderr).toBe(1);
    const lines = r.stdout.split('\n');
    for (const l of lines) expect(l.length, l).toBeLessThanOrEqual(72);
    expect(lines[1]).toMatch(/^Regression.*\(exit 1\)$/);
    expect(r.stdout).not.toContain('report: ');
    expect(existsSync(join(bad.cand, 'report', 'summary.txt'))).toBe(true);
    const ref = await runCli('report', bad.cand, '--format', 'text', '--reference', 'intel-strict');
    expect(ref.stdout).toMatch(/relative to intel-strict ==/);
    const unknown = await runCli('report', bad.cand, '--reference', 'virtio-lazy');
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/the run has no configuration virtio-lazy[^]*fix: name one of intel-passthrough, intel-lazy, intel-strict/);
    const format = await runCli('report', bad.cand, '--format', 'pdf');
    expect(format.code).toBe(2);
    expect(format.stderr).toMatch(/--format pdf is not a report format[^]*use summary or text/);
  });
});

describe('emulated against real', () => {
  it('sets the VM effect beside the static hosts\' effect for the same pair of configurations', async () => {
    const dir = await tmp();
    await writeIn(dir, 'hosts.yaml', `hosts:
  - name: real-strict
    ssh: { host: 127.0.0.1, port: 22, user: lab, key: /k, host_key_sha256: "SHA256:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA" }
    iommu: { device: intel, mode: strict }
    disks: [{ name: nvme0, path: /var/tmp/f, behind_iommu: true }]
  - name: real-lazy
    ssh: { host: 127.0.0.2, port: 22, user: lab, key: /k, host_key_sha256: "SHA256:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA" }
    iommu: { device: intel, mode: lazy }
    disks: [{ name: nvme0, path: /var/tmp/f, behind_iommu: true }]
`);
    const scenario = await loadScenarioFile(await writeIn(dir, 'x.yaml', `name: x
repetitions: 8
workloads: [{ name: rr, rw: randread, bs: 4k, runtime: 10 }]
iommu:
  - device: intel
    mode: [lazy, strict]
targets:
  vms: [{ name: t, disks: [{ name: nvme0, bus: nvme }] }]
  hosts: [real-strict, real-lazy]
hosts_file: hosts.yaml
metrics: [iops]
thresholds: { alpha: 0.05, min_effect_pct: 3, max_cv_pct: 10 }
`));
    // Emulated: strict costs 20 %; real: 4 %.
    const level = (cell: string, config: string) => (config === 'intel-strict' ? (cell.includes('__t__') ? 8000 : 96000) : cell.includes('__t__') ? 10000 : 100000);
    const runDir = await writeSyntheticRun({ root: join(dir, 'results'), scenario, seed: 9, created: new Date(), level, cvPct: 1 });
    const report = buildReport(await loadRun(runDir));
    const x = report.crossChecks.find((c) => c.metric === 'iops')!;
    expect(x).toMatchObject({ workload: 'rr', label: 'intel-strict vs intel-lazy', sameSign: true, magnitudesAgree: false });
    expect(x.vm.ratio).toBeCloseTo(0.8, 1);
    expect(x.host.ratio).toBeCloseTo(0.96, 1);
    expect(renderMarkdown(report)).toContain('### Emulated against real hosts');
  });
});
