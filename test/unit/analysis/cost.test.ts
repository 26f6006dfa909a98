import { describe, expect, it } from 'vitest';
import { compareRuns, pairFindings, compareModes } from '../../../analysis/compare/index.js';
import { costDecomposition } from '../../../analysis/cost.js';
import { renderMarkdown } from '../../../analysis/report/markdown.js';
import { buildReport } from '../../../analysis/report/model.js';
import { intelModesRun } from '../../helpers/intel-modes-run.js';
import { useTmpDir } from '../../helpers/tmp.js';

const tmp = useTmpDir();

async function run(clock: string, seed = 3) {
  return intelModesRun({ dir: await tmp(), name: 'vt', repetitions: 5, clock, boots: 2, scripts: ['iotlb-invalidations', 'dma-map-latency'], metrics: ['iops', 'iotlb_sync_flush_per_io', 'dma_map_per_io'], seed, created: '2026-11-25T02:00:00Z' });
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

  it('gives no cost per event from counts not proven complete, and says why', async () => {
    const r = await run('virtual');
    // As runs recorded before the lab checked attachment and missed events: no `complete` on their traces.
    const unproven = { ...r, reps: new Map([...r.reps].map(([cell, reps]) => [cell, reps.map((x) => ({ ...x, tracing: Object.fromEntries(Object.entries(x.tracing ?? {}).map(([k, t]) => [k, { probes: t.probes, skipped: t.skipped }])) }))])) };
    const steps = costDecomposition(unproven);
    expect(steps.length).toBeGreaterThan(0);
    for (const s of steps) {
      expect(s.nsPerEvent).toBeUndefined();
      expect(s.countsMissing).toMatch(/did not prove their (iotlb-invalidations|dma-map-latency) counts complete/);
      expect(s.summary).toContain('no cost per');
    }
  });

  it('compares virtual-clock counts proven complete as exact, and unproven ones over repetitions', async () => {
    const r = await run('virtual');
    const proven = compareModes(r).comparisons.filter((c) => c.metric === 'iotlb_sync_flush_per_io' && c.label === 'intel-strict vs intel-passthrough');
    expect(proven.length).toBe(1);
    expect(proven[0]!.reason).not.toContain('counted only part');
    expect(proven[0]!.verdict).not.toBe('inconclusive');
    const unproven = { ...r, reps: new Map([...r.reps].map(([cell, reps]) => [cell, reps.map((x) => ({ ...x, tracing: {} }))])) };
    const c = compareModes(unproven).comparisons.find((x) => x.metric === 'iotlb_sync_flush_per_io' && x.label === 'intel-strict vs intel-passthrough')!;
    expect(c.reason).toContain('may have counted only part of their I/Os');
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
    expect(md).toContain('### Where the time goes');
    expect(md).toContain('guest virtual time');
  });

  it('never compares virtual-time timings with a wall-clock baseline (counts still are)', async () => {
    const set = compareRuns(await run('tcg', 4), await run('virtual', 5));
    expect(set.comparisons.filter((c) => c.metricKind === 'timing')).toEqual([]);
    expect(set.comparisons.some((c) => c.metric === 'iotlb_sync_flush_per_io')).toBe(true);
    expect(set.leftOut.find((l) => l.metric === 'iops')!.reason).toContain('the baseline measured wall time and this run virtual time');
  });
});
