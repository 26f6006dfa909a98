/**
 * Virtual time against wall-clock time under TCG, per IOMMU mode: how well
 * timings repeat within a boot and across boots, and what host load does to
 * them. For each clock and each boot, one guest per mode (intel strict, lazy,
 * passthrough; virtio lazy) runs REPS repetitions of 4k random reads (iodepth
 * 16, 5 s after a 1 s ramp) on a quiet host, then REPS more on the same boot
 * with two CPU-bound processes (`yes > /dev/null`) running on the host.
 * Contaminated virtual-time repetitions are re-run by the runner (and, if the
 * load never stops, fail as host-contention): the table counts both.
 *
 * Usage: npm run bench:virtual-time [-- CLOCKS BOOTS REPS]   e.g. virtual,tcg 3 3
 * Prints a Markdown table (docs/timing.md holds the last one) and writes the
 * raw values to bench-virtual-time.json.
 */
import { configName } from '../core/iommu.js';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expand } from '../cell/expand.js';
import { requireImage } from '../guest-images/build.js';
import { down, LOCAL, up } from '../infra/up.js';
import { RunStore } from '../result/store.js';
import { runPlan } from '../runner/run.js';
import { loadScenarioFile } from '../scenario/load.js';
import { cvPct as cv, mean, median } from '../analysis/stats/describe.js';

const [clocksArg = 'virtual,tcg', bootsArg = '3', repsArg = '3'] = process.argv.slice(2);
const MODES = ['intel-strict', 'intel-lazy', 'intel-passthrough', 'virtio-lazy'] as const;


interface Obs { clock: string; mode: string; boot: number; load: 'quiet' | 'load'; iops: number[]; wallS: number[]; flagged: number; otherCpus: number[]; realtime: string[]; failed: number }

function hogs(n: number): ChildProcess[] {
  return Array.from({ length: n }, () => spawn('sh', ['-c', 'exec yes > /dev/null'], { stdio: 'ignore' }));
}

const image = await requireImage();
const dir = await mkdtemp(join(tmpdir(), 'iommu-lab-vt-'));
const obs: Obs[] = [];
try {
  for (const clock of clocksArg.split(',')) {
    for (let boot = 1; boot <= Number(bootsArg); boot++) {
      const file = join(dir, `${clock}.yaml`);
      await writeFile(file, `name: vt-${clock}
seed: ${boot}
repetitions: ${repsArg}
workloads:
  - { name: rr, rw: randread, bs: 4k, iodepth: 16, size: 256m, runtime: 5, ramp_time: 1 }
iommu:
  - { device: intel, mode: [strict, lazy, passthrough] }
  - { device: virtio, mode: lazy }
targets:
  vms:
    - { name: vt, vcpus: 2, memory_mib: 2048, kernel: "6.12", clock: ${clock}, disks: [{ name: nvme0, bus: nvme, size_mib: 512 }] }
timeouts: { cell_s: 300, boot_s: 300 }
`);
      const loaded = await loadScenarioFile(file);
      const plan = expand(loaded);
      try {
        const { inventory } = await up({ loaded, plan, image, hypervisors: [LOCAL], inventoryFile: join(dir, 'inv.json') });
        for (const load of ['quiet', 'load'] as const) {
          const procs = load === 'load' ? hogs(2) : [];
          try {
            // Under load the runner would re-run every flagged repetition; here each one is kept (and counted as
            // flagged) to see what real-time isolation alone does to the numbers.
            const summary = await runPlan({ loaded, plan, inventory, resultsRoot: join(dir, 'results'), hostLoadLimitCpus: Infinity });
            const store = await RunStore.open(summary.dir);
            for (const c of plan.cells) {
              const mode = configName(c.iommu);
              const reps = await store.listReps(c.id);
              const passed = reps.filter((r) => r.outcome.state === 'passed');
              const o: Obs = {
                clock, mode, boot, load,
                iops: passed.map((r) => (r.outcome.state === 'passed' ? r.outcome.metrics['iops']! : NaN)),
                wallS: passed.map((r) => (Date.parse(r.finished) - Date.parse(r.started)) / 1000),
                flagged: passed.filter((r) => r.checks?.some((c) => c.name === 'host-load' && !c.ok)).length,
                otherCpus: passed.flatMap((r) => r.checks?.filter((c) => c.name === 'host-load').map((c) => Number(/used ([\d.]+) CPUs/.exec(c.detail)?.[1])) ?? []),
                realtime: passed.flatMap((r) => r.checks?.filter((c) => c.name === 'host-load').map((c) => (c.detail.includes('SCHED_FIFO') ? 'rt' : 'normal')) ?? []),
                failed: reps.length - passed.length,
              };
              obs.push(o);
              process.stderr.write(`${clock} boot ${boot} ${load} ${mode}: IOPS ${o.iops.map((v) => v.toFixed(1)).join(' ')}${o.failed ? ` (${o.failed} failed)` : ''}\n`);
            }
          } finally {
            for (const p of procs) p.kill('SIGKILL');
          }
        }
      } finally {
        await down([LOCAL], { scenario: `vt-${clock}` });
      }
    }
  }
} finally {
  await writeFile('bench-virtual-time.json', JSON.stringify(obs, null, 2));
  await rm(dir, { recursive: true, force: true });
}

const lines = [
  '| clock | mode | median IOPS, quiet | CV within a boot | CV across boots | median under load | load vs quiet | flagged quiet / loaded | other load, loaded (CPUs) | failed | wall s per repetition |',
  '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |',
];
for (const clock of clocksArg.split(',')) {
  for (const mode of MODES) {
    const q = obs.filter((o) => o.clock === clock && o.mode === mode && o.load === 'quiet');
    const l = obs.filter((o) => o.clock === clock && o.mode === mode && o.load === 'load');
    if (!q.length) continue;
    const quiet = q.flatMap((o) => o.iops);
    const loaded = l.flatMap((o) => o.iops);
    const within = mean(q.map((o) => cv(o.iops)).filter(Number.isFinite));
    const failed = [...q, ...l].reduce((n, o) => n + o.failed, 0);
    const flagged = (os: Obs[]) => `${os.reduce((n, o) => n + o.flagged, 0)}/${os.reduce((n, o) => n + o.iops.length, 0)}`;
    const other = l.flatMap((o) => o.otherCpus);
    lines.push(`| ${clock} | ${mode} | ${median(quiet).toFixed(0)} | ${within.toFixed(2)} % | ${cv(quiet).toFixed(2)} % | ${loaded.length ? median(loaded).toFixed(0) : '—'} | ${loaded.length ? `${((median(loaded) / median(quiet) - 1) * 100).toFixed(2)} %` : '—'} | ${flagged(q)} / ${flagged(l)} | ${other.length ? median(other).toFixed(2) : '—'} | ${failed} | ${median(q.flatMap((o) => o.wallS)).toFixed(1)} |`);
  }
}
console.log(lines.join('\n'));
