/**
 * The HTML report in a real headless Chromium: every chart renders (an SVG
 * each), no script errors, every configuration's label drawn in every chart
 * that has categories, latency distributions per configuration, a chart saved
 * as PNG and SVG, the headline with the exit code, the change point and the
 * regression on the page.
 */
import { existsSync } from 'node:fs';
import { cp, mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeSyntheticRun } from '../../../analysis/synthetic.js';
import { labPath } from '../../../core/paths.js';
import { loadScenarioFile } from '../../../scenario/load.js';
import { runCli } from '../../helpers/run-cli.js';
import { writeIn } from '../../helpers/tmp.js';

const CHROMIUM = process.env['CHROMIUM'] ?? '/usr/bin/chromium';
let browser: Browser;
let dir: string;

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: apt-get install chromium (scripts/setup.sh --test does)`);
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  dir = await mkdtemp(join(tmpdir(), 'iommu-lab-report-'));
});
afterAll(async () => {
  await browser?.close();
  await rm(dir, { recursive: true, force: true });
});

/** A run's HTML report in a new page, once its charts are drawn, with the page's script and console errors. */
async function openReport(runDir: string): Promise<{ page: Page; errors: string[] }> {
  const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
  await page.goto(`file://${join(runDir, 'report', 'report.html')}`);
  await page.waitForSelector('body[data-charts]');
  return { page, errors };
}

const SCENARIO = `name: nightly-syn
seed: 1
repetitions: 8
workloads:
  - { name: rr, rw: randread, bs: 4k, iodepth: [1, 16, 64], runtime: 10 }
iommu:
  - device: intel
    mode: [passthrough, lazy, strict]
  - device: virtio
    mode: lazy
targets:
  vms:
    - name: t
      disks: [{ name: nvme0, bus: nvme }]
tracing: { scripts: [iotlb-invalidations], repetitions: 1 }
metrics: [iops, clat_p50_us, clat_p99_us, iotlb_sync_flush_per_io]
thresholds: { alpha: 0.05, min_effect_pct: 3, max_cv_pct: 10 }
`;

describe('the HTML report in headless Chromium', () => {
  it('renders every chart without a script error, with the regression and the change point', async () => {
    const scenario = await loadScenarioFile(await writeIn(dir, 's.yaml', SCENARIO));
    const root = join(dir, 'results');
    await mkdir(root, { recursive: true });
    const cost: Record<string, number> = { 'intel-passthrough': 1, 'intel-lazy': 0.95, 'intel-strict': 0.8, 'virtio-lazy': 0.9 };
    const qd = (cell: string) => Number(/qd(\d+)/.exec(cell)![1]);
    let last = '';
    let first = '';
    for (let night = 0; night < 9; night++) {
      // From night 7 on, strict at qd64 loses 8 %.
      const step = (cell: string) => (night >= 7 && cell === 'rr.qd64__intel-strict__t__nvme0' ? 0.92 : 1);
      last = await writeSyntheticRun({
        root, scenario, seed: 100 + night, created: new Date(Date.UTC(2026, 10, 1 + night, 2)), cvPct: 2,
        level: (cell, config) => 3000 * Math.log2(2 * qd(cell)) * cost[config]! * step(cell),
        flushesPerIo: (c) => ({ 'intel-passthrough': 0, 'intel-lazy': 0.0065, 'intel-strict': 1, 'virtio-lazy': 0.01 })[c]!,
        latencyHistograms: night === 8,
      });
      if (night === 0) first = last;
    }
    expect((await runCli('baseline', 'set', first)).code).toBe(0);
    const r = await runCli('report', last);
    expect(r.code, r.stderr).toBe(1);
    expect(r.stdout).toContain('REGRESSION rr.qd64__intel-strict__t__nvme0 iops');

    const { page, errors } = await openReport(last);
    expect(errors).toEqual([]);
    const charts = Number(await page.getAttribute('body', 'data-charts'));
    const svgs = await page.locator('.chart > div > svg').count();
    // effects + (IOPS + counts) and latency (CDF + tail) per group (3 groups) + 1 scaling chart + trends.
    expect(charts).toBeGreaterThanOrEqual(1 + 3 * 4 + 1 + 1);
    expect(svgs).toBe(charts);
    // Every configuration named under every bar chart (none skipped), in rank order, each in its own colour.
    const configs = ['intel-passthrough', 'intel-lazy', 'intel-strict', 'virtio-lazy'];
    const costCharts = page.locator('#cost .chart');
    expect(await costCharts.count()).toBe(6);
    for (let i = 0; i < 6; i++) {
      const texts = await costCharts.nth(i).locator('svg text').allTextContents();
      const labels = texts.filter((t) => configs.includes(t));
      expect(labels, texts.join(' | ')).toEqual(configs);
      expect(texts).toContain('IOMMU configuration');
    }
    const barColours = await page.evaluate("echarts.getInstanceByDom(document.querySelector('#cost .chart')).getOption().series[0].data.map(function (d) { return d.itemStyle.color; })");
    expect(barColours).toEqual(['#4292c6', '#e6850e', '#c0281f', '#9e6bd6']);
    // Latency: a CDF and a tail chart per group, a line per configuration, p50/p99/p99.9 marked, and the shift table.
    const latency = page.locator('#latency .chart');
    expect(await latency.count()).toBe(6);
    const legend = await latency.first().locator('svg text').allTextContents();
    for (const c of configs) expect(legend).toContain(c);
    expect(legend).toEqual(expect.arrayContaining(['p50', 'p99', 'p99.9']));
    expect(await page.locator('section:has(#latency) table tbody tr').count()).toBe(3 * 3);
    // A chart taken away: the PNG button's download is a PNG, and the chart renders as a standalone SVG.
    const [download] = await Promise.all([
      page.waitForEvent('download'),
      page.evaluate("echarts.getInstanceByDom(document.querySelector('#cost .chart')).getOption().toolbox[0].feature.myPng.onclick()"),
    ]);
    expect(download.suggestedFilename()).toMatch(/^iops-rr\.qd1__t__nvme0\.png$/);
    const png = await readFile((await download.path())!);
    expect(png.subarray(1, 4).toString('latin1')).toBe('PNG');
    const svg = String(await page.evaluate("echarts.getInstanceByDom(document.querySelector('#cost .chart')).renderToSVGString()"));
    expect(svg).toMatch(/^<svg[^>]*xmlns="http:\/\/www\.w3\.org\/2000\/svg"/);
    expect(svg).toContain('>intel-strict<');
    expect(await page.locator('.banner.bad').textContent()).toMatch(/^Regression(;.*)? \(exit 1\)$/);
    expect(await page.locator('tr.regression').count()).toBeGreaterThan(0);
    // Evaluated in the page (a string, so the test's TypeScript needs no DOM types).
    const trendTitles = await page.evaluate("echarts.getInstanceByDom(document.querySelector('#trends .chart')).getOption().title[0].text");
    expect(trendTitles).toBe('IOPS · rr.qd64__intel-strict__t__nvme0');
    if (process.env['REPORT_SCREENSHOT']) await page.screenshot({ path: process.env['REPORT_SCREENSHOT'], fullPage: true });
    await page.close();
  });

  it('draws a stored real quick run: every configuration named, the plugin\'s work, a latency CDF per configuration, the headline with its exit code', async () => {
    // A copy: the report is written into the run directory.
    const run = join(dir, 'stored', '2026-12-07T06-27-50Z-quick-7623');
    await cp(labPath('test/fixtures/runs/2026-12-07T06-27-50Z-quick-7623'), run, { recursive: true });
    const r = await runCli('report', run, '--baseline', 'none');
    expect(r.code, r.stderr).toBe(0);
    const { page, errors } = await openReport(run);
    expect(errors).toEqual([]);
    const configs = ['intel-passthrough', 'intel-lazy', 'intel-strict', 'virtio-lazy'];
    // The IOPS and events charts: every bar named, in rank order.
    const cost = page.locator('#cost .chart');
    expect(await cost.count()).toBe(2);
    for (let i = 0; i < 2; i++) expect((await cost.nth(i).locator('svg text').allTextContents()).filter((t) => configs.includes(t))).toEqual(configs);
    // Where the work goes (server-side SVG): each configuration's bar labelled.
    const work = (await page.locator('section').first().textContent()) ?? '';
    for (const c of configs) expect(work).toContain(c);
    // Completion latency: the CDF and the tail, a line per configuration.
    const latency = page.locator('#latency .chart');
    expect(await latency.count()).toBe(2);
    for (let i = 0; i < 2; i++) {
      const texts = await latency.nth(i).locator('svg text').allTextContents();
      for (const c of configs) expect(texts).toContain(c);
    }
    expect(await page.locator('.banner').textContent()).toBe('No regression; 12 comparisons inconclusive (exit 0)');
    await page.close();
  });
});
