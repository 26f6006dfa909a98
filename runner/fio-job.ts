/**
 * The fio job file for one repetition, built from the cell's typed job. Values
 * come from the validated scenario (enums, patterns, integers), and are checked
 * again here: nothing a user wrote can add a line or an option to the job.
 */
import type { Cell, FioJob } from '../cell/types.js';
import { FioJobError } from '../core/errors.js';
import { FIO_OPTIONS } from '../scenario/fio-options.js';
import type { FioOptionValue } from '../scenario/types.js';

export interface JobContext {
  readonly run: string;
  readonly rep: string;
  readonly path: string;
}

const SAFE_VALUE = /^[A-Za-z0-9._:/,%-]+$/;

function value(key: string, v: FioOptionValue): string {
  const s = typeof v === 'boolean' ? (v ? '1' : '0') : String(v);
  if (!SAFE_VALUE.test(s)) {
    throw new FioJobError(`fio option ${key}=${JSON.stringify(s)} has characters a job file cannot hold`, { fix: 'this value should have been rejected by the scenario schema; please report it' });
  }
  return `${key}=${s}`;
}

export function writesData(rw: string): boolean {
  return rw !== 'read' && rw !== 'randread';
}

export function buildJobFile(cell: Omit<Cell, 'job'> & { readonly job: FioJob }, ctx: JobContext): string {
  const j = cell.job;
  const lines = [
    '; iommu-lab fio job: generated for one repetition, stored beside its results.',
    `; cell ${cell.id}`,
    `; run ${ctx.run}, repetition ${ctx.rep}`,
    `; IOMMU ${cell.iommu.device}/${cell.iommu.mode}, target ${cell.target.name}, disk ${cell.disk}`,
    '[global]',
    value('filename', ctx.path),
    value('ioengine', j.ioengine),
    value('direct', j.direct),
    value('size', j.size),
    // time_based keeps every repetition the same length whatever the throughput.
    'time_based=1',
    value('runtime', j.runtime),
    value('ramp_time', j.ramp_time),
    // A fixed seed makes the offsets of random I/O the same in every repetition.
    'randrepeat=1',
    'randseed=1234',
    '',
    `[${j.workload}]`,
    value('rw', j.rw),
    value('bs', j.bs),
    value('iodepth', j.iodepth),
    value('numjobs', j.numjobs),
  ];
  for (const [k, v] of Object.entries(j.options)) {
    if (!(k in FIO_OPTIONS)) throw new FioJobError(`fio option "${k}" is not in the allow-list`, {});
    lines.push(value(k, v));
  }
  return `${lines.join('\n')}\n`;
}
