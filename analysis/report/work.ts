/**
 * "Where the work goes", rendered once for both formats: the QEMU plugin's
 * instructions per I/O by subsystem (a stacked bar per configuration, as
 * inline SVG: no script needed) and the functions that differ most between
 * two configurations.
 */
import { SUBSYSTEMS, type SubsystemId } from '../../core/subsystems.js';
import type { CellWork, WorkDiff, WorkReport } from '../work.js';

const SHOWN = SUBSYSTEMS.filter((s) => s.id !== 'idle');
const COLOURS: Readonly<Record<SubsystemId, string>> = {
  'page-tables': '#c0392b', 'iommu-driver': '#e67e22', iova: '#f1c40f', 'dma-api': '#d35400',
  block: '#2980b9', 'device-driver': '#16a085', kernel: '#7f8c8d', idle: '#dddddd', user: '#8e44ad', unknown: '#bdc3c7',
};

const h = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
const n0 = (x: number) => Math.round(x).toLocaleString('en-US');
const n2 = (x: number) => (Math.abs(x) >= 100 ? n0(x) : x.toFixed(2));
export const iommuPathOf = (c: CellWork) => SUBSYSTEMS.filter((s) => s.iommuPath).reduce((t, s) => t + c.perIo[s.id], 0);
const groupsOf = (w: WorkReport) => [...new Set(w.cells.map((c) => c.group))];

/** One SVG of stacked horizontal bars per workload group. */
function bars(cells: readonly CellWork[]): string {
  const total = (c: CellWork) => SHOWN.reduce((t, s) => t + c.perIo[s.id], 0);
  const max = Math.max(...cells.map(total), 1);
  const W = 760;
  const label = 150;
  const rowH = 26;
  const rows = cells.map((c, i) => {
    let x = label;
    const y = 8 + i * rowH;
    const segs = SHOWN.map((s) => {
      // Room after the longest bar for its total and IOMMU-path figure.
      const w = ((W - label - 170) * c.perIo[s.id]) / max;
      const r = w > 0 ? `<rect x="${x.toFixed(1)}" y="${y}" width="${w.toFixed(1)}" height="${rowH - 8}" fill="${COLOURS[s.id]}"><title>${h(s.title)}: ${n2(c.perIo[s.id])} instructions per I/O</title></rect>` : '';
      x += w;
      return r;
    }).join('');
    return `<text x="${label - 6}" y="${y + 13}" text-anchor="end" font-size="12">${h(c.config)}</text>${segs}<text x="${(x + 6).toFixed(1)}" y="${y + 13}" font-size="11">${n0(total(c))} (IOMMU ${n0(iommuPathOf(c))})</text>`;
  }).join('');
  const legendY = 12 + cells.length * rowH;
  const legend = SHOWN.map((s, i) => `<rect x="${label + (i % 5) * 120}" y="${legendY + Math.floor(i / 5) * 16}" width="10" height="10" fill="${COLOURS[s.id]}"/><text x="${label + 14 + (i % 5) * 120}" y="${legendY + 9 + Math.floor(i / 5) * 16}" font-size="11">${h(s.title)}</text>`).join('');
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${legendY + 40}" role="img" aria-label="instructions per I/O by subsystem">${rows}${legend}</svg>`;
}

function diffHtml(d: WorkDiff): string {
  const rows = d.rows.map((r) => `<tr><td><code>${h(r.name)}</code>${r.module ? ` <span class="muted">[${h(r.module)}]</span>` : ''}</td><td>${h(r.subsystem)}</td><td>${n2(r.a)}</td><td>${n2(r.b)}</td><td><b>${r.delta > 0 ? '+' : ''}${n2(r.delta)}</b></td><td>${r.callsA.toFixed(3)} → ${r.callsB.toFixed(3)}</td></tr>`).join('');
  return `<h3>${h(d.b)} against ${h(d.a)} <span class="muted">(${h(d.group)}; Δ over all functions ${d.total > 0 ? '+' : ''}${n0(d.total)} instructions per I/O)</span></h3><table><thead><tr><th>function</th><th>subsystem</th><th>${h(d.a)}</th><th>${h(d.b)}</th><th>Δ</th><th>calls per I/O</th></tr></thead><tbody>${rows}</tbody></table>`;
}

export function workHtml(w: WorkReport): string {
  if (!w.cells.length) return '';
  const per = groupsOf(w).map((g) => `<h3><code>${h(g)}</code></h3>${bars(w.cells.filter((c) => c.group === g))}`).join('');
  return `<section id="work"><h2>Where the work goes (instructions per I/O, counted by the QEMU plugin)</h2>
<p class="muted">Guest instructions per I/O of each repetition's workload, by the subsystem the executed code belongs to (docs/profiler.md); the mean over ${w.cells[0]!.reps} repetitions of ${w.cells[0]!.boots} boot(s) per configuration. Exact: the same figure on a busy host and on any clock. The idle loop is left out.</p>
${per}${w.diffs.map(diffHtml).join('')}</section>`;
}

export function workMarkdown(w: WorkReport): string[] {
  if (!w.cells.length) return [];
  const out = ['### Where the work goes (instructions per I/O, QEMU plugin)', ''];
  for (const g of groupsOf(w)) {
    out.push(`\`${g}\``, '', `| configuration | IOMMU path | ${SHOWN.map((s) => s.title).join(' | ')} |`, `| --- | --- | ${SHOWN.map(() => '---').join(' | ')} |`);
    for (const c of w.cells.filter((x) => x.group === g)) out.push(`| ${c.config} | **${n2(iommuPathOf(c))}** | ${SHOWN.map((s) => n2(c.perIo[s.id])).join(' | ')} |`);
    out.push('');
  }
  for (const d of w.diffs) {
    out.push(`<details><summary>${d.b} against ${d.a}: Δ ${d.total > 0 ? '+' : ''}${n0(d.total)} instructions per I/O; the functions that differ most</summary>`, '', '| function | subsystem | ' + d.a + ' | ' + d.b + ' | Δ | calls per I/O |', '| --- | --- | --- | --- | --- | --- |');
    for (const r of d.rows.slice(0, 12)) out.push(`| \`${r.name}\`${r.module ? ` [${r.module}]` : ''} | ${r.subsystem} | ${n2(r.a)} | ${n2(r.b)} | ${r.delta > 0 ? '+' : ''}${n2(r.delta)} | ${r.callsA.toFixed(3)} → ${r.callsB.toFixed(3)} |`);
    out.push('', '</details>', '');
  }
  return out;
}
