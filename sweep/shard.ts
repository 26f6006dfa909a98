/**
 * Shards: a sweep split over machines (CI runners), each running a
 * deterministic part of the matrix, put back together by `iommu-lab merge`
 * (sweep/merge.ts). A shard holds whole targets — a guest's cells never split,
 * so each boot is used fully — balanced by estimated time: targets are taken
 * longest first and each goes to the shard with the least work so far (ties to
 * the lower index, then by name), so every shard of every machine computes the
 * same split from the same scenario.
 */
import { bootsOfCell } from '../cell/expand.js';
import { repetitionShape, repetitionsOf, type RepetitionShape } from '../cell/repetition.js';
import type { Job, Plan } from '../cell/types.js';
import { ShardError } from '../core/errors.js';
import type { ShardRecord, ShardSpec } from '../result/types.js';
import type { Scenario } from '../scenario/types.js';


/** Estimates for balancing (bench/scale-out.ts measures the real figures): a TCG boot to SSH, and the lab's time around each repetition. */
export const BOOT_ESTIMATE_S = 30;
export const REPETITION_OVERHEAD_ESTIMATE_S = 8;

export function parseShard(text: string): ShardSpec {
  const m = /^\s*(\d+)\s*\/\s*(\d+)\s*$/.exec(text);
  if (!m) throw new ShardError(`--shard ${text} is not i/n`, { fix: 'e.g. --shard 1/4 (shard 1 of 4)' });
  const index = Number(m[1]);
  const count = Number(m[2]);
  if (count < 1 || index < 1 || index > count) throw new ShardError(`--shard ${text}: the shard index must be between 1 and ${Math.max(1, count)}`, { fix: `shards of ${count}: --shard 1/${count} … --shard ${count}/${count}` });
  return { index, count };
}

/** What a target's time is made of: a boot, and each repetition (its workload seconds and the lab's time around it). */
export interface CostModel {
  readonly bootS: number;
  readonly repetitionS: (shape: RepetitionShape<Job>) => number;
}

/** The estimate `--shard` balances by (bench/scale-out.ts passes a measured model instead). */
export const ESTIMATED_COSTS: CostModel = { bootS: BOOT_ESTIMATE_S, repetitionS: (shape) => shape.workloadSeconds + REPETITION_OVERHEAD_ESTIMATE_S };

/** Seconds of each target of the plan: its repetitions and its boots (static hosts boot never). */
export function targetCosts(plan: Plan, scenario: Pick<Scenario, 'targets' | 'tracing'>, model: CostModel = ESTIMATED_COSTS): Map<string, number> {
  const cost = new Map<string, number>();
  const boots = new Map<string, number>();
  for (const c of plan.cells) {
    const s = repetitionsOf(c, plan.repetitions).reduce((n, rep) => n + model.repetitionS(repetitionShape(c, rep, scenario.tracing)), 0);
    cost.set(c.target.name, (cost.get(c.target.name) ?? 0) + s);
    if (c.target.kind === 'vm') boots.set(c.target.name, Math.max(boots.get(c.target.name) ?? 0, bootsOfCell(scenario, c)));
  }
  for (const [t, b] of boots) cost.set(t, cost.get(t)! + b * model.bootS);
  return cost;
}

/** Which shard (1-based) runs each target. */
export function assignShards(costs: ReadonlyMap<string, number>, count: number): Map<string, number> {
  const order = [...costs].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]));
  const load = Array.from({ length: count }, () => 0);
  const out = new Map<string, number>();
  for (const [target, seconds] of order) {
    let best = 0;
    for (let i = 1; i < count; i++) if (load[i]! < load[best]!) best = i;
    load[best]! += seconds;
    out.set(target, best + 1);
  }
  return out;
}

/** The shard's part of the plan: its targets' cells and guests; and what its run records. */
export function shardPlan(plan: Plan, scenario: Pick<Scenario, 'targets' | 'tracing'>, shard: ShardSpec): { plan: Plan; record: ShardRecord } {
  const of = assignShards(targetCosts(plan, scenario), shard.count);
  const mine = (name: string) => of.get(name) === shard.index;
  const cells = plan.cells.filter((c) => mine(c.target.name));
  const targets = [...new Set(cells.map((c) => c.target.name))];
  return {
    plan: { ...plan, cells, guests: plan.guests.filter((g) => mine(g.name)) },
    record: { index: shard.index, count: shard.count, targets, plan_cells: plan.cells.map((c) => c.id) },
  };
}
