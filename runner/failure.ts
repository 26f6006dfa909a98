/**
 * An error that ended a repetition, as its result records it: the registry's
 * failure kind (core/errors.ts), the message's first line with the fix, and
 * what explains it (stderr tail, serial console). An error the lab does not
 * know is `internal`: one line, with the stack kept in the result.
 */
import { isLabError } from '../core/errors.js';
import type { Failure } from '../result/types.js';

const TAIL_LINES = 20;

export function failureOf(e: unknown): Failure {
  if (isLabError(e)) {
    const tail = e.detail.trimEnd().split('\n').slice(-TAIL_LINES).join('\n');
    return { kind: e.kind, message: `${e.message.split('\n')[0]}${e.fix ? ` (${e.fix})` : ''}`, ...(tail ? { stderr_tail: tail } : {}) };
  }
  const err = e instanceof Error ? e : new Error(String(e));
  return { kind: 'internal', message: `${err.name}: ${err.message.split('\n')[0]} (a bug in the lab; the stack is in stderr_tail)`, ...(err.stack ? { stderr_tail: err.stack } : {}) };
}
