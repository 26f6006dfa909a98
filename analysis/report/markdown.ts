/** The Markdown summary: short enough for a CI comment, with every regression and what was left out. */
import { rankingText } from '../advice.js';
import { type Comparison } from '../compare/index.js';
import { fmtEffect, fmtNum, fmtP, fmtPct } from '../format.js';
import { newlyConfirmedWorse, type Report } from './model.js';
import { workMarkdown } from './work.js';
import { LATENCY_QUANTILES, quantileLabel, quantileName } from '../latency.js';

const esc = (s: string) => s.replace(/\|/g, '\\|');

/** What a reader must know about virtual-time timings, said once per report where any cell has them. */
/** Said wherever a report with network cells shows counts per I/O. */
export const NETWORK_IO_NOTE = 'For network workloads an I/O is a packet on the test link: the packets its two NICs sent during the workload (tx_packets), so a count per I/O there is per packet; per-MiB counts are per MiB the NICs sent. Drivers count TSO super-frames differently (docs/network.md): compare NIC models per MiB.';
export const VIRTUAL_TIME_NOTE = 'Timings of cells on the virtual clock are guest virtual time (a fixed instruction-count clock, instant test disks): they count the guest\'s own work per I/O — DMA API, IOMMU driver, invalidation submission and wait as the guest sees them — and leave out device latency, the silicon cost of an IOTLB invalidation, the vIOMMU emulation inside QEMU and lock contention between vCPUs (docs/timing.md). They are never compared with wall-clock timings.';

const metricLabel = (c: Comparison) => (c.timebase === 'virtual' && c.metricKind === 'timing' ? `${c.metric} (virtual)` : c.metric);

function row(c: Comparison): string {
  const ci = c.metricKind === 'count' ? `${fmtNum(c.ref.median)} → ${fmtNum(c.cand.median)} /IO` : fmtEffect(c);
  return `| \`${c.cell}\` | ${c.label} | ${metricLabel(c)} | ${ci} | ${fmtP(c.q)} | **${c.verdict}** | ${esc(c.reason)} |`;
}

function counts(cs: readonly Comparison[]): string {
  const n = (v: string) => cs.filter((c) => c.verdict === v).length;
  return `${n('regression')} regression, ${n('improvement')} improvement, ${n('no-change')} no change, ${n('inconclusive')} inconclusive`;
}

export function renderMarkdown(r: Report): string {
  const out: string[] = [];
  out.push(`## ${r.headline.state === 'clean' ? '✅' : '❌'} ${r.headline.text} — ${r.run.scenario} (${r.run.id})`, '');
  out.push(`${r.cells.length} cells, ${r.run.repetitions.timing} timing + ${r.run.repetitions.traced} traced repetitions each; α = ${r.modes.thresholds.alpha} (Benjamini–Hochberg over the matrix), minimum effect ${r.modes.thresholds.min_effect_pct} %, noisy above CV ${r.modes.thresholds.max_cv_pct} %.`, '');
  out.push(...workMarkdown(r.work));
  if (r.cells.some((c) => c.timebase === 'virtual')) out.push(VIRTUAL_TIME_NOTE, '');
  if (r.cells.some((c) => c.tool === 'network')) out.push(NETWORK_IO_NOTE, '');
  if (r.baseline) {
    const cs = r.baseline.set.comparisons;
    out.push(`### Against the baseline ${r.baseline.id}`, '', counts(cs), '');
    const shown = cs.filter((c) => c.verdict === 'regression' || c.verdict === 'improvement');
    if (shown.length) {
      out.push('| cell | comparison | metric | change [95 % CI] | q | verdict | why |', '| --- | --- | --- | --- | --- | --- | --- |', ...shown.map(row), '');
    }
    const unsure = cs.filter((c) => c.verdict === 'inconclusive');
    if (unsure.length) out.push(`<details><summary>${unsure.length} inconclusive</summary>`, '', '| cell | comparison | metric | change [CI] | q | verdict | why |', '| --- | --- | --- | --- | --- | --- | --- |', ...unsure.map(row), '', '</details>', '');
  } else {
    out.push('No baseline: set one with `iommu-lab baseline set RUN` to get regressions.', '');
  }
  out.push('### What each IOMMU configuration costs', '');
  for (const f of r.findings) out.push(`- **${f.label}** (\`${f.group}\`): ${f.summary}`);
  out.push('');
  if (r.advice.length) {
    out.push('### Advice per workload', '');
    for (const a of r.advice) {
      out.push(`- \`${a.group}\`: **${a.recommendation}**${a.next ? ` — measure next: ${a.next}` : ''}`);
      for (const m of a.ranking) out.push(`  - ${rankingText(a, m)}`);
    }
    out.push('');
  }
  if (r.latency.shifts.length) {
    // The completion-latency distribution against the reference, quantile by quantile (fio's json+ histograms).
    out.push('### Completion latency against the reference', '', `| group | configuration | ${LATENCY_QUANTILES.map(quantileLabel).join(' | ')} |`, `| --- | --- | ${LATENCY_QUANTILES.map(() => '---').join(' | ')} |`);
    for (const x of r.latency.shifts) out.push(`| \`${x.group}\` | ${x.config} vs ${x.reference} | ${LATENCY_QUANTILES.map((q) => fmtPct(x.ratios[quantileName(q)]!.ratio)).join(' | ')} |`);
    out.push('');
  }
  if (r.kernelFindings.length) {
    out.push('### Kernels compared (within each IOMMU configuration)', '');
    for (const f of r.kernelFindings) out.push(`- **${f.label}** (\`${f.group}\`): ${f.summary}`);
    out.push('');
  }
  if (r.costs.length) {
    out.push('### Where the time goes', '');
    for (const c of r.costs) out.push(`- \`${c.group}\` ${c.summary}`);
    out.push('');
  }
  if (r.crossChecks.length) {
    out.push('### Emulated against real hosts', '');
    for (const x of r.crossChecks) out.push(`- ${x.sameSign && x.magnitudesAgree ? '✅' : '⚠️'} \`${x.workload}\` ${x.summary}`);
    out.push('');
  }
  const costRows = r.modes.comparisons.filter((c) => c.verdict !== 'no-change');
  if (costRows.length) out.push('<details><summary>All configuration comparisons</summary>', '', '| cell | comparison | metric | change [CI] | q | verdict | why |', '| --- | --- | --- | --- | --- | --- | --- |', ...costRows.map(row), '', '</details>', '');
  const confirmed = r.trends.filter((t) => t.changes.points.length > 0);
  const drifting = r.trends.filter((t) => t.changes.drifts.length > 0 || t.changes.outliers.length > 0);
  const suspects = r.trends.filter((t) => t.changes.latest.state === 'suspect');
  if (r.trends.length) {
    out.push(`### History (${Math.max(...r.trends.map((t) => t.nights.length))} runs)`, '');
    if (!confirmed.length && !suspects.length && !drifting.length) out.push('No change points.', '');
    for (const t of confirmed) for (const p of t.changes.points) out.push(`- change point: \`${t.cell}\` ${t.metric} ${Number.isNaN(p.ratio) ? `${p.delta >= 0 ? '+' : ''}${fmtNum(p.delta)}` : fmtPct(p.ratio)} from ${p.run} (${p.nights} nights at the new level, p ${fmtP(p.p)})${newlyConfirmedWorse(t) && p === t.changes.points.at(-1) ? ' — **new regression**' : ''}`);
    for (const t of r.trends) for (const d of t.changes.drifts) out.push(`- drift: \`${t.cell}\` ${t.metric} ${d.perNight >= 0 ? '+' : ''}${t.changes.scale === 'log' ? `${d.perNight.toFixed(2)} % a night (${fmtPct(d.totalRatio)} over ${d.to - d.from + 1} runs)` : `${fmtNum(d.perNight)} a night`} from ${t.nights[d.from]?.run ?? d.from}`);
    for (const t of r.trends) if (t.changes.outliers.length) out.push(`- single bad night${t.changes.outliers.length > 1 ? 's' : ''}, set aside: \`${t.cell}\` ${t.metric} ${t.changes.outliers.map((i) => t.nights[i]?.run ?? i).join(', ')}`);
    for (const t of suspects) out.push(`- suspect (latest night only, unconfirmed): \`${t.cell}\` ${t.metric} ${fmtPct(t.changes.latest.ratio ?? 1)}`);
    out.push('');
  }
  const noisy = r.cells.filter((c) => Object.entries(c.metrics).some(([m, s]) => r.metrics.find((x) => x.name === m)?.kind === 'timing' && s.cvPct > r.modes.thresholds.max_cv_pct));
  if (noisy.length) out.push(`### Noisy cells (CV above ${r.modes.thresholds.max_cv_pct} %: not trusted)`, '', ...noisy.map((c) => `- \`${c.cell}\`: ${Object.entries(c.metrics).filter(([, s]) => s.cvPct > r.modes.thresholds.max_cv_pct).map(([m, s]) => `${m} CV ${s.cvPct.toFixed(1)} %`).join(', ')}`), '');
  if (r.failures.length) out.push(`### Failed repetitions (${r.failures.length})`, '', ...r.failures.slice(0, 50).map((f) => `- \`${f.cell}\` ${f.rep}: ${f.kind}: ${esc(f.message.split('\n')[0]!)}`), '');
  const leftOut = [...(r.baseline?.set.leftOut ?? []), ...r.modes.leftOut, ...r.kernels.leftOut];
  if (leftOut.length) out.push(`### Left out (${leftOut.length})`, '', ...leftOut.slice(0, 50).map((l) => `- \`${l.cell}\`${l.metric ? ` ${l.metric}` : ''}: ${l.reason}`), '');
  if (r.problems.length) out.push(`### Problems reading the results (${r.problems.length})`, '', ...r.problems.map((p) => `- \`${p.file}\`: ${p.message}`), '');
  return `${out.join('\n').trimEnd()}\n`;
}
