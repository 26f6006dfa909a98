/**
 * Progress for `run`: on a terminal, one live line per target, redrawn in
 * place; otherwise (CI logs, pipes) plain lines, one per event. Progress goes
 * to stderr; results go to files and the summary to stdout.
 */
import type { RunEvent } from '../runner/run.js';
import type { Io } from './table.js';

export function progressPrinter(io: Io, targets: readonly string[]): { onEvent: (e: RunEvent) => void; stop: () => void } {
  const state = new Map(targets.map((t) => [t, 'waiting']));
  let drawn = 0;
  let total = 0;
  let left = 0;
  let stopped = false;
  const width = Math.max(40, io.columns - 1);
  const redraw = () => {
    if (stopped) return;
    const lines = [...state].map(([t, s]) => `${t.padEnd(Math.min(32, Math.max(...targets.map((x) => x.length))))}  ${s}`.slice(0, width));
    lines.push(`${total - left}/${total} repetitions done`);
    const up = drawn > 0 ? `\x1b[${drawn}F` : '';
    io.err(`${up}${lines.map((l) => `\x1b[2K${l}`).join('\n')}`);
    drawn = lines.length;
  };
  const onEvent = (e: RunEvent) => {
    switch (e.type) {
      case 'run-start':
        total = e.todo;
        left = e.todo;
        io.err(`run ${e.run}: ${e.todo} repetitions to do${e.done ? `, ${e.done} already done` : ''}; results in ${e.dir}`);
        break;
      case 'target-state':
        state.set(e.target, e.state);
        if (!io.isTTY) io.err(`[${e.target}] ${e.state}`);
        break;
      case 'rep-done': {
        left = e.left;
        const o = e.outcome;
        const what = o.state === 'passed' ? `passed${o.metrics['iops'] !== undefined ? ` (${Math.round(o.metrics['iops'])} IOPS)` : ''}` : o.state === 'failed' ? `FAILED ${o.failure.kind}: ${o.failure.message}` : `skipped: ${o.reason}`;
        if (!io.isTTY || o.state === 'failed') {
          if (io.isTTY && drawn) { io.err(`\x1b[${drawn}F\x1b[J`); drawn = 0; }
          io.err(`[${e.target}] ${e.cell} ${e.rep} ${what}`);
        }
        break;
      }
    }
    if (io.isTTY) redraw();
  };
  return { onEvent, stop: () => { stopped = true; } };
}
