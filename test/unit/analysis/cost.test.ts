import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { compareRuns, pairFindings, compareModes } from '../../../analysis/compare.js';
import { costDecomposition } from '../../../analysis/cost.js';
import { loadRun } from '../../../analysis/load.js';
import { renderMarkdown } from '../../../analysis/report/markdown.js';
import { buildReport } from '../../../analysis/report/model.js';
import { writeSyntheticRun } from '../../../analysis/synthetic.js';
import { loadScenarioFile } from '../../../scenario/load.js';
import { useTmpDir, writeIn } from '../../helpers/tmp.js';

const tmp = useTmpDir();

const SCENARIO = (clock: string) => `name: vt
seed: 1
repetitions: 5
workloads:
  - { name: rr, rw: randread, bs: 4k, iodepth: 16, runtime: 5 }
iommu:
  - device: intel
    mode: [passthrough, lazy, strict]
targets:
  vms:
    - { name: v, clock: ${clock}, boots: 2, disks: [{ name: nvme0, bus: nvme }] }
tracing: { scripts: [iotlb-invalidations, dma-map-latency], repetitions: 1 }
metrics: [iops, iotlb_sync_flush_per_io, dma_map_per_io]
thresholds: { alpha: 0.05, min_effect_pct: 2, max_cv_pct: 2 }
`;

// The figures measured by hand under the virtual clock (issue and docs/timing.md).
const LEVEL: Record<string, number> = { 'intel-passthrough': 10910, 'intel-lazy': 9320, 'intel-strict': 8960 };
const FLUSHES: Record<string, number> = { 'intel-passthrough': 0, 'intel-lazy': 0.0065, 'intel-strict': 1 };

async function run(clock: string, seed = 3, dirName = 'a') {
  const dir = await tmp();
  const scenario = await loadScenarioFile(await writeIn(dir, `${dirName}.yaml`, SCENARIO(clock)));
  return loadRun(await writeSyntheticRun({ root: join(dir, 'results'), scenario, seed, created: new Date('2026-11-25T02:00:00Z'), level: (_c, config) => LEVEL[config]!, cvPct: 0.1, flushesPerIo: (c) => FLUSHES[c]! }));
}

describe('cost decomposition (virtual time)', () => {
  it('says what a translated map and a synchronous invalidation cost, with intervals', async () => {
    const steps = costDecomposition(await run('virtual'));
    const sync = steps.find((s) => s.event === 'synchronous IOTLB invalidation')!;
    // 1e6/8960 − 1e6/9320 = 4.31 µs per I/O, over 0.9935 more invalidations per I/O.
    expect(sync.deltaUs).toBeCloseTo(4.31, 0);
    expect(sync.nsPerEvent! / 1000).toBeCloseTo(4.34, 0);
    expect(sync.nsLower!).toBeLessThan(sync.nsPerEvent!);
    expect(sync.nsUpper!).toBeGreaterThan(sync.nsPerEvent!);
    expect(sync.nsLower!).toBeGreaterThan(0);
    const map = steps.find((s) => s.event === 'translated DMA map')!;
    // 1e6/9320 − 1e6/10910 = 15.6 µs per I/O, one translated map per I/O.
    expect(map.deltaUs).toBeCloseTo(15.6, 0);
    expect(map.summary).toContain('intel-passthrough → intel-lazy');
  });

  it('is not made from wall-clock timings', async () => {
    expect(costDecomposition(await run('tcg'))).toEqual([]);
  });

  it('labels virtual-time timings in findings and reports, and ranks strict < lazy < passthrough with intervals that exclude zero', async () => {
    const r = await run('virtual');
    const modes = compareModes(r);
    const iops = modes.comparisons.filter((c) => c.metric === 'iops');
    expect(iops.length).toBe(3);
    for (const c of iops) {
      expect(c.timebase).toBe('virtual');
      expect(c.verdict).toBe('regression');
      expect(c.upper).toBeLessThan(1);
    }
    expect(pairFindings(modes).find((f) => f.label === 'intel-strict vs intel-lazy')!.summary).toMatch(/virtual-time iops -3\.\d %/);
    const md = renderMarkdown(buildReport(r));
    expect(md).toContain('### Where the time goes (virtual time)');
    expect(md).toContain('guest virtual time');
  });

  it('never compares virtual-time timings with a wall-clock baseline (counts still are)', async () => {
    const set = compareRuns(await run('tcg', 4, 'b'), await run('virtual', 5, 'c'));
    expect(set.comparisons.filter((c) => c.metricKind === 'timing')).toEqual([]);
    expect(set.comparisons.some((c) => c.metric === 'iotlb_sync_flush_per_io')).toBe(true);
    expect(set.leftOut.find((l) => l.metric === 'iops')!.reason).toContain('the baseline measured wall time and this run virtual time');
  });
});
