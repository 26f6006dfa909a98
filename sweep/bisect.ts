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
import type { Cell } from '../cell/types.js';
import { BisectError, InterruptedError } from '../core/errors.js';
import { describeMetric, scriptOf, type MetricDescription } from '../core/metrics.js';
import { buildKernel, type KernelBase } from '../guest-images/kernel/build.js';
import type { Hypervisor } from '../infra/up.js';
import { writeJsonAtomic } from '../core/atomic.js';
import { loadScenarioFile, type LoadedScenario } from '../scenario/load.js';
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
  const b = await Bisection.open(o);
  const original = (await git(b.tree, ['symbolic-ref', '-q', '--short', 'HEAD'], { allowFailure: true })).out || (await git(b.tree, ['rev-parse', 'HEAD'])).out;
  try {
    return await b.run(t0);
  } finally {
    // Back where the user was, whatever happened; the log keeps what was measured.
    await git(b.tree, ['bisect', 'reset', '-q', original], { allowFailure: true });
    await git(b.tree, ['checkout', '-q', original], { allowFailure: true });
  }
}

/** What the arguments name, checked before anything is built: a clean git tree, two commits in order, a known metric and cell. */
async function checkedArgs(o: BisectOptions): Promise<{ tree: string; good: string; bad: string; d: MetricDescription; loaded: LoadedScenario }> {
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
  return { tree, good, bad, d, loaded };
}

type Measured = { run: LoadedRun; build: BisectStep['build']; seconds: number };

/**
 * One bisection: its log (bisect.json, the steps measured so far, kept
 * atomically) and the runs it has loaded. It alone writes the log.
 */
class Bisection {
  readonly #runs = new Map<string, LoadedRun>();

  private constructor(
    private readonly o: BisectOptions,
    readonly tree: string,
    private readonly good: string,
    private readonly bad: string,
    private readonly d: MetricDescription,
    private readonly loaded: LoadedScenario,
    private readonly dir: string,
    private readonly args: BisectLog['args'],
    private readonly steps: BisectStep[],
    private readonly resumed: number,
  ) {}

  /** The bisection these arguments name: resumed from its log when one exists. */
  static async open(o: BisectOptions): Promise<Bisection> {
    const { tree, good, bad, d, loaded } = await checkedArgs(o);
    const base = o.base ?? 'tiny';
    const args = { scenario_sha256: loaded.sha256, tree, good, bad, cell: o.cell, metric: o.metric, base: typeof base === 'string' ? base : resolve(base.file) };
    const id = createHash('sha256').update(JSON.stringify(args)).digest('hex').slice(0, 12);
    const dir = join(resolve(o.resultsRoot), 'bisect', `${loaded.scenario.name}-${good.slice(0, 8)}-${bad.slice(0, 8)}-${id}`);
    await mkdir(join(dir, 'steps'), { recursive: true });
    const logFile = join(dir, 'bisect.json');
    const earlier = existsSync(logFile) ? (JSON.parse(await readFile(logFile, 'utf8')) as BisectLog) : undefined;
    if (earlier && JSON.stringify(earlier.args) !== JSON.stringify(args)) throw new BisectError(`${logFile} belongs to another bisection`, { fix: 'remove it, or use another --results root' });
    const steps = [...(earlier?.steps ?? [])];
    if (steps.length) o.log?.(`bisect: resuming ${dir} (${steps.length} measurement(s) in its log)`);
    return new Bisection(o, tree, good, bad, d, loaded, dir, args, steps, steps.length);
  }

  get #logFile(): string {
    return join(this.dir, 'bisect.json');
  }

  #log(line: string): void {
    this.o.log?.(line);
  }

  #save(result?: BisectLog['result']): Promise<void> {
    return writeJsonAtomic(this.#logFile, { version: 1, args: this.args, steps: this.steps, ...(result ? { result } : {}) } satisfies BisectLog);
  }

  /** Builds the checked-out commit and sweeps the scenario on it. */
  async #measure(commit: string): Promise<Measured> {
    const { o } = this;
    if (o.signal?.aborted) throw new InterruptedError('bisect interrupted', { fix: 'run the same command again: it resumes from its log' });
    this.#log(`bisect: ${commit.slice(0, 12)} ${await subjectOf(this.tree, commit)}`);
    // The tracing options (and their debug information) only when the scenario runs bpftrace: bisecting on exact counts builds in about half the time.
    const k = await buildKernel({ tree: this.tree, base: o.base ?? 'tiny', tracing: usesBpftrace(this.loaded.scenario.tracing), ...(o.jobs ? { jobs: o.jobs } : {}), onLog: (l) => this.#log(l), ...(o.signal ? { signal: o.signal } : {}) });
    const t = Date.now();
    const file = await stepScenario(o.scenarioFile, k.dir, join(this.dir, 'steps', `${commit.slice(0, 12)}.yaml`));
    const r = await sweep({ scenarioFile: file, resultsRoot: join(this.dir, 'runs'), hypervisors: o.hypervisors, log: (l) => this.#log(l), ...(o.signal ? { signal: o.signal } : {}) });
    if (r.summary.interrupted) throw new InterruptedError('bisect interrupted during a measurement', { fix: 'run the same command again: it resumes from its log and completes the measurement' });
    const run = await loadRun(r.dir);
    this.#runs.set(commit, run);
    return { run, build: { dir: k.dir, release: k.release, cached: k.cached, seconds: k.seconds }, seconds: (Date.now() - t) / 1000 };
  }

  async #runOf(s: BisectStep): Promise<LoadedRun> {
    const known = this.#runs.get(s.commit);
    if (known) return known;
    const r = await loadRun(s.run);
    this.#runs.set(s.commit, r);
    return r;
  }

  #side(run: LoadedRun): { run: LoadedRun; cell: Cell } {
    return { run, cell: run.cells.get(this.o.cell)! };
  }

  async #record(commit: string, role: BisectStep['role'], verdict: StepVerdict, reason: string, m: Measured): Promise<BisectStep> {
    const { metric } = this.o;
    const values = samples(m.run, this.o.cell, metric).values;
    const step: BisectStep = { commit, subject: await subjectOf(this.tree, commit), role, verdict, reason, run: m.run.dir, values, median: values.length ? median(values) : NaN, build: m.build, measureSeconds: m.seconds };
    this.steps.push(step);
    await this.#save();
    this.#log(`bisect: ${commit.slice(0, 12)} ${role === 'step' ? verdict : role} — ${metric} ${values.map(fmtNum).join(', ') || 'none'}${role === 'step' ? ` (${reason})` : ''}`);
    return step;
  }

  /** An endpoint: what good or bad looks like in this metric (from the log when it was measured). */
  async #endpoint(commit: string, role: 'good-endpoint' | 'bad-endpoint'): Promise<LoadedRun> {
    const done = this.steps.find((s) => s.role === role);
    if (done) return this.#runOf(done);
    await git(this.tree, ['checkout', '-q', '--detach', commit]);
    return this.#runOf(await this.#record(commit, role, role === 'good-endpoint' ? 'good' : 'bad', role, await this.#measure(commit)));
  }

  /** The endpoints measured and told apart, then git's own bisection with the lab as the test. */
  async run(t0: number): Promise<BisectResult> {
    const { metric } = this.o;
    const goodRun = await this.#endpoint(this.good, 'good-endpoint');
    const badRun = await this.#endpoint(this.bad, 'bad-endpoint');
    if (samples(goodRun, this.o.cell, metric).values.length === 0) {
      throw new BisectError(`the good commit's run has no ${metric} for ${this.o.cell} (${goodRun.dir})`, { fix: scriptOf(this.d) ? `trace it: add ${scriptOf(this.d)} to tracing.scripts and keep tracing.repetitions ≥ 1` : `see the run's failures: iommu-lab report ${goodRun.dir}` });
    }
    const badVsGood = compareCellAcross(this.#side(goodRun), this.#side(badRun), metric, 'bad vs good');
    const why = endpointsProblem(badVsGood, metric);
    if (why) throw new BisectError(why, { fix: 'bisect a metric that changed between the two commits (iommu-lab compare the two runs shows which), or add repetitions' });
    const endpoints = badVsGood as Comparison;
    this.#log(`bisect: bad against good: ${endpoints.reason}`);
    // git's own bisection, with the verdicts already known replayed into it.
    await git(this.tree, ['bisect', 'reset', '-q'], { allowFailure: true });
    let said = (await git(this.tree, ['bisect', 'start', this.bad, this.good])).out;
    // `git bisect good|bad|skip` exits non-zero when only skipped commits are left: the text says what happened.
    for (const s of this.steps.filter((x) => x.role === 'step')) said = (await git(this.tree, ['bisect', s.verdict, s.commit], { allowFailure: true })).out;
    for (;;) {
      const ended = await this.#ended(said, t0);
      if (ended) return ended;
      const head = (await git(this.tree, ['rev-parse', 'HEAD'])).out;
      const m = await this.#measure(head);
      const call = callStep(
        compareCellAcross(this.#side(goodRun), this.#side(m.run), metric, 'step vs good'),
        compareCellAcross(this.#side(badRun), this.#side(m.run), metric, 'step vs bad'),
        endpoints,
      );
      await this.#record(head, 'step', call.verdict, call.reason, m);
      said = (await git(this.tree, ['bisect', call.verdict, head], { allowFailure: true })).out;
    }
  }

  /** The result, once git says the bisection is over (a first bad commit, or only skipped ones left). */
  async #ended(said: string, t0: number): Promise<BisectResult | undefined> {
    const first = /^([0-9a-f]{40}) is the first bad commit/m.exec(said);
    const candidates = first ? undefined : /only 'skip'ped commits left/.test(said) ? [...said.matchAll(/^([0-9a-f]{40})$/gm)].map((m) => m[1]!) : undefined;
    if (!first && !candidates) return undefined;
    const seconds = (Date.now() - t0) / 1000;
    const firstBad = first ? { commit: first[1]!, subject: await subjectOf(this.tree, first[1]!) } : undefined;
    await this.#save({ ...(firstBad ? { firstBad } : {}), ...(candidates ? { candidates } : {}), seconds });
    if (firstBad) this.#log(`bisect: first bad commit ${firstBad.commit.slice(0, 12)} ${firstBad.subject}`);
    const log = JSON.parse(await readFile(this.#logFile, 'utf8')) as BisectLog;
    return { dir: this.dir, log, ...(firstBad ? { firstBad } : {}), ...(candidates ? { candidates } : {}), seconds, resumed: this.resumed };
  }
}
