/**
 * Stage 4: the record. Every repetition ends as one atomic write of its result
 * (passed with metrics, or failed with a failure kind) with its provenance:
 * what the target ran (preflight facts), the job, the seed and order. The
 * recorder also keeps the run's tally and tells the caller (progress).
 */
import type { InventoryTarget } from '../inventory/types.js';
import { thisHost, type RunStore } from '../result/store.js';
import { filesIndex, repId, type Check, type Failure, type ProfileRecord, type RepOutcome, type RepResult, type TraceRecord } from '../result/types.js';
import type { FailureKind } from '../core/errors.js';
import type { Task } from './order.js';
import type { TargetFacts } from './target.js';

/** What a repetition leaves beside its outcome. */
export interface RepExtra extends Partial<TargetFacts> {
  readonly job?: string;
  /** File name → content, written beside result.json. */
  readonly files?: Readonly<Record<string, string>>;
  readonly tracing?: Readonly<Record<string, TraceRecord>>;
  readonly checks?: readonly Check[];
  /** The QEMU plugin's window (runner/profile/guest.ts): how its counts were made. */
  readonly profile?: ProfileRecord;
}

export interface RecordedFailure {
  readonly cell: string;
  readonly rep: string;
  readonly kind: FailureKind;
  readonly message: string;
}

export type RecordEvent = { readonly type: 'rep-done'; readonly target: string; readonly cell: string; readonly rep: string; readonly outcome: RepOutcome; readonly left: number };

export class Recorder {
  passed = 0;
  /** Results written (passed or failed); interrupted repetitions are not. */
  written = 0;
  readonly failures: RecordedFailure[] = [];

  constructor(
    private readonly store: RunStore,
    private readonly context: { readonly scenarioSha256: string; readonly seed: number; readonly labVersion: string },
    private remaining: number,
    private readonly onRecord: (e: RecordEvent) => void,
  ) {}

  async record(target: Pick<InventoryTarget, 'name' | 'kind' | 'vm'>, task: Task, outcome: RepOutcome, started: Date, extra: RepExtra = {}): Promise<void> {
    const files = extra.files ?? {};
    const { facts, verdict } = extra;
    const result: RepResult = {
      version: 1, run: this.store.id, cell: task.cell.id, rep: task.rep,
      started: started.toISOString(), finished: new Date().toISOString(), outcome,
      provenance: {
        target: target.name, target_kind: target.kind,
        ...(facts ? { kernel: facts.kernel, cmdline: facts.cmdline, ...(facts.bootId ? { boot_id: facts.bootId } : {}), tools: { fio: facts.tools.fio, bpftrace: facts.tools.bpftrace, ...(target.vm?.qemu_version ? { qemu: target.vm.qemu_version } : {}) } } : {}),
        ...(verdict ? { iommu_groups: verdict.observed } : {}),
        ...(target.vm ? { image_digest: target.vm.image_digest } : {}),
        ...(target.vm?.kernel_build ? { kernel_build: target.vm.kernel_build } : {}),
        scenario_sha256: this.context.scenarioSha256,
        ...(extra.job ? { fio_job: extra.job } : {}),
        seed: this.context.seed, order: task.order, lab_version: this.context.labVersion, host: thisHost(),
      },
      files: filesIndex(Object.keys(files)),
      ...(extra.tracing ? { tracing: extra.tracing } : {}),
      ...(extra.checks?.length ? { checks: [...extra.checks] } : {}),
      ...(extra.profile ? { profile: extra.profile } : {}),
    };
    await this.store.writeRep(result, files);
    this.written++;
    this.remaining--;
    if (outcome.state === 'passed') this.passed++;
    else this.failures.push({ cell: task.cell.id, rep: repId(task.rep), kind: outcome.failure.kind, message: outcome.failure.message });
    this.onRecord({ type: 'rep-done', target: target.name, cell: task.cell.id, rep: repId(task.rep), outcome, left: this.remaining });
  }

  /**
   * A repetition the run's interruption cut short: named in the summary, never
   * written (a result is never half-made; resuming runs it).
   */
  interrupted(target: InventoryTarget, task: Task, failure: Failure): void {
    this.failures.push({ cell: task.cell.id, rep: repId(task.rep), kind: failure.kind, message: failure.message });
    this.onRecord({ type: 'rep-done', target: target.name, cell: task.cell.id, rep: repId(task.rep), outcome: { state: 'failed', failure }, left: this.remaining });
  }
}
