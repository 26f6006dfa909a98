/**
 * Run-to-run noise of fio timings in TCG guests, per guest set-up. For each
 * set-up: BOOTS boots × REPS repetitions of 4k random reads (iodepth 16, 10 s
 * after 2 s ramp) on the emulated NVMe disk, Intel VT-d lazy; prints the CV of
 * IOPS and p50 latency within a boot and over all repetitions.
 *
 * Usage: npm run bench:timing [-- SETUPS BOOTS REPS]   e.g. tcg,icount,tcg-1cpu 2 5
 * Set-ups: tcg (2 vCPUs, wall-clock guest time), tcg-1cpu, icount (instruction-counted
 * guest time, shift=auto,sleep=on), icount-1cpu.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expand } from '../cell/expand.js';
import { requireImage } from '../guest-images/build.js';
import { down, LOCAL, up } from '../infra/up.js';
import { RunStore } from '../result/store.js';
import { runPlan } from '../runner/run.js';
import { loadScenarioFile } from '../scenario/load.js';
import { cvPct as cv, mean } from '../analysis/stats/describe.js';

const [setupArg = 'tcg,icount', bootsArg = '2', repsArg = '5'] = process.argv.slice(2);
const SETUPS: Record<string, { vcpus: number; clock: 'tcg' | 'icount' }> = {
  tcg: { vcpus: 2, clock: 'tcg' },
  'tcg-1cpu': { vcpus: 1, clock: 'tcg' },
  icount: { vcpus: 2, clock: 'icount' },
  'icount-1cpu': { vcpus: 1, clock: 'icount' },
};

const image = await requireImage();
const dir = await mkdtemp(join(tmpdir(), 'iommu-lab-cv-'));
const lines: string[] = [];
try {
  for (const setup of setupArg.split(',')) {
    const s = SETUPS[setup];
    if (!s) throw new Error(`unknown set-up ${setup}`);
    const iops: number[][] = [];
    const p50: number[] = [];
    for (let boot = 0; boot < Number(bootsArg); boot++) {
      const file = join(dir, `${setup}.yaml`);
      await writeFile(file, `name: cv-${setup}
seed: ${boot + 1}
repetitions: ${repsArg}
workloads:
  - { name: rr, rw: randread, bs: 4k, iodepth: 16, size: 256m, runtime: 10, ramp_time: 2, disks: [nvme0] }
iommu: [{ device: intel, mode: lazy }]
targets:
  vms:
    - { name: cv, vcpus: ${s.vcpus}, memory_mib: 2048, kernel: "6.12", clock: ${s.clock}, disks: [{ name: nvme0, bus: nvme, size_mib: 512 }] }
timeouts: { cell_s: 300, boot_s: 300 }
`);
      const loaded = await loadScenarioFile(file);
      const plan = expand(loaded);
      try {
        const { inventory } = await up({ loaded, plan, image, hypervisors: [LOCAL], inventoryFile: join(dir, 'inv.json') });
        const summary = await runPlan({ loaded, plan, inventory, resultsRoot: join(dir, 'results') });
        const store = await RunStore.open(summary.dir);
        const reps = await store.listReps(plan.cells[0]!.id);
        const values = reps.flatMap((r) => (r.outcome.state === 'passed' ? [r.outcome.metrics['iops']!] : []));
        iops.push(values);
        p50.push(...reps.flatMap((r) => (r.outcome.state === 'passed' ? [r.outcome.metrics['clat_p50_us']!] : [])));
        process.stderr.write(`${setup} boot ${boot + 1}: IOPS ${values.map((v) => v.toFixed(0)).join(' ')}\n`);
      } finally {
        await down([LOCAL], { scenario: `cv-${setup}` });
      }
    }
    const all = iops.flat();
    const within = iops.filter((b) => b.length > 1).map(cv);
    const line = `${setup.padEnd(12)} mean IOPS ${mean(all).toFixed(0).padStart(6)}  CV all ${cv(all).toFixed(1).padStart(5)} %  CV within boot ${within.map((c) => c.toFixed(1)).join(' / ')} %  CV p50 latency ${cv(p50).toFixed(1)} %  (n=${all.length})`;
    lines.push(line);
    process.stderr.write(`${line}\n`);
  }
} finally {
  await rm(dir, { recursive: true, force: true });
}
console.log(lines.join('\n'));
