import { describe, expect, it } from 'vitest';
import { fmtDuration, progressPrinter, secondsLeft } from '../../../cli/progress.js';
import type { Io } from '../../../cli/table.js';

const io = (isTTY: boolean) => {
  const err: string[] = [];
  const x: Io = { out: () => {}, err: (t) => err.push(t), isTTY, columns: 120 };
  return { io: x, err };
};
const passed = { state: 'passed', metrics: { iops: 9000 } } as const;

describe('progress', () => {
  it('estimates the time left from the run so far, and none before the first repetition', () => {
    expect(secondsLeft(30, 0, 10)).toBeUndefined();
    expect(secondsLeft(30, 3, 9)).toBe(90);
    expect(fmtDuration(42)).toBe('42 s');
    expect(fmtDuration(125)).toBe('2 min 05 s');
    expect(fmtDuration(7300)).toBe('2 h 01 min');
  });

  it('on a terminal: a line per target with done/to do, and the time left', () => {
    let t = 0;
    const { io: x, err } = io(true);
    const p = progressPrinter(x, [], () => t);
    p.onEvent({ type: 'run-start', run: 'r', dir: '/d', todo: 4, done: 0, perTarget: { a: 2, b: 2 } });
    p.onEvent({ type: 'target-state', target: 'a', state: 'c1 timing-01' });
    t = 10_000;
    p.onEvent({ type: 'rep-done', target: 'a', cell: 'c1', rep: 'timing-01', outcome: passed, left: 3 });
    const screen = err.at(-1)!;
    expect(screen).toMatch(/a\s+1\/2\s+c1 timing-01/);
    expect(screen).toMatch(/b\s+0\/2\s+waiting/);
    expect(screen).toContain('1/4 repetitions done, about 30 s left');
  });

  it('elsewhere: plain lines, one per event, with the time left', () => {
    let t = 0;
    const { io: x, err } = io(false);
    const p = progressPrinter(x, [], () => t);
    p.onEvent({ type: 'run-start', run: 'r', dir: '/d', todo: 2, done: 0, perTarget: { a: 2 } });
    t = 5_000;
    p.onEvent({ type: 'rep-done', target: 'a', cell: 'c1', rep: 'timing-01', outcome: passed, left: 1 });
    expect(err.at(-1)).toBe('[a] c1 timing-01 passed (9000 IOPS) — 1/2, about 5 s left');
    expect(err.join('\n')).not.toContain('\x1b[');
  });
});
