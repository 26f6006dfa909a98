import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { cdfPoints, histogramOfFio, latencyShifts, mergeHistograms, quantile, quantileName, totalOf, type LatencyCell } from '../../../analysis/latency.js';
import { labPath } from '../../../core/paths.js';

const fixture = (name: string) => readFileSync(labPath('test/fixtures/fio', name), 'utf8');

describe('completion-latency histograms from fio json+ output', () => {
  it("reads a real run's bins and finds fio's own percentiles in them", () => {
    const text = fixture('randread-4k-qd16-libaio.json');
    const h = histogramOfFio(text)!;
    const fio = (JSON.parse(text) as { jobs: { read: { clat_ns: { N: number; percentile: Record<string, number> } } }[] }).jobs[0]!.read.clat_ns;
    expect(totalOf(h)).toBe(fio.N);
    // The same rule as fio's: the first bucket where the I/Os so far reach the quantile.
    for (const [q, key] of [[0.5, '50.000000'], [0.9, '90.000000'], [0.99, '99.000000'], [0.999, '99.900000']] as const) expect(quantile(h, q), key).toBe(fio.percentile[key]);
  });

  it('adds the reads and writes of every job (a mixed workload, two jobs)', () => {
    const h = histogramOfFio(fixture('randrw-70-4k-qd8-j2.json'))!;
    expect(totalOf(h)).toBe(117498 + 50291 + 111081 + 47683);
    for (let i = 1; i < h.length; i++) expect(h[i]![0]).toBeGreaterThan(h[i - 1]![0]);
  });

  it('is undefined for output without bins, or not JSON', () => {
    expect(histogramOfFio('{"jobs":[{"read":{"clat_ns":{"N":0}}}]}')).toBeUndefined();
    expect(histogramOfFio('fio: not json')).toBeUndefined();
  });

  it('merges histograms by adding counts per bucket', () => {
    expect(mergeHistograms([[[10, 1], [20, 2]], [[20, 3], [5, 1]]])).toEqual([[5, 1], [10, 1], [20, 5]]);
  });

  it('thins the CDF in the body and keeps the tail whole, ending at 1', () => {
    const h = histogramOfFio(fixture('randread-4k-qd16-libaio.json'))!;
    const cdf = cdfPoints(h, 100);
    expect(cdf.at(-1)![1]).toBe(1);
    for (let i = 1; i < cdf.length; i++) {
      expect(cdf[i]![0]).toBeGreaterThan(cdf[i - 1]![0]);
      expect(cdf[i]![1]).toBeGreaterThanOrEqual(cdf[i - 1]![1]);
    }
    const tailBuckets = h.filter((_, i) => mergeHistograms([h.slice(0, i + 1)]).reduce((s, [, n]) => s + n, 0) / totalOf(h) > 0.99).length;
    expect(cdf.filter(([, f]) => f > 0.99)).toHaveLength(tailBuckets);
    expect(cdf.length).toBeLessThan(h.length);
  });

  it('names the quantiles as reports do', () => {
    expect([0.5, 0.9, 0.99, 0.999].map(quantileName)).toEqual(['p50', 'p90', 'p99', 'p999']);
  });

  it('shifts every configuration against the reference, with the spread over boots', () => {
    const cell = (config: string, boots: number[]): LatencyCell => ({
      cell: `rr__${config}`, group: 'rr', config, configOrder: config === 'intel-passthrough' ? 11 : 13, timebase: 'wall', ios: 100,
      quantiles: { p50: boots.reduce((a, b) => a + b, 0) / boots.length, p90: 1, p99: 1, p999: 1 },
      boots: boots.map((p50, i) => ({ boot: String(i), ios: 50, quantiles: { p50, p90: 1, p99: 1, p999: 1 }, cdf: [] })),
    });
    const shifts = latencyShifts([cell('intel-passthrough', [10]), cell('intel-strict', [11, 13])], new Map([['rr', 'intel-passthrough']]));
    expect(shifts).toHaveLength(1);
    expect(shifts[0]).toMatchObject({ config: 'intel-strict', reference: 'intel-passthrough', ratios: { p50: { ratio: 1.2, min: 1.1, max: 1.3 }, p99: { ratio: 1, min: 1, max: 1 } } });
  });
});
