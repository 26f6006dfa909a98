/**
 * The plain-text report, for email: at most 72 columns, one table per workload
 * relative to a reference configuration (the untranslated one, or the one the
 * user names), the timing change with its 95 % interval and verdict, the exact
 * counts per I/O beside it, the latency shift, then the versions and the
 * command that measures it again. Tables the way IOMMU series quote their
 * numbers on the mailing lists.
 */
import { type Comparison } from '../compare/index.js';
import { fmtNum, fmtPct } from '../format.js';
import { quantileName, LATENCY_QUANTILES } from '../latency.js';
import type { CellStats, Report } from './model.js';
import { NETWORK_IO_NOTE } from './markdown.js';

export const TEXT_WIDTH = 72;

/** Exact (or traced) counts per I/O shown beside the timing, first two a run has, with their column heads. */
const COUNT_COLUMNS: readonly (readonly [metric: string, head: string])[] = [
  ['insn_iommu_per_io', 'insn/IO'],
  ['calls_sync_inval_per_io', 'inval/IO'],
  ['calls_dma_map_per_io', 'maps/IO'],
  ['iotlb_sync_flush_per_io', 'flush/IO'],
  ['dma_map_per_io', 'maps/IO'],
];

/** Words filled into lines of at most `width` columns, continuation lines indented. */
export function wrap(text: string, width = TEXT_WIDTH, indent = '  '): string[] {
  const out: string[] = [];
  let line = '';
  for (const word of text.split(/\s+/).filter(Boolean)) {
    if (line && line.length + 1 + word.length > width) {
      out.push(line);
      line = indent + word;
    } else {
      line = line ? `${line} ${word}` : word;
    }
  }
  if (line) out.push(line);
  return out;
}

/**
 * A shell command that fits: continued with a backslash between words, so a
 * paste still runs. A word too long for a line (a results path) is cut with a
 * backslash at the end and goes on at column 0: the shell removes
 * backslash-newline even inside a word.
 */
export function wrapCommand(command: string, width = TEXT_WIDTH, indent = '  '): string[] {
  const out: string[] = [];
  let line = '';
  for (const word of command.split(' ')) {
    const start = line ? `${line} ` : indent;
    if (start.length + word.length + 2 <= width || (!line && word.length + indent.length <= width)) {
      line = `${start}${word}`;
      continue;
    }
    if (line && `${indent}    ${word}`.length + 2 <= width) {
      out.push(`${line} \\`);
      line = `${indent}    ${word}`;
      continue;
    }
    // Cut the word itself: the first piece after what the line holds, the rest at column 0.
    let rest = word;
    let head = start;
    while (head.length + rest.length + 2 > width) {
      const room = Math.max(1, width - head.length - 1);
      out.push(`${head}${rest.slice(0, room)}\\`);
      rest = rest.slice(room);
      head = '';
    }
    line = `${head}${rest}`;
  }
  if (line) out.push(line);
  return out;
}

const pad = (s: string, n: number) => (s.length > n ? `${s.slice(0, n - 1)}…` : s.padEnd(n));
const lpad = (s: string, n: number) => (s.length > n ? s.slice(0, n) : s.padStart(n));

/** "−3.2% [−6.1,+0.4]": the change and its interval, compact. */
function change(c: Comparison): string {
  const pct = (r: number) => `${r >= 1 ? '+' : '-'}${Math.abs((r - 1) * 100).toFixed(1)}`;
  if (!Number.isFinite(c.ratio)) return 'n/a';
  // An exact test with few repetitions may not reach 95 %: starred, and said below the tables.
  if (Number.isFinite(c.lower) && Number.isFinite(c.upper)) return `${pct(c.ratio)}% [${pct(c.lower)},${pct(c.upper)}]${c.confidence < 0.949 ? '*' : ''}`;
  return `${pct(c.ratio)}% (no CI)`;
}

function countCell(cell: CellStats | undefined, metric: string): string {
  const m = cell?.metrics[metric];
  return m ? fmtNum(m.median) : '-';
}

/** The timing metric a group's table leads with: IOPS for fio, else the first timing metric it has. */
function leadMetric(r: Report, cs: readonly Comparison[]): string | undefined {
  const timings = r.metrics.filter((m) => m.kind === 'timing').map((m) => m.name);
  const have = new Set(cs.filter((c) => c.metricKind === 'timing').map((c) => c.metric));
  return have.has('iops') ? 'iops' : timings.find((m) => have.has(m));
}

function groupTable(r: Report, group: string, reference: string): string[] {
  const cells = r.cells.filter((c) => c.group === group).sort((a, b) => a.configOrder - b.configOrder);
  const refCell = cells.find((c) => c.config === reference);
  const cs = r.reference.set.comparisons.filter((c) => c.group === group);
  const lead = leadMetric(r, cs);
  const desc = r.metrics.find((m) => m.name === lead);
  const counts = COUNT_COLUMNS.filter(([m]) => cells.some((c) => c.metrics[m])).slice(0, 2);
  const virtual = cells.some((c) => c.timebase === 'virtual');
  const out: string[] = [];
  out.push(...wrap(`== ${group}: relative to ${reference} ==`));
  // config 19 | change 21 | verdict 12 | two counts of 9: 72 columns.
  const head2 = `${pad('', 19)} ${pad(lead ? `${lead}${virtual ? ' (virtual)' : ''}` : '', 21)} ${pad('', 12)}${counts.length ? lpad('IOMMU path', 9 * counts.length) : ''}`;
  // A network group's I/Os are packets.
  const unit = (h: string) => (cells.some((c) => c.tool === 'network') ? h.replace('inval', 'sync').replace('flush', 'flsh').replace('/IO', '/pkt') : h);
  const head = `${pad('config', 19)} ${pad('change [95% CI]', 21)} ${pad('verdict', 12)}${counts.map(([, h]) => lpad(unit(h), 9)).join('')}`;
  out.push(head2.trimEnd(), head.trimEnd(), '-'.repeat(Math.min(TEXT_WIDTH, head.trimEnd().length)));
  for (const cell of cells) {
    const countCols = counts.map(([m]) => lpad(countCell(cell, m), 9)).join('');
    if (cell === refCell) {
      const v = lead ? cell.metrics[lead] : undefined;
      out.push(`${pad(cell.config, 19)} ${pad(v ? `${fmtNum(v.median)} ${desc?.unit ?? ''}`.trim() : '-', 21)} ${pad('reference', 12)}${countCols}`.trimEnd());
      continue;
    }
    const c = cs.find((x) => x.cell === cell.cell && x.metric === lead);
    out.push(`${pad(cell.config, 19)} ${pad(c ? change(c) : 'not compared', 21)} ${pad(c ? c.verdict : '-', 12)}${countCols}`.trimEnd());
  }
  const shifts = r.latency.shifts.filter((s) => s.group === group);
  if (shifts.length) {
    const names = LATENCY_QUANTILES.map(quantileName);
    out.push('', `completion latency against ${reference} (${names.join(' / ')}):`);
    for (const s of shifts) {
      out.push(`  ${pad(s.config, 19)}${names.map((k) => lpad(fmtPct(s.ratios[k]!.ratio), 10)).join('')}`.trimEnd());
    }
  }
  // What could not be compared, counted (the HTML and Markdown list them).
  const left = r.reference.set.leftOut.filter((l) => cells.some((c) => c.cell === l.cell)).length;
  if (left) out.push(...wrap(`(${left} comparison${left === 1 ? '' : 's'} left out: see the Markdown summary)`));
  return out;
}

export function renderText(r: Report): string {
  const out: string[] = [];
  out.push(...wrap(`iommu-lab: ${r.run.scenario} (${r.run.id})`));
  out.push(...wrap(r.headline.text));
  const v = r.versions;
  out.push(...wrap(`kernel ${v.kernels.join(', ') || 'unknown'}; QEMU ${v.qemu.join(', ') || 'n/a'}; ${v.clocks.join(', ')}`));
  out.push(...wrap(`${r.cells.length} cells, ${r.run.repetitions.timing} timing repetitions each; CI: 95 %, verdicts at alpha ${r.modes.thresholds.alpha} (Benjamini-Hochberg), min effect ${r.modes.thresholds.min_effect_pct} %`));
  const groups = [...new Set(r.cells.map((c) => c.group))].sort();
  for (const g of groups) {
    const reference = r.reference.byGroup[g];
    if (!reference) continue;
    out.push('', ...groupTable(r, g, reference));
  }
  out.push('');
  const noInterval = r.reference.set.comparisons.some((c) => c.metricKind === 'timing' && !(Number.isFinite(c.lower) && Number.isFinite(c.upper)));
  if (r.reference.set.comparisons.some((c) => c.metricKind === 'timing' && Number.isFinite(c.lower) && c.confidence < 0.949)) out.push(...wrap('*: an interval at the confidence its test can reach with these repetitions, below 95 % (the HTML report gives it).'));
  if (noInterval) out.push(...wrap('(no CI): no interval for that timing here, the sides ran in different boots and nothing yet tells how much boots differ (boots: 2 in the VM profile, or the scenario\'s history, gives one). Exact counts need none.'));
  if (r.cells.some((c) => c.timebase === 'virtual')) out.push(...wrap('Timings marked (virtual) are guest virtual time: the guest\'s own work per I/O, not device latency (docs/timing.md).'));
  if (r.cells.some((c) => c.tool === 'network')) out.push(...wrap(NETWORK_IO_NOTE));
  if (r.cells.some((c) => Object.keys(c.metrics).some((m) => m.startsWith('insn_') || m.startsWith('calls_')))) out.push(...wrap('Counts per I/O: exact, from the lab\'s QEMU plugin (docs/profiler.md).'));
  if (r.failures.length) {
    out.push(...wrap(`Failed repetitions (${r.failures.length}): ${r.failures.slice(0, 8).map((f) => `${f.cell} ${f.rep} (${f.kind})`).join('; ')}${r.failures.length > 8 ? '; …' : ''}`));
  }
  out.push('Reproduce:', ...wrapCommand(r.reproduce.sweep));
  if (r.reproduce.cell) out.push('One cell:', ...wrapCommand(r.reproduce.cell));
  return `${out.join('\n').trimEnd()}\n`;
}
