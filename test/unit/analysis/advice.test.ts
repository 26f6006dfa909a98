import { describe, expect, it } from 'vitest';
import { renderMarkdown } from '../../../analysis/report/markdown.js';
import { buildReport } from '../../../analysis/report/model.js';
import { HAND_LEVEL, intelModesRun } from '../../helpers/intel-modes-run.js';
import { useTmpDir } from '../../helpers/tmp.js';

const tmp = useTmpDir();

async function report(boots: number, level: Readonly<Record<string, number>>) {
  const run = await intelModesRun({ dir: await tmp(), name: 'adv', repetitions: 6, clock: 'virtual', boots, scripts: ['iotlb-invalidations'], metrics: ['iops', 'iotlb_sync_flush_per_io'], seed: 4, created: '2026-12-01T02:00:00Z', level });
  return buildReport(run);
}

describe('advice per workload', () => {
  it('ranks the modes by cost with intervals and isolation, and recommends with its reasoning (the figures measured by hand)', async () => {
    // Virtual-clock IOPS measured by hand (docs/timing.md): passthrough 10,910, lazy 9,320, strict 8,960.
    const r = await report(2, HAND_LEVEL);
    expect(r.advice).toHaveLength(1);
    const a = r.advice[0]!;
    expect(a).toMatchObject({ sound: true, reference: 'intel-passthrough', metric: 'iops', virtual: true });
    expect(a.ranking.map((m) => m.config)).toEqual(['intel-passthrough', 'intel-lazy', 'intel-strict']);
    expect(a.ranking[1]!.ratio).toBeCloseTo(9320 / 10910, 2);
    expect(a.ranking[2]!.syncPerIo).toBeCloseTo(1, 3);
    expect(a.ranking[0]!.isolation).toMatch(/^no isolation for DMA/);
    expect(a.recommendation).toMatch(/^lazy where the devices are trusted: lazy gives 85\.\d % \[85\.\d %, 85\.\d %\] of intel-passthrough's virtual-time .*; strict costs a further 3\.\d % \[3\.\d, 4\.\d\] \(1\.000 synchronous invalidations per I\/O\) to close the stale-IOTLB window/);
    expect(renderMarkdown(r)).toContain('### Advice per workload');
  });

  it('recommends strict when it costs no more than lazy', async () => {
    const r = await report(2, { 'intel-passthrough': 10910, 'intel-lazy': 9320, 'intel-strict': 9300 });
    expect(r.advice[0]!.recommendation).toMatch(/^strict: it costs no more than lazy here/);
  });

  it('gives no recommendation on data that cannot carry one, and says what to measure next', async () => {
    // One boot per configuration and no history: how much two boots differ is unknown.
    const r = await report(1, HAND_LEVEL);
    const a = r.advice[0]!;
    expect(a.sound).toBe(false);
    expect(a.recommendation).toMatch(/^no timing recommendation: intel-strict vs intel-lazy iops is inconclusive/);
    expect(a.next).toMatch(/boots: 2/);
    expect(renderMarkdown(r)).toMatch(/measure next: boots: 2/);
  });
});
