/**
 * Checks each count metric's claim (core/metrics.ts: exact per I/O, or varies
 * from run to run) on real runs with several traced repetitions per cell: for
 * every cell and count, the spread of the per-I/O rate over its traced
 * repetitions, as a CV and as a dispersion index (the variance of the event
 * counts over the variance a Poisson process with the same rate would give).
 * An exact count repeats to a fraction of a percent (index ≪ 1); a timer-driven
 * one spreads like or beyond Poisson (index ≳ 1).
 * Usage: npm run bench:count-dispersion -- RUN_DIR [RUN_DIR ...]
 */
import { countVariation, measuredVariation, METRICS } from '../core/metrics.js';
import { completeCounts, loadRun, samples, timebaseOfCell } from '../analysis/load.js';
import { mean, variance } from '../analysis/stats/describe.js';

const dirs = process.argv.slice(2).filter((a) => a !== '--');
if (dirs.length === 0) {
  console.error('usage: npm run bench:count-dispersion -- RUN_DIR [RUN_DIR ...]');
  process.exit(2);
}

console.log('| cell | clock | metric | kernel claim | traced reps | mean per I/O | CV | dispersion index | kernel claim holds | as the lab compares it |');
console.log('| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |');
for (const dir of dirs) {
  const run = await loadRun(dir);
  for (const cell of run.cells.values()) {
    for (const d of METRICS.filter((m) => m.kind === 'count' && m.per === 'io')) {
      const { values, exposures } = samples(run, cell.id, d.name);
      if (values.length < 2) continue;
      const claim = countVariation(d, cell.iommu.mode)!;
      const m = mean(values);
      const cv = m > 0 ? (100 * Math.sqrt(variance(values))) / m : 0;
      // Events per repetition, and what Poisson would make their spread: Var(k/e) = λ/e.
      const e = mean(exposures);
      const index = m > 0 ? variance(values) / (m / e) : 0;
      const holds = claim === 'exact' ? cv < 1 : true;
      const tb = timebaseOfCell(run, cell);
      console.log(`| ${cell.id} | ${tb} | ${d.name} | ${claim} | ${values.length} | ${m.toPrecision(4)} | ${cv.toFixed(2)} % | ${index.toFixed(2)} | ${holds ? 'yes' : '**no**'} | ${measuredVariation(d, cell.iommu.mode, { provenComplete: 'values' in completeCounts(run, cell.id, d.name), timebase: tb })} |`);
    }
  }
}
