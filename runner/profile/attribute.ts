/**
 * A window's blocks attributed to kernel functions and their subsystems
 * (core/subsystems.ts): instructions per function (each execution of a block
 * adds its instruction count) and calls (executions of the block that begins
 * at the function's first address). Pure.
 */
import { SUBSYSTEM_IDS, subsystemOf, type SubsystemId } from '../../core/subsystems.js';
import type { KernelSymbols } from './kallsyms.js';
import type { Window } from './window.js';

export interface FunctionCount {
  readonly name: string;
  readonly module?: string;
  readonly subsystem: SubsystemId;
  readonly insns: number;
  readonly calls: number;
}

export interface Profile {
  /** Every function that ran in the window, most instructions first. */
  readonly functions: readonly FunctionCount[];
  /** Instructions per subsystem, user and unattributed included. */
  readonly bySubsystem: Readonly<Record<SubsystemId, number>>;
}

export function attribute(w: Window, symbols: KernelSymbols): Profile {
  const byFn = new Map<string, { name: string; module?: string; subsystem: SubsystemId; insns: number; calls: number }>();
  const bySubsystem = Object.fromEntries(SUBSYSTEM_IDS.map((s) => [s, 0])) as Record<SubsystemId, number>;
  bySubsystem.user = w.userInsns;
  bySubsystem.unknown = w.overflowInsns;
  for (const b of w.blocks) {
    const fn = symbols.at(b.pc);
    const insns = b.insns * b.execs;
    if (!fn) {
      bySubsystem.unknown += insns;
      continue;
    }
    const key = fn.module ? `${fn.name} [${fn.module}]` : fn.name;
    let c = byFn.get(key);
    if (!c) {
      c = { name: fn.name, ...(fn.module ? { module: fn.module } : {}), subsystem: subsystemOf(fn.name, fn.module), insns: 0, calls: 0 };
      byFn.set(key, c);
    }
    c.insns += insns;
    if (b.pc === fn.start) c.calls += b.execs;
    bySubsystem[c.subsystem] += insns;
  }
  const functions = [...byFn.values()].sort((a, b) => b.insns - a.insns || a.name.localeCompare(b.name));
  return { functions, bySubsystem };
}

/** Calls of the named functions (any module) in a profile. */
export function callsOf(p: Profile, names: readonly string[]): number {
  return p.functions.filter((f) => names.includes(f.name)).reduce((s, f) => s + f.calls, 0);
}
