/**
 * A kernel under test: Debian's kernels baked into the image ("6.1", "6.12"),
 * or the user's own build. A build is either a built kernel tree (or its O=
 * directory: `arch/x86/boot/bzImage`, `.config`, modules built in place), the
 * output of `iommu-lab kernel build`, or a bzImage with its .config and the
 * directory `make modules_install INSTALL_MOD_PATH=DIR` filled.
 *
 * For a build the lab makes the guest's initramfs (the image's, with this
 * kernel's modules for the lab's devices appended as a second cpio archive —
 * the kernel unpacks them in order, so the new module list wins), checks its
 * .config against guest-images/kernel/lab.config, and records its identity.
 */
import { execa } from 'execa';
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { cp, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { KernelConfigError, KernelModulesError, KernelNotFoundError } from '../../core/errors.js';
import { buildCachedDir } from '../../core/cache-dir.js';
export type { KernelIdentity } from './identity.js';
import type { IommuDevice } from '../../core/iommu.js';
import type { Image } from '../build.js';
import { sha256File, type KernelFacts } from '../manifest.js';
import { bzImageRelease } from './bzimage.js';
import { kernelsDir, treeState } from './build.js';
import type { KernelIdentity } from './identity.js';
import { configProblems, factsOf, formatConfigProblems, parseDotConfig, type OptionalNeed, type Tristate } from './config.js';

/** A kernel build as a scenario names it (`kernels:`), paths already absolute. */
export interface KernelBuildSpec {
  readonly name: string;
  /** A built tree, its O= directory, or `iommu-lab kernel build` output. */
  readonly path?: string;
  /** Or the three files apart: */
  readonly bzimage?: string;
  readonly config?: string;
  /** What `make modules_install INSTALL_MOD_PATH=DIR` filled (DIR, holding lib/modules/RELEASE). */
  readonly modules?: string;
}

/** A build found on disk and checked; not yet prepared for an image. */
export interface InspectedBuild {
  readonly spec: KernelBuildSpec;
  readonly bzimage: string;
  readonly configFile: string;
  readonly config: ReadonlyMap<string, string>;
  readonly release: string;
  /** lib/modules/RELEASE, when the build has modules. */
  readonly moduleDir?: string;
  /** The source tree, when known (git identity). */
  readonly source?: string;
  /** The built tree (or O= directory) the files came from, when they did. */
  readonly tree?: string;
}

const isFile = (p: string) => existsSync(p) && statSync(p).isFile();
const isDir = (p: string) => existsSync(p) && statSync(p).isDirectory();

/** Which modules the lab's devices need, by the option that builds them. */
export const DEVICE_MODULES: Readonly<Record<string, string>> = {
  CONFIG_VIRTIO_IOMMU: 'virtio_iommu',
  CONFIG_VIRTIO_PCI: 'virtio_pci',
  CONFIG_VIRTIO_BLK: 'virtio_blk',
  CONFIG_VIRTIO_NET: 'virtio_net',
  CONFIG_HW_RANDOM_VIRTIO: 'virtio_rng',
  CONFIG_BLK_DEV_NVME: 'nvme',
  CONFIG_EXT4_FS: 'ext4',
};

/** Whether a driver the lab's devices need is a module (then the build's modules go into the initramfs). */
const needsDeviceModules = (config: ReadonlyMap<string, string>) => Object.keys(DEVICE_MODULES).some((opt) => config.get(opt) === 'm');

function releaseOf(bzimage: string, tree: string | undefined): string {
  // A built tree says it in include/config/kernel.release; a bare bzImage in its setup header.
  if (tree && isFile(join(tree, 'include/config/kernel.release'))) {
    return requireText(join(tree, 'include/config/kernel.release'));
  }
  const r = bzImageRelease(readFileSyncBytes(bzimage));
  if (!r) throw new KernelNotFoundError(`${bzimage} is not an x86 bzImage (no Linux boot protocol header)`);
  return r;
}

// Synchronous reads: inspectBuild() runs inside the scenario loader's checks, and the files are small.
const requireText = (p: string): string => readFileSync(p, 'utf8').trim();
const readFileSyncText = (p: string): string => readFileSync(p, 'utf8');
const readFileSyncBytes = (p: string): Uint8Array => readFileSync(p);

/**
 * Finds a build's files and checks them: a bzImage, a .config with every option
 * the lab needs for these IOMMU devices, modules of the same release when any
 * needed driver is a module. Throws a KernelError that says what to fix.
 */
export function inspectBuild(spec: KernelBuildSpec, devices: readonly IommuDevice[], needs: readonly OptionalNeed[] = []): InspectedBuild {
  let bzimage: string, configFile: string, moduleDir: string | undefined, tree: string | undefined, source: string | undefined;
  if (spec.path) {
    const p = resolve(spec.path);
    if (!isDir(p)) throw new KernelNotFoundError(`${p} does not exist or is not a directory`);
    if (isFile(join(p, 'arch/x86/boot/bzImage'))) {
      // A built tree or its O= directory (which has a `source` link to the tree).
      tree = p;
      bzimage = join(p, 'arch/x86/boot/bzImage');
      configFile = join(p, '.config');
      source = isDir(join(p, 'source')) ? resolve(p, 'source') : p;
    } else if (isFile(join(p, 'bzImage'))) {
      // `iommu-lab kernel build` output: bzImage, config, kernel.release, lib/modules/…, source.txt.
      bzimage = join(p, 'bzImage');
      configFile = join(p, 'config');
      if (isDir(join(p, 'lib/modules'))) moduleDir = firstModuleDir(join(p, 'lib/modules'));
      if (isFile(join(p, 'source.txt'))) source = requireText(join(p, 'source.txt'));
    } else if (isFile(join(p, 'Kconfig')) && isFile(join(p, 'Makefile'))) {
      throw new KernelNotFoundError(`${p} is a kernel source tree that has not been built (no arch/x86/boot/bzImage)`, { fix: `build it with the lab's options: iommu-lab kernel build ${p}` });
    } else {
      throw new KernelNotFoundError(`${p} is not a kernel build: no arch/x86/boot/bzImage (a built tree) and no bzImage (iommu-lab kernel build output)`);
    }
  } else if (spec.bzimage) {
    bzimage = resolve(spec.bzimage);
    if (!spec.config) throw new KernelNotFoundError(`kernel "${spec.name}" gives a bzimage without its config`, { fix: 'add config: PATH/.config of the build (the lab checks it before booting)' });
    configFile = resolve(spec.config);
  } else {
    throw new KernelNotFoundError(`kernel "${spec.name}" names no build`, { fix: 'give path: (a built tree) or bzimage: and config:' });
  }
  if (!isFile(bzimage)) throw new KernelNotFoundError(`${bzimage} does not exist`);
  if (!isFile(configFile)) throw new KernelNotFoundError(`${configFile} does not exist: the lab checks a kernel's configuration before it boots it`, { fix: 'give the .config the kernel was built with' });
  const release = releaseOf(bzimage, tree);
  const config = parseDotConfig(readFileSyncText(configFile));
  if (config.size === 0) throw new KernelNotFoundError(`${configFile} is not a kernel configuration (no CONFIG_ line)`);
  if (spec.modules) {
    const dir = resolve(spec.modules);
    moduleDir = isDir(join(dir, 'lib/modules')) ? join(dir, 'lib/modules', release) : isDir(join(dir, release)) ? join(dir, release) : isFile(join(dir, 'modules.dep')) ? dir : undefined;
    if (!moduleDir || !isDir(moduleDir)) {
      const found = isDir(join(dir, 'lib/modules')) ? readdirNames(join(dir, 'lib/modules')) : [];
      throw new KernelModulesError(`${dir} has no modules for ${release}${found.length ? ` (it has ${found.join(', ')})` : ''}`, { fix: `make modules_install INSTALL_MOD_PATH=${dir} in the tree that built this bzImage` });
    }
  }
  // Modules built in place in a tree count too: prepareBuild() installs them (make modules_install) when the lab needs one.
  const hasModules = Boolean(moduleDir) || Boolean(tree && isFile(join(tree, 'modules.order')) && readFileSyncText(join(tree, 'modules.order')).trim());
  const problems = configProblems(config, { modules: hasModules, devices, needs });
  if (problems.length) {
    const f = formatConfigProblems(problems, configFile);
    throw new KernelConfigError(f.message, { fix: f.fix });
  }
  // Only a driver the lab needs as a module makes the module set matter (it is then read through modules.dep).
  if (needsDeviceModules(config) && moduleDir && !isFile(join(moduleDir, 'modules.dep'))) {
    throw new KernelModulesError(`${moduleDir} has no modules.dep`, { fix: 'install the modules with make modules_install (it runs depmod)' });
  }
  return { spec, bzimage, configFile, config, release, ...(moduleDir ? { moduleDir } : {}), ...(source ? { source } : {}), ...(tree ? { tree } : {}) };
}

function readdirNames(dir: string): string[] {
  try { return readdirSync(dir); } catch { return []; }
}

function firstModuleDir(base: string): string | undefined {
  const names = readdirNames(base);
  return names.length === 1 ? join(base, names[0]!) : undefined;
}

/** A source tree's git state as identity records it (build.ts's treeState, the one reader of a tree's state). */
async function gitOf(dir: string | undefined): Promise<KernelIdentity['git']> {
  if (!dir) return undefined;
  const t = await treeState(dir);
  return t.commit ? { describe: t.describe ?? t.commit.slice(0, 12), commit: t.commit, dirty: Boolean(t.dirty) } : undefined;
}

export async function identityOf(b: InspectedBuild): Promise<KernelIdentity> {
  // `iommu-lab kernel build` output says what the tree was when it was built (it may have moved on since).
  const meta = b.spec.path && isFile(join(b.spec.path, 'build.json')) ? (JSON.parse(readFileSync(join(b.spec.path, 'build.json'), 'utf8')) as { tree?: { commit?: string; dirty?: string; describe?: string } }) : undefined;
  const git = meta?.tree?.commit
    ? { describe: meta.tree.describe ?? meta.tree.commit.slice(0, 12), commit: meta.tree.commit, dirty: Boolean(meta.tree.dirty) }
    : await gitOf(b.source);
  return {
    name: b.spec.name,
    release: b.release,
    bzimage_sha256: await sha256File(b.bzimage),
    config_sha256: await sha256File(b.configFile),
    path: b.spec.path ? resolve(b.spec.path) : b.bzimage,
    ...(git ? { git } : {}),
  };
}

/** The modules the lab's devices need from this build, in load order (dependencies first), as paths. */
async function neededModules(b: InspectedBuild, moduleDir: string): Promise<string[]> {
  const wanted = Object.entries(DEVICE_MODULES).filter(([opt]) => (b.config.get(opt) as Tristate | undefined) === 'm').map(([, m]) => m);
  // virtio_iommu first: devices behind it wait for it (as the image's initramfs does).
  const out: string[] = [];
  const base = resolve(moduleDir, '../../..');
  for (const m of wanted) {
    const r = await execa('modprobe', ['-d', base, '-S', b.release, '--show-depends', m], { reject: false });
    if (r.exitCode !== 0) throw new KernelModulesError(`module ${m} (needed by the lab's devices) is not in ${moduleDir}`, { detail: r.stderr, fix: 'rebuild with it, or make modules_install again' });
    for (const line of r.stdout.split('\n')) {
      const [kind, path] = line.trim().split(/\s+/);
      if (kind === 'insmod' && path && !out.includes(path)) out.push(path);
    }
  }
  return out;
}

export interface PreparedKernel {
  readonly release: string;
  readonly vmlinuz: string;
  readonly initrd: string;
  readonly facts: Omit<KernelFacts, 'vmlinuz' | 'initrd'>;
  readonly identity: KernelIdentity;
}

/**
 * The files a guest boots for this build on this image: the bzImage (copied
 * into the lab's cache so that libvirt may relabel it and a rebuild of the tree
 * cannot change a running guest's kernel) and an initramfs made from the
 * image's. Cached by content: the same build on the same image is made once.
 */
export async function prepareBuild(b: InspectedBuild, image: Image): Promise<PreparedKernel> {
  const identity = await identityOf(b);
  let moduleDir = b.moduleDir;
  const tree = b.tree;
  const needsModules = needsDeviceModules(b.config);
  const base = image.manifest.kernels[0]!;
  const key = createHash('sha256').update(`${identity.bzimage_sha256}\0${identity.config_sha256}\0${image.manifest.digest}\0${base.initrd}`).digest('hex').slice(0, 24);
  const dir = join(kernelsDir(), 'boot', key);
  const vmlinuz = join(dir, 'vmlinuz');
  const initrd = join(dir, 'initrd');
  if (!isFile(initrd)) {
    await buildCachedDir(dir, async (tmp) => {
      if (needsModules && !moduleDir && tree) {
        // Modules built in place: install them where only this step looks.
        await execa('make', ['-s', '-C', tree, `INSTALL_MOD_PATH=${join(tmp, 'mods')}`, 'modules_install'], { reject: true }).catch((e: { stderr?: string }) => {
          throw new KernelModulesError(`make modules_install failed in ${tree}`, { detail: e.stderr ?? '', fix: 'build the modules first (make modules), or give modules: DIR' });
        });
        moduleDir = join(tmp, 'mods/lib/modules', b.release);
      }
      const extra = join(tmp, 'extra');
      await mkdir(join(extra, 'modules'), { recursive: true });
      const names: string[] = [];
      if (needsModules) {
        if (!moduleDir) throw new KernelModulesError(`${b.configFile} builds drivers the lab needs as modules, but no modules came with the kernel`, { fix: 'give modules: DIR (make modules_install INSTALL_MOD_PATH=DIR), or build them in (=y)' });
        for (const path of await neededModules(b, moduleDir)) {
          // Uncompressed, as the image's initramfs has them (busybox insmod reads plain .ko files).
          const file = path.split('/').pop()!;
          const name = file.replace(/\.(xz|zst)$/, '');
          const data = file.endsWith('.xz') ? (await execa('xz', ['-dc', path], { encoding: 'buffer' })).stdout : file.endsWith('.zst') ? (await execa('zstd', ['-qdc', path], { encoding: 'buffer' })).stdout : await readFile(path);
          await writeFile(join(extra, 'modules', name), data);
          names.push(name);
        }
      }
      await writeFile(join(extra, 'modules', 'order'), names.map((n) => `${n}\n`).join(''));
      const list = ['modules', 'modules/order', ...names.map((n) => `modules/${n}`)].join('\n') + '\n';
      const appended = await execa('cpio', ['-o', '-H', 'newc', '--quiet'], { cwd: extra, input: list, encoding: 'buffer' });
      // The image's initramfs (busybox and the lab's init), then this kernel's module list: later entries win.
      const first = await readFile(join(image.dir, base.initrd));
      await writeFile(join(tmp, 'initrd'), Buffer.concat([first, Buffer.from(appended.stdout)]));
      await cp(b.bzimage, join(tmp, 'vmlinuz'));
      await writeFile(join(tmp, 'identity.json'), JSON.stringify(identity, null, 2));
      await rm(join(tmp, 'mods'), { recursive: true, force: true });
      await rm(extra, { recursive: true, force: true });
    });
  }
  const f = factsOf(b.config);
  const m = /^(\d+)\.(\d+)/.exec(b.release);
  return {
    release: b.release,
    vmlinuz,
    initrd,
    identity,
    facts: { version: b.release, series: m ? `${m[1]}.${m[2]}` : b.release, ...f },
  };
}
