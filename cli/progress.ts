/**
 * Progress for `run` and `sweep`: on a terminal, one live line per target
 * (repetitions done and to do, what it is doing) and a last line with the
 * estimated time left, redrawn in place; otherwise (CI logs, pipes) plain
 * lines, one per event. Progress goes to stderr; results go to files and the
 * summary to stdout.
 */
import type { RunEvent } from '../runner/run.js';
import type { Io } from './table.js';

/**
 * Seconds left: the wall time per repetition so far times what is left.
 * Targets that measure one at a time (one hypervisor) share the clock, so the
 * run's own rate is the honest one; before the first repetition ends there is
 * no estimate.
 */
export function secondsLeft(elapsedS: number, done: number, left: number): number | undefined {
  return done > 0 ? (elapsedS / done) * left : undefined;
}

export function fmtDuration(s: number): string {
  const r = Math.round(s);
  return r >= 3600 ? `${Math.floor(r / 3600)} h ${String(Math.floor((r % 3600) / 60)).padStart(2, '0')} min` : r >= 60 ? `${Math.floor(r / 60)} min ${String(r % 60).padStart(2, '0')} s` : `${r} s`;
}

export function progressPrinter(io: Io, targets: readonly string[], now: () => number = Date.now): { onEvent: (e: RunEvent) => void; stop: () => void } {
  const state = new Map(targets.map((t) => [t, 'waiting']));
  const counts = new Map<string, { done: number; todo: number }>();
  let drawn = 0;
  let total = 0;
  let left = 0;
  let started = 0;
  let stopped = false;
  const width = Math.max(40, io.columns - 1);
  const redraw = () => {
    if (stopped) return;
    const nameWidth = Math.min(32, Math.max(0, ...[...state.keys()].map((x) => x.length)));
    const lines = [...state].map(([t, s]) => {
      const c = counts.get(t);
      return `${t.padEnd(nameWidth)}  ${c ? `${c.done}/${c.todo}`.padStart(7) : ''}  ${s}`.slice(0, width);
    });
    const eta = secondsLeft((now() - started) / 1000, total - left, left);
    lines.push(`${total - left}/${total} repetitions done${left === 0 ? '' : eta === undefined ? ', estimating the time left…' : `, about ${fmtDuration(eta)} left`}`);
    const up = drawn > 0 ? `\x1b[${drawn}F` : '';
    io.err(`${up}${lines.map((l) => `\x1b[2K${l}`).join('\n')}`);
    drawn = lines.length;
  };
  const onEvent = (e: RunEvent) => {
    switch (e.type) {
      case 'run-start':
        total = e.todo;
        left = e.todo;
        started = now();
        for (const [t, n] of Object.entries(e.perTarget)) {
          counts.set(t, { done: 0, todo: n });
          if (!state.has(t)) state.set(t, 'waiting');
        }
        io.err(`run ${e.run}: ${e.todo} repetitions to do${e.done ? `, ${e.done} already done` : ''}; results in ${e.dir}`);
        break;
      case 'target-state':
        state.set(e.target, e.state);
        if (!io.isTTY) io.err(`[${e.target}] ${e.state}`);
        break;
      case 'rep-done': {
        left = e.left;
        const c = counts.get(e.target);
        if (c) c.done++;
        const o = e.outcome;
        const m = o.state === 'passed' ? o.metrics : {};
        const figure = m['iops'] !== undefined ? ` (${Math.round(m['iops'])} IOPS)` : m['dmabench_map_us'] !== undefined ? ` (map ${m['dmabench_map_us']} µs, unmap ${m['dmabench_unmap_us']} µs)` : '';
        const what = o.state === 'passed' ? `passed${figure}` : `FAILED ${o.failure.kind}: ${o.failure.message}`;
        if (!io.isTTY || o.state === 'failed') {
          if (io.isTTY && drawn) { io.err(`\x1b[${drawn}F\x1b[J`); drawn = 0; }
          const eta = secondsLeft((now() - started) / 1000, total - left, left);
          io.err(`[${e.target}] ${e.cell} ${e.rep} ${what}${!io.isTTY && left > 0 && eta !== undefined ? ` — ${total - left}/${total}, about ${fmtDuration(eta)} left` : ''}`);
        }
        break;
      }
    }
    if (io.isTTY) redraw();
  };
  return { onEvent, stop: () => { stopped = true; } };
}
