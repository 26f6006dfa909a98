/**
 * Stage 3 for a DMA-map benchmark cell: one run of the kernel's benchmark
 * (CONFIG_DMA_MAP_BENCHMARK) on the cell's test disk. The guest script
 * (runner/dma-map-benchmark.sh) takes the disk's PCI device from its driver,
 * binds it to the benchmark, runs the tool built for the guest's kernel
 * (guest-images/kernel/dma-map-tool.ts) and gives the device back. It runs
 * detached and timed like fio: QEMU at real-time priority under the virtual
 * clock, the host's load measured, a contaminated repetition run again.
 *
 * No tracing here: the benchmark times the mapping path inside the kernel,
 * without a probe in its way (the lab's dma-map-latency script slows that
 * path by 15–50 % under TCG).
 */
import { readFile } from 'node:fs/promises';
import type { DmaMapJob } from '../cell/types.js';
import { timebaseOf } from '../core/clock.js';
import { DmaMapBenchmarkError, InterruptedError } from '../core/errors.js';
import { labPath } from '../core/paths.js';
import { repId, type Check } from '../result/types.js';
import { DMA_DIRECTIONS } from '../scenario/types.js';
import { parseDmaMap, dmaMapMetrics } from './dma-map-parse.js';
import { profiledWindow } from './exact.js';
import { failureOf } from './failure.js';
import { PROFILE_FILE } from '../result/profile-table.js';
import type { RepExtra } from './record.js';
import type { ReadyTarget } from './target.js';
import { detachedWorkload, timedWorkload, type Measured, type RepetitionContext } from './timed.js';

/** Ready targets that have the tool and the script in their working directory. */
const installed = new WeakSet<ReadyTarget>();

/** What the guest script's own exit codes mean (its tool's codes pass through). */
const SCRIPT_EXITS: Record<number, { message: string; fix: string }> = {
  3: { message: 'the guest kernel has no dma_map_benchmark driver (CONFIG_DMA_MAP_BENCHMARK is not set)', fix: 'build the kernel with the lab\'s fragment guest-images/kernel/lab.config (iommu-lab kernel build sets it) and name it under kernels:' },
  4: { message: 'the test disk\'s PCI device is not in the guest', fix: 'look at the preflight (preflight.json beside the run): the disk was not found' },
  5: { message: 'the test disk\'s device could not be bound to the benchmark', fix: 'the stderr beside the result says which step failed; the device is given back to its driver' },
};

/** The tool's arguments for a job (tools/testing/selftests/dma/dma_map_benchmark.c). */
export function dmaMapArgs(job: DmaMapJob): string[] {
  return ['-t', String(job.threads), '-s', String(job.runtime), '-g', String(job.granule), '-b', String(job.dma_bits), '-d', String(DMA_DIRECTIONS.indexOf(job.direction)), '-x', String(job.transmit_delay_ns)];
}

/** Whether the guest script gave the device back to the driver it had (its last stderr line says). */
export function givenBack(stderr: string): Check {
  const m = /iommu-lab: (\S+) given back: driver (\S+) \(was (\S+)\), (.*)$/m.exec(stderr);
  if (!m) return { name: 'device-given-back', ok: false, detail: 'the benchmark script did not say that it gave the device back' };
  return { name: 'device-given-back', ok: m[2] === m[3], detail: `${m[1]}: driver ${m[2]} (was ${m[3]}), ${m[4]}` };
}

export async function measureDmaMap(ctx: RepetitionContext, job: DmaMapJob): Promise<Measured> {
  const { target, st, task, signal } = ctx;
  const base: RepExtra = { ...st.extra };
  const fail = (e: unknown, files: Record<string, string> = {}): Measured => ({ outcome: { state: 'failed', failure: failureOf(e) }, extra: { ...base, files } });
  const pci = st.extra.facts.disks.find((d) => d.name === task.cell.disk)?.pci;
  if (!pci) return fail(new DmaMapBenchmarkError(`disk ${task.cell.disk} of ${target.name} has no PCI device the preflight could find`, { fix: 'the DMA-map benchmark needs a PCI test disk (nvme or virtio-blk) of a lab guest' }));
  const tool = target.vm?.dma_map_tool;
  if (!tool) {
    return fail(new DmaMapBenchmarkError(`no DMA-map benchmark tool for ${target.name}'s kernel ${target.vm?.kernel ?? ''}: the lab builds it from the kernel's own source tree, which it did not find`, { fix: 'name the kernel by path: (a built tree, or iommu-lab kernel build output, whose source.txt names the tree) built with CONFIG_DMA_MAP_BENCHMARK=y' }));
  }

  const remoteTool = `${st.remoteDir}/dma_map_benchmark`;
  const script = `${st.remoteDir}/dma-map-benchmark.sh`;
  // Once per ready target: a boot (or a heal) prepares a new one, with an empty working directory.
  if (!installed.has(st)) {
    await st.link.session.upload(remoteTool, await readFile(tool), '0755');
    await st.link.session.upload(script, await readFile(labPath('runner', 'dma-map-benchmark.sh'), 'utf8'), '0755');
    installed.add(st);
  }
  const command = ['sh', script, pci, task.cell.disk, remoteTool, ...dmaMapArgs(job)];
  const files: Record<string, string> = { 'command.txt': `${command.join(' ')}\n` };
  const timeoutMs = (job.runtime + ctx.scenario.timeouts.cell_s) * 1000;
  const virtualTime = timebaseOf(target.vm?.clock) === 'virtual';
  const workload = detachedWorkload(ctx, command, { timeoutMs, expectedMs: job.runtime * 1000, window: true });
  // The benchmark prints no guest-time length to check for a clock jump: the host load is its check.
  const timed = await timedWorkload(ctx, workload, virtualTime, job.runtime, () => undefined);
  timed.disturbed.forEach((out, i) => (files[`dma_map_benchmark-disturbed-${i + 1}.txt`] = out));
  const res = timed.kind === 'measured' ? timed.res : timed.last;
  const checks: Check[] = [];
  // Per map: the window's dma_map_page_attrs calls (the benchmark's own, plus the few of binding the device to it).
  const exact = res.code === 0 ? await profiledWindow(ctx, res, checks, 'dma-map-calls') : undefined;
  if (exact) files[PROFILE_FILE] = exact.table;
  if (timed.kind === 'contended' && res.code === 0) {
    if (!exact) return { outcome: { state: 'failed', failure: { kind: 'host-contention', message: timed.message } }, extra: { ...base, files } };
    return { outcome: { state: 'passed', metrics: exact.metrics }, extra: { ...base, files, profile: exact.record, checks: [...checks, { name: 'timing-dropped', ok: false, detail: `${timed.message}; the exact counts of the last attempt stand` }] } };
  }
  if (signal?.aborted) throw new InterruptedError(`${target.name}: interrupted during ${task.cell.id} ${repId(task.rep)}`);
  files['dma_map_benchmark.txt'] = res.stdout;
  if (res.stderr) files['stderr.txt'] = res.stderr;
  if (res.code !== 0) {
    const known = SCRIPT_EXITS[res.code];
    return fail(new DmaMapBenchmarkError(known ? `${known.message} (${target.name})` : `dma_map_benchmark exited with ${res.code}`, { detail: res.stderr, ...(known ? { fix: known.fix } : {}) }), files);
  }
  try {
    const out = parseDmaMap(res.stdout);
    if (out.threads !== job.threads || out.seconds !== job.runtime || out.granule !== job.granule) {
      throw new DmaMapBenchmarkError(`the benchmark ran threads ${out.threads}, seconds ${out.seconds}, granule ${out.granule}; the cell asked for ${job.threads}, ${job.runtime}, ${job.granule}`);
    }
    return { outcome: { state: 'passed', metrics: { ...dmaMapMetrics(out), ...exact?.metrics } }, extra: { ...base, files, ...(exact ? { profile: exact.record } : {}), checks: [...(timed.kind === 'measured' ? timed.checks : []), ...checks, givenBack(res.stderr)] } };
  } catch (e) {
    return fail(e, files);
  }
}
