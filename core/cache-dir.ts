/**
 * A directory built once into a cache and published whole: made in a
 * temporary sibling, then renamed into place, so a reader sees all of it or
 * none, and two processes building the same content at once both end with
 * one good copy (the loser's is removed). Used for the tools the lab compiles
 * (the DMA-map benchmark's tool, the QEMU plugin and the guest's marker).
 */
import { chmod, mkdir, mkdtemp, rename, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

/** Builds `dir` with `make` (given the temporary directory to fill) unless `ready()` says it is there already. */
export async function buildCachedDir(dir: string, make: (tmp: string) => Promise<void>): Promise<void> {
  const parent = dirname(dir);
  await mkdir(parent, { recursive: true, mode: 0o755 });
  const tmp = await mkdtemp(join(parent, `.make-${basename(dir)}-`));
  try {
    await make(tmp);
    // Readable by everyone through the whole path: QEMU runs as its own user.
    await chmod(tmp, 0o755);
    await rename(tmp, dir).catch(async (e: NodeJS.ErrnoException) => {
      // Another process built the same one first: theirs is as good.
      if (e.code !== 'ENOTEMPTY' && e.code !== 'EEXIST') throw e;
      await rm(tmp, { recursive: true, force: true });
    });
  } catch (e) {
    await rm(tmp, { recursive: true, force: true });
    throw e;
  }
}
