/**
 * How exact the QEMU plugin's counts are, and what they cost (docs/profiler.md#benchmark):
 *  1. per configuration (intel strict / lazy / passthrough, virtio strict / lazy, no IOMMU; 4k randread
 *     qd16 on NVMe, 6.12, 2 vCPUs, tcg clock): the CV of IOMMU-path instructions per I/O within a boot
 *     and across BOOTS boots;
 *  2. the same under two CPU-bound processes on the host (`yes`, normal priority): CV and the shift of
 *     the mean against the quiet boots;
 *  3. calls per I/O against bpftrace (traced repetitions of the same cells, tcg clock);
 *  4. the plugin's cost: wall seconds per repetition on the virtual clock (guest time is fixed there,
 *     so the plugin's work shows as wall time), plugin on against off, with inline counters on one
 *     vCPU and with the per-block callback on two; and wall-clock IOPS on the tcg clock, on against off.
 *
 * Usage: npm run bench:profiler [-- BOOTS REPS [PHASES]]   (defaults 3 3 quiet,busy,cost)
 * Prints Markdown tables; raw values in bench-profiler.json. The DMA-map benchmark needs a kernel
 * built with CONFIG_DMA_MAP_BENCHMARK: the own-kernel VM test measures its exact counts.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cvPct, mean, median } from '../analysis/stats/index.js';
import { loadRun, samples } from '../analysis/load.js';
import { configName } from '../core/iommu.js';
import { benchRun } from './lab-run.js';

const [bootsArg = '3', repsArg = '3', phasesArg = 'quiet,busy,cost'] = process.argv.slice(2);
const BOOTS = Number(bootsArg);
const REPS = Number(repsArg);
const PHASES = new Set(phasesArg.split(','));

const WORKLOAD = '{ name: randread-4k, rw: randread, bs: 4k, iodepth: 16, numjobs: 1, ioengine: libaio, size: 256m, runtime: 5, ramp_time: 1, direct: true }';
const IOMMU_ALL = `
  - device: intel
    mode: [strict, lazy, passthrough]
  - device: virtio
    mode: [strict, lazy]
  - device: none
    mode: off`;

function scenario(name: string, o: { iommu: string; clock: string; vcpus: number; boots: number; reps: number; profiler?: boolean; tracing?: boolean }): string {
  return `name: ${name}
seed: 1
repetitions: ${o.reps * o.boots}
workloads:
  - ${WORKLOAD}
iommu:${o.iommu}
targets:
  vms:
    - { name: b, vcpus: ${o.vcpus}, memory_mib: 2048, kernel: "6.12", clock: ${o.clock}, boots: ${o.boots}, profiler: ${o.profiler !== false}, disks: [{ name: nvme0, bus: nvme, size_mib: 512 }] }
${o.tracing ? 'tracing: { scripts: [iotlb-invalidations, dma-map-latency], repetitions: 1 }\n' : ''}metrics: [iops${o.profiler === false ? '' : ', insn_iommu_per_io, calls_dma_map_per_io, calls_sync_inval_per_io'}${o.tracing ? ', dma_map_per_io, iotlb_sync_flush_per_io' : ''}]
timeouts: { cell_s: 300, boot_s: 240 }
`;
}

interface CellFigures { readonly config: string; readonly withinCv: number; readonly acrossCv: number; readonly mean: number; readonly values: readonly number[]; readonly boots: number }

/** Per cell: CV within each boot (mean over boots), CV of the boot means, and the grand mean. */
async function figures(dir: string, metric: string): Promise<CellFigures[]> {
  const run = await loadRun(dir);
  return [...run.cells.values()].map((c) => {
    const s = samples(run, c.id, metric);
    const byBoot = new Map<string, number[]>();
    s.values.forEach((v, i) => { if (Number.isFinite(v)) byBoot.set(s.boots[i]!, [...(byBoot.get(s.boots[i]!) ?? []), v]); });
    const groups = [...byBoot.values()];
    const values = groups.flat();
    // A CV of values that are all zero (no synchronous invalidation in passthrough) is 0, not 0/0.
    const cv = (xs: number[]) => (xs.every((x) => x === xs[0]) ? 0 : cvPct(xs));
    const within = groups.filter((g) => g.length >= 2).map(cv);
    return { config: configName(c.iommu), withinCv: within.length ? mean(within) : NaN, acrossCv: groups.length >= 2 ? cv(groups.map((g) => mean(g))) : NaN, mean: values.length ? mean(values) : NaN, values, boots: groups.length };
  });
}

/** Wall seconds per timing repetition (result started → finished), median per cell. */
async function wallSeconds(dir: string): Promise<Map<string, number>> {
  const run = await loadRun(dir);
  return new Map([...run.cells.values()].map((c) => [configName(c.iommu), median((run.reps.get(c.id) ?? []).filter((r) => r.rep.kind === 'timing').map((r) => (Date.parse(r.finished) - Date.parse(r.started)) / 1000))]));
}

const pct = (x: number) => (Number.isFinite(x) ? `${x.toFixed(4)} %` : 'n/a');

function hogs(n: number): ChildProcess[] {
  return Array.from({ length: n }, () => spawn('sh', ['-c', 'exec yes > /dev/null'], { stdio: 'ignore' }));
}

const work = await mkdtemp(join(tmpdir(), 'bench-profiler-'));
const raw: Record<string, unknown> = {};
try {
  // 1. Quiet host, every configuration, BOOTS boots.
  const quiet = PHASES.has('quiet') ? await benchRun(work, 'bench-profiler-quiet', scenario('bench-profiler-quiet', { iommu: IOMMU_ALL, clock: 'tcg', vcpus: 2, boots: BOOTS, reps: REPS, tracing: true })) : undefined;
  const q = quiet ? await figures(quiet.summary.dir, 'insn_iommu_per_io') : [];
  raw['quiet'] = q;
  // 2. Two CPU-bound processes on the host.
  const loadedHogs = PHASES.has('busy') ? hogs(2) : [];
  let busy: CellFigures[] = [];
  if (PHASES.has('busy')) try {
    const b = await benchRun(work, 'bench-profiler-busy', scenario('bench-profiler-busy', { iommu: '\n  - device: intel\n    mode: [strict, lazy, passthrough]', clock: 'tcg', vcpus: 2, boots: 1, reps: REPS }));
    busy = await figures(b.summary.dir, 'insn_iommu_per_io');
  } finally {
    for (const h of loadedHogs) h.kill('SIGKILL');
  }
  raw['busy'] = busy;
  // 3. Calls per I/O against bpftrace, from the quiet run.
  const of = async (metric: string) => (quiet ? figures(quiet.summary.dir, metric) : []);
  const calls = { plugin: await of('calls_sync_inval_per_io'), bpftrace: await of('iotlb_sync_flush_per_io'), mapsPlugin: await of('calls_dma_map_per_io'), mapsBpftrace: await of('dma_map_per_io') };
  raw['calls'] = calls;
  // 4. Cost: the virtual clock (wall seconds per repetition of 6 s guest time), plugin on and off.
  const strict = '\n  - device: intel\n    mode: strict';
  const cost: Record<string, number> = {};
  if (PHASES.has('cost')) for (const [label, vcpus, profiler] of [['virtual, 1 vCPU, inline', 1, true], ['virtual, 1 vCPU, off', 1, false], ['virtual, 2 vCPUs, callback', 2, true], ['virtual, 2 vCPUs, off', 2, false]] as const) {
    const r = await benchRun(work, 'bench-profiler-cost', scenario('bench-profiler-cost', { iommu: strict, clock: 'virtual', vcpus, boots: 1, reps: REPS, profiler }));
    cost[label] = (await wallSeconds(r.summary.dir)).get('intel-strict') ?? NaN;
  }
  if (PHASES.has('cost')) for (const [label, profiler] of [['tcg, 2 vCPUs, inline: IOPS', true], ['tcg, 2 vCPUs, off: IOPS', false]] as const) {
    const r = await benchRun(work, 'bench-profiler-cost', scenario('bench-profiler-cost', { iommu: strict, clock: 'tcg', vcpus: 2, boots: 1, reps: REPS, profiler }));
    cost[label] = median((await figures(r.summary.dir, 'iops'))[0]!.values);
  }
  raw['cost'] = cost;

  const lines = [
    `IOMMU-path instructions per I/O (insn_iommu_per_io), 4k randread qd16, NVMe, 6.12, 2 vCPUs, tcg clock, ${BOOTS} boots × ${REPS} repetitions; busy: two \`yes\` on the host, 1 boot × ${REPS}:`, '',
    '| configuration | mean | CV within a boot | CV across boots | busy host: mean (shift) | busy: CV |', '| --- | --- | --- | --- | --- | --- |',
    ...(q.length ? q : busy).map((c) => {
      const b = busy.find((x) => x.config === c.config);
      return `| ${c.config} | ${c.mean.toFixed(2)} | ${pct(c.withinCv)} | ${pct(c.acrossCv)} | ${b ? `${b.mean.toFixed(2)} (${pct((100 * (b.mean - c.mean)) / c.mean)})` : '–'} | ${b ? pct(b.withinCv) : '–'} |`;
    }),
    '', 'Calls per I/O, plugin against bpftrace (the same cells; bpftrace from the traced repetitions):', '',
    '| configuration | sync invalidations: plugin | bpftrace | DMA maps: plugin | bpftrace |', '| --- | --- | --- | --- | --- |',
    ...q.map((c) => {
      const f = (xs: CellFigures[]) => { const x = xs.find((y) => y.config === c.config); return x && x.values.length ? `${Math.min(...x.values).toFixed(4)}–${Math.max(...x.values).toFixed(4)}` : '–'; };
      return `| ${c.config} | ${f(calls.plugin)} | ${f(calls.bpftrace)} | ${f(calls.mapsPlugin)} | ${f(calls.mapsBpftrace)} |`;
    }),
    '', "The plugin's cost (intel strict, median of the repetitions):", '',
    '| set-up | wall seconds per repetition (6 s of guest time) / IOPS |', '| --- | --- |',
    ...Object.entries(cost).map(([k, v]) => `| ${k} | ${v.toFixed(1)} |`),
  ];
  console.log(lines.join('\n'));
  await writeFile('bench-profiler.json', JSON.stringify(raw, null, 2));
  await rm(work, { recursive: true, force: true });
} catch (e) {
  // The runs stay for a look: nothing measured is thrown away with the error.
  console.error(`bench:profiler failed; its runs are in ${work}`);
  throw e;
}
