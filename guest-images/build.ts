/**
 * `iommu-lab image build | list | verify`: the content-addressed image cache.
 *
 *   <cache>/images/<recipe-hash>/        one finished image (manifest.json + artifacts)
 *   <cache>/images/.build-<hash>-<rand>/ a build in progress; renamed into place only
 *                                        when complete, removed on failure or next start
 */
import { execa } from 'execa';
import { existsSync } from 'node:fs';
import { chmod, mkdir, readdir, readFile, rename, rm, statfs, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { ImageBuildError, ImageDiskSpaceError, ImageKernelsError, ImageMissingError, ImageNetworkError, ImageNotRootError, ImagePackageError, ImageToolsError, LabError } from '../core/errors.js';
import { labPath } from '../core/paths.js';
import { writeJsonAtomic } from '../core/atomic.js';
import { imageDigest, parseKernelsTsv, parsePackagesTsv, sha256File, type ImageManifest, type KernelFacts } from './manifest.js';
import { RECIPE, recipeHash, type Recipe } from './recipe.js';

export const MIN_FREE_BYTES = 6 * 1024 ** 3;
const APT_FIX = 'apt-get install -y mmdebstrap qemu-utils e2fsprogs cpio xz-utils zstd openssh-client (or run scripts/setup.sh)';

/**
 * IOMMU_LAB_CACHE, else the XDG cache. As root (building images and running
 * guests need root) the default is /var/cache/iommu-lab instead of
 * /root/.cache: QEMU runs as libvirt-qemu and cannot traverse /root to read
 * the base image behind each guest's overlay.
 */
export function cacheRoot(): string {
  if (process.env['IOMMU_LAB_CACHE']) return process.env['IOMMU_LAB_CACHE'];
  if (process.env['XDG_CACHE_HOME']) return join(process.env['XDG_CACHE_HOME'], 'iommu-lab');
  return process.getuid?.() === 0 ? '/var/cache/iommu-lab' : join(homedir(), '.cache', 'iommu-lab');
}

export interface Image {
  readonly dir: string;
  readonly manifest: ImageManifest;
}

/** Whether a command is on PATH. */
export async function have(cmd: string): Promise<boolean> {
  return (await execa('sh', ['-c', `command -v ${cmd}`], { reject: false })).exitCode === 0;
}

export async function checkPrerequisites(root: string): Promise<void> {
  if (process.getuid?.() !== 0) {
    throw new ImageNotRootError('building the guest image needs root (mmdebstrap --mode=root, chroot, mkfs)', { fix: 'run it as root, e.g. sudo npx iommu-lab image build' });
  }
  const missing = [];
  for (const c of ['mmdebstrap', 'qemu-img', 'mkfs.ext4', 'ssh-keygen', 'cpio', 'xz', 'zstd']) if (!(await have(c))) missing.push(c);
  if (missing.length) throw new ImageToolsError(`missing tools: ${missing.join(', ')}`, { fix: APT_FIX });
  await mkdir(root, { recursive: true });
  const fs = await statfs(root);
  const free = fs.bavail * fs.bsize;
  if (free < MIN_FREE_BYTES) {
    throw new ImageDiskSpaceError(`only ${(free / 1024 ** 3).toFixed(1)} GiB free under ${root}; a build needs ${MIN_FREE_BYTES / 1024 ** 3} GiB`, { fix: 'free some space, or point IOMMU_LAB_CACHE at a larger file system' });
  }
}

export async function readManifest(dir: string): Promise<ImageManifest | undefined> {
  try {
    return JSON.parse(await readFile(join(dir, 'manifest.json'), 'utf8')) as ImageManifest;
  } catch {
    return undefined;
  }
}

export async function listImages(root = cacheRoot()): Promise<Image[]> {
  const base = join(root, 'images');
  const out: Image[] = [];
  for (const name of existsSync(base) ? await readdir(base) : []) {
    if (name.startsWith('.')) continue;
    const manifest = await readManifest(join(base, name));
    if (manifest) out.push({ dir: join(base, name), manifest });
  }
  return out.sort((a, b) => b.manifest.created.localeCompare(a.manifest.created));
}

/** The image for the current recipe, if it is built. */
export async function currentImage(root = cacheRoot()): Promise<Image | undefined> {
  const dir = join(root, 'images', recipeHash());
  const manifest = await readManifest(dir);
  return manifest ? { dir, manifest } : undefined;
}

export async function requireImage(root = cacheRoot()): Promise<Image> {
  const img = await currentImage(root);
  if (!img) throw new ImageMissingError(`no guest image for the current recipe in ${join(root, 'images')}`, { fix: 'build it: iommu-lab image build (about 8 minutes; needs root)' });
  return img;
}

export type VerifyResult = { readonly ok: true } | { readonly ok: false; readonly problems: readonly string[] };

export async function verifyImage(dir: string): Promise<VerifyResult> {
  const manifest = await readManifest(dir);
  if (!manifest) return { ok: false, problems: [`${dir}: no readable manifest.json`] };
  const problems: string[] = [];
  for (const [name, want] of Object.entries(manifest.artifacts)) {
    const path = join(dir, name);
    if (!existsSync(path)) {
      problems.push(`${name}: missing`);
      continue;
    }
    const got = await sha256File(path);
    if (got !== want) problems.push(`${name}: sha256 ${got} but the manifest says ${want}`);
  }
  if (imageDigest(manifest.artifacts) !== manifest.digest) problems.push('manifest digest does not match its artifact list');
  return problems.length ? { ok: false, problems } : { ok: true };
}

export interface BuildOptions {
  readonly root?: string;
  readonly force?: boolean;
  readonly recipe?: Recipe;
  readonly onLog?: (line: string) => void;
}

/** Builds the image unless the recipe's image is already cached. */
export async function buildImage(options: BuildOptions = {}): Promise<Image & { readonly cached: boolean }> {
  const root = options.root ?? cacheRoot();
  const recipe = options.recipe ?? RECIPE;
  const hash = recipeHash(recipe);
  const base = join(root, 'images');
  const dir = join(base, hash);
  const existing = await readManifest(dir);
  if (existing && !options.force) return { dir, manifest: existing, cached: true };

  await checkPrerequisites(root);
  (options.onLog ?? (() => {}))('building the guest image (once per recipe; about 2–3 minutes)…');
  await mkdir(base, { recursive: true });
  // Leftovers of an interrupted build are never results: remove them.
  for (const name of await readdir(base)) if (name.startsWith(`.build-${hash}-`)) await rm(join(base, name), { recursive: true, force: true });

  const tmp = join(base, `.build-${hash}-${randomBytes(4).toString('hex')}`);
  await mkdir(tmp);
  const started = Date.now();
  const log = options.onLog ?? (() => {});
  try {
    const proc = execa(labPath('guest-images', 'build.sh'), [tmp, recipe.packages.join(','), recipe.mirror, recipe.securityMirror], {
      all: true,
      env: { DEBIAN_FRONTEND: 'noninteractive', LC_ALL: 'C.UTF-8' },
      reject: false,
    });
    // The full output is kept for the error; progress shows the build's own steps and apt's errors.
    proc.all?.on('data', (d: Buffer) => d.toString().split('\n').filter((l) => /^(image:|E:|W: (?!.*apt-utils))/.test(l)).forEach((l) => log(l)));
    const res = await proc;
    if (res.exitCode !== 0) throw buildFailure(String(res.all ?? ''));

    const kernelsBase = parseKernelsTsv(await readFile(join(tmp, 'kernels.tsv'), 'utf8'));
    const kernels: KernelFacts[] = kernelsBase.map((k) => ({ ...k, vmlinuz: `vmlinuz-${k.version}`, initrd: `initrd-${k.version}` }));
    if (!kernels.some((k) => k.series === '6.1') || !kernels.some((k) => k.series === '6.12')) {
      throw new ImageKernelsError(`expected kernels 6.1 and 6.12, found ${kernels.map((k) => k.version).join(', ') || 'none'}`, { fix: 'check that bookworm-backports is reachable on the mirror' });
    }
    const artifacts: Record<string, string> = {};
    for (const name of ['rootfs.qcow2', 'lab_ed25519', 'lab_ed25519.pub', 'ssh_host_ed25519_key.pub', ...kernels.flatMap((k) => [k.vmlinuz, k.initrd])]) {
      artifacts[name] = await sha256File(join(tmp, name));
    }
    const fp = (await execa('ssh-keygen', ['-lf', join(tmp, 'ssh_host_ed25519_key.pub')])).stdout.split(' ')[1]!;
    const manifest: ImageManifest = {
      version: 1,
      recipe: { name: recipe.name, hash },
      digest: imageDigest(artifacts),
      created: new Date().toISOString(),
      build_seconds: Math.round((Date.now() - started) / 1000),
      packages: parsePackagesTsv(await readFile(join(tmp, 'packages.tsv'), 'utf8')),
      kernels,
      ssh: { host_key_sha256: [fp], client_key: 'lab_ed25519', user: 'root' },
      artifacts,
    };
    await chmod(join(tmp, 'lab_ed25519'), 0o600);
    await writeJsonAtomic(join(tmp, 'manifest.json'), manifest);
    await writeFile(join(tmp, 'RECIPE'), `${JSON.stringify(recipe, null, 2)}\n`);
    if (existsSync(dir)) await rm(dir, { recursive: true, force: true }); // --force rebuild
    await rename(tmp, dir);
    return { dir, manifest, cached: false };
  } catch (e) {
    await rm(tmp, { recursive: true, force: true });
    throw e;
  }
}

function buildFailure(output: string): LabError {
  const tail = output.split('\n').filter((l) => !/^(Get:|Hit:|Ign:|Fetched|Reading|Building|Selecting|Preparing|Unpacking|Setting up)/.test(l)).slice(-15).join('\n');
  const pkg = /Unable to locate package (\S+)|Package '?([^' ]+)'? has no installation candidate/.exec(output);
  if (pkg) return new ImagePackageError(`Debian has no package ${pkg[1] ?? pkg[2]}`, { fix: 'fix the package list in guest-images/recipe.ts (apt-cache policy NAME shows what exists)' });
  if (/Could not resolve|Failed to fetch|Temporary failure|Connection (refused|timed out)/.test(output)) {
    return new ImageNetworkError(`the Debian mirror could not be reached:\n${tail}`, { fix: 'check the network, or set IOMMU_LAB_MIRROR to a reachable Debian mirror' });
  }
  if (/No space left on device/.test(output)) return new ImageDiskSpaceError('the disk filled up during the build', { fix: 'free space, or point IOMMU_LAB_CACHE elsewhere' });
  return new ImageBuildError(`the image build failed:\n${tail}`, { fix: 'the full log is above; nothing was left in the cache' });
}
