/**
 * What your-own-kernel work costs on this machine: building Debian's
 * linux-source-6.1 with the lab's fragment (tiny base) from nothing, again
 * with a warm ccache, from nothing without the tracing options, a bisect step's incremental build (one file changed),
 * and a whole bisection of the test tree's injected regression
 * (tools/kernel-test-tree.ts), with the time of every step.
 *
 * Usage: npm run bench:kernel [-- --skip-cold]   (needs root, libvirtd, the image; about 40 minutes on 2 cores)
 * --skip-cold leaves the build from nothing out (it empties the build directory and uses a fresh ccache).
 */
import { execa } from 'execa';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildKernel, kernelsDir } from '../guest-images/kernel/build.js';
import { LOCAL } from '../infra/up.js';
import { bisect } from '../sweep/bisect.js';
import { kernelTestTree } from '../tools/kernel-test-tree.js';

const skipCold = process.argv.includes('--skip-cold');
const log = (l: string) => process.stderr.write(`${l}\n`);
const tree = await kernelTestTree(log);
const rows: [string, string][] = [];

const workDirs = async () => (await execa('sh', ['-c', `ls -d ${join(kernelsDir(), 'work')}/*-tiny 2>/dev/null || true`])).stdout.split('\n').filter(Boolean);

if (!skipCold) {
  // From nothing: no build directory, an empty ccache; then the same again with the ccache warm.
  for (const d of await workDirs()) await rm(d, { recursive: true, force: true });
  await rm(join(kernelsDir(), 'builds'), { recursive: true, force: true });
  const ccache = await mkdtemp(join(tmpdir(), 'iommu-lab-ccache-'));
  process.env['CCACHE_DIR'] = ccache;
  await execa('git', ['-C', tree.dir, 'checkout', '-q', tree.base]);
  const cold = await buildKernel({ tree: tree.dir, onLog: log });
  rows.push(['full build, cold ccache', `${cold.seconds.toFixed(0)} s`]);
  for (const d of await workDirs()) await rm(d, { recursive: true, force: true });
  await rm(join(kernelsDir(), 'builds'), { recursive: true, force: true });
  const warm = await buildKernel({ tree: tree.dir, onLog: log });
  rows.push(['full build, warm ccache (new build directory)', `${warm.seconds.toFixed(0)} s`]);
  // Without what only bpftrace needs (no debug information): what the own-kernel VM test and a bisection on exact counts build.
  const noTracingDirs = async () => (await execa('sh', ['-c', `ls -d ${join(kernelsDir(), 'work')}/*-tiny-no-tracing 2>/dev/null || true`])).stdout.split('\n').filter(Boolean);
  for (const d of await noTracingDirs()) await rm(d, { recursive: true, force: true });
  process.env['CCACHE_DIR'] = await mkdtemp(join(tmpdir(), 'iommu-lab-ccache-'));
  const plain = await buildKernel({ tree: tree.dir, tracing: false, onLog: log });
  rows.push(['full build, cold ccache, --no-tracing', `${plain.seconds.toFixed(0)} s`]);
  await rm(process.env['CCACHE_DIR'], { recursive: true, force: true });
  process.env['CCACHE_DIR'] = ccache;
  await rm(ccache, { recursive: true, force: true });
  delete process.env['CCACHE_DIR'];
}

// A bisect step's build: one file changed since the last build of this directory (outputs emptied, so nothing is a cache hit).
await rm(join(kernelsDir(), 'builds'), { recursive: true, force: true });
await execa('git', ['-C', tree.dir, 'checkout', '-q', tree.base]);
await buildKernel({ tree: tree.dir, onLog: log });
await execa('git', ['-C', tree.dir, 'checkout', '-q', tree.a]);
const step = await buildKernel({ tree: tree.dir, onLog: log });
rows.push(['incremental build (drivers/iommu/intel/iommu.c changed)', `${step.seconds.toFixed(0)} s${step.cached ? ' (cached: already built)' : ''}`]);
const again = await buildKernel({ tree: tree.dir, onLog: log });
rows.push(['the same tree state again (output cache hit)', `${again.seconds.toFixed(1)} s`]);
await execa('git', ['-C', tree.dir, 'checkout', '-q', 'main']);

// A whole bisection, measured from a fresh results root (the builds may be cached from above).
const dir = await mkdtemp(join(tmpdir(), 'iommu-lab-bench-bisect-'));
const scenario = join(dir, 'bisect.yaml');
await writeFile(scenario, `name: bench-bisect
seed: 5
repetitions: 1
workloads:
  - { name: rr, rw: randread, bs: 4k, iodepth: 8, size: 64m, runtime: 3, ramp_time: 0 }
iommu:
  - { device: intel, mode: strict }
targets:
  vms:
    - { name: k, vcpus: 2, memory_mib: 1024, disks: [{ name: nvme0, bus: nvme, size_mib: 128 }] }
tracing: { scripts: [iotlb-invalidations], repetitions: 1 }
metrics: [iops, iotlb_sync_flush_per_io]
timeouts: { cell_s: 120, boot_s: 180 }
`);
const r = await bisect({ scenarioFile: scenario, tree: tree.dir, good: 'lab-base', bad: 'lab-c', cell: 'rr__intel-strict__k__nvme0', metric: 'iotlb_sync_flush_per_io', resultsRoot: join(dir, 'results'), hypervisors: [LOCAL], log });
for (const s of r.log.steps) rows.push([`bisect ${s.role} ${s.commit.slice(0, 12)} (${s.verdict}, ${s.values.join(', ')})`, `build ${s.build.seconds.toFixed(0)} s${s.build.cached ? ' (cached)' : ''}, measure ${s.measureSeconds.toFixed(0)} s`]);
rows.push([`whole bisection (${r.log.steps.length} measurements)`, `${r.seconds.toFixed(0)} s; first bad ${r.firstBad?.commit.slice(0, 12) ?? 'none'} (${r.firstBad?.commit === tree.b ? 'the injected commit' : 'NOT the injected commit'})`]);
await rm(dir, { recursive: true, force: true });

console.log('| what | time |\n| --- | --- |');
for (const [what, t] of rows) console.log(`| ${what} | ${t} |`);
