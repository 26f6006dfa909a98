/**
 * A kernel git tree with a known regression, for the VM tests and benchmarks
 * of your-own-kernel builds and bisection: Debian's linux-source-6.1 (the
 * `linux-source-6.1` package) as the first commit, then three commits on top,
 * the second of which makes the Intel IOMMU's strict unmap path invalidate
 * the IOTLB twice (one synchronous invalidation per I/O becomes two):
 *
 *   base       Debian linux-source-6.1 (tag lab-base)
 *   A          a comment in intel_iommu_tlb_sync        (rebuilds one file)
 *   B          the second invalidation                  (the first bad commit)
 *   C          a documentation change                   (rebuilds nothing)
 *
 * Kept under the lab's cache and made once per source version: extracting and
 * committing 1.5 GB takes minutes on a 2-core machine.
 */
import { execa } from 'execa';
import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { kernelsDir } from '../guest-images/kernel/build.js';

export const SOURCE_TARBALL = '/usr/src/linux-source-6.1.tar.xz';
const FILE = 'drivers/iommu/intel/iommu.c';

export interface TestTree {
  readonly dir: string;
  readonly base: string;
  readonly a: string;
  readonly b: string;
  readonly c: string;
}

async function git(dir: string, ...args: string[]): Promise<string> {
  const r = await execa('git', ['-C', dir, '-c', 'user.name=iommu-lab', '-c', 'user.email=lab@iommu-lab.invalid', ...args]);
  return r.stdout.trim();
}

/** The tree, made if missing; checked out on its main branch, clean. */
export async function kernelTestTree(log: (l: string) => void = () => {}): Promise<TestTree> {
  if (!existsSync(SOURCE_TARBALL)) throw new Error(`${SOURCE_TARBALL} is missing: apt-get install linux-source-6.1 (scripts/setup.sh --test installs it)`);
  const root = join(kernelsDir(), 'test-tree');
  const dir = join(root, 'linux-6.1');
  const ready = existsSync(join(dir, '.git')) && (await execa('git', ['-C', dir, 'rev-parse', '--verify', '-q', 'refs/tags/lab-c'], { reject: false })).exitCode === 0;
  if (!ready) {
    await rm(root, { recursive: true, force: true });
    await mkdir(root, { recursive: true });
    log(`kernel test tree: extracting ${SOURCE_TARBALL}`);
    await execa('tar', ['-xJf', SOURCE_TARBALL, '-C', root]);
    const [top] = (await readdir(root)).filter((n) => n.startsWith('linux-source'));
    await rename(join(root, top!), dir);
    log('kernel test tree: committing the source (git add of ~75,000 files)');
    await git(dir, 'init', '-q', '-b', 'main');
    // -f: Debian's source package ignores everything at the top level (its .gitignore ends with /*).
    await git(dir, 'add', '-f', '-A');
    await git(dir, 'commit', '-q', '-m', 'Debian linux-source-6.1');
    await git(dir, 'tag', 'lab-base');

    let text = await readFile(join(dir, FILE), 'utf8');
    const anchor = '\txa_for_each(&dmar_domain->iommu_array, i, info)\n\t\tiommu_flush_iotlb_psi(info->iommu, dmar_domain,\n\t\t\t\t      start_pfn, nrpages,\n\t\t\t\t      list_empty(&gather->freelist), 0);\n';
    if (!text.includes(anchor)) throw new Error(`${FILE} has no intel_iommu_tlb_sync flush loop as expected: another kernel version?`);
    text = text.replace(anchor, `\t/* One page-selective invalidation per IOMMU the domain is attached to. */\n${anchor}`);
    await writeFile(join(dir, FILE), text);
    await git(dir, 'commit', '-q', '-am', 'iommu/vt-d: say what intel_iommu_tlb_sync flushes');
    await git(dir, 'tag', 'lab-a');

    text = text.replace(anchor, `${anchor}\t/* The injected regression: the same invalidation again. */\n${anchor}`);
    await writeFile(join(dir, FILE), text);
    await git(dir, 'commit', '-q', '-am', 'iommu/vt-d: invalidate the IOTLB twice on unmap (the injected regression)');
    await git(dir, 'tag', 'lab-b');

    await writeFile(join(dir, 'Documentation/iommu-lab.txt'), 'A file only the lab test tree has.\n');
    await git(dir, 'add', '-f', 'Documentation/iommu-lab.txt');
    await git(dir, 'commit', '-q', '-m', 'Documentation: a note');
    await git(dir, 'tag', 'lab-c');
  }
  await execa('git', ['-C', dir, 'bisect', 'reset', '-q'], { reject: false });
  await git(dir, 'checkout', '-q', '-f', 'main');
  const rev = (t: string) => git(dir, 'rev-parse', `${t}^{commit}`);
  return { dir, base: await rev('lab-base'), a: await rev('lab-a'), b: await rev('lab-b'), c: await rev('lab-c') };
}
