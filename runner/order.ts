/**
 * The order repetitions run in on one target. Blocked order (all repetitions
 * of cell A, then all of B) turns slow machine drift into a false difference
 * between A and B. Instead, round r runs repetition r of every cell, in an
 * order shuffled with a seeded generator: the same seed gives the same order
 * on every machine, and drift spreads evenly over the cells.
 */
import { createHash } from 'node:crypto';
import { bootOfRep } from '../cell/expand.js';
import { tracedRepetitionsOf } from '../cell/repetition.js';
import type { Cell } from '../cell/types.js';
import type { RepRef } from '../result/types.js';
import { prng } from '../core/random.js';

export { prng } from '../core/random.js';

export interface Task {
  readonly cell: Cell;
  readonly rep: RepRef;
  /** Position in the target's full order (also for tasks skipped on resume). */
  readonly order: number;
  /** The boot of its guest it runs in (1-based; cell/expand.ts bootOfRep). */
  readonly boot: number;
}

function seedFor(seed: number, target: string): number {
  return createHash('sha256').update(`${seed}:${target}`).digest().readUInt32LE(0);
}

export function shuffle<T>(items: readonly T[], random: () => number): T[] {
  const a = [...items];
  for (let i = a.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [a[i], a[j]] = [a[j]!, a[i]!];
  }
  return a;
}

/**
 * Tasks per group (by default, per target), interleaved by rounds; traced
 * repetitions are interleaved with the timing ones. Cells of several targets
 * that share a group (guests on one hypervisor) are interleaved together, so
 * drift spreads over IOMMU configurations too.
 */
export function interleave(
  cells: readonly Cell[],
  reps: { timing: number; traced: number },
  seed: number,
  groupOf: (cell: Cell) => string = (c) => c.target.name,
  bootsOf: (cell: Cell) => number = () => 1,
): Map<string, Task[]> {
  const byTarget = new Map<string, Cell[]>();
  for (const c of cells) byTarget.set(groupOf(c), [...(byTarget.get(groupOf(c)) ?? []), c]);
  const out = new Map<string, Task[]>();
  for (const [target, list] of byTarget) {
    const random = prng(seedFor(seed, target));
    const rounds: Omit<Task, 'order'>[] = [];
    for (let round = 1; round <= Math.max(reps.timing, reps.traced); round++) {
      const roundTasks: Omit<Task, 'order'>[] = [];
      for (const cell of list) {
        const boots = bootsOf(cell);
        if (round <= reps.timing) roundTasks.push({ cell, rep: { kind: 'timing', index: round }, boot: bootOfRep(round, reps.timing, boots) });
        if (round <= tracedRepetitionsOf(cell, reps.traced)) roundTasks.push({ cell, rep: { kind: 'traced', index: round }, boot: bootOfRep(round, reps.traced, boots) });
      }
      rounds.push(...shuffle(roundTasks, random));
    }
    // A boot's repetitions all run before the next boot (stable: rounds stay interleaved within a boot).
    const ordered = rounds.map((t, i) => [t, i] as const).sort((a, b) => a[0].boot - b[0].boot || a[1] - b[1]).map(([t]) => t);
    out.set(target, ordered.map((t, order) => ({ ...t, order })));
  }
  return out;
}
