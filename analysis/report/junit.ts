/**
 * JUnit XML: one test case per cell and metric (against the baseline when
 * there is one, else per configuration comparison); a regression is a failure,
 * an inconclusive comparison is skipped with its reason, so CI shows both.
 */
import type { Comparison } from '../compare/index.js';
import type { Report } from './model.js';

const x = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

function testcase(c: Comparison, classPrefix: string): string {
  const name = `${c.metric}`;
  const cls = `${classPrefix}.${c.cell}${c.kind === 'modes' ? `.${c.label.replace(/ /g, '_')}` : ''}`;
  const head = `    <testcase classname="${x(cls)}" name="${x(name)}" time="0">`;
  if (c.verdict === 'regression') return `${head}\n      <failure message="${x(`${c.metric}: ${c.reason}`)}" type="regression">${x(JSON.stringify({ ratio: c.ratio, lower: c.lower, upper: c.upper, q: c.q, ref: c.ref.values, cand: c.cand.values }))}</failure>\n    </testcase>`;
  if (c.verdict === 'inconclusive') return `${head}\n      <skipped message="${x(c.reason)}"/>\n    </testcase>`;
  return `${head}\n      <system-out>${x(`${c.verdict}: ${c.reason}`)}</system-out>\n    </testcase>`;
}

export function renderJUnit(r: Report): string {
  const suites: string[] = [];
  // The report's headline and exit code in every suite, so whichever a CI shows tells the truth about the run.
  const properties = `    <properties>\n      <property name="headline" value="${x(r.headline.text)}"/>\n      <property name="exit_code" value="${r.headline.exitCode}"/>\n    </properties>`;
  const suite = (name: string, cs: readonly Comparison[], prefix: string, failuresCount: (c: Comparison) => boolean) => {
    const failures = cs.filter(failuresCount).length;
    const skipped = cs.filter((c) => c.verdict === 'inconclusive').length;
    suites.push(`  <testsuite name="${x(name)}" tests="${cs.length}" failures="${failures}" errors="0" skipped="${skipped}" timestamp="${r.generated}">\n${properties}\n${cs.map((c) => testcase(c, prefix)).join('\n')}\n  </testsuite>`);
  };
  if (r.baseline) suite(`${r.run.scenario}: ${r.run.id} vs baseline ${r.baseline.id}`, r.baseline.set.comparisons, r.run.scenario, (c) => c.verdict === 'regression');
  // Configuration costs are information, not failures: strict is expected to cost something against lazy.
  suite(`${r.run.scenario}: IOMMU configurations within ${r.run.id}`, r.modes.comparisons.map((c) => (c.verdict === 'regression' ? { ...c, verdict: 'no-change' as const, reason: `costs: ${c.reason}` } : c)), `${r.run.scenario}.modes`, () => false);
  // Failed repetitions fail the run (the sweep exits 1): each is a failing test case, so CI shows it too.
  if (r.failures.length) {
    const cases = r.failures.map((f) => `    <testcase classname="${x(`${r.run.scenario}.repetitions.${f.cell}`)}" name="${x(f.rep)}">\n      <failure message="${x(`${f.kind}: ${f.message}`)}" type="${x(f.kind)}"/>\n    </testcase>`);
    suites.push(`  <testsuite name="${x(`${r.run.scenario}: failed repetitions of ${r.run.id}`)}" tests="${cases.length}" failures="${cases.length}" errors="0" skipped="0" timestamp="${r.generated}">\n${properties}\n${cases.join('\n')}\n  </testsuite>`);
  }
  const tests = (r.baseline?.set.comparisons.length ?? 0) + r.modes.comparisons.length + r.failures.length;
  return `<?xml version="1.0" encoding="UTF-8"?>\n<testsuites name="iommu-lab" tests="${tests}">\n${suites.join('\n')}\n</testsuites>\n`;
}
