/**
 * `iommu-lab kernel build TREE`: builds a kernel source tree for the lab, the
 * same way every time.
 *
 * - Configuration: a base (`tiny`: tinyconfig + tiny.config, the smallest that
 *   boots the lab's guest; `defconfig`; or a .config file of your own), then the
 *   lab's fragment (lab.config) merged in, then `make olddefconfig`. An option
 *   of the fragment that Kconfig dropped (a dependency the base lacks) is an
 *   error naming it. `tracing: false` leaves out the options only bpftrace
 *   needs (BTF, so debug information, kprobes, ftrace): a kernel measured by
 *   the QEMU plugin alone builds in about half the time.
 * - Build: out of tree (O=) in the lab's cache, one build directory per source
 *   tree and base, so a rebuild after a small change (a bisect step) is
 *   incremental; compiled through ccache; the timestamp, user and host that the
 *   kernel embeds are fixed, so the same tree gives the same objects.
 * - Output: `<cache>/kernels/builds/<key>/` (bzImage, config, kernel.release,
 *   modules under lib/modules, build.json), keyed by the tree's state (git
 *   commit and a hash of uncommitted changes) and the configuration's hash, so
 *   building the same state again is a cache hit. A tree that is not a git
 *   checkout is always rebuilt (make decides what changed) and not cached by key.
 */
import { execa } from 'execa';
import { createHash } from 'node:crypto';
import { createWriteStream, existsSync } from 'node:fs';
import { appendFile, cp, mkdir, mkdtemp, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { join, resolve } from 'node:path';
import { KernelBuildError, KernelConfigError, KernelNotFoundError, KernelToolsError } from '../../core/errors.js';
import { labPath } from '../../core/paths.js';
import { IOMMU_DEVICES } from '../../core/iommu.js';
import { cacheRoot, have } from '../build.js';
import { configProblems, fragmentFor, LAB_FRAGMENT, parseDotConfig, parseFragment, TINY_FRAGMENT } from './config.js';

export type KernelBase = 'tiny' | 'defconfig' | { readonly file: string };

export interface KernelBuildOptions {
  readonly tree: string;
  readonly base?: KernelBase;
  readonly jobs?: number;
  /** Merge the options bpftrace needs (default true); false for a kernel measured by the QEMU plugin alone. */
  readonly tracing?: boolean;
  /** Progress lines (stderr in the CLI). */
  readonly onLog?: (line: string) => void;
  readonly signal?: AbortSignal;
}

export interface BuiltKernel {
  /** The output directory: what a scenario's kernels: path names. */
  readonly dir: string;
  readonly release: string;
  readonly cached: boolean;
  readonly seconds: number;
  readonly buildDir: string;
  readonly log: string;
  readonly tree: TreeState;
}

export interface TreeState {
  readonly path: string;
  /** Present for a git checkout. */
  readonly commit?: string;
  /** A hash of `git diff HEAD` (tracked changes), when there are any. */
  readonly dirty?: string;
  /** `git describe --always --dirty --tags`. */
  readonly describe?: string;
}

const TOOLS = ['make', 'gcc', 'bc', 'bison', 'flex', 'pahole', 'ccache'];

export async function treeState(tree: string): Promise<TreeState> {
  const path = resolve(tree);
  if (!existsSync(join(path, '.git'))) return { path };
  const git = (args: string[]) => execa('git', ['-C', path, ...args], { reject: false });
  const commit = (await git(['rev-parse', 'HEAD'])).stdout.trim();
  if (!commit) return { path };
  const diff = (await git(['diff', 'HEAD', '--binary'])).stdout;
  const describe = (await git(['describe', '--always', '--dirty', '--tags'])).stdout.trim();
  return { path, commit, describe, ...(diff ? { dirty: createHash('sha256').update(diff).digest('hex').slice(0, 16) } : {}) };
}

function baseKey(base: KernelBase): string {
  return typeof base === 'string' ? base : `file-${createHash('sha256').update(resolve(base.file)).digest('hex').slice(0, 12)}`;
}

/** The lab's kernel cache: `builds/` (outputs by key), `work/` (O= build directories), `ccache/`. */
export const kernelsDir = () => join(cacheRoot(), 'kernels');

export async function buildKernel(o: KernelBuildOptions): Promise<BuiltKernel> {
  const t0 = Date.now();
  const log = (l: string) => o.onLog?.(l);
  const tree = resolve(o.tree);
  const base = o.base ?? 'tiny';
  const tracing = o.tracing ?? true;
  if (!existsSync(join(tree, 'Kconfig')) || !existsSync(join(tree, 'Makefile')) || !existsSync(join(tree, 'arch/x86'))) {
    throw new KernelNotFoundError(`${tree} is not a Linux source tree (no Kconfig, Makefile and arch/x86)`, { fix: 'give the top directory of a kernel source tree (e.g. tar xf /usr/src/linux-source-6.1.tar.xz)' });
  }
  // An in-tree build leaves a .config and generated files that make refuses to mix with O= builds.
  if (existsSync(join(tree, '.config')) || existsSync(join(tree, 'include/config'))) {
    throw new KernelBuildError(`${tree} has an in-tree configuration (.config or include/config): make cannot build it out of tree`, { fix: `make -C ${tree} mrproper (after saving your .config: then pass it as --base FILE)` });
  }
  const missing = [];
  for (const t of TOOLS) if (!(await have(t))) missing.push(t);
  if (missing.length) throw new KernelToolsError(`missing tools for a kernel build: ${missing.join(', ')}`);

  const state = await treeState(tree);
  // One build directory per tree, base and option set: switching between them would rebuild everything.
  const buildDir = join(kernelsDir(), 'work', `${createHash('sha256').update(tree).digest('hex').slice(0, 12)}-${baseKey(base)}${tracing ? '' : '-no-tracing'}`);
  await mkdir(buildDir, { recursive: true });
  const logFile = join(buildDir, 'build.log');
  await writeFile(logFile, `iommu-lab kernel build ${tree} (${new Date().toISOString()})\n`);
  const env = {
    ...process.env,
    CCACHE_DIR: process.env['CCACHE_DIR'] ?? join(kernelsDir(), 'ccache'),
    // Embedded in the kernel: fixed, so that the same source gives the same objects (and ccache hits).
    KBUILD_BUILD_TIMESTAMP: 'Thu Jan  1 00:00:00 UTC 2026',
    KBUILD_BUILD_USER: 'iommu-lab',
    KBUILD_BUILD_HOST: 'iommu-lab',
  };
  const jobs = o.jobs ?? availableParallelism();
  const make = async (args: string[], what: string) => {
    await appendFile(logFile, `\n$ make ${args.join(' ')}\n`);
    const out = createWriteStream(logFile, { flags: 'a' });
    const child = execa('make', ['-C', tree, `O=${buildDir}`, 'CC=ccache gcc', ...args], { env, reject: false, all: true, ...(o.signal ? { cancelSignal: o.signal } : {}) });
    child.all?.pipe(out);
    const r = await child;
    out.end();
    if (o.signal?.aborted) throw new KernelBuildError(`${what} interrupted`, { fix: 'run it again: the build goes on where it stopped' });
    if (r.exitCode !== 0) {
      const tail = (await readFile(logFile, 'utf8')).split('\n').filter((l) => l.trim()).slice(-25).join('\n');
      throw new KernelBuildError(`${what} failed in ${tree} (exit ${r.exitCode}); the whole log is ${logFile}`, { detail: tail });
    }
  };

  log(`kernel: configuring (${typeof base === 'string' ? base : base.file} + ${LAB_FRAGMENT}${tracing ? '' : ' without the tracing options'})`);
  const requirements = parseFragment(await readFile(labPath(LAB_FRAGMENT), 'utf8'));
  const fragment = join(buildDir, 'lab-fragment.config');
  await writeFile(fragment, fragmentFor(requirements, { tracing }));
  const fragments = [fragment];
  if (base === 'tiny') {
    await make(['-s', 'tinyconfig'], 'make tinyconfig');
    fragments.unshift(labPath(TINY_FRAGMENT));
  } else if (base === 'defconfig') {
    await make(['-s', 'defconfig'], 'make defconfig');
  } else {
    if (!existsSync(base.file)) throw new KernelNotFoundError(`${base.file} does not exist`, { fix: 'give the .config to start from' });
    await cp(resolve(base.file), join(buildDir, '.config'));
  }
  const merge = await execa(join(tree, 'scripts/kconfig/merge_config.sh'), ['-m', '-O', buildDir, join(buildDir, '.config'), ...fragments], { cwd: tree, env, reject: false, all: true });
  await appendFile(logFile, merge.all ?? '');
  if (merge.exitCode !== 0) throw new KernelBuildError(`merging ${LAB_FRAGMENT} failed`, { detail: String(merge.all ?? '').split('\n').slice(-20).join('\n') });
  await make(['-s', 'olddefconfig'], 'make olddefconfig');
  const configText = await readFile(join(buildDir, '.config'), 'utf8');
  const config = parseDotConfig(configText);
  // Kconfig silently drops what a dependency forbids: say which of the lab's options did not survive.
  const dropped = configProblems(config, { modules: false, devices: IOMMU_DEVICES, needs: tracing ? ['tracing'] : [] }, requirements);
  if (dropped.length) {
    throw new KernelConfigError(`after merging ${LAB_FRAGMENT}, Kconfig left out ${dropped.map((d) => d.option).join(', ')}: a dependency of ${dropped.length === 1 ? 'it' : 'them'} is off in this base`, {
      fix: `make -C ${tree} O=${buildDir} menuconfig, search (/) for ${dropped[0]!.option.replace(/^CONFIG_/, '')} and turn on what it depends on; or start from --base defconfig`,
    });
  }

  const configHash = createHash('sha256').update(configText).digest('hex').slice(0, 16);
  const key = state.commit ? `${state.commit.slice(0, 12)}${state.dirty ? `-dirty-${state.dirty}` : ''}-${configHash}` : undefined;
  const outDir = key ? join(kernelsDir(), 'builds', key) : join(kernelsDir(), 'builds', `tree-${createHash('sha256').update(tree).digest('hex').slice(0, 12)}-${baseKey(base)}`);
  if (key && existsSync(join(outDir, 'build.json'))) {
    const meta = JSON.parse(await readFile(join(outDir, 'build.json'), 'utf8')) as { release: string };
    log(`kernel: cached ${outDir}`);
    return { dir: outDir, release: meta.release, cached: true, seconds: (Date.now() - t0) / 1000, buildDir, log: logFile, tree: state };
  }

  const modules = config.get('CONFIG_MODULES') === 'y';
  log(`kernel: building with ${jobs} jobs (log: ${logFile})`);
  await make([`-j${jobs}`, 'bzImage', ...(modules ? ['modules'] : [])], 'the kernel build');
  const release = (await readFile(join(buildDir, 'include/config/kernel.release'), 'utf8')).trim();

  // The output appears whole or not at all.
  await mkdir(join(kernelsDir(), 'builds'), { recursive: true });
  const tmp = await mkdtemp(join(kernelsDir(), 'builds', '.out-'));
  try {
    await cp(join(buildDir, 'arch/x86/boot/bzImage'), join(tmp, 'bzImage'));
    await writeFile(join(tmp, 'config'), configText);
    await writeFile(join(tmp, 'kernel.release'), `${release}\n`);
    await writeFile(join(tmp, 'source.txt'), `${tree}\n`);
    if (modules) await make(['-s', `INSTALL_MOD_PATH=${tmp}`, 'INSTALL_MOD_STRIP=1', 'modules_install'], 'make modules_install');
    const seconds = (Date.now() - t0) / 1000;
    await writeFile(join(tmp, 'build.json'), JSON.stringify({ release, tree: state, base: typeof base === 'string' ? base : base.file, tracing, config_sha256: createHash('sha256').update(configText).digest('hex'), seconds, jobs, built: new Date().toISOString() }, null, 2));
    await rm(outDir, { recursive: true, force: true });
    await rename(tmp, outDir);
  } catch (e) {
    await rm(tmp, { recursive: true, force: true });
    throw e;
  }
  const seconds = (Date.now() - t0) / 1000;
  log(`kernel: ${release} built in ${seconds.toFixed(0)} s: ${outDir}`);
  return { dir: outDir, release, cached: false, seconds, buildDir, log: logFile, tree: state };
}
