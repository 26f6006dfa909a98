/**
 * The HTML report: one self-contained file (ECharts inlined, data as JSON), so
 * it can be attached to a CI run or mailed and still open offline.
 * Charts: effect with its interval per comparison, what each configuration
 * costs (throughput and per-I/O counts), completion-latency distributions (CDF
 * and tail), scaling against iodepth/numjobs, and nightly trends with change
 * points. Every chart draws as SVG (each can be saved as SVG or PNG from its
 * toolbox), labels every category, and gives each configuration the same
 * colour and place everywhere (colors.ts; by rank within a device).
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { rankingText } from '../advice.js';
import { type Comparison } from '../compare/index.js';
import { fmtEffect, fmtNum, fmtP, fmtPct } from '../format.js';
import type { Report } from './model.js';
import { NETWORK_IO_NOTE, VIRTUAL_TIME_NOTE } from './markdown.js';
import { workHtml } from './work.js';
import { configColors } from './colors.js';
import { LATENCY_QUANTILES, quantileLabel, quantileName } from '../latency.js';

const require = createRequire(import.meta.url);
let echartsSource: string | undefined;
function echarts(): string {
  echartsSource ??= readFileSync(require.resolve('echarts/dist/echarts.min.js'), 'utf8');
  return echartsSource;
}

const h = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

function table(cs: readonly Comparison[]): string {
  if (!cs.length) return '<p class="muted">None.</p>';
  const rows = cs.map((c) => `<tr class="${c.verdict}"><td><code>${h(c.cell)}</code></td><td>${h(c.label)}</td><td>${h(c.metric)}${c.timebase === 'virtual' && c.metricKind === 'timing' ? ' <span class="muted">(virtual)</span>' : ''}</td><td>${c.metricKind === 'count' ? `${fmtNum(c.ref.median)} → ${fmtNum(c.cand.median)}` : `${fmtNum(c.ref.median)} → ${fmtNum(c.cand.median)}`} ${h(c.unit)}</td><td>${c.metricKind === 'count' ? (Number.isFinite(c.ratio) ? `×${fmtNum(c.ratio)}` : 'new') : `${h(fmtEffect(c))}${c.confidence < 0.949 ? ` <span class="muted">(${(c.confidence * 100).toFixed(0)} % CI)</span>` : ''}`}</td><td>${fmtP(c.q)}</td><td><b>${c.verdict}</b></td><td>${h(c.reason)}</td></tr>`);
  return `<table><thead><tr><th>cell</th><th>comparison</th><th>metric</th><th>medians</th><th>effect [95 % CI]</th><th>q</th><th>verdict</th><th>why</th></tr></thead><tbody>${rows.join('')}</tbody></table>`;
}

/** Quantile by quantile, candidate against the reference configuration, with the spread of the boots where there are several. */
function shiftTable(r: Report): string {
  const rows = r.latency.shifts.map((s) => `<tr><td><code>${h(s.group)}</code></td><td>${h(s.config)} vs ${h(s.reference)}</td>${LATENCY_QUANTILES.map((q) => {
    const x = s.ratios[quantileName(q)]!;
    return `<td>${h(fmtPct(x.ratio))}${x.min !== x.max ? ` <span class="muted">(boots ${h(fmtPct(x.min))} … ${h(fmtPct(x.max))})</span>` : ''}</td>`;
  }).join('')}</tr>`);
  return `<table><thead><tr><th>group</th><th>configuration</th>${LATENCY_QUANTILES.map((q) => `<th>${quantileLabel(q)}</th>`).join('')}</tr></thead><tbody>${rows.join('')}</tbody></table>`;
}

export function renderHtml(r: Report): string {
  const data = JSON.stringify({
    metrics: r.metrics,
    cells: r.cells,
    effects: (r.baseline?.set.comparisons ?? r.modes.comparisons).filter((c) => c.metricKind === 'timing' && Number.isFinite(c.lower) && Number.isFinite(c.upper)).map((c) => ({ cell: c.cell, label: c.label, metric: c.metric, timebase: c.timebase ?? 'wall', ratio: c.ratio, lower: c.lower, upper: c.upper, verdict: c.verdict, q: c.q })),
    effectsTitle: r.baseline ? `against the baseline ${r.baseline.id}` : 'between IOMMU configurations (candidate against the cheaper one)',
    trends: r.trends.map((t) => ({ cell: t.cell, metric: t.metric, nights: t.nights.map((n) => ({ run: n.run, created: n.created })), medians: t.changes.medians, points: t.changes.points, latest: t.changes.latest })),
    colors: configColors(),
    latency: r.latency.cells.map((c) => ({ cell: c.cell, group: c.group, config: c.config, configOrder: c.configOrder, timebase: c.timebase, ios: c.ios, quantiles: c.quantiles, boots: c.boots.map((b, i) => ({ boot: `boot ${i + 1}`, ios: b.ios, quantiles: b.quantiles, cdf: b.cdf })) })),
    shifts: r.latency.shifts,
  }).replace(/</g, '\\u003c');
  const banner = `<div class="banner ${r.headline.state === 'clean' ? 'good' : 'bad'}">${h(r.headline.text)}</div>`;
  const findings = r.findings.map((f) => `<li><b>${h(f.label)}</b> <code>${h(f.group)}</code>: ${h(f.summary)}</li>`).join('');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${h(r.title)}</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
body{font:14px/1.45 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:0;color:#1d2330;background:#f6f7f9}
header{background:#1d2330;color:#fff;padding:16px 28px}header h1{margin:0;font-size:20px}header p{margin:4px 0 0;color:#c9cfdb}
main{padding:8px 28px 40px;max-width:1400px}section{background:#fff;border:1px solid #e2e5ea;border-radius:8px;padding:14px 18px;margin:16px 0}
h2{font-size:16px;margin:0 0 10px}h3{font-size:14px;margin:14px 0 6px}.chart{width:100%;height:360px}.chart.tall{height:520px}.grid{display:grid;grid-template-columns:repeat(auto-fill,minmax(560px,1fr));gap:12px}
table{border-collapse:collapse;width:100%;font-size:12.5px}th,td{border-bottom:1px solid #eceef2;padding:4px 6px;text-align:left;vertical-align:top}
tr.regression td{background:#fdecec}tr.improvement td{background:#eaf7ee}tr.inconclusive td{color:#5b6270}.muted{color:#7a8190}
.banner{display:inline-block;padding:4px 12px;border-radius:14px;font-weight:600;margin:12px 0 0}.banner.bad{background:#d93a3a;color:#fff}.banner.good{background:#2e9d5b;color:#fff}
code{font-size:12px}
</style></head><body>
<header><h1>${h(r.title)}</h1><p>scenario <b>${h(r.run.scenario)}</b> · run ${h(r.run.id)} · ${h(r.run.created)} on ${h(r.run.host)} · lab ${h(r.run.labVersion)} · ${r.cells.length} cells × ${r.run.repetitions.timing} timing + ${r.run.repetitions.traced} traced repetitions${r.baseline ? ` · baseline ${h(r.baseline.id)}` : ''}</p>${banner}</header>
<main>
${workHtml(r.work)}
<section><h2>Findings per pair of IOMMU configurations</h2><ul>${findings || '<li class="muted">No pairs of configurations to compare.</li>'}</ul>
${r.cells.some((c) => c.timebase === 'virtual') ? `<p>${h(VIRTUAL_TIME_NOTE)}</p>` : ''}
${r.cells.some((c) => c.tool === 'network') ? `<p>${h(NETWORK_IO_NOTE)}</p>` : ''}
<p class="muted">Timings: Mann–Whitney U on repetitions, Hodges–Lehmann effect with the interval from the same test; counts: exact Poisson rate test; Benjamini–Hochberg at α = ${r.modes.thresholds.alpha}; minimum effect ${r.modes.thresholds.min_effect_pct} %; cells with CV above ${r.modes.thresholds.max_cv_pct} % are flagged noisy and not trusted.</p></section>
${r.costs.length ? `<section><h2>Where the time goes</h2><ul>${r.costs.map((c) => `<li><code>${h(c.group)}</code> ${h(c.summary)}</li>`).join('')}</ul></section>` : ''}
${r.crossChecks.length ? `<section><h2>Emulated against real hosts</h2><ul>${r.crossChecks.map((x) => `<li>${x.sameSign && x.magnitudesAgree ? '✅' : '⚠️'} <code>${h(x.workload)}</code> ${h(x.summary)}</li>`).join('')}</ul></section>` : ''}
<section><h2>Effect with 95 % interval, ${h(r.baseline ? `against the baseline ${r.baseline.id}` : 'between IOMMU configurations')}</h2><div id="effects" class="chart tall"></div></section>
<section><h2>What each configuration costs</h2><div id="cost" class="grid"></div></section>
<section><h2>Completion latency: distribution and tail</h2><p class="muted">From fio's completion-latency histograms (json+ bins), the repetitions of a boot merged; dots mark p50, p99 and p99.9. Tail: the fraction of I/Os slower than a latency, on a log axis.</p><div id="latency" class="grid"></div>${r.latency.shifts.length ? `<h3>Shift of the distribution against the reference</h3>${shiftTable(r)}` : ''}</section>
<section id="scaling-section"><h2>Scaling</h2><div id="scaling" class="grid"></div></section>
<section id="trends-section"><h2>Nightly history and change points</h2><div id="trends" class="grid"></div></section>
${r.baseline ? `<section><h2>Against the baseline ${h(r.baseline.id)}</h2>${table(r.baseline.set.comparisons)}</section>` : ''}
${r.advice.length ? `<section><h2>Advice per workload</h2><ul>${r.advice.map((a) => `<li><code>${h(a.group)}</code>: <b>${h(a.recommendation)}</b>${a.next ? ` — measure next: ${h(a.next)}` : ''}<ul>${a.ranking.map((m) => `<li>${h(rankingText(a, m))}</li>`).join('')}</ul></li>`).join('')}</ul></section>` : ''}
<section><h2>IOMMU configurations compared</h2>${table(r.modes.comparisons)}</section>
${r.kernels.comparisons.length ? `<section><h2>Kernels compared (within each IOMMU configuration)</h2><ul>${r.kernelFindings.map((f) => `<li><b>${h(f.label)}</b> <code>${h(f.group)}</code>: ${h(f.summary)}</li>`).join('')}</ul>${table(r.kernels.comparisons)}</section>` : ''}
${r.failures.length ? `<section><h2>Failed repetitions (${r.failures.length})</h2><table><tbody>${r.failures.map((f) => `<tr><td><code>${h(f.cell)}</code></td><td>${h(f.rep)}</td><td>${h(f.kind)}</td><td>${h(f.message)}</td></tr>`).join('')}</tbody></table></section>` : ''}
${[...(r.baseline?.set.leftOut ?? []), ...r.modes.leftOut].length ? `<section><h2>Left out</h2><ul>${[...(r.baseline?.set.leftOut ?? []), ...r.modes.leftOut].map((l) => `<li><code>${h(l.cell)}</code> ${h(l.metric ?? '')}: ${h(l.reason)}</li>`).join('')}</ul></section>` : ''}
${r.problems.length ? `<section><h2>Problems reading the results</h2><ul>${r.problems.map((p) => `<li><code>${h(p.file)}</code>: ${h(p.message)}</li>`).join('')}</ul></section>` : ''}
</main>
<script id="data" type="application/json">${data}</script>
<script>${echarts()}</script>
<script>${CLIENT}</script>
</body></html>
`;
}

/** The browser side: builds the charts from the embedded data. Plain ES2017, no build step. */
const CLIENT = String.raw`
(function () {
  var D = JSON.parse(document.getElementById('data').textContent);
  var COLORS = { regression: '#d93a3a', improvement: '#2e9d5b', 'no-change': '#5b7bd5', inconclusive: '#9aa1ad' };
  var charts = [];
  function mk(parent, cls) { var d = document.createElement('div'); d.className = 'chart' + (cls ? ' ' + cls : ''); parent.appendChild(d); return d; }
  function color(config) { return D.colors[config] || '#8c8c8c'; }
  // A picture to take away: the chart as SVG (what it is drawn as) or as PNG (the SVG drawn on a canvas at twice the size).
  function savePng(c, name) {
    var img = new Image();
    img.onload = function () {
      var cv = document.createElement('canvas'); cv.width = img.width * 2; cv.height = img.height * 2;
      var g = cv.getContext('2d'); g.fillStyle = '#fff'; g.fillRect(0, 0, cv.width, cv.height); g.scale(2, 2); g.drawImage(img, 0, 0);
      var a = document.createElement('a'); a.download = name + '.png'; a.href = cv.toDataURL('image/png'); a.click();
    };
    img.src = 'data:image/svg+xml;charset=utf-8,' + encodeURIComponent(c.renderToSVGString());
  }
  function chart(el, opt, name) {
    var c = echarts.init(el, null, { renderer: 'svg' });
    var file = (name || 'iommu-lab-chart').replace(/[^A-Za-z0-9_.-]+/g, '_');
    opt.animation = false;
    opt.backgroundColor = '#fff';
    opt.toolbox = { right: 6, top: 0, itemSize: 12, feature: {
      saveAsImage: { type: 'svg', name: file, title: 'SVG' },
      myPng: { show: true, title: 'PNG', icon: 'path://M2,2H18V18H2Z M5,13L9,8L12,11L14,9L17,13Z', onclick: function () { savePng(c, file); } } } };
    c.setOption(opt); charts.push(c); return c;
  }
  // Every category label drawn, turned when many share the axis.
  function categories(data, name) { return { type: 'category', data: data, name: name || '', nameLocation: 'middle', nameGap: data.length > 4 ? 62 : 28, axisLabel: { interval: 0, rotate: data.length > 4 ? 30 : 0, fontSize: 10 } }; }
  function timebaseOf(cell) { for (var i = 0; i < D.cells.length; i++) if (D.cells[i].cell === cell) return D.cells[i].timebase; return 'wall'; }
  function metric(n) { for (var i = 0; i < D.metrics.length; i++) if (D.metrics[i].name === n) return D.metrics[i]; return { name: n, title: n, unit: '' }; }
  window.addEventListener('resize', function () { charts.forEach(function (c) { c.resize(); }); });

  // 1. Effects with intervals.
  (function () {
    var rows = D.effects.slice().sort(function (a, b) { return (a.ratio - 1) - (b.ratio - 1); }).slice(0, 80);
    var el = document.getElementById('effects');
    if (!rows.length) { el.outerHTML = '<p class="muted">No timing comparisons.</p>'; return; }
    el.style.height = Math.max(260, 60 + rows.length * 18) + 'px';
    var cats = rows.map(function (r) { return r.cell + ' · ' + r.metric + (r.timebase === 'virtual' ? ' (virtual time)' : '') + ' · ' + r.label; });
    chart(el, {
      grid: { left: 10, right: 30, top: 20, bottom: 40, containLabel: true },
      tooltip: { trigger: 'item', formatter: function (p) { var r = rows[p.dataIndex]; return r.cell + '<br>' + r.label + ' · ' + r.metric + '<br>' + ((r.ratio - 1) * 100).toFixed(1) + ' % [' + ((r.lower - 1) * 100).toFixed(1) + ', ' + ((r.upper - 1) * 100).toFixed(1) + '] · q ' + r.q.toPrecision(2) + ' · ' + r.verdict; } },
      xAxis: { type: 'value', name: 'change %', nameLocation: 'middle', nameGap: 26, axisLabel: { formatter: '{value} %' } },
      yAxis: { type: 'category', data: cats, axisLabel: { interval: 0, fontSize: 10, width: 420, overflow: 'truncate' } },
      series: [
        { type: 'custom', name: 'interval', renderItem: function (params, api) {
            var lo = api.coord([api.value(1), api.value(0)]); var hi = api.coord([api.value(2), api.value(0)]);
            return { type: 'line', shape: { x1: lo[0], y1: lo[1], x2: hi[0], y2: hi[1] }, style: { stroke: api.visual('color'), lineWidth: 2 } };
          }, encode: { x: [1, 2], y: 0 },
          data: rows.map(function (r, i) { return { value: [i, (r.lower - 1) * 100, (r.upper - 1) * 100], itemStyle: { color: COLORS[r.verdict] } }; }) },
        { type: 'scatter', name: 'estimate', symbolSize: 8,
          data: rows.map(function (r, i) { return { value: [(r.ratio - 1) * 100, i], itemStyle: { color: COLORS[r.verdict] } }; }),
          markLine: { silent: true, symbol: 'none', data: [{ xAxis: 0 }], lineStyle: { color: '#444' } } }
      ]
    });
  })();

  // Cells grouped by what makes them comparable (everything but the IOMMU configuration).
  var groups = {};
  D.cells.forEach(function (c) { (groups[c.group] = groups[c.group] || []).push(c); });
  function byConfig(a, b) { return a.configOrder - b.configOrder || a.config.localeCompare(b.config); }

  // 2. Mode cost: throughput with min–max whiskers, and per-I/O counts.
  (function () {
    var host = document.getElementById('cost');
    Object.keys(groups).slice(0, 24).forEach(function (g) {
      var cells = groups[g].slice().sort(byConfig);
      // The group's throughput: IOPS (fio), Mbit/s (network streams) or round trips per second (request/response).
      var tm = ['iops', 'net_throughput_mbit_s', 'net_rr_per_s'].filter(function (n) { return cells.some(function (c) { return c.metrics[n]; }); })[0] || 'iops';
      var tput = cells.filter(function (c) { return c.metrics[tm]; });
      var per = cells.some(function (c) { return c.tool === 'network'; }) ? 'packet' : 'I/O';
      if (tput.length) {
        var tt = metric(tm);
        var vt = tput[0].timebase === 'virtual' ? ' (virtual time)' : '';
        chart(mk(host), {
          title: { text: tt.title + vt + ' · ' + g, textStyle: { fontSize: 12 } }, grid: { left: 70, right: 20, top: 40, bottom: tput.length > 4 ? 90 : 50 },
          tooltip: { trigger: 'axis' },
          xAxis: categories(tput.map(function (c) { return c.config; }), 'IOMMU configuration'), yAxis: { type: 'value', name: tt.unit + vt },
          series: [
            { type: 'bar', name: 'median ' + tt.title, data: tput.map(function (c) { return { value: c.metrics[tm].median, itemStyle: { color: color(c.config) } }; }),
              label: { show: true, position: 'insideTop', color: '#fff', formatter: function (p) { var s = tput[p.dataIndex].metrics[tm]; return 'CV ' + s.cvPct.toFixed(1) + '%'; } } },
            { type: 'custom', name: 'min–max', renderItem: function (params, api) {
                var lo = api.coord([api.value(0), api.value(1)]); var hi = api.coord([api.value(0), api.value(2)]);
                return { type: 'group', children: [
                  { type: 'line', shape: { x1: lo[0], y1: lo[1], x2: hi[0], y2: hi[1] }, style: { stroke: '#1d2330', lineWidth: 1.5 } },
                  { type: 'line', shape: { x1: lo[0] - 6, y1: lo[1], x2: lo[0] + 6, y2: lo[1] }, style: { stroke: '#1d2330' } },
                  { type: 'line', shape: { x1: hi[0] - 6, y1: hi[1], x2: hi[0] + 6, y2: hi[1] }, style: { stroke: '#1d2330' } }] };
              }, data: tput.map(function (c, i) { return [i, Math.min.apply(null, c.metrics[tm].values), Math.max.apply(null, c.metrics[tm].values)]; }) }
          ]
        }, 'iops-' + g);
      }
      // Events per I/O: the plugin's exact call counts, else bpftrace's (instructions have their own section above).
      var countNames = D.metrics.filter(function (m) { return m.per === 'io' && (m.kind === 'count' || (m.kind === 'exact' && m.name.indexOf('calls_') === 0)); }).map(function (m) { return m.name; });
      var withCounts = cells.filter(function (c) { return countNames.some(function (n) { return c.metrics[n]; }); });
      if (withCounts.length) {
        var exact = countNames.some(function (n) { return n.indexOf('calls_') === 0 && withCounts.some(function (c) { return c.metrics[n]; }); });
        chart(mk(host), {
          title: { text: 'events per ' + per + ' (' + (exact ? 'exact, QEMU plugin' : 'traced') + ') · ' + g, textStyle: { fontSize: 12 } }, grid: { left: 70, right: 20, top: 84, bottom: withCounts.length > 4 ? 90 : 50 },
          tooltip: { trigger: 'axis' }, legend: { top: 28, textStyle: { fontSize: 10 } },
          xAxis: categories(withCounts.map(function (c) { return c.config; }), 'IOMMU configuration'), yAxis: { type: 'value', name: 'events per ' + per },
          series: countNames.filter(function (n) { return withCounts.some(function (c) { return c.metrics[n]; }); }).map(function (n) {
            return { type: 'bar', name: metric(n).title, data: withCounts.map(function (c) { return c.metrics[n] ? c.metrics[n].median : null; }) };
          })
        }, 'events-' + g);
      }
    });
  })();

  // 3. Completion-latency distributions: the CDF and its tail per comparison group, a line per configuration and boot.
  (function () {
    var host = document.getElementById('latency');
    var byGroup = {};
    D.latency.forEach(function (c) { (byGroup[c.group] = byGroup[c.group] || []).push(c); });
    var marks = [['p50', 'p50'], ['p99', 'p99'], ['p999', 'p99.9']];
    Object.keys(byGroup).slice(0, 24).forEach(function (g) {
      var cells = byGroup[g].slice().sort(byConfig);
      var virtual = cells.some(function (c) { return c.timebase === 'virtual'; });
      var unit = virtual ? 'µs (virtual time)' : 'µs';
      var lines = [];
      cells.forEach(function (c) {
        c.boots.forEach(function (b, i) {
          lines.push({ c: c, b: b, name: c.config + (c.boots.length > 1 ? ' · ' + b.boot : ''), dash: i > 0 });
        });
      });
      function series(tail) {
        // The quantiles named once (on the first line): the dots of the others sit at the same heights.
        return lines.map(function (l, li) {
          return { type: 'line', name: l.name, showSymbol: false, step: 'end', lineStyle: { width: 1.6, type: l.dash ? 'dashed' : 'solid', color: color(l.c.config) }, itemStyle: { color: color(l.c.config) },
            data: l.b.cdf.map(function (p) { return [p[0], tail ? Math.max(1 - p[1], 1e-6) : p[1]]; }),
            markPoint: { symbol: 'circle', symbolSize: 7, label: { show: li === 0, formatter: function (p) { return p.name; }, fontSize: 9, position: 'right' },
              data: marks.map(function (m) { var x = l.b.quantiles[m[0]]; var q = m[0] === 'p50' ? 0.5 : m[0] === 'p99' ? 0.99 : 0.999; return { name: m[1], coord: [x, tail ? 1 - q : q] }; }) } };
        });
      }
      var legend = { top: 24, type: 'scroll', textStyle: { fontSize: 10 } };
      chart(mk(host), {
        title: { text: 'completion latency CDF · ' + g, textStyle: { fontSize: 12 } }, grid: { left: 60, right: 30, top: 70, bottom: 50 },
        tooltip: { trigger: 'item' }, legend: legend,
        xAxis: { type: 'log', name: 'completion latency, ' + unit, nameLocation: 'middle', nameGap: 28 },
        yAxis: { type: 'value', min: 0, max: 1, name: 'fraction of I/Os' },
        series: series(false)
      }, 'latency-cdf-' + g);
      chart(mk(host), {
        title: { text: 'completion latency tail · ' + g, textStyle: { fontSize: 12 } }, grid: { left: 60, right: 30, top: 70, bottom: 50 },
        tooltip: { trigger: 'item' }, legend: legend,
        xAxis: { type: 'log', name: 'completion latency, ' + unit, nameLocation: 'middle', nameGap: 28 },
        yAxis: { type: 'log', name: 'fraction slower', min: 1e-4, max: 1 },
        series: series(true)
      }, 'latency-tail-' + g);
    });
    if (!Object.keys(byGroup).length) host.outerHTML = '<p class="muted">No completion-latency histograms in this run (fio json+ output of the timing repetitions).</p>';
  })();

  // 4. Scaling: a metric against iodepth or numjobs, one line per configuration.
  (function () {
    var host = document.getElementById('scaling'); var made = 0;
    ['iodepth', 'numjobs'].forEach(function (axis) {
      var sets = {};
      D.cells.forEach(function (c) {
        if (c.axes[axis] === undefined || !c.metrics.iops) return;
        var rest = Object.keys(c.axes).filter(function (k) { return k !== axis; }).map(function (k) { return k + '=' + c.axes[k]; }).join(',');
        var key = c.workload + ' · ' + c.profile + ' · ' + c.disk + (rest ? ' · ' + rest : '');
        ((sets[key] = sets[key] || {})[c.config] = sets[key][c.config] || []).push(c);
      });
      Object.keys(sets).slice(0, 12).forEach(function (key) {
        var configs = Object.keys(sets[key]).sort(function (a, b) { return sets[key][a][0].configOrder - sets[key][b][0].configOrder; });
        if (!configs.some(function (k) { return sets[key][k].length > 1; })) return;
        made++;
        chart(mk(host), {
          title: { text: 'IOPS' + (configs.some(function (k) { return sets[key][k][0].timebase === 'virtual'; }) ? ' (virtual time)' : '') + ' against ' + axis + ' · ' + key, textStyle: { fontSize: 12 } }, grid: { left: 60, right: 20, top: 60, bottom: 40 },
          tooltip: { trigger: 'axis' }, legend: { top: 22, textStyle: { fontSize: 10 } },
          xAxis: { type: 'log', logBase: 2, name: axis }, yAxis: { type: 'value', name: 'IO/s' },
          series: configs.map(function (k) { return { type: 'line', name: k, lineStyle: { color: color(k) }, itemStyle: { color: color(k) }, data: sets[key][k].map(function (c) { return [Number(c.axes[axis]), c.metrics.iops.median]; }).sort(function (a, b) { return a[0] - b[0]; }) }; })
        });
      });
    });
    if (!made) document.getElementById('scaling-section').innerHTML = '<h2>Scaling</h2><p class="muted">The scenario has no iodepth or numjobs sweep.</p>';
  })();

  // 5. Trends with change points.
  (function () {
    var host = document.getElementById('trends');
    if (!D.trends.length) { document.getElementById('trends-section').innerHTML = '<h2>Nightly history and change points</h2><p class="muted">Fewer than 3 runs of this scenario under the results root: no history yet.</p>'; return; }
    var shown = D.trends.filter(function (t) { return t.points.length || t.latest.state === 'suspect'; });
    if (shown.length < 6) shown = shown.concat(D.trends.filter(function (t) { return shown.indexOf(t) < 0 && t.metric === 'iops'; }).slice(0, 6 - shown.length));
    shown.slice(0, 24).forEach(function (t) {
      var m = metric(t.metric);
      chart(mk(host), {
        title: { text: m.title + (m.kind === 'timing' && timebaseOf(t.cell) === 'virtual' ? ' (virtual time)' : '') + ' · ' + t.cell, textStyle: { fontSize: 12 } }, grid: { left: 60, right: 20, top: 40, bottom: 50 },
        tooltip: { trigger: 'axis' },
        xAxis: { type: 'category', data: t.nights.map(function (n) { return n.created.slice(0, 10); }), axisLabel: { interval: 0, rotate: t.nights.length > 8 ? 45 : 0, fontSize: 10 } },
        yAxis: { type: 'value', name: m.unit, scale: true },
        series: [{ type: 'line', name: 'night median', data: t.medians, symbolSize: 5,
          markLine: { symbol: 'none', label: { formatter: function (p) { return p.name; }, fontSize: 10 }, lineStyle: { color: '#d93a3a', type: 'dashed' },
            data: t.points.map(function (p) { return { name: ((p.ratio - 1) * 100).toFixed(1) + ' %', xAxis: p.index }; }) },
          markPoint: t.latest.state === 'suspect' ? { symbol: 'pin', symbolSize: 36, itemStyle: { color: '#e8a33d' }, data: [{ name: 'suspect', coord: [t.medians.length - 1, t.medians[t.medians.length - 1]] }] } : undefined }]
      });
    });
  })();
  document.body.setAttribute('data-charts', String(charts.length));
})();
`;
