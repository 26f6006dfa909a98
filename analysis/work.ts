/**
 * Where the work goes: per cell, the guest's instructions per I/O by
 * subsystem (core/subsystems.ts) as the QEMU plugin counted them in every
 * timing repetition (result.json `profile`), and between two configurations
 * the kernel functions that differ most (their profile.tsv files). Exact
 * counts only: a cell without the plugin has no profile here.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Cell } from '../cell/types.js';
import { siblingKey } from '../cell/expand.js';
import { configName, configOrder } from '../core/iommu.js';
import { SUBSYSTEM_IDS, type SubsystemId } from '../core/subsystems.js';
import { parseProfileTable, PROFILE_FILE } from '../result/profile-table.js';
import { repId, type RepResult } from '../result/types.js';
import { modePairs } from './compare/index.js';
import type { LoadedRun } from './load.js';
import { mean } from './stats/describe.js';

export interface CellWork {
  readonly cell: string;
  readonly group: string;
  readonly config: string;
  readonly configOrder: number;
  /** Instructions per I/O by subsystem, mean over the cell's profiled repetitions (the idle loop left out). */
  readonly perIo: Readonly<Record<SubsystemId, number>>;
  /** Repetitions and boots that gave it. */
  readonly reps: number;
  readonly boots: number;
}

export interface FunctionDiff {
  readonly name: string;
  readonly module?: string;
  readonly subsystem: SubsystemId;
  /** Instructions per I/O on each side, and calls per I/O. */
  readonly a: number;
  readonly b: number;
  readonly delta: number;
  readonly callsA: number;
  readonly callsB: number;
}

export interface WorkDiff {
  readonly group: string;
  /** Reference and candidate configuration (candidate − reference). */
  readonly a: string;
  readonly b: string;
  readonly rows: readonly FunctionDiff[];
  /** Sum of Δ over every function (not just the rows shown). */
  readonly total: number;
}

export interface WorkReport {
  readonly cells: readonly CellWork[];
  readonly diffs: readonly WorkDiff[];
}

const profiled = (run: LoadedRun, cell: string): RepResult[] => (run.reps.get(cell) ?? []).filter((r) => r.rep.kind === 'timing' && r.profile && r.profile.ios > 0);

/** The functions of one repetition's profile per I/O, or undefined when its file is missing. */
function functionsPerIo(run: LoadedRun, r: RepResult): Map<string, { name: string; module?: string; subsystem: SubsystemId; insns: number; calls: number }> | undefined {
  const file = join(run.dir, 'cells', r.cell, repId(r.rep), PROFILE_FILE);
  if (!existsSync(file)) return undefined;
  const m = new Map<string, { name: string; module?: string; subsystem: SubsystemId; insns: number; calls: number }>();
  for (const f of parseProfileTable(readFileSync(file, 'utf8'))) {
    if (f.subsystem === 'idle' || f.name.startsWith('[')) continue;
    m.set(f.module ? `${f.name} [${f.module}]` : f.name, { ...f, insns: f.insns / r.profile!.ios, calls: f.calls / r.profile!.ios });
  }
  return m;
}

/** Rows of the differential table: the functions whose instructions per I/O differ most. */
export function diffFunctions(a: ReturnType<typeof functionsPerIo> & {}, b: ReturnType<typeof functionsPerIo> & {}, top = 15): { rows: FunctionDiff[]; total: number } {
  const keys = new Set([...a.keys(), ...b.keys()]);
  const all: FunctionDiff[] = [];
  for (const k of keys) {
    const x = a.get(k);
    const y = b.get(k);
    const f = (x ?? y)!;
    all.push({ name: f.name, ...(f.module ? { module: f.module } : {}), subsystem: f.subsystem, a: x?.insns ?? 0, b: y?.insns ?? 0, delta: (y?.insns ?? 0) - (x?.insns ?? 0), callsA: x?.calls ?? 0, callsB: y?.calls ?? 0 });
  }
  const total = all.reduce((s, r) => s + r.delta, 0);
  return { rows: all.sort((p, q) => Math.abs(q.delta) - Math.abs(p.delta)).slice(0, top), total };
}

export function whereTheWorkGoes(run: LoadedRun): WorkReport {
  const cells: CellWork[] = [];
  const groups = new Map<string, Cell[]>();
  for (const c of run.cells.values()) {
    const reps = profiled(run, c.id);
    if (!reps.length) continue;
    const perIo = Object.fromEntries(SUBSYSTEM_IDS.map((s) => [s, s === 'idle' ? 0 : mean(reps.map((r) => (r.profile!.instructions[s] ?? 0) / r.profile!.ios))])) as Record<SubsystemId, number>;
    cells.push({ cell: c.id, group: siblingKey(c), config: configName(c.iommu), configOrder: configOrder(c.iommu), perIo, reps: reps.length, boots: new Set(reps.map((r) => r.provenance.boot_id ?? r.provenance.target)).size });
    groups.set(siblingKey(c), [...(groups.get(siblingKey(c)) ?? []), c]);
  }
  const diffs: WorkDiff[] = [];
  for (const [group, cs] of groups) {
    for (const [a, b] of modePairs(cs)) {
      const ra = profiled(run, a.id)[0];
      const rb = profiled(run, b.id)[0];
      const fa = ra && functionsPerIo(run, ra);
      const fb = rb && functionsPerIo(run, rb);
      if (!fa || !fb) continue;
      diffs.push({ group, a: configName(a.iommu), b: configName(b.iommu), ...diffFunctions(fa, fb) });
    }
  }
  cells.sort((x, y) => x.group.localeCompare(y.group) || x.configOrder - y.configOrder);
  return { cells, diffs };
}
