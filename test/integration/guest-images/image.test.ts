import { execa } from 'execa';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { ImageError } from '../../../core/errors.js';
import { buildImage, checkPrerequisites, listImages, verifyImage } from '../../../guest-images/build.js';
import { imageDigest, sha256File, type ImageManifest } from '../../../guest-images/manifest.js';
import { RECIPE, recipeHash } from '../../../guest-images/recipe.js';

let root: string;
beforeAll(async () => { root = await mkdtemp(join(tmpdir(), 'iommu-lab-cache-')); });
afterAll(async () => { await rm(root, { recursive: true, force: true }); });

/** A small stand-in image directory with a real manifest over real files. */
async function fakeImage(hash: string): Promise<string> {
  const dir = join(root, 'images', hash);
  await mkdir(dir, { recursive: true });
  const artifacts: Record<string, string> = {};
  for (const [name, text] of [['rootfs.qcow2', 'root'], ['vmlinuz-6.12.1', 'kernel'], ['initrd-6.12.1', 'initrd']] as const) {
    await writeFile(join(dir, name), text);
    artifacts[name] = await sha256File(join(dir, name));
  }
  const manifest: ImageManifest = {
    version: 1, recipe: { name: RECIPE.name, hash }, digest: imageDigest(artifacts), created: new Date().toISOString(), build_seconds: 1,
    packages: { fio: '3.33-3' }, kernels: [], ssh: { host_key_sha256: ['SHA256:x'], client_key: 'lab_ed25519', user: 'root' }, artifacts,
  };
  await writeFile(join(dir, 'manifest.json'), JSON.stringify(manifest));
  return dir;
}

describe('image cache', () => {
  it('verify passes on an intact image and names a modified artifact', async () => {
    const dir = await fakeImage('a'.repeat(64));
    expect(await verifyImage(dir)).toEqual({ ok: true });
    await writeFile(join(dir, 'vmlinuz-6.12.1'), 'kernel, patched');
    const r = await verifyImage(dir);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.problems[0]).toMatch(/^vmlinuz-6.12.1: sha256 [0-9a-f]{64} but the manifest says [0-9a-f]{64}$/);
  });

  it('the CLI exits 1 when verify finds a modified artifact', async () => {
    const dir = await fakeImage('b'.repeat(64));
    await writeFile(join(dir, 'rootfs.qcow2'), 'tampered');
    const r = await execa('node', ['bin/iommu-lab.js', 'image', 'verify', dir], { reject: false });
    expect(r.exitCode).toBe(1);
    expect(r.stdout).toContain('rootfs.qcow2: sha256');
    expect(r.stderr).toContain('error[E_IMAGE_CORRUPT]');
  });

  it('an unchanged recipe is a cache hit: nothing is built', async () => {
    await fakeImage(recipeHash());
    const img = await buildImage({ root });
    expect(img.cached).toBe(true);
    expect(img.dir).toBe(join(root, 'images', recipeHash()));
    expect((await listImages(root)).length).toBeGreaterThanOrEqual(1);
  });

  it('names the fix when a tool is missing, and leaves nothing in the cache', async () => {
    const empty = await mkdtemp(join(tmpdir(), 'iommu-lab-nopath-'));
    const before = await readdir(join(root, 'images'));
    vi.stubEnv('PATH', empty);
    try {
      await expect(checkPrerequisites(root)).rejects.toThrow(/missing tools: mmdebstrap, qemu-img/);
      await expect(buildImage({ root, force: true })).rejects.toMatchObject({ code: 'E_IMAGE_TOOLS', fix: expect.stringContaining('apt-get install') });
    } finally {
      vi.unstubAllEnvs();
      await rm(empty, { recursive: true, force: true });
    }
    expect(await readdir(join(root, 'images'))).toEqual(before);
  });

  it('refuses to build when not root', async () => {
    const spy = vi.spyOn(process as unknown as { getuid: () => number }, 'getuid').mockReturnValue(1000);
    try {
      await expect(checkPrerequisites(root)).rejects.toMatchObject({ code: 'E_IMAGE_NOT_ROOT', fix: expect.stringContaining('sudo') });
    } finally {
      spy.mockRestore();
    }
  });

  it('a package Debian does not have fails with its name, and the half-made build is removed', { timeout: 600_000 }, async () => {
    const recipe = { ...RECIPE, packages: [...RECIPE.packages, 'iommu-lab-no-such-package'] };
    const err = await buildImage({ root, recipe }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ImageError);
    expect(err).toMatchObject({ code: 'E_IMAGE_PACKAGE', message: 'Debian has no package iommu-lab-no-such-package' });
    const left = await readdir(join(root, 'images'));
    expect(left.filter((n) => n.startsWith('.build-'))).toEqual([]);
    expect(existsSync(join(root, 'images', recipeHash(recipe)))).toBe(false);
  });
});
