/**
 * Boots as a level of noise. Repetitions inside one boot of a guest share that
 * boot's offset (where the kernel put its allocations, which pages QEMU
 * touched, the host's state): on the virtual clock they agree to 0.05 % while
 * two boots differ by 0.1–0.2 %, under TCG by more. Two runs, or two IOMMU
 * configurations, are always different boots, so the repetitions are not
 * independent samples of the difference: treating them so called half of an
 * A/A matrix "changed" (issue #12).
 *
 * The model (on log values, so effects are ratios): value = level + boot offset
 * + repetition noise. The unit of replication across boots is the **boot
 * mean**; the difference of two sides is the difference of their mean boot
 * means, and its noise is τ² (1/k₁ + 1/k₂), τ² the variance of one boot mean
 * (boot offset plus the repetitions' noise averaged over the boot), estimated
 * by pooling over the cells of the same metric and clock, from the first of:
 *  1. replicate boots: cells measured in ≥ 2 boots of one run (`boots:` in a VM
 *     profile), pooled one-way ANOVA, df = Σ(k − 1);
 *  2. history: the same cells in earlier runs of the scenario (one boot each),
 *     successive differences (robust to slow drift), df ≈ ⅔ of their number;
 *  3. across cells (a run against its baseline only, ≥ 8 cells): the spread of
 *     the per-cell differences themselves, by the MAD around their median
 *     (robust to a minority of changed cells and to a shift of all of them),
 *     df ≈ 0.37·cells (the MAD's efficiency).
 * With none of them (one boot a side, no history, a small matrix) the
 * boot-to-boot variation is unknown, and the verdict says so.
 * Assumes the same number of repetitions per boot in the estimate and in the
 * comparison, as runs of one scenario have.
 */
import type { Timebase } from '../core/clock.js';
import { samples, timebaseOfCell, type LoadedRun } from './load.js';
import { mean, median, variance } from './stats/describe.js';
import { tIsf, tSf } from './stats/special.js';

export interface BootGroup {
  readonly boot: string;
  /** Log values (or raw values for series that reach zero) of this boot's repetitions. */
  readonly values: readonly number[];
}

export type BootNoiseSource = 'replicate boots' | 'history' | 'replicate boots and history' | 'across cells' | 'the exact floor' | `${string}, raised to the exact floor`;

export interface BootNoise {
  /** Variance of one boot mean (log scale). */
  readonly tau2: number;
  readonly df: number;
  readonly source: BootNoiseSource;
}

/** Values grouped by the boot they ran in, in order of first appearance. */
export function byBoot(values: readonly number[], boots: readonly string[]): BootGroup[] {
  const m = new Map<string, number[]>();
  values.forEach((v, i) => {
    const b = boots[i] ?? '?';
    m.set(b, [...(m.get(b) ?? []), v]);
  });
  return [...m].map(([boot, vs]) => ({ boot, values: vs }));
}

export const bootMeans = (g: readonly BootGroup[]) => g.map((b) => mean(b.values));

/** Pooled variance of boot means within cells that ran in ≥ 2 boots (one-way ANOVA's between-boot mean square). */
export function replicateBootNoise(cells: readonly (readonly BootGroup[])[]): BootNoise | undefined {
  let ss = 0;
  let df = 0;
  for (const groups of cells) {
    if (groups.length < 2) continue;
    const means = bootMeans(groups);
    const grand = mean(means);
    for (const x of means) ss += (x - grand) ** 2;
    df += groups.length - 1;
  }
  return df > 0 ? { tau2: ss / df, df, source: 'replicate boots' } : undefined;
}

/**
 * From runs over time: per cell, its boot means in run order; half the mean
 * squared successive difference estimates τ² and is barely moved by a slow
 * drift. A step in the history inflates it (conservative, never the reverse).
 */
export function historyBootNoise(series: readonly (readonly number[])[]): BootNoise | undefined {
  let ss = 0;
  let n = 0;
  for (const s of series) {
    for (let i = 1; i < s.length; i++) {
      ss += (s[i]! - s[i - 1]!) ** 2;
      n++;
    }
  }
  return n > 0 ? { tau2: ss / (2 * n), df: Math.max(1, (2 * n) / 3), source: 'history' } : undefined;
}

/**
 * From the cells of one comparison of two runs: each cell's difference of boot
 * means, scaled to one boot a side, spreads by √2·τ when the cells did not
 * change (or all changed alike). Robust and efficient: the MAD around the
 * median finds the cells that changed differently (beyond 3 of its standard
 * deviations), and the standard deviation of the rest, corrected for that
 * truncation (× 1/0.9733 on the variance), estimates √2·τ (df: cells kept − 1).
 * The MAD alone has 37 % efficiency: with 100 cells it misjudged τ by ±16 %.
 */
export function acrossCellNoise(scaledDiffs: readonly number[], minCells = 8): BootNoise | undefined {
  if (scaledDiffs.length < minCells) return undefined;
  const med = median(scaledDiffs);
  const madSd = median(scaledDiffs.map((d) => Math.abs(d - med))) / 0.6744897501960817;
  const kept = madSd > 0 ? scaledDiffs.filter((d) => Math.abs(d - med) <= 3 * madSd) : [...scaledDiffs];
  if (kept.length < minCells) return undefined;
  const centre = mean(kept);
  const v = kept.reduce((s, d) => s + (d - centre) ** 2, 0) / (kept.length - 1) / (madSd > 0 ? 0.9733 : 1);
  return { tau2: v / 2, df: kept.length - 1, source: 'across cells' };
}

/** The smallest τ² the repetitions alone imply: a boot mean is at least as noisy as its repetitions' average. */
export function withinFloor(cells: readonly (readonly BootGroup[])[]): number {
  let ss = 0;
  let df = 0;
  let reps = 0;
  let boots = 0;
  for (const groups of cells) {
    for (const b of groups) {
      if (b.values.length >= 2) {
        ss += variance(b.values) * (b.values.length - 1);
        df += b.values.length - 1;
      }
      reps += b.values.length;
      boots++;
    }
  }
  return df > 0 && boots > 0 ? ss / df / (reps / boots) : 0;
}

export interface BootTest {
  /** Difference of mean boot means, candidate − reference (log scale). */
  readonly diff: number;
  readonly se: number;
  readonly df: number;
  readonly p: number;
  readonly lower: number;
  readonly upper: number;
  readonly bootsRef: number;
  readonly bootsCand: number;
}

/** t test of the mean boot means of two sides, with the boot-level noise estimated elsewhere. */
export function bootTest(ref: readonly BootGroup[], cand: readonly BootGroup[], noise: BootNoise, level = 0.95): BootTest {
  const a = bootMeans(ref);
  const b = bootMeans(cand);
  const diff = mean(b) - mean(a);
  const se = Math.sqrt(noise.tau2 * (1 / a.length + 1 / b.length));
  const df = noise.df;
  let p: number;
  if (se > 0) p = Math.min(1, 2 * tSf(Math.abs(diff / se), df));
  else p = diff === 0 ? 1 : 0;
  const half = se > 0 ? tIsf((1 - level) / 2, df) * se : 0;
  return { diff, se, df, p, lower: diff - half, upper: diff + half, bootsRef: a.length, bootsCand: b.length };
}

/** Two sides that ran in exactly the same boots: the boot offsets cancel and repetitions are valid units. */
export function sameBoots(ref: readonly BootGroup[], cand: readonly BootGroup[]): boolean {
  const r = new Set(ref.map((g) => g.boot));
  return cand.length === r.size && cand.every((g) => r.has(g.boot));
}

/** Values of one metric in one cell of one run, as boot groups on the log scale; undefined when a value is not positive. */
function logGroups(run: LoadedRun, cellId: string, metric: string): BootGroup[] | undefined {
  const x = samples(run, cellId, metric);
  if (x.values.length === 0 || x.values.some((v) => !(v > 0))) return undefined;
  return byBoot(x.values.map(Math.log), x.boots);
}

/**
 * The boot-to-boot noise of one metric on one clock, pooled over cells: from
 * replicate boots within runs and from the history of each cell (sources 1 and 2 above),
 * never smaller than the repetitions alone imply. `history` is oldest first and
 * must not contain a run whose difference is being tested against another.
 */
export function bootNoiseOf(metric: string, timebase: Timebase, runs: readonly LoadedRun[], history: readonly LoadedRun[]): BootNoise | undefined {
  const replicate: BootGroup[][] = [];
  const all: BootGroup[][] = [];
  const series = new Map<string, number[]>();
  const seen = new Set<string>();
  for (const run of [...runs, ...history]) {
    if (seen.has(run.dir)) continue;
    seen.add(run.dir);
    for (const c of run.cells.values()) {
      if (timebaseOfCell(run, c) !== timebase) continue;
      const g = logGroups(run, c.id, metric);
      if (!g) continue;
      all.push(g);
      if (g.length >= 2) replicate.push(g);
    }
  }
  for (const run of history) {
    for (const c of run.cells.values()) {
      if (timebaseOfCell(run, c) !== timebase) continue;
      const g = logGroups(run, c.id, metric);
      // One boot per run: the first, so every point of the series has one boot mean's variance.
      if (g) series.set(c.id, [...(series.get(c.id) ?? []), bootMeans(g.slice(0, 1))[0]!]);
    }
  }
  const rep = replicateBootNoise(replicate);
  const hist = historyBootNoise([...series.values()].filter((s) => s.length >= 2));
  let noise: BootNoise | undefined;
  if (rep && hist) noise = { tau2: (rep.tau2 * rep.df + hist.tau2 * hist.df) / (rep.df + hist.df), df: rep.df + hist.df, source: 'replicate boots and history' };
  else noise = rep ?? hist;
  if (!noise) return undefined;
  return { ...noise, tau2: Math.max(noise.tau2, withinFloor(all)) };
}

/** The boot-to-boot noise from the spread of every cell's difference between two runs (analysis/boots.ts, source 3). */
export function acrossCellsOfRuns(base: LoadedRun, cand: LoadedRun, metric: string, tb: Timebase): BootNoise | undefined {
  const diffs: number[] = [];
  for (const [id, cell] of cand.cells) {
    const baseCell = base.cells.get(id);
    if (!baseCell || timebaseOfCell(cand, cell) !== tb || timebaseOfCell(base, baseCell) !== tb) continue;
    const a = logGroups(base, id, metric);
    const b = logGroups(cand, id, metric);
    if (!a || !b || sameBoots(a, b)) continue;
    // Scaled to one boot a side: Var(diff) = τ² (1/k₁ + 1/k₂).
    diffs.push((mean(bootMeans(b)) - mean(bootMeans(a))) / Math.sqrt((1 / a.length + 1 / b.length) / 2));
  }
  return acrossCellNoise(diffs);
}
