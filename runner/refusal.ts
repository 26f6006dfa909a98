/**
 * Repetitions refused before anything connects: what the lab will not do to a
 * target whatever the scenario says.
 */
import { isFioJob, type Cell } from '../cell/types.js';
import type { InventoryTarget } from '../inventory/types.js';
import type { Failure } from '../result/types.js';
import { writesData } from './fio-job.js';
import { diskOf } from './repetition.js';

/** Writing to a raw device destroys its data; only an explicit opt-in allows it. */
export function destructiveWriteRefusal(target: InventoryTarget, cell: Cell): Failure | undefined {
  if (!isFioJob(cell.job) || !writesData(cell.job.rw)) return undefined;
  const disk = diskOf(target, cell);
  if (!disk.path.startsWith('/dev/') || disk.allow_destructive_writes) return undefined;
  return {
    kind: 'destructive-write-refused',
    message: `${cell.job.rw} would write to the raw device ${disk.path} on ${target.name} and destroy its data; refused before connecting`,
  };
}
