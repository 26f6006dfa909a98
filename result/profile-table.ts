/**
 * The per-function profile kept beside a repetition's result.json
 * (profile.tsv): function, module, subsystem, instructions and calls of the
 * plugin's window, most instructions first; user and unattributed
 * instructions as bracketed rows. Written by the runner, read by the report's
 * differential table.
 */
import { SUBSYSTEM_IDS, type SubsystemId } from '../core/subsystems.js';

export const PROFILE_FILE = 'profile.tsv';

export interface ProfileRow {
  readonly name: string;
  readonly module?: string;
  readonly subsystem: SubsystemId;
  readonly insns: number;
  readonly calls: number;
}

export function profileTable(p: { readonly functions: readonly ProfileRow[]; readonly bySubsystem: Readonly<Record<SubsystemId, number>> }): string {
  const head = '# function\tmodule\tsubsystem\tinstructions\tcalls\n';
  const sub = SUBSYSTEM_IDS.filter((s) => s === 'user' || s === 'unknown').map((s) => `[${s}]\t-\t${s}\t${p.bySubsystem[s]}\t0\n`).join('');
  return head + sub + p.functions.map((f) => `${f.name}\t${f.module ?? '-'}\t${f.subsystem}\t${f.insns}\t${f.calls}\n`).join('');
}

export function parseProfileTable(text: string): ProfileRow[] {
  return text.split('\n').filter((l) => l && !l.startsWith('#')).map((l) => {
    const [name, module, subsystem, insns, calls] = l.split('\t');
    return { name: name!, ...(module && module !== '-' ? { module } : {}), subsystem: subsystem as SubsystemId, insns: Number(insns), calls: Number(calls) };
  });
}
