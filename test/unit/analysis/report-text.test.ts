/**
 * The plain-text report for email: 72 columns, one table per workload relative
 * to the reference configuration, the headline that matches the exit code.
 * Golden file: test/fixtures/report/synthetic-text.txt (UPDATE_GOLDEN=1 writes it).
 */
import { existsSync, readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadLatency } from '../../../analysis/latency.js';
import { loadRun } from '../../../analysis/load.js';
import { buildReport } from '../../../analysis/report/model.js';
import { renderText, TEXT_WIDTH, wrapCommand } from '../../../analysis/report/text.js';
import { writeSyntheticRun } from '../../../analysis/synthetic.js';
import { labPath } from '../../../core/paths.js';
import { loadScenarioFile } from '../../../scenario/load.js';
import { useTmpDir, writeIn } from '../../helpers/tmp.js';

const tmp = useTmpDir();

const SCENARIO = `name: mail
seed: 1
repetitions: 6
workloads:
  - { name: rr, rw: randread, bs: 4k, iodepth: 16, runtime: 5 }
  - { name: sw, rw: write, bs: 128k, iodepth: 4, runtime: 5 }
iommu:
  - device: intel
    mode: [passthrough, lazy, strict]
  - device: virtio
    mode: lazy
targets:
  vms:
    - { name: v, boots: 2, disks: [{ name: nvme0, bus: nvme }] }
tracing: { scripts: [iotlb-invalidations], repetitions: 1 }
metrics: [iops, clat_p99_us, iotlb_sync_flush_per_io]
thresholds: { alpha: 0.05, min_effect_pct: 2, max_cv_pct: 10 }
`;

const LEVEL: Record<string, number> = { 'intel-passthrough': 10000, 'intel-lazy': 9600, 'intel-strict': 8200, 'virtio-lazy': 9000 };
const FLUSHES: Record<string, number> = { 'intel-passthrough': 0, 'intel-lazy': 0.0065, 'intel-strict': 1, 'virtio-lazy': 0.01 };

async function report(o: { reference?: string; failures?: boolean } = {}) {
  const dir = await tmp();
  const scenario = await loadScenarioFile(await writeIn(dir, 'mail.yaml', SCENARIO));
  const runDir = await writeSyntheticRun({
    root: join(dir, 'results'), scenario, seed: 9, created: new Date('2026-12-07T02:00:00Z'), cvPct: 1, bootSdPct: 0.5,
    level: (_c, config) => LEVEL[config]!, flushesPerIo: (c) => FLUSHES[c]!, latencyHistograms: true,
  });
  const run = await loadRun(runDir);
  const r = buildReport(run, { latency: await loadLatency(run), ...(o.reference ? { reference: o.reference } : {}) });
  const raw = renderText(r);
  // For the golden file: the temporary directory named, and a path cut by wrapCommand joined again.
  return { r, raw, text: raw.replace(/\\\n/g, '').replaceAll(runDir, '<RUN>').replaceAll(dir, '<DIR>') };
}

/** A real quick sweep (this machine, 2026-12-07: tcg clock, the plugin, one boot, two repetitions a configuration; profile.tsv cut to its first 200 functions). */
const STORED_RUN = labPath('test/fixtures/runs/2026-12-07T06-27-50Z-quick-7623');

describe('the plain-text report of a stored real run', () => {
  it('fits in 72 columns and gives the exact counts beside the timings, as golden', async () => {
    const run = await loadRun(STORED_RUN);
    expect(run.problems).toEqual([]);
    const r = buildReport(run, { latency: await loadLatency(run) });
    const raw = renderText(r);
    for (const l of raw.trimEnd().split('\n')) expect(l.length, l).toBeLessThanOrEqual(TEXT_WIDTH);
    expect(raw).toContain('kernel 6.12.95+deb12-amd64; QEMU 10.0.2; tcg clock');
    // The plugin's counts: IOMMU-path instructions and synchronous invalidations per I/O.
    expect(raw).toMatch(/^intel-passthrough +\d+ IO\/s +reference +131\.0 +0$/m);
    expect(raw).toMatch(/^intel-strict +-\d+\.\d% \(no CI\) +inconclusive +2273 +1\.000$/m);
    expect(raw).toMatch(/^\(no CI\): no interval for that timing here/m);
    const text = raw.replace(/\\\n/g, '').replaceAll(STORED_RUN, '<RUN>');
    const golden = labPath('test/fixtures/report/quick-text.txt');
    if (process.env['UPDATE_GOLDEN'] || !existsSync(golden)) writeFileSync(golden, text);
    expect(text).toBe(readFileSync(golden, 'utf8'));
  });
});

describe('the plain-text report', () => {
  it('fits in 72 columns, with a table per workload relative to the untranslated configuration', async () => {
    const { r, raw, text } = await report();
    const lines = raw.trimEnd().split('\n');
    for (const l of lines) expect(l.length, l).toBeLessThanOrEqual(TEXT_WIDTH);
    expect(lines[1]).toBe(r.headline.text);
    expect(text).toContain('== rr__v__nvme0: relative to intel-passthrough ==');
    expect(text).toContain('== sw__v__nvme0: relative to intel-passthrough ==');
    expect(text).toMatch(/^intel-passthrough +\d+ IO\/s +reference +0 +1\.000$/m);
    // Strict: 18 % fewer IOPS, a regression against the reference, one synchronous invalidation per I/O beside it.
    expect(text).toMatch(/^intel-strict +-1[78]\.\d% \[-\d+\.\d,-\d+\.\d\] +regression +1\.000 +1\.000$/m);
    expect(text).toMatch(/^completion latency against intel-passthrough \(p50 \/ p90 \/ p99 \/ p999\):$/m);
    expect(text).toMatch(/^ {2}intel-strict +\+\d+\.\d %/m);
    expect(text).toContain('Reproduce:\n  iommu-lab sweep <DIR>/mail.yaml');
    const golden = labPath('test/fixtures/report/synthetic-text.txt');
    if (process.env['UPDATE_GOLDEN'] || !existsSync(golden)) {
      mkdirSync(dirname(golden), { recursive: true });
      writeFileSync(golden, text);
    }
    expect(text).toBe(readFileSync(golden, 'utf8'));
  });

  it('makes the tables relative to the configuration the user names', async () => {
    const { text } = await report({ reference: 'intel-lazy' });
    expect(text).toContain('== rr__v__nvme0: relative to intel-lazy ==');
    expect(text).toMatch(/^intel-lazy +\d+ IO\/s +reference/m);
    expect(text).toMatch(/^intel-passthrough +\+\d+\.\d% \[/m);
  });

  it('continues a long command with backslashes so that a paste still runs it', () => {
    const cmd = `iommu-lab repro /tmp/iommu-lab-test-AbCdEf/results/2026-12-07T02-00-00Z-quick-1a2b/${'x'.repeat(90)}__intel-strict__q__nvme0`;
    const lines = wrapCommand(cmd);
    for (const l of lines) expect(l.length, l).toBeLessThanOrEqual(TEXT_WIDTH);
    // What the shell reads: backslash-newline removed, words split on blanks.
    expect(lines.join('\n').replace(/\\\n/g, '').trim().split(/\s+/)).toEqual(cmd.split(' '));
    expect(wrapCommand('iommu-lab sweep scenarios/quick.yaml')).toEqual(['  iommu-lab sweep scenarios/quick.yaml']);
  });
});
