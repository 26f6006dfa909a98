import { readFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { parseProfileTable, profileTable } from '../../../result/profile-table.js';
import { attribute, callsOf } from '../../../runner/profile/attribute.js';
import { windowIos } from '../../../runner/profile/disk-stats.js';
import { exactMetrics } from '../../../runner/profile/guest.js';
import { KernelSymbols } from '../../../runner/profile/kallsyms.js';
import { parseWindow } from '../../../runner/profile/window.js';

const kallsyms = gunzipSync(readFileSync(new URL('../../fixtures/profiler/intel-strict-6.12/kallsyms.txt.gz', import.meta.url))).toString('utf8');
const symbols = KernelSymbols.parse(kallsyms);
const addr = (name: string) => BigInt(`0x${new RegExp(`^([0-9a-f]+) [tT] ${name.replace(/\./g, '\\.')}(\\s|$)`, 'm').exec(kallsyms)![1]}`);
const hex = (x: bigint) => x.toString(16);

/** A window as profile.c writes it: 1,000 I/Os of intel strict's map and invalidation, some block layer, user code. */
function windowText(o: { truncated?: boolean } = {}): string {
  const lines = [
    '# iommu-lab-profile window', 'seq\t3', 'vcpus\t2', 'mode\tinline', 'slots\t40\t524288',
    'user\t5000000',
    // qi_submit_sync: one entry block of 20 instructions per call, then a loop block of 12 run 20 times per call.
    `b\t${hex(addr('qi_submit_sync'))}\t20\t1000`, `b\t${hex(addr('qi_submit_sync') + 64n)}\t12\t20000`,
    `b\t${hex(addr('dma_map_page_attrs'))}\t15\t1000`, `b\t${hex(addr('dma_map_page_attrs') + 40n)}\t36\t1000`,
    `b\t${hex(addr('pfn_to_dma_pte'))}\t10\t3000`,
    `b\t${hex(addr('alloc_iova_fast'))}\t60\t1000`,
    `b\t${hex(addr('blk_mq_start_request'))}\t30\t1000`,
    `b\t${hex(addr('default_idle'))}\t5\t777`,
    // An address below every symbol: unattributed.
    'b\tffff800000000000\t4\t10',
    'overflow\t100',
  ];
  return `${lines.join('\n')}\n${o.truncated ? '' : 'end\n'}`;
}

describe('the plugin window, attributed', () => {
  it('counts instructions per function and calls only at its first address', () => {
    const w = parseWindow(windowText());
    expect(w).toMatchObject({ seq: 3, vcpus: 2, mode: 'inline', userInsns: 5_000_000, overflowInsns: 100 });
    const p = attribute(w, symbols);
    const qi = p.functions.find((f) => f.name === 'qi_submit_sync')!;
    expect(qi).toMatchObject({ subsystem: 'iommu-driver', insns: 20 * 1000 + 12 * 20000, calls: 1000 });
    expect(p.functions.find((f) => f.name === 'dma_map_page_attrs')).toMatchObject({ insns: 51_000, calls: 1000 });
    expect(callsOf(p, ['qi_submit_sync', 'viommu_sync_req'])).toBe(1000);
    expect(p.bySubsystem).toMatchObject({ 'iommu-driver': 260_000, 'dma-api': 51_000, 'page-tables': 30_000, iova: 60_000, block: 30_000, idle: 3885, user: 5_000_000, unknown: 140 });
  });

  it('turns a window into exact metrics per I/O, the idle loop left out', () => {
    const p = attribute(parseWindow(windowText()), symbols);
    const m = exactMetrics(p, 1000);
    expect(m['insn_iommu_per_io']).toBe(260 + 51 + 30 + 60);
    expect(m['calls_sync_inval_per_io']).toBe(1);
    expect(m['calls_dma_map_per_io']).toBe(1);
    expect(m['calls_iova_alloc_per_io']).toBe(1);
    expect(m['insn_user_per_io']).toBe(5000);
    expect(m['calls_iommu_faults']).toBe(0);
  });

  it('refuses a window file cut short', () => {
    expect(() => parseWindow(windowText({ truncated: true }))).toThrow(/truncated/);
    expect(() => parseWindow('hello\n')).toThrow(/not an iommu-lab-profile window/);
  });

  it('keeps the per-function profile as a table that reads back the same', () => {
    const p = attribute(parseWindow(windowText()), symbols);
    const rows = parseProfileTable(profileTable(p));
    expect(rows.find((r) => r.name === 'qi_submit_sync')).toEqual({ name: 'qi_submit_sync', subsystem: 'iommu-driver', insns: 260_000, calls: 1000 });
    expect(rows.find((r) => r.name === '[user]')?.insns).toBe(5_000_000);
  });
});

describe("the window's I/Os from the test disks' block statistics", () => {
  // /sys/class/block/nvme0n1/stat read by detached.sh before and after a real window (6.12, NVMe multipath head).
  const before = '/dev/lab/nvme0    32792        0   262336      588        0        0        0        0        0      160      588        0        0        0        0        0        0\n';
  const after = '/dev/lab/nvme0    57522        0   460176      760        0        0        0        0        0      244      760        0        0        0        0        0        0\n';
  it('is reads plus writes completed between the readings', () => {
    expect(windowIos(before, after)).toBe(24_730);
    expect(windowIos(`${before}/dev/lab/vd0 10 0 0 0 5 0 0 0 0 0 0\n`, `${after}/dev/lab/vd0 20 0 0 0 9 0 0 0 0 0 0\n`)).toBe(24_730 + 14);
  });
  it('is unknown when a disk is missing from either reading', () => {
    expect(windowIos(before, '')).toBeUndefined();
    expect(windowIos('', '')).toBeUndefined();
  });
});

describe('a real window (6.12, intel strict, fio 4k randread qd16 3 s + 1 s ramp, tcg clock, 2 vCPUs)', () => {
  const dir = new URL('../../fixtures/profiler/intel-strict-6.12/', import.meta.url);
  const file = (f: string) => readFileSync(new URL(f, dir));
  const real = attribute(parseWindow(gunzipSync(file('window.tsv.gz')).toString('utf8')), KernelSymbols.parse(gunzipSync(file('kallsyms.txt.gz')).toString('utf8')));
  const ios = windowIos(file('stat.before').toString('utf8'), file('stat.after').toString('utf8'))!;

  it('holds every I/O of the window, the ramp included, and one synchronous invalidation of 260 instructions each', () => {
    // 28,247 I/Os after the ramp (fio's total_ios), 40,387 with it: the window holds both.
    expect(ios).toBe(40_387);
    const qi = real.functions.find((f) => f.name === 'qi_submit_sync')!;
    expect(qi.calls).toBe(ios);
    expect(qi.insns / qi.calls).toBe(260);
    expect(callsOf(real, ['dma_map_page_attrs'])).toBe(ios);
  });

  it('attributes nearly every kernel instruction to a function', () => {
    const kernel = Object.entries(real.bySubsystem).filter(([s]) => s !== 'user').reduce((t, [, v]) => t + v, 0);
    expect(real.bySubsystem.unknown / kernel).toBeLessThan(0.001);
  });
});
