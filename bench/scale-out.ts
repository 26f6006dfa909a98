/**
 * The nightly matrix's wall time on N hosts, from times measured on this
 * machine. A sample sweep runs what the nightly runs per repetition — its
 * profile and clock, two of its workloads on both disks, timing repetitions
 * and one traced repetition per nightly script — on one guest; it yields the
 * boot to SSH (the sweep's `up` phase) and, per kind of repetition, the wall
 * seconds the lab spends besides the workload (result.json started → finished
 * minus the workload's seconds). With those, each nightly target costs
 *   boot + Σ over its repetitions (workload seconds + measured overhead),
 * the targets are split over N shards exactly as `sweep --shard i/N` splits
 * them (sweep/shard.ts, with measured instead of estimated costs), and the
 * night's wall time is the longest shard plus the merge (timed on the
 * sample's run, scaled to the matrix's cells). One host runs its guests' repetitions one at a time (the
 * runner's rule for one hypervisor), so a shard's time is the sum of its
 * targets'.
 *
 * Usage: npm run bench:scale-out [-- HOSTS SCENARIO [SAMPLE_RUN_DIR]]
 *   HOSTS     comma-separated host counts (default 1,2,4,8)
 *   SCENARIO  the matrix to estimate (default scenarios/nightly.yaml)
 *   SAMPLE    `reuse`: the figures measured last time (bench-scale-out.json), no sweep;
 *             or a sample run directory measured before (boot and merge from bench-scale-out.json)
 * Needs root, libvirtd and the image (as a sweep does). Prints a Markdown
 * table (docs/infra.md holds the last one) and writes bench-scale-out.json.
 */
import { existsSync } from 'node:fs';
import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import type { RunManifest } from '../result/types.js';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadRun } from '../analysis/load.js';
import { expand } from '../cell/expand.js';
import { repetitionShape } from '../cell/repetition.js';
import { closeRemoteLinks, LOCAL } from '../infra/hypervisor.js';
import { loadScenarioFile } from '../scenario/load.js';
import { merge } from '../sweep/merge.js';
import { assignShards, targetCosts } from '../sweep/shard.js';
import { sweep } from '../sweep/sweep.js';
import { median } from '../analysis/stats/describe.js';

const [hostsArg = '1,2,4,8', scenarioFile = 'scenarios/nightly.yaml', sampleDir] = process.argv.slice(2);
const fmt = (s: number) => (s >= 3600 ? `${Math.floor(s / 3600)} h ${String(Math.round((s % 3600) / 60)).padStart(2, '0')} min` : `${Math.round(s / 60)} min`);

const target = await loadScenarioFile(scenarioFile);
const vm = target.scenario.targets.vms[0]!;
const scripts = target.scenario.tracing.scripts;
const dir = await mkdtemp(join(tmpdir(), 'iommu-lab-scale-'));
let measured: { bootS: number; mergeS: number; overhead: Record<string, number>; samples: Record<string, number[]>; run: string; host: string };
try {
  if (sampleDir === 'reuse') {
    measured = (JSON.parse(await readFile('bench-scale-out.json', 'utf8')) as { measured: typeof measured }).measured;
  } else if (sampleDir) {
    const prior = existsSync('bench-scale-out.json') ? (JSON.parse(await readFile('bench-scale-out.json', 'utf8')) as { measured: typeof measured }).measured : undefined;
    measured = { ...(await overheadsOf(sampleDir)), bootS: prior?.bootS ?? NaN, mergeS: prior?.mergeS ?? NaN, run: sampleDir, host: prior?.host ?? '' };
  } else {
    // The sample: the nightly's profile and clock, one IOMMU configuration, two of its workloads on both disks.
    const w = target.scenario.workloads.filter((x) => !('kind' in x) || x.kind !== 'dma-map-benchmark').slice(0, 2).map((x) => ({ ...x, ...(Array.isArray((x as { iodepth?: unknown }).iodepth) ? { iodepth: 16 } : {}) }));
    const sample = {
      name: 'scale-sample', seed: 1, repetitions: 2,
      workloads: w, iommu: [{ device: 'intel', mode: 'strict' }],
      targets: { vms: [{ ...vm, boots: 1 }] },
      tracing: { scripts, repetitions: 1 },
      // A traced metric only when the nightly traces (its scripts): the loader refuses one nothing produces.
      metrics: ['iops', ...(scripts.includes('iotlb-invalidations') ? ['iotlb_sync_flush_per_io'] : [])],
      timeouts: target.scenario.timeouts,
    };
    const file = join(dir, 'scale-sample.yaml');
    await writeFile(file, JSON.stringify(sample, null, 2));
    const r = await sweep({ scenarioFile: file, resultsRoot: join(dir, 'results'), hypervisors: [LOCAL], fresh: true, log: (l) => process.stderr.write(`${l}\n`) });
    if (r.summary.failed) process.stderr.write(`note: ${r.summary.failed} repetition(s) of the sample failed; the estimate uses the ones that passed\n`);
    // The merge, timed on the sample's run made a shard of one (copied: the merge checks and copies
    // every result and analyses the whole; a night's merge scales with its cells, reported per cell).
    const shardDir = join(dir, 'shards', 'sample-shard');
    await cp(r.dir, shardDir, { recursive: true });
    const m = JSON.parse(await readFile(join(shardDir, 'run.json'), 'utf8')) as RunManifest;
    await writeFile(join(shardDir, 'run.json'), JSON.stringify({ ...m, id: `${m.id}-shard`, shard: { index: 1, count: 1, targets: [...new Set(m.cells.map((c) => c.target.name))], plan_cells: m.cells.map((c) => c.id) } } satisfies RunManifest));
    const t = Date.now();
    await merge({ runs: [shardDir], resultsRoot: join(dir, 'merged') });
    const mergeS = ((Date.now() - t) / 1000) * (expand(target).cells.length / m.cells.length);
    measured = { ...(await overheadsOf(r.dir)), bootS: r.seconds.up, mergeS, run: r.dir, host: (await loadRun(r.dir)).manifest.host };
  }

  // The matrix, target by target, with the measured figures (the same sum `--shard` balances by).
  const plan = expand(target);
  const cost = targetCosts(plan, target.scenario, {
    bootS: measured.bootS,
    repetitionS: (shape) => shape.workloadSeconds + (measured.overhead[kindOf(shape.scripts)] ?? measured.overhead['timing']!),
  });
  const rows: string[] = [];
  const estimates: { hosts: number; wallS: number; shards: number[] }[] = [];
  for (const n of hostsArg.split(',').map(Number)) {
    const of = assignShards(cost, n);
    const shards = Array.from({ length: n }, (_, i) => [...of].filter(([, s]) => s === i + 1).reduce((a, [t]) => a + cost.get(t)!, 0));
    const wallS = Math.max(...shards) + (n > 1 ? measured.mergeS : 0);
    estimates.push({ hosts: n, wallS, shards });
    rows.push(`| ${n} | ${[...new Set([...of.values()])].length} | ${fmt(wallS)} | ${fmt(Math.min(...shards))} – ${fmt(Math.max(...shards))} | ${(estimates[0]!.wallS / wallS).toFixed(2)}× |`);
  }
  const total = [...cost.values()].reduce((a, b) => a + b, 0);
  console.log(`${target.scenario.name}: ${plan.cells.length} cells on ${cost.size} targets; measured on ${measured.host}: boot to SSH ${measured.bootS.toFixed(1)} s, wall s beyond the workload's per repetition (negative: virtual seconds run faster than wall ones) ${Object.entries(measured.overhead).map(([k, v]) => `${k} ${v.toFixed(1)} s`).join(', ')}, merge ${measured.mergeS.toFixed(1)} s; one host in all ${fmt(total)}`);
  console.log('');
  console.log('| hosts | shards with work | night wall time | shortest – longest shard | speed-up |');
  console.log('| --- | --- | --- | --- | --- |');
  for (const r of rows) console.log(r);
  await writeFile('bench-scale-out.json', JSON.stringify({ scenario: target.scenario.name, measured, targets: Object.fromEntries(cost), estimates }, null, 2));
} finally {
  await closeRemoteLinks();
  if (!sampleDir) await rm(dir, { recursive: true, force: true });
}

function kindOf(scripts: readonly string[]): string {
  return scripts.length ? `traced ${scripts.join('+')}` : 'timing';
}

/** Per kind of repetition, the median wall seconds besides the workload, from a run's results. */
async function overheadsOf(runDir: string): Promise<{ overhead: Record<string, number>; samples: Record<string, number[]> }> {
  const run = await loadRun(runDir);
  const samples: Record<string, number[]> = {};
  for (const [cellId, reps] of run.reps) {
    const cell = run.cells.get(cellId)!;
    for (const r of reps) {
      const shape = repetitionShape(cell, r.rep, run.scenario.tracing);
      const wall = (Date.parse(r.finished) - Date.parse(r.started)) / 1000;
      (samples[kindOf(shape.scripts)] ??= []).push(wall - shape.workloadSeconds);
    }
  }
  return { overhead: Object.fromEntries(Object.entries(samples).map(([k, v]) => [k, median(v)])), samples };
}
