/**
 * Change points on labelled series: the lab's detector at the scenario
 * defaults (α 0.05, min effect 5 %) against the method that reports nothing
 * and E-divisive, by F1 (margin 5) and cover, per shape and overall, on
 * bench/changepoint-suite.ts; and, with `--tcpd DIR`, on TCPD series
 * (DIR/annotations.json and DIR/NAME.json as in the TCPD repository).
 * Usage: npm run bench:changepoint [-- --quick] [-- --tcpd DIR] [-- --penalty P] [-- --no-edivisive]
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { detectChanges, type Night } from '../analysis/changepoint.js';
import { cover, eDivisive, f1 } from './changepoint-score.js';
import { labelledSuite, SHAPES } from './changepoint-suite.js';
import { mean } from '../analysis/stats/describe.js';

const args = process.argv.slice(2);
const quick = args.includes('--quick');
const tcpdDir = args.includes('--tcpd') ? args[args.indexOf('--tcpd') + 1] : undefined;
const PER_SHAPE = quick ? 6 : 20;
const penaltyArg = args.includes('--penalty') ? Number(args[args.indexOf('--penalty') + 1]) : undefined;
const DEFAULTS = { alpha: 0.05, minEffectPct: 5, ...(penaltyArg ? { penalty: penaltyArg } : {}) };

const asNights = (v: readonly number[]): Night[] => v.map((x, i) => ({ run: `n${i}`, created: String(i), values: [x] }));
const lab = (v: readonly number[], minEffectPct = DEFAULTS.minEffectPct) => detectChanges(asNights(v), { ...DEFAULTS, minEffectPct }).points.map((p) => p.index);

interface Score { f1: number; cover: number; points: number }
const methods = ['lab', 'no change', 'E-divisive'] as const;
const run = (v: readonly number[], labels: readonly (readonly number[])[], minEffectPct?: number): Record<(typeof methods)[number], Score> => {
  const out = {} as Record<(typeof methods)[number], Score>;
  const preds = { lab: lab(v, minEffectPct), 'no change': [] as number[], 'E-divisive': args.includes('--no-edivisive') ? [] : eDivisive(v) };
  for (const m of methods) out[m] = { f1: f1(labels, preds[m]), cover: cover(labels, preds[m], v.length), points: preds[m].length };
  return out;
};

const fmt = (x: number) => x.toFixed(3);

console.log(`\n## Labelled nightly suite (${PER_SHAPE} series a shape; lab at α ${DEFAULTS.alpha}, min effect ${DEFAULTS.minEffectPct} % unless the shape says)\n`);
console.log('| shape | lab F1 / cover | no change F1 / cover | E-divisive F1 / cover | change points per series: lab / E-divisive |');
console.log('| --- | --- | --- | --- | --- |');
const suite = labelledSuite(PER_SHAPE);
const all: Record<string, Score[]> = { lab: [], 'no change': [], 'E-divisive': [] };
for (const shape of SHAPES) {
  const rows = suite.filter((s) => s.shape === shape).map((s) => run(s.values, [s.labels], shape.includes('min effect 1 %') ? 1 : undefined));
  const agg = (m: (typeof methods)[number]) => ({ f1: mean(rows.map((r) => r[m].f1)), cover: mean(rows.map((r) => r[m].cover)), points: mean(rows.map((r) => r[m].points)) });
  for (const m of methods) all[m]!.push(...rows.map((r) => r[m]));
  const [a, b, c] = methods.map(agg) as [Score, Score, Score];
  console.log(`| ${shape} | ${fmt(a.f1)} / ${fmt(a.cover)} | ${fmt(b.f1)} / ${fmt(b.cover)} | ${fmt(c.f1)} / ${fmt(c.cover)} | ${a.points.toFixed(2)} / ${c.points.toFixed(2)} |`);
}
const total = (m: string) => ({ f1: mean(all[m]!.map((s) => s.f1)), cover: mean(all[m]!.map((s) => s.cover)) });
console.log(`| **all ${suite.length}** | **${fmt(total('lab').f1)} / ${fmt(total('lab').cover)}** | ${fmt(total('no change').f1)} / ${fmt(total('no change').cover)} | ${fmt(total('E-divisive').f1)} / ${fmt(total('E-divisive').cover)} | |`);

if (tcpdDir) {
  const ann = JSON.parse(readFileSync(join(tcpdDir, 'annotations.json'), 'utf8')) as Record<string, Record<string, number[]>>;
  const rows: { name: string; n: number; s: ReturnType<typeof run> }[] = [];
  for (const [name, byAnnotator] of Object.entries(ann)) {
    const file = join(tcpdDir, `${name}.json`);
    if (!existsSync(file)) continue;
    const d = JSON.parse(readFileSync(file, 'utf8')) as { n_dim: number; series: { raw: (number | null)[] }[] };
    if (d.n_dim !== 1) continue;
    const v = d.series[0]!.raw.map((x) => (x === null ? NaN : x));
    if (v.some((x) => !Number.isFinite(x))) continue;
    rows.push({ name, n: v.length, s: run(v, Object.values(byAnnotator)) });
  }
  console.log(`\n## TCPD series (${rows.length} univariate, without missing values; lab at the defaults)\n`);
  console.log('| series | n | lab F1 / cover | no change | E-divisive |');
  console.log('| --- | --- | --- | --- | --- |');
  for (const r of rows) console.log(`| ${r.name} | ${r.n} | ${fmt(r.s.lab.f1)} / ${fmt(r.s.lab.cover)} | ${fmt(r.s['no change'].f1)} / ${fmt(r.s['no change'].cover)} | ${fmt(r.s['E-divisive'].f1)} / ${fmt(r.s['E-divisive'].cover)} |`);
  const m = (k: (typeof methods)[number], f: 'f1' | 'cover') => fmt(mean(rows.map((r) => r.s[k][f])));
  console.log(`| **mean** | | **${m('lab', 'f1')} / ${m('lab', 'cover')}** | ${m('no change', 'f1')} / ${m('no change', 'cover')} | ${m('E-divisive', 'f1')} / ${m('E-divisive', 'cover')} |`);
}
