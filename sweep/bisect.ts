/**
 * `iommu-lab bisect`: git bisect with the lab as the test. Each step checks
 * out a commit (git does), builds it the lab's way (guest-images/kernel/build.ts:
 * incremental, ccache), sweeps the scenario on it (one run in the results
 * store per step, with the build's identity in every result's provenance),
 * and calls the step good, bad or skip from the statistics (bisect-rule.ts).
 *
 * The endpoints are measured first: a metric that does not tell good from bad
 * stops the bisection before it wastes a build.
 *
 * Resumable: every measured step goes into `bisect.json` (written atomically)
 * under `<results>/bisect/<id>/`. Started again with the same arguments, the
 * lab replays the logged verdicts into a fresh `git bisect` and measures only
 * what is left; a step whose sweep was interrupted is completed by the sweep.
 * The tree is put back on the branch it was on when the bisection ends.
 */
import { execa } from 'execa';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { parseDocument } from 'yaml';
import { compareCellAcross, type Comparison } from '../analysis/compare/index.js';
import { fmtNum } from '../analysis/format.js';
import { loadRun, samples, type LoadedRun } from '../analysis/load.js';
import { expand } from '../cell/expand.js';
import { BisectError, InterruptedError } from '../core/errors.js';
import { describeMetric, scriptOf } from '../core/metrics.js';
import { buildKernel, type KernelBase } from '../guest-images/kernel/build.js';
import type { Hypervisor } from '../infra/up.js';
import { writeJsonAtomic } from '../core/atomic.js';
import { loadScenarioFile } from '../scenario/load.js';
import { usesBpftrace } from '../scenario/types.js';
import { median } from '../analysis/stats/index.js';
import { callStep, endpointsProblem, type StepVerdict } from './bisect-rule.js';
import { sweep } from './sweep.js';

export interface BisectOptions {
  readonly scenarioFile: string;
  readonly tree: string;
  readonly good: string;
  readonly bad: string;
  /** The cell whose metric decides (an id of the scenario's plan). */
  readonly cell: string;
  readonly metric: string;
  readonly base?: KernelBase;
  readonly jobs?: number;
  readonly resultsRoot: string;
  readonly hypervisors: readonly Hypervisor[];
  readonly signal?: AbortSignal;
  readonly log?: (line: string) => void;
}

export interface BisectStep {
  readonly commit: string;
  readonly subject: string;
  readonly role: 'good-endpoint' | 'bad-endpoint' | 'step';
  /** For steps: how the lab called it; endpoints are good and bad by definition. */
  readonly verdict: StepVerdict;
  readonly reason: string;
  /** The run the measurement is in. */
  readonly run: string;
  readonly values: readonly number[];
  readonly median: number;
  readonly build: { readonly dir: string; readonly release: string; readonly cached: boolean; readonly seconds: number };
  readonly measureSeconds: number;
}

export interface BisectLog {
  readonly version: 1;
  readonly args: { readonly scenario_sha256: string; readonly tree: string; readonly good: string; readonly bad: string; readonly cell: string; readonly metric: string; readonly base: string };
  readonly steps: readonly BisectStep[];
  readonly result?: { readonly firstBad?: { readonly commit: string; readonly subject: string }; readonly candidates?: readonly string[]; readonly seconds: number };
}

export interface BisectResult {
  readonly dir: string;
  readonly log: BisectLog;
  readonly firstBad?: { readonly commit: string; readonly subject: string };
  /** When skips left several commits: the ones git could not tell apart. */
  readonly candidates?: readonly string[];
  readonly seconds: number;
  readonly resumed: number;
}

async function git(tree: string, args: string[], o: { allowFailure?: boolean } = {}): Promise<{ code: number; out: string }> {
  const r = await execa('git', ['-C', tree, ...args], { reject: false, all: true });
  if (r.exitCode !== 0 && !o.allowFailure) throw new BisectError(`git ${args.join(' ')} failed in ${tree}`, { detail: String(r.all ?? '') });
  return { code: r.exitCode ?? -1, out: String(r.all ?? '').trim() };
}

async function commitOf(tree: string, rev: string): Promise<string> {
  const r = await git(tree, ['rev-parse', '--verify', '--quiet', `${rev}^{commit}`], { allowFailure: true });
  if (r.code !== 0 || !r.out) throw new BisectError(`${rev} is not a commit in ${tree}`, { fix: 'give a commit, tag or branch that git log shows' });
  return r.out.split('\n')[0]!;
}

const subjectOf = async (tree: string, commit: string) => (await git(tree, ['log', '-1', '--format=%s', commit])).out;

/** The scenario with its VM profiles' kernel replaced by this build (ids stay as they are: one kernel, no axis). */
async function stepScenario(file: string, buildDir: string, into: string): Promise<string> {
  const doc = parseDocument(await readFile(file, 'utf8'));
  doc.set('kernels', [{ name: 'bisect', path: buildDir }]);
  const vms = doc.getIn(['targets', 'vms']) as { items?: unknown[] } | undefined;
  (vms?.items ?? []).forEach((_, i) => doc.setIn(['targets', 'vms', i, 'kernel'], 'bisect'));
  // Relative paths were relative to the original file.
  const hosts = doc.get('hosts_file');
  if (typeof hosts === 'string') doc.set('hosts_file', resolve(file, '..', hosts));
  await writeFile(into, doc.toString());
  return into;
}

export async function bisect(o: BisectOptions): Promise<BisectResult> {
  const t0 = Date.now();
  const log = o.log ?? (() => {});
  const tree = resolve(o.tree);
  if (!existsSync(join(tree, '.git'))) throw new BisectError(`${tree} is not a git checkout`, { fix: 'bisect needs the kernel tree as a git repository' });
  const dirty = (await git(tree, ['status', '--porcelain', '--untracked-files=no'])).out;
  if (dirty) throw new BisectError(`${tree} has uncommitted changes; bisect checks out other commits and would carry them along`, { detail: dirty, fix: 'commit or stash them (git stash), then bisect again' });
  const good = await commitOf(tree, o.good);
  const bad = await commitOf(tree, o.bad);
  if ((await git(tree, ['merge-base', '--is-ancestor', good, bad], { allowFailure: true })).code !== 0) {
    throw new BisectError(`the good commit ${o.good} is not an ancestor of the bad commit ${o.bad}`, { fix: 'swap them, or give a good commit on the bad one\'s history' });
  }
  const d = describeMetric(o.metric);
  if (!d || d.kind === 'exposure') throw new BisectError(`unknown metric ${o.metric}`, { fix: 'use a metric of core/metrics.ts (docs/metrics.md), e.g. iotlb_sync_flush_per_io' });
  const loaded = await loadScenarioFile(o.scenarioFile);
  const plan = expand(loaded);
  const cell = plan.cells.find((c) => c.id === o.cell);
  if (!cell) throw new BisectError(`the scenario has no cell ${o.cell}`, { fix: `cells: ${plan.cells.map((c) => c.id).join(', ')}` });
  if (cell.target.kind !== 'vm') throw new BisectError(`${o.cell} runs on a static host; bisect boots the kernels it builds in the lab's guests`);

  const base = o.base ?? 'tiny';
  const args = { scenario_sha256: loaded.sha256, tree, good, bad, cell: o.cell, metric: o.metric, base: typeof base === 'string' ? base : resolve(base.file) };
  const id = createHash('sha256').update(JSON.stringify(args)).digest('hex').slice(0, 12);
  const dir = join(resolve(o.resultsRoot), 'bisect', `${loaded.scenario.name}-${good.slice(0, 8)}-${bad.slice(0, 8)}-${id}`);
  await mkdir(join(dir, 'steps'), { recursive: true });
  const logFile = join(dir, 'bisect.json');
  const earlier = existsSync(logFile) ? (JSON.parse(await readFile(logFile, 'utf8')) as BisectLog) : undefined;
  if (earlier && JSON.stringify(earlier.args) !== JSON.stringify(args)) throw new BisectError(`${logFile} belongs to another bisection`, { fix: 'remove it, or use another --results root' });
  const steps: BisectStep[] = [...(earlier?.steps ?? [])];
  const resumed = steps.length;
  if (resumed) log(`bisect: resuming ${dir} (${resumed} measurement(s) in its log)`);
  const save = (result?: BisectLog['result']) => writeJsonAtomic(logFile, { version: 1, args, steps, ...(result ? { result } : {}) } satisfies BisectLog);

  const original = (await git(tree, ['symbolic-ref', '-q', '--short', 'HEAD'], { allowFailure: true })).out || (await git(tree, ['rev-parse', 'HEAD'])).out;
  const runs = new Map<string, LoadedRun>();
  const measure = async (commit: string): Promise<{ run: LoadedRun; build: BisectStep['build']; seconds: number }> => {
    if (o.signal?.aborted) throw new InterruptedError('bisect interrupted', { fix: 'run the same command again: it resumes from its log' });
    log(`bisect: ${commit.slice(0, 12)} ${await subjectOf(tree, commit)}`);
    // The tracing options (and their debug information) only when the scenario runs bpftrace: bisecting on exact counts builds in about half the time.
    const k = await buildKernel({ tree, base, tracing: usesBpftrace(loaded.scenario.tracing), ...(o.jobs ? { jobs: o.jobs } : {}), onLog: log, ...(o.signal ? { signal: o.signal } : {}) });
    const t = Date.now();
    const file = await stepScenario(o.scenarioFile, k.dir, join(dir, 'steps', `${commit.slice(0, 12)}.yaml`));
    const r = await sweep({ scenarioFile: file, resultsRoot: join(dir, 'runs'), hypervisors: o.hypervisors, log, ...(o.signal ? { signal: o.signal } : {}) });
    if (r.summary.interrupted) throw new InterruptedError('bisect interrupted during a measurement', { fix: 'run the same command again: it resumes from its log and completes the measurement' });
    const run = await loadRun(r.dir);
    runs.set(commit, run);
    return { run, build: { dir: k.dir, release: k.release, cached: k.cached, seconds: k.seconds }, seconds: (Date.now() - t) / 1000 };
  };
  const runOf = async (s: BisectStep): Promise<LoadedRun> => {
    const known = runs.get(s.commit);
    if (known) return known;
    const r = await loadRun(s.run);
    runs.set(s.commit, r);
    return r;
  };
  const cellOf = (run: LoadedRun) => run.cells.get(o.cell)!;
  const record = async (commit: string, role: BisectStep['role'], verdict: StepVerdict, reason: string, m: Awaited<ReturnType<typeof measure>>) => {
    const values = samples(m.run, o.cell, o.metric).values;
    const step: BisectStep = { commit, subject: await subjectOf(tree, commit), role, verdict, reason, run: m.run.dir, values, median: values.length ? median(values) : NaN, build: m.build, measureSeconds: m.seconds };
    steps.push(step);
    await save();
    log(`bisect: ${commit.slice(0, 12)} ${role === 'step' ? verdict : role} — ${o.metric} ${values.map(fmtNum).join(', ') || 'none'}${role === 'step' ? ` (${reason})` : ''}`);
    return step;
  };

  try {
    // The endpoints: what good and bad look like in this metric.
    const endpoint = async (commit: string, role: 'good-endpoint' | 'bad-endpoint') => {
      const done = steps.find((s) => s.role === role);
      if (done) return done;
      await git(tree, ['checkout', '-q', '--detach', commit]);
      return record(commit, role, role === 'good-endpoint' ? 'good' : 'bad', role, await measure(commit));
    };
    const g = await endpoint(good, 'good-endpoint');
    const b = await endpoint(bad, 'bad-endpoint');
    const goodRun = await runOf(g);
    const badRun = await runOf(b);
    if (samples(goodRun, o.cell, o.metric).values.length === 0) {
      throw new BisectError(`the good commit's run has no ${o.metric} for ${o.cell} (${goodRun.dir})`, { fix: scriptOf(d) ? `trace it: add ${scriptOf(d)} to tracing.scripts and keep tracing.repetitions ≥ 1` : `see the run's failures: iommu-lab report ${goodRun.dir}` });
    }
    const badVsGood = compareCellAcross({ run: goodRun, cell: cellOf(goodRun) }, { run: badRun, cell: cellOf(badRun) }, o.metric, 'bad vs good');
    const why = endpointsProblem(badVsGood, o.metric);
    if (why) throw new BisectError(why, { fix: 'bisect a metric that changed between the two commits (iommu-lab compare the two runs shows which), or add repetitions' });
    log(`bisect: bad against good: ${(badVsGood as Comparison).reason}`);

    // git's own bisection, with the verdicts already known replayed into it.
    await git(tree, ['bisect', 'reset', '-q'], { allowFailure: true });
    let said = (await git(tree, ['bisect', 'start', bad, good])).out;
    // `git bisect good|bad|skip` exits non-zero when only skipped commits are left: the text says what happened.
    for (const s of steps.filter((x) => x.role === 'step')) said = (await git(tree, ['bisect', s.verdict, s.commit], { allowFailure: true })).out;
    for (;;) {
      const first = /^([0-9a-f]{40}) is the first bad commit/m.exec(said);
      if (first) {
        const firstBad = { commit: first[1]!, subject: await subjectOf(tree, first[1]!) };
        const seconds = (Date.now() - t0) / 1000;
        await save({ firstBad, seconds });
        log(`bisect: first bad commit ${firstBad.commit.slice(0, 12)} ${firstBad.subject}`);
        return { dir, log: JSON.parse(await readFile(logFile, 'utf8')) as BisectLog, firstBad, seconds, resumed };
      }
      if (/only 'skip'ped commits left/.test(said)) {
        const candidates = [...said.matchAll(/^([0-9a-f]{40})$/gm)].map((m) => m[1]!);
        const seconds = (Date.now() - t0) / 1000;
        await save({ candidates, seconds });
        return { dir, log: JSON.parse(await readFile(logFile, 'utf8')) as BisectLog, candidates, seconds, resumed };
      }
      const head = (await git(tree, ['rev-parse', 'HEAD'])).out;
      const m = await measure(head);
      const call = callStep(
        compareCellAcross({ run: goodRun, cell: cellOf(goodRun) }, { run: m.run, cell: cellOf(m.run) }, o.metric, 'step vs good'),
        compareCellAcross({ run: badRun, cell: cellOf(badRun) }, { run: m.run, cell: cellOf(m.run) }, o.metric, 'step vs bad'),
        badVsGood as Comparison,
      );
      await record(head, 'step', call.verdict, call.reason, m);
      said = (await git(tree, ['bisect', call.verdict, head], { allowFailure: true })).out;
    }
  } finally {
    // Back where the user was, whatever happened; the log keeps what was measured.
    await git(tree, ['bisect', 'reset', '-q', original], { allowFailure: true });
    await git(tree, ['checkout', '-q', original], { allowFailure: true });
  }
}
