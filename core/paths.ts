/** Where the lab's own files are, whether running from `dist/` or from sources under vitest. */
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

function findRoot(start: string): string {
  let dir = start;
  for (;;) {
    if (existsSync(join(dir, 'package.json')) && existsSync(join(dir, 'bpf'))) return dir;
    const up = dirname(dir);
    if (up === dir) throw new Error(`iommu-lab: cannot find the lab's root above ${start}`);
    dir = up;
  }
}

export const LAB_ROOT = findRoot(dirname(fileURLToPath(import.meta.url)));
export const BPF_DIR = join(LAB_ROOT, 'bpf');

export function labPath(...parts: string[]): string {
  return resolve(LAB_ROOT, ...parts);
}
