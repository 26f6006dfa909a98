/**
 * The user-space side of the kernel's DMA-map benchmark: the selftest tool
 * `tools/testing/selftests/dma/dma_map_benchmark.c`, built from the very
 * source tree of the kernel under test (its ioctl struct is that kernel's),
 * statically (the guest has no compiler, and a static binary does not care
 * which C library the image has). Cached by the content of the two source
 * files: the same tool is built once for every build of one tree.
 */
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { cp, mkdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { execa } from 'execa';
import { buildCachedDir } from '../../core/cache-dir.js';
import { DmaMapToolError } from '../../core/errors.js';
import { kernelsDir } from './build.js';

export const DMA_MAP_TOOL_SOURCE = 'tools/testing/selftests/dma/dma_map_benchmark.c';
/** The header moved to uapi in later kernels; either is the kernel's own definition of the ioctl. */
const HEADERS = ['include/uapi/linux/map_benchmark.h', 'include/linux/map_benchmark.h'];

/** The tool's sources in a kernel tree, or undefined when the tree has no such benchmark (before 5.11). */
export function dmaMapToolSources(tree: string): { c: string; header: string } | undefined {
  const c = join(tree, DMA_MAP_TOOL_SOURCE);
  const header = HEADERS.map((h) => join(tree, h)).find((h) => existsSync(h));
  return existsSync(c) && header ? { c, header } : undefined;
}

/**
 * Builds (or finds in the cache) the tool for the kernel tree `tree`; returns
 * the binary's path. The header goes in as `<linux/map_benchmark.h>` alone, so
 * the rest of the kernel's include/ never shadows the C library's headers.
 */
export async function buildDmaMapTool(tree: string): Promise<string> {
  const src = dmaMapToolSources(tree);
  if (!src) throw new DmaMapToolError(`${tree} has no ${DMA_MAP_TOOL_SOURCE} (or no map_benchmark.h): the DMA-map benchmark came with Linux 5.11`, { fix: 'test a kernel tree of 5.11 or later' });
  const [c, h] = await Promise.all([readFile(src.c), readFile(src.header)]);
  const key = createHash('sha256').update(c).update('\0').update(h).digest('hex').slice(0, 16);
  const dir = join(kernelsDir(), 'tools', `dma_map_benchmark-${key}`);
  const bin = join(dir, 'dma_map_benchmark');
  if (existsSync(bin)) return bin;
  try {
    await buildCachedDir(dir, async (tmp) => {
      await mkdir(join(tmp, 'include', 'linux'), { recursive: true });
      await cp(src.header, join(tmp, 'include', 'linux', 'map_benchmark.h'));
      await cp(src.c, join(tmp, 'dma_map_benchmark.c'));
      const r = await execa('gcc', ['-O2', '-static', '-Wall', '-I', join(tmp, 'include'), '-o', join(tmp, 'dma_map_benchmark'), join(tmp, 'dma_map_benchmark.c')], { reject: false });
      if (r.exitCode !== 0) throw new DmaMapToolError(`building ${src.c} failed (gcc exited with ${r.exitCode ?? r.signal})`, { detail: `${r.stderr}` });
      await rm(join(tmp, 'include'), { recursive: true, force: true });
    });
    return bin;
  } catch (e) {
    if ((e as { code?: string }).code === 'ENOENT') throw new DmaMapToolError('gcc is not installed');
    throw e;
  }
}
