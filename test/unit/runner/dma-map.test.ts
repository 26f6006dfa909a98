/**
 * The DMA-map benchmark as a workload: the scenario's validation (what it
 * needs and where it may run), its expansion into cells, its repetitions (no
 * traced ones), the tool's arguments, and the parser on outputs saved from real
 * guests (test/fixtures/dma-map/).
 */
import { readdirSync, readFileSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { expand } from '../../../cell/expand.js';
import { isDmaMapJob } from '../../../cell/types.js';
import { labRequirements } from '../../../guest-images/kernel/config.js';
import { dmaMapArgs, givenBack } from '../../../runner/dma-map.js';
import { dmaMapMetrics, parseDmaMap } from '../../../runner/dma-map-parse.js';
import { interleave } from '../../../runner/order.js';
import { loadScenarioFile } from '../../../scenario/load.js';
import { rejected } from '../../helpers/rejected.js';
import { useTmpDir, writeIn } from '../../helpers/tmp.js';

const F = join(import.meta.dirname, '../../fixtures/dma-map');
const REAL_HEADER = readFileSync(join(import.meta.dirname, '../../fixtures/kernel/bzImage-6.1-tiny.head'));
const tmp = useTmpDir();

/** A built tree as the lab sees it (see kernel.test.ts), with or without the benchmark. */
async function fakeTree(withBenchmark: boolean): Promise<string> {
  const dir = await tmp();
  await mkdir(join(dir, 'arch/x86/boot'), { recursive: true });
  await mkdir(join(dir, 'include/config'), { recursive: true });
  await writeFile(join(dir, 'arch/x86/boot/bzImage'), REAL_HEADER);
  const options = labRequirements().map((r) => r.option).filter((o) => withBenchmark || o !== 'CONFIG_DMA_MAP_BENCHMARK');
  await writeFile(join(dir, '.config'), options.map((o) => `${o}=y`).join('\n') + '\n');
  await writeFile(join(dir, 'include/config/kernel.release'), '6.1.192\n');
  return dir;
}

const SCENARIO = (o: { kernel?: string; kernels?: string; fioDisks?: string; dmaDisks?: string; metrics?: string; threads?: string } = {}) => `name: d
workloads:
  - { name: rr, rw: randread, bs: 4k${o.fioDisks ? `, disks: ${o.fioDisks}` : ''} }
  - { kind: dma-map-benchmark, name: dmamap, threads: ${o.threads ?? '[1, 4]'}, granule: 1, runtime: 5${o.dmaDisks ? `, disks: ${o.dmaDisks}` : ''} }
iommu:
  - device: intel
    mode: [strict, lazy]
${o.kernels ?? ''}targets:
  vms:
    - name: g
      kernel: ${o.kernel ?? 'mine'}
      disks: [{ name: nvme0, bus: nvme }, { name: nvme1, bus: nvme }]
${o.metrics ?? ''}`;

const problems = async (text: string): Promise<string> => rejected(loadScenarioFile(await writeIn(await tmp(), 's.yaml', text)), 'the scenario');

describe('a dma-map-benchmark workload in a scenario', () => {
  it('expands threads and granule like fio\'s lists, runs no traced repetition, and gets the benchmark\'s metrics by default', async () => {
    const tree = await fakeTree(true);
    const loaded = await loadScenarioFile(await writeIn(await tmp(), 's.yaml', SCENARIO({ kernels: `kernels:\n  - { name: mine, path: ${tree} }\n`, fioDisks: '[nvme0]', dmaDisks: '[nvme1]' }) + 'tracing: { scripts: [iotlb-invalidations], repetitions: 1 }\n'));
    expect(loaded.scenario.metrics).toEqual(['iops', 'bw_mib_s', 'clat_p50_us', 'clat_p99_us', 'cpu_sys_pct', 'dmabench_map_us', 'dmabench_unmap_us']);
    const plan = expand(loaded);
    const dma = plan.cells.filter((c) => isDmaMapJob(c.job));
    expect(dma.map((c) => c.id)).toEqual([
      'dmamap.t1__intel-strict__g__nvme1', 'dmamap.t4__intel-strict__g__nvme1',
      'dmamap.t1__intel-lazy__g__nvme1', 'dmamap.t4__intel-lazy__g__nvme1',
    ]);
    expect(dma[1]!.job).toEqual({ kind: 'dma-map-benchmark', workload: 'dmamap', threads: 4, granule: 1, runtime: 5, dma_bits: 32, direction: 'bidirectional', transmit_delay_ns: 0 });
    // The fio cells are as before (no kind in their job), with a traced repetition each; the benchmark's cells have none.
    const order = interleave(plan.cells, plan.repetitions, 1);
    const tasks = [...order.values()].flat();
    expect(tasks.filter((t) => t.rep.kind === 'traced').every((t) => !isDmaMapJob(t.cell.job))).toBe(true);
    expect(tasks.filter((t) => isDmaMapJob(t.cell.job)).length).toBe(4 * 5);
    expect(plan.cells.find((c) => !isDmaMapJob(c.job))!.job).not.toHaveProperty('kind');
  });

  it('refuses a kernel without CONFIG_DMA_MAP_BENCHMARK (Debian\'s, or a build without it), naming the option and the fragment', async () => {
    const debian = await problems(SCENARIO({ kernel: '"6.12"', fioDisks: '[nvme0]', dmaDisks: '[nvme1]' }));
    expect(debian).toMatch(/targets\.vms\[0\]\.kernel: a dma-map-benchmark workload runs on this profile, but Debian's 6\.12 kernel is built without CONFIG_DMA_MAP_BENCHMARK/);
    expect(debian).toMatch(/fix: build your own with iommu-lab kernel build \(its fragment guest-images\/kernel\/lab\.config sets the option\)/);
    const tree = await fakeTree(false);
    const own = await problems(SCENARIO({ kernels: `kernels:\n  - { name: mine, path: ${tree} }\n`, fioDisks: '[nvme0]', dmaDisks: '[nvme1]' }));
    expect(own).toMatch(/kernels\[0\]\.path: .*\.config lacks 1 option the lab needs:\n.*CONFIG_DMA_MAP_BENCHMARK is not set: the dma-map-benchmark workload/);
    // Without the workload the same build is fine: the option is needed only for it.
    const fioOnly = SCENARIO({ kernels: `kernels:\n  - { name: mine, path: ${tree} }\n` }).replace(/  - \{ kind: dma-map-benchmark.*\n/, '');
    await expect(loadScenarioFile(await writeIn(await tmp(), 's.yaml', fioOnly))).resolves.toBeDefined();
  });

  it('refuses a disk that fio also uses, a metric no workload produces, and says what kind may be', async () => {
    const tree = await fakeTree(true);
    const kernels = `kernels:\n  - { name: mine, path: ${tree} }\n`;
    const shared = await problems(SCENARIO({ kernels }));
    expect(shared).toMatch(/workloads\[1\]: shares disk nvme0, nvme1 with the fio workload "rr" \(workloads\[0\]\): the benchmark takes a disk's device from its driver/);
    const dmaOnly = SCENARIO({ kernels, dmaDisks: '[nvme1]', metrics: 'metrics: [iops, dmabench_unmap_us]\n' }).replace(/  - \{ name: rr.*\n/, '');
    expect(await problems(dmaOnly)).toMatch(/metrics\[0\]: iops comes from fio, but no workload runs fio, so nothing would produce it/);
    const typo = await problems(SCENARIO({ kernels }).replace('kind: dma-map-benchmark', 'kind: dmamap'));
    expect(typo).toMatch(/workloads\[1\]\.kind: .*\n\s+fix: kind is fio \(the default: a fio job\), dma-map-benchmark .* or network/);
    const range = await problems(SCENARIO({ kernels, fioDisks: '[nvme0]', dmaDisks: '[nvme1]', threads: '2000' }));
    expect(range).toMatch(/workloads\[1\]\.threads/);
  });
});

describe('the benchmark tool', () => {
  it('gets the cell\'s parameters as the selftest tool takes them', () => {
    expect(dmaMapArgs({ kind: 'dma-map-benchmark', workload: 'w', threads: 4, granule: 16, runtime: 5, dma_bits: 48, direction: 'from-device', transmit_delay_ns: 100 }))
      .toEqual(['-t', '4', '-s', '5', '-g', '16', '-b', '48', '-d', '2', '-x', '100']);
  });

  it('is parsed from outputs saved from real guests into the described metrics', () => {
    const files = readdirSync(F).filter((f) => f.endsWith('.txt'));
    expect(files.length).toBeGreaterThan(0);
    for (const f of files) {
      const out = parseDmaMap(readFileSync(join(F, f), 'utf8'));
      expect(out.threads, f).toBeGreaterThan(0);
      const m = dmaMapMetrics(out);
      expect(Object.keys(m).sort()).toEqual(['dmabench_map_sd_us', 'dmabench_map_us', 'dmabench_unmap_sd_us', 'dmabench_unmap_us']);
      for (const v of Object.values(m)) expect(Number.isFinite(v) && v >= 0, f).toBe(true);
    }
  });

  it("reads from the script's stderr whether the device went back to its driver", () => {
    expect(givenBack('x\niommu-lab: 0000:00:13.0 given back: driver nvme (was nvme), /dev/lab/nvme1 -> /dev/nvme1n1\n')).toEqual({ name: 'device-given-back', ok: true, detail: '0000:00:13.0: driver nvme (was nvme), /dev/lab/nvme1 -> /dev/nvme1n1' });
    expect(givenBack('iommu-lab: 0000:00:13.0 given back: driver none (was nvme), /dev/lab/nvme1 -> \n').ok).toBe(false);
    expect(givenBack('').ok).toBe(false);
  });

  it('says what is missing from an output it cannot read', () => {
    expect(() => parseDmaMap('open: No such file or directory\n')).toThrow(/printed no header line/);
    expect(() => parseDmaMap('dma mapping benchmark: threads:1 seconds:5 node:-1 dir:BIDIRECTIONAL granule: 1\n')).toThrow(/printed no map latency line/);
  });
});
