/**
 * Atomic writes: a reader (or a crash) sees the old file or the new one, never
 * half of either. Write a temporary beside the target, fsync it, rename it over
 * the target, fsync the directory so the rename itself survives a power cut.
 */
import { randomBytes } from 'node:crypto';
import { open, rename, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { DiskFullError } from './errors.js';

/** A full file system (ENOSPC, EDQUOT) named as such, with where; anything else as it is. */
export function asDiskFull(e: unknown, path: string): unknown {
  const code = (e as NodeJS.ErrnoException)?.code;
  if (code !== 'ENOSPC' && code !== 'EDQUOT') return e;
  return new DiskFullError(`no space left where the lab writes ${path} (${code})`, { fix: `free space on the file system of ${dirname(path)} (df -h ${dirname(path)}) and run the same sweep again: it completes the run`, cause: e });
}

export async function fsyncPath(path: string): Promise<void> {
  const fh = await open(path, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

export function temporaryBeside(path: string): string {
  return join(dirname(path), `.tmp-${basename(path)}-${process.pid}-${randomBytes(4).toString('hex')}`);
}

/** Creates a new file (never overwrites) and fsyncs it before returning. */
export async function writeNewFileSynced(path: string, data: string | Uint8Array): Promise<void> {
  try {
    const fh = await open(path, 'wx', 0o644);
    try {
      await fh.writeFile(data);
      await fh.sync();
    } finally {
      await fh.close();
    }
  } catch (e) {
    throw asDiskFull(e, path);
  }
}

export async function writeFileAtomic(path: string, data: string | Uint8Array): Promise<void> {
  const tmp = temporaryBeside(path);
  try {
    await writeNewFileSynced(tmp, data);
    await rename(tmp, path);
  } catch (e) {
    await rm(tmp, { force: true });
    throw e;
  }
  await fsyncPath(dirname(path));
}

export async function writeJsonAtomic(path: string, value: unknown): Promise<void> {
  await writeFileAtomic(path, `${JSON.stringify(value, null, 2)}\n`);
}
