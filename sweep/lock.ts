/**
 * One sweep at a time per results root: two sweeps on one host would compete
 * for its CPUs and spoil each other's timings. The lock is a file made with
 * O_EXCL holding the owner's pid; a lock whose process is gone is stale and
 * taken over (a crashed sweep must not block every later night).
 */
import { open, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { SweepLockedError } from '../core/errors.js';

export interface Lock {
  readonly file: string;
  release(): Promise<void>;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export async function acquireLock(root: string, what: string): Promise<Lock> {
  const file = join(root, '.sweep.lock');
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fh = await open(file, 'wx', 0o644);
      await fh.writeFile(`${process.pid} ${new Date().toISOString()} ${what}\n`);
      await fh.close();
      return { file, release: () => rm(file, { force: true }) };
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      const text = await readFile(file, 'utf8').catch(() => '');
      const pid = Number(text.split(' ')[0]);
      if (Number.isInteger(pid) && pid > 0 && alive(pid)) {
        throw new SweepLockedError(`another sweep holds ${file}: ${text.trim()}`, {
          fix: `wait for it to finish (pid ${pid}), or run this one with another --results root`,
        });
      }
      // Stale: its process is gone.
      await rm(file, { force: true });
    }
  }
  throw new SweepLockedError(`could not take ${file}`, { fix: 'remove it if no sweep is running' });
}
