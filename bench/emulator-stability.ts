/**
 * What the emulator does to virtual-clock measurements, counted: how often an
 * emulated NVMe queue stalls (a completion that reaches the guest tens of
 * seconds of guest time late: QEMU 7.2 under -icount), how often a guest dies
 * (the virtio-iommu guest's double fault), and how much IOPS vary within a
 * boot and across boots. Every attempt counts, the ones the runner set aside
 * and measured again included (kept as fio-disturbed-N.json beside each result).
 *
 * Usage: npm run bench:emulator-stability [-- MODES BOOTS REPS [KERNEL_BUILD]]
 *   e.g. intel-passthrough,intel-off,intel-lazy,virtio-lazy 4 15
 *   (REPS timing repetitions per boot and mode; 4k randread qd16, 5 s + 1 s ramp, NVMe, 2 vCPUs, 6.12;
 *   KERNEL_BUILD: a build directory of `iommu-lab kernel build` to boot instead, e.g. the tiny 6.1 build
 *   that hung bringing up its second vCPU under QEMU 7.2's icount)
 * Prints a Markdown table (docs/timing.md#qemu-10 holds the last one); raw figures in bench-emulator-stability.json.
 */
import { readFile, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cvPct, median } from '../analysis/stats/index.js';
import { configName } from '../core/iommu.js';
import { RunStore } from '../result/store.js';
import { repId } from '../result/types.js';
import { runtimeOverrunPct } from '../runner/timed.js';
import { benchRun } from './lab-run.js';

const [modesArg = 'intel-passthrough,intel-off,intel-lazy,virtio-lazy', bootsArg = '4', repsArg = '15', kernelBuild] = process.argv.slice(2);
const RUNTIME_S = 5;
/** A completion this late (guest time) is a stalled queue, not a slow I/O (the NVMe driver's timeout is 30 s). */
const STALL_MS = 1000;

interface Attempt { readonly mode: string; readonly boot: string; readonly iops?: number; readonly overrunPct?: number; readonly maxClatMs?: number; readonly set: 'kept' | 'aside' }
interface Death { readonly mode: string; readonly cause: string }

function fioFacts(text: string): { iops?: number; overrunPct?: number; maxClatMs?: number } {
  try {
    const j = JSON.parse(text.slice(text.indexOf('{'))) as { jobs: { read: { iops: number; clat_ns?: { max?: number } } }[] };
    const r = j.jobs[0]!.read;
    const overrunPct = runtimeOverrunPct(text, RUNTIME_S);
    return { iops: r.iops, ...(overrunPct !== undefined ? { overrunPct } : {}), ...(r.clat_ns?.max !== undefined ? { maxClatMs: r.clat_ns.max / 1e6 } : {}) };
  } catch {
    return {};
  }
}

const modes = modesArg.split(',');
const iommu = modes.map((m) => { const [device, mode] = m.split('-'); return `  - { device: ${device}, mode: ${mode} }`; }).join('\n');
const dir = await mkdtemp(join(tmpdir(), 'iommu-lab-stability-'));
const attempts: Attempt[] = [];
const deaths: Death[] = [];
let failed = 0;
const t0 = Date.now();
try {
  const { plan, summary } = await benchRun(dir, 'stability', `name: stability
seed: 7
repetitions: ${Number(bootsArg) * Number(repsArg)}
workloads:
  - { name: rr, rw: randread, bs: 4k, iodepth: 16, numjobs: 1, ioengine: libaio, size: 256m, runtime: ${RUNTIME_S}, ramp_time: 1, direct: true }
iommu:
${iommu}
${kernelBuild ? `kernels:\n  - { name: own, path: ${kernelBuild} }\n` : ''}targets:
  vms:
    - { name: st, vcpus: 2, memory_mib: 2048, kernel: ${kernelBuild ? 'own' : '"6.12"'}, clock: virtual, boots: ${bootsArg}, disks: [{ name: nvme0, bus: nvme, size_mib: 512 }] }
timeouts: { cell_s: 300, boot_s: 300 }
`, { onEvent: (e) => { if (e.type === 'rep-done') process.stderr.write(`${e.cell} ${e.rep}: ${e.outcome.state}\n`); } });
  failed = summary.failures.length;
  const store = await RunStore.open(summary.dir);
  for (const c of plan.cells) {
    const mode = configName(c.iommu);
    for (const r of await store.listReps(c.id)) {
      const boot = r.provenance.boot_id ?? '?';
      for (const check of r.checks ?? []) if (check.name === 'retried') deaths.push({ mode, cause: check.detail });
      if (r.outcome.state === 'failed' && r.outcome.failure.kind === 'guest-died') deaths.push({ mode, cause: r.outcome.failure.message });
      const at = join(summary.dir, 'cells', c.id, repId(r.rep));
      for (const name of Object.keys(r.files ?? {})) {
        if (name !== 'fio.json' && !name.startsWith('fio-disturbed-')) continue;
        const f = fioFacts(await readFile(join(at, name), 'utf8').catch(() => ''));
        attempts.push({ mode, boot, ...f, set: name === 'fio.json' ? 'kept' : 'aside' });
      }
    }
  }
} finally {
  await writeFile('bench-emulator-stability.json', JSON.stringify({ modes, boots: Number(bootsArg), reps: Number(repsArg), seconds: (Date.now() - t0) / 1000, failed, attempts, deaths }, null, 2));
  await rm(dir, { recursive: true, force: true });
}

const pct = (x: number) => `${x.toFixed(2)} %`;
const lines = ['| mode | attempts | clock jumps (> 2 % overrun) | stalls (a completion ≥ 1 s late) | longest completion | guest deaths | CV within a boot (median) | CV across boots (boot medians) |', '| --- | --- | --- | --- | --- | --- | --- | --- |'];
for (const mode of modes) {
  const a = attempts.filter((x) => x.mode === mode);
  const kept = a.filter((x) => x.set === 'kept' && x.iops !== undefined);
  const boots = [...new Set(kept.map((x) => x.boot))];
  const within = boots.map((b) => cvPct(kept.filter((x) => x.boot === b).map((x) => x.iops!))).filter(Number.isFinite);
  const across = boots.map((b) => median(kept.filter((x) => x.boot === b).map((x) => x.iops!)));
  const jumps = a.filter((x) => (x.overrunPct ?? 0) > 2).length;
  const stalls = a.filter((x) => (x.maxClatMs ?? 0) >= STALL_MS).length;
  const longest = Math.max(...a.map((x) => x.maxClatMs ?? 0));
  lines.push(`| ${mode} | ${a.length} | ${jumps} | ${stalls} | ${longest.toFixed(1)} ms | ${deaths.filter((d) => d.mode === mode).length} | ${within.length ? pct(median(within)) : '—'} | ${across.length > 1 ? pct(cvPct(across)) : '—'} |`);
}
console.log(lines.join('\n'));
console.log(`\n${attempts.length} attempts, ${failed} repetitions failed, ${deaths.length} guest deaths${deaths.length ? `: ${deaths.map((d) => `${d.mode}: ${d.cause.slice(0, 160)}`).join('; ')}` : ''}; ${((Date.now() - t0) / 60000).toFixed(1)} min`);
