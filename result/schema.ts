/**
 * JSON Schemas of the results store's records, generated into schemas/ by
 * `npm run generate`. Metric names and failure kinds come from the same tables
 * the code uses, so the schema cannot drift from what the runner writes.
 */
import { KERNEL_IDENTITY_SCHEMA } from '../guest-images/kernel/identity.js';
import { METRIC_NAMES } from '../core/metrics.js';
import { FAILURE_KIND_NAMES } from './types.js';

const id = { type: 'string', pattern: '^[A-Za-z0-9._-]+$', maxLength: 255 };
const sha256 = { type: 'string', pattern: '^[0-9a-f]{64}$' };
const dateTime = { type: 'string', format: 'date-time' };

export const repResultSchema: Record<string, unknown> = {
  $schema: 'http://json-schema.org/draft-07/schema#',
  $id: 'https://iommu-lab.dev/schemas/rep-result.schema.json',
  title: 'iommu-lab repetition result (result.json)',
  type: 'object',
  additionalProperties: false,
  required: ['version', 'run', 'cell', 'rep', 'started', 'finished', 'outcome', 'provenance', 'files'],
  properties: {
    version: { const: 1 },
    run: id,
    cell: id,
    rep: {
      type: 'object',
      additionalProperties: false,
      required: ['kind', 'index'],
      properties: { kind: { enum: ['timing', 'traced'] }, index: { type: 'integer', minimum: 1 } },
    },
    started: dateTime,
    finished: dateTime,
    outcome: {
      oneOf: [
        {
          type: 'object',
          additionalProperties: false,
          required: ['state', 'metrics'],
          properties: {
            state: { const: 'passed' },
            metrics: { type: 'object', propertyNames: { enum: [...METRIC_NAMES] }, additionalProperties: { type: 'number' } },
          },
        },
        {
          type: 'object',
          additionalProperties: false,
          required: ['state', 'failure'],
          properties: {
            state: { const: 'failed' },
            failure: {
              type: 'object',
              additionalProperties: false,
              required: ['kind', 'message'],
              properties: { kind: { enum: [...FAILURE_KIND_NAMES] }, message: { type: 'string' }, stderr_tail: { type: 'string' } },
            },
          },
        },
      ],
    },
    provenance: {
      type: 'object',
      additionalProperties: false,
      required: ['target', 'target_kind', 'scenario_sha256', 'seed', 'order', 'lab_version', 'host'],
      properties: {
        target: { type: 'string' },
        boot_id: { type: 'string' },
        target_kind: { enum: ['vm', 'static'] },
        kernel: { type: 'string' },
        kernel_build: KERNEL_IDENTITY_SCHEMA,
        cmdline: { type: 'string' },
        iommu_groups: { type: 'object', additionalProperties: { type: 'string' } },
        tools: { type: 'object', additionalProperties: { type: 'string' } },
        image_digest: { type: 'string' },
        scenario_sha256: sha256,
        fio_job: { type: 'string' },
        seed: { type: 'integer' },
        order: { type: 'integer', minimum: 0 },
        lab_version: { type: 'string' },
        host: { type: 'string' },
      },
    },
    files: { type: 'object', additionalProperties: { type: 'string' } },
    tracing: {
      description: 'Per bpftrace script of a traced repetition: the probes attached and those the kernel lacks.',
      type: 'object',
      additionalProperties: {
        type: 'object',
        additionalProperties: false,
        required: ['probes', 'skipped'],
        properties: {
          probes: { type: 'array', items: { type: 'string' } },
          skipped: {
            type: 'array',
            items: {
              type: 'object',
              additionalProperties: false,
              required: ['probe', 'reason'],
              properties: { probe: { type: 'string' }, reason: { type: 'string' } },
            },
          },
          attach_seconds: { type: 'number', minimum: 0 },
          complete: {
            description: 'The counts cover the whole workload: every announced probe attached in the kernel before it, no event missed.',
            type: 'object',
            additionalProperties: false,
            required: ['probes_announced', 'probes_in_kernel', 'recursion_misses'],
            properties: {
              probes_announced: { type: 'integer', minimum: 0 },
              probes_in_kernel: { type: 'integer', minimum: 0 },
              recursion_misses: { type: 'integer', minimum: 0, description: 'Runs the programs skipped (bpftool recursion_misses); only pure counters may miss, and their misses are added back.' },
              misses_added: { type: 'object', additionalProperties: { type: 'integer', minimum: 1 }, description: 'Per map: the calls its counter skipped, added to the count.' },
              sampled_misses: { type: 'integer', minimum: 1, description: "Runs skipped by programs that feed only samples (the script's SAMPLED: probes)." },
            },
          },
        },
      },
    },
    profile: {
      description: "How the lab's QEMU plugin counted the workload's window (docs/profiler.md).",
      type: 'object',
      additionalProperties: false,
      required: ['plugin_version', 'count', 'window', 'ios', 'ios_from', 'instructions'],
      properties: {
        plugin_version: { type: 'string' },
        count: { enum: ['inline', 'callback'] },
        window: { type: 'integer', minimum: 1 },
        ios: { type: 'number', exclusiveMinimum: 0 },
        ios_from: { enum: ['disk-stats', 'dma-map-calls', 'nic-stats'] },
        mib: { type: 'number', minimum: 0 },
        instructions: { type: 'object', additionalProperties: { type: 'number', minimum: 0 } },
      },
    },
    checks: {
      description: 'Checks of the measurement itself, such as the I/O pattern the device saw.',
      type: 'array',
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['name', 'ok', 'detail'],
        properties: { name: { type: 'string' }, ok: { type: 'boolean' }, detail: { type: 'string' } },
      },
    },
  },
};

export const runManifestSchema: Record<string, unknown> = {
  $schema: 'http://json-schema.org/draft-07/schema#',
  $id: 'https://iommu-lab.dev/schemas/run.schema.json',
  title: 'iommu-lab run manifest (run.json)',
  type: 'object',
  required: ['version', 'id', 'created', 'lab_version', 'scenario', 'seed', 'repetitions', 'cells', 'inventory_source', 'host'],
  additionalProperties: false,
  properties: {
    version: { const: 1 },
    id,
    created: dateTime,
    lab_version: { type: 'string' },
    scenario: {
      type: 'object',
      additionalProperties: false,
      required: ['name', 'file', 'sha256'],
      properties: { name: { type: 'string' }, file: { type: 'string' }, sha256 },
    },
    seed: { type: 'integer' },
    repetitions: {
      type: 'object',
      additionalProperties: false,
      required: ['timing', 'traced'],
      properties: { timing: { type: 'integer', minimum: 0 }, traced: { type: 'integer', minimum: 0 } },
    },
    cells: {
      type: 'array',
      items: {
        type: 'object',
        required: ['id', 'index', 'job', 'iommu', 'target', 'disk', 'axes'],
        // The cell as cell/expand.ts made it: its parts are the scenario's, checked there.
        properties: {
          id, index: { type: 'integer', minimum: 0 }, job: { type: 'object' },
          iommu: { type: 'object', required: ['device', 'mode'], properties: { device: { type: 'string' }, mode: { type: 'string' } } },
          target: { type: 'object', required: ['kind', 'name'], properties: { kind: { enum: ['vm', 'static'] }, name: { type: 'string' } } },
          disk: { type: 'string' }, axes: { type: 'object' },
        },
      },
    },
    inventory_source: { type: 'string' },
    host: { type: 'string' },
    shard: {
      type: 'object',
      description: 'A shard of a sweep split over machines (sweep --shard i/n): a part of a night, merged by iommu-lab merge.',
      additionalProperties: false,
      required: ['index', 'count', 'targets', 'plan_cells'],
      properties: {
        index: { type: 'integer', minimum: 1 },
        count: { type: 'integer', minimum: 1 },
        targets: { type: 'array', items: { type: 'string' } },
        plan_cells: { type: 'array', items: id },
      },
    },
    merged_from: {
      type: 'array',
      description: 'The shards iommu-lab merge made this run from.',
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['id', 'shard', 'host', 'created'],
        properties: { id: { type: 'string' }, shard: { type: 'string', pattern: '^\\d+/\\d+$' }, host: { type: 'string' }, created: { type: 'string' } },
      },
    },
  },
};
