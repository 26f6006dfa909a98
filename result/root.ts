/**
 * The results root: made if missing and proven writable before a sweep takes
 * its lock or boots a guest, so a root that cannot be written is an input
 * error (exit 2) that names the directory, not an unexpected error later.
 */
import { constants } from 'node:fs';
import { access, mkdir, rm, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { ResultsRootError } from '../core/errors.js';

const WHY: Readonly<Record<string, string>> = {
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  EROFS: 'the file system is read-only',
  ENOTDIR: 'a part of the path is a file, not a directory',
  EEXIST: 'a file of that name is in the way',
  ENOSPC: 'the file system is full',
};

export async function ensureResultsRoot(root: string): Promise<string> {
  const abs = resolve(root);
  try {
    await mkdir(abs, { recursive: true });
    await access(abs, constants.W_OK | constants.X_OK);
    // access() trusts mode bits; a read-only mount or a root-squashed share says no only on a write.
    const probe = join(abs, `.iommu-lab-write-test-${process.pid}`);
    await writeFile(probe, '');
    await rm(probe, { force: true });
    return abs;
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code ?? '';
    throw new ResultsRootError(`the results root ${abs} cannot be written: ${WHY[code] ?? (e as Error).message}${code ? ` (${code})` : ''}`, {
      fix: 'pass --results DIR with a directory you can write (it is made if missing), or fix the permissions of this one',
    });
  }
}
