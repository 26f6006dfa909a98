/**
 * Builds the lab's QEMU plugin (profile.c, loaded into every emulated guest)
 * and the guest's window marker (mark.c, a static binary uploaded at
 * preflight) with the system compiler, cached by the content of their
 * sources: a change to either builds both again, an unchanged tree never
 * does. The plugin does not link against QEMU (it declares the API itself):
 * whether this QEMU offers the API level it needs is checked when QEMU loads
 * it, and the plugin says so in QEMU's log.
 */
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { execa } from 'execa';
import { buildCachedDir } from '../../core/cache-dir.js';
import { ProfilerBuildError } from '../../core/errors.js';
import { labPath } from '../../core/paths.js';

const SOURCES = ['profile.c', 'mark.c', 'qemu-plugin-api.h'] as const;

/** Where builds are kept; readable by QEMU's user (libvirt-qemu) through the whole path. */
export const PROFILER_CACHE = process.env['IOMMU_LAB_PROFILER_CACHE'] ?? '/var/cache/iommu-lab/profiler';

export interface ProfilerBuild {
  /** The plugin QEMU loads (`-plugin`). */
  readonly plugin: string;
  /** The marker the guest runs around its workload. */
  readonly marker: string;
  /** Content hash of the sources: results record which plugin counted. */
  readonly version: string;
}

async function sourceHash(): Promise<string> {
  const h = createHash('sha256');
  for (const f of SOURCES) h.update(f).update('\0').update(await readFile(labPath('infra', 'profiler', f))).update('\0');
  return h.digest('hex').slice(0, 16);
}

async function compile(args: readonly string[], what: string): Promise<void> {
  const r = await execa('gcc', args, { reject: false });
  if (r.exitCode !== 0) throw new ProfilerBuildError(`building ${what} failed (gcc exited with ${r.exitCode ?? r.signal})`, { detail: String(r.stderr ?? '') });
}

let pending: Promise<ProfilerBuild> | undefined;

/** The plugin and marker for this tree's sources, built once per content and process. */
export function buildProfiler(): Promise<ProfilerBuild> {
  pending ??= build().catch((e) => {
    pending = undefined;
    throw e;
  });
  return pending;
}

async function build(): Promise<ProfilerBuild> {
  const version = await sourceHash();
  const dir = join(PROFILER_CACHE, version);
  const made = { plugin: join(dir, 'iommu-lab-profile.so'), marker: join(dir, 'iommu-lab-mark'), version };
  if (existsSync(made.plugin) && existsSync(made.marker)) return made;
  const src = (f: string) => labPath('infra', 'profiler', f);
  try {
    await buildCachedDir(dir, async (tmp) => {
      await compile(['-O2', '-Wall', '-Wextra', '-Werror', '-shared', '-fPIC', '-fvisibility=hidden', '-o', join(tmp, 'iommu-lab-profile.so'), src('profile.c'), '-lpthread'], 'the QEMU plugin (infra/profiler/profile.c)');
      await compile(['-O2', '-Wall', '-static', '-o', join(tmp, 'iommu-lab-mark'), src('mark.c')], 'the window marker (infra/profiler/mark.c)');
    });
    return made;
  } catch (e) {
    if ((e as { code?: string }).code === 'ENOENT') throw new ProfilerBuildError('gcc is not installed', { fix: 'apt-get install -y gcc libc6-dev (scripts/setup.sh installs them)' });
    throw e;
  }
}
