/**
 * Keeping the history bounded: the oldest runs of a scenario beyond `keep` are
 * removed after a sweep, never the baseline and never the run just made.
 */
import { rm } from 'node:fs/promises';
import { resolve } from 'node:path';
import { getBaseline, listRuns } from '../analysis/history.js';

export async function pruneRuns(root: string, scenario: string, keep: number, protect: readonly string[]): Promise<string[]> {
  const runs = await listRuns(root, scenario);
  const baseline = await getBaseline(root, scenario).catch(() => undefined);
  const keepSet = new Set([...protect.map((p) => resolve(p)), ...(baseline ? [resolve(baseline)] : [])]);
  const removable = runs.filter((r) => !keepSet.has(resolve(r.dir)));
  const excess = runs.length - keep;
  const removed: string[] = [];
  for (const r of removable.slice(0, Math.max(0, excess))) {
    await rm(r.dir, { recursive: true, force: true });
    removed.push(r.dir);
  }
  return removed;
}
