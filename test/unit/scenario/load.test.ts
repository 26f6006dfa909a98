import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { InvalidInputError } from '../../../core/errors.js';
import { loadScenarioFile } from '../../../scenario/load.js';
import { MAX_INPUT_BYTES } from '../../../scenario/yaml-source.js';
import { useTmpDir, writeIn } from '../../helpers/tmp.js';

const VALID = `name: t
workloads:
  - name: rr
    rw: randread
    bs: 4k
    iodepth: [1, 16]
iommu:
  - device: intel
    mode: [strict, lazy]
targets:
  vms:
    - name: vm
      disks:
        - { name: nvme0, bus: nvme }
`;

const tmp = useTmpDir();

async function problemsOf(text: string, name = 's.yaml'): Promise<{ file: string; messages: string[] }> {
  const dir = await tmp();
  const file = await writeIn(dir, name, text);
  try {
    await loadScenarioFile(file);
  } catch (e) {
    if (e instanceof InvalidInputError) return { file, messages: e.format().split('\n') };
    throw e;
  }
  throw new Error('expected the scenario to be rejected');
}

describe('loadScenarioFile', () => {
  it('refuses a metric that no tool of the scenario produces, at its line, with the fix', async () => {
    const { file, messages } = await problemsOf(`${VALID}metrics: [iops, dma_map_per_io]\n`);
    expect(messages[1]).toBe(`${file}:15:17: metrics[1]: dma_map_per_io comes from the bpftrace script dma-map-latency, which tracing.scripts does not list, so nothing would produce it`);
    expect(messages[2]).toBe('  fix: add "dma-map-latency" to tracing.scripts, or remove dma_map_per_io from metrics');
    const noReps = await problemsOf(`${VALID}tracing:\n  scripts: [dma-map-latency]\n  repetitions: 0\nmetrics: [dma_map_per_io]\n`);
    expect(noReps.messages[1]).toMatch(/metrics\[0\]: dma_map_per_io comes from bpftrace, but the scenario runs no traced repetition/);
  });

  it('accepts a valid scenario and fills in defaults', async () => {
    const dir = await tmp();
    const loaded = await loadScenarioFile(await writeIn(dir, 's.yaml', VALID));
    const w = loaded.scenario.workloads[0]!;
    if (w.kind !== 'fio') throw new Error('a fio workload by default');
    expect(w.numjobs).toBe(1);
    expect(w.ioengine).toBe('libaio');
    expect(w.direct).toBe(true);
    expect(loaded.scenario.repetitions).toBe(5);
    expect(loaded.scenario.thresholds.alpha).toBe(0.05);
    expect(loaded.scenario.targets.vms[0]!.kernel).toBe('6.12');
    expect(loaded.sha256).toMatch(/^[0-9a-f]{64}$/);
  });

  it('accepts the shipped scenarios', async () => {
    for (const f of ['scenarios/quick.yaml', 'scenarios/nightly.yaml']) {
      await expect(loadScenarioFile(f)).resolves.toBeTruthy();
    }
  });

  it('reports YAML syntax errors with line and column', async () => {
    const { file, messages } = await problemsOf(VALID.replace('bs: 4k', 'bs: [4k'));
    expect(messages.join('\n')).toMatch(new RegExp(`${file}:\\d+:\\d+: YAML: `));
    expect(messages[0]).toContain('error[E_YAML]');
  });

  it('refuses more boots than timing repetitions, at the boots key', async () => {
    const { file, messages } = await problemsOf(VALID.replace('name: t\n', 'name: t\nrepetitions: 2\n').replace('    - name: vm\n', '    - name: vm\n      boots: 3\n'));
    const line = messages.find((m) => m.includes('3 boots but only 2 timing repetitions'));
    expect(line).toContain(`${file}:`);
    expect(messages.join('\n')).toContain('set repetitions to at least 3');
  });

  it('rejects duplicate keys at the repeated key', async () => {
    const { file, messages } = await problemsOf(VALID.replace('    bs: 4k\n', '    bs: 4k\n    bs: 8k\n'));
    const line = messages.find((m) => m.includes('unique'));
    expect(line).toBeDefined();
    expect(line).toContain(`${file}:6:5:`);
    expect(messages.join('\n')).toContain('remove or rename the repeated key');
  });

  it('rejects unknown keys, naming the key, its place and a suggestion', async () => {
    const { file, messages } = await problemsOf(VALID.replace('    bs: 4k\n', '    bs: 4k\n    iodepht: 4\n'));
    expect(messages).toContain(`${file}:6:5: workloads[0].iodepht: unknown key "iodepht"`);
    expect(messages.join('\n')).toContain('did you mean "iodepth"?');
  });

  it('rejects wrong types with the value and the expected type', async () => {
    const { file, messages } = await problemsOf(VALID.replace('iodepth: [1, 16]', 'iodepth: deep'));
    expect(messages).toContain(`${file}:6:14: workloads[0].iodepth: must be an integer, got string "deep"`);
  });

  it('reports a bad element inside a list value at the element', async () => {
    const { file, messages } = await problemsOf(VALID.replace('iodepth: [1, 16]', 'iodepth: [1, 0]'));
    expect(messages).toContain(`${file}:6:18: workloads[0].iodepth[1]: 0 must be >= 1`);
    expect(messages.join('\n')).not.toContain('must be array');
  });

  it('rejects enum values with the allowed list and a suggestion', async () => {
    const { messages } = await problemsOf(VALID.replace('mode: [strict, lazy]', 'mode: [strict, lazzy]'));
    const text = messages.join('\n');
    expect(text).toContain('iommu[0].mode[1]: "lazzy" is not allowed');
    expect(text).toContain('did you mean "lazy"? allowed: off, passthrough, lazy, strict');
  });

  it('rejects alias bombs', async () => {
    const bomb = [
      'a: &a ["x","x","x","x","x","x","x","x","x","x"]',
      'b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a,*a]',
      'c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b,*b]',
      'd: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c,*c]',
      'e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d,*d]',
    ].join('\n');
    const { file, messages } = await problemsOf(bomb);
    expect(messages.join('\n')).toContain(`${file}:1:1: YAML: Excessive alias count`);
  });

  it('rejects very large files before parsing them', async () => {
    const big = `${VALID}# ${'x'.repeat(MAX_INPUT_BYTES)}\n`;
    const { file, messages } = await problemsOf(big);
    expect(messages.join('\n')).toContain(`${file}:1:1: the file is ${Buffer.byteLength(big)} bytes; input files may be at most`);
  });

  it('rejects names with path separators or shell metacharacters', async () => {
    for (const bad of ['../etc', 'a/b', 'x;rm -rf', '$(id)', 'A']) {
      const { file, messages } = await problemsOf(VALID.replace('name: rr', `name: "${bad}"`));
      expect(messages).toContain(`${file}:3:11: workloads[0].name: ${JSON.stringify(bad)} is not a valid value here`);
      expect(messages.join('\n')).toContain("no '/', spaces or shell characters");
    }
  });

  it('rejects fio options outside the allow-list and lists what is allowed', async () => {
    const { file, messages } = await problemsOf(VALID.replace('    bs: 4k\n', '    bs: 4k\n    options:\n      exec_prerun: "rm -rf /"\n'));
    expect(messages).toContain(`${file}:7:7: workloads[0].options.exec_prerun: unknown key "exec_prerun"`);
    expect(messages.join('\n')).toContain('only the fio options listed in docs/scenarios.md are allowed');
  });

  it('checks the values of allowed fio options', async () => {
    const { messages } = await problemsOf(VALID.replace('    bs: 4k\n', '    bs: 4k\n    options: { rwmixread: 170 }\n'));
    expect(messages.join('\n')).toContain('workloads[0].options.rwmixread: 170 must be <= 100');
  });

  it('rejects IOMMU combinations that cannot exist', async () => {
    const { file, messages } = await problemsOf(VALID.replace('  - device: intel\n    mode: [strict, lazy]', '  - device: [intel, none]\n    mode: [strict]'));
    expect(messages).toContain(`${file}:8:5: iommu[0]: none × strict: device "none" has no IOMMU, so mode "strict" cannot exist; use mode "off"`);
  });

  it('rejects virtio-iommu with the 6.1 kernel', async () => {
    const text = VALID.replace('device: intel', 'device: virtio').replace('    - name: vm\n', '    - name: vm\n      kernel: "6.1"\n');
    const { messages } = await problemsOf(text);
    expect(messages.join('\n')).toContain("targets.vms[0].kernel: the matrix has virtio-iommu, but Debian's 6.1 kernel is built without CONFIG_VIRTIO_IOMMU");
  });

  it('rejects duplicate names', async () => {
    const text = VALID.replace('        - { name: nvme0, bus: nvme }', '        - { name: nvme0, bus: nvme }\n        - { name: nvme0, bus: virtio-blk }');
    const { messages } = await problemsOf(text);
    expect(messages.join('\n')).toContain('targets.vms[0].disks[1].name: disk "nvme0" is declared twice');
  });

  it('rejects tracing scripts that do not exist', async () => {
    const { messages } = await problemsOf(`${VALID}tracing:\n  scripts: [no-such-script]\n`);
    expect(messages.join('\n')).toContain('tracing.scripts[0]: no bpftrace script bpf/no-such-script.bt');
  });

  it('rejects missing required keys at their parent', async () => {
    const { file, messages } = await problemsOf(VALID.replace('    rw: randread\n', ''));
    expect(messages).toContain(`${file}:3:5: workloads[0]: missing required key "rw"`);
  });

  it('requires a hosts file when static hosts are named', async () => {
    const { messages } = await problemsOf(VALID.replace('targets:\n', 'targets:\n  hosts: [bench01]\n'));
    expect(messages.join('\n')).toContain('add `hosts_file: hosts.yaml` to the scenario or pass --hosts FILE');
  });

  it('refuses destructive writes to a raw device of a static host unless allowed', async () => {
    const dir = await tmp();
    const hosts = (await readFile('scenarios/hosts.example.yaml', 'utf8'));
    await writeIn(dir, 'hosts.yaml', hosts);
    const text = VALID.replace('rw: randread', 'rw: randwrite').replace('targets:\n', 'targets:\n  hosts: [bench01]\n') + 'hosts_file: hosts.yaml\n';
    const file = await writeIn(dir, 's.yaml', text);
    const err = await loadScenarioFile(file).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InvalidInputError);
    expect((err as InvalidInputError).format()).toContain('writes to the raw device /dev/nvme1n1 of host "bench01", which would destroy its data');
    await writeIn(dir, 'hosts.yaml', hosts.replace('allow_destructive_writes: false', 'allow_destructive_writes: true'));
    await expect(loadScenarioFile(file)).resolves.toBeTruthy();
  });

  it('reports every problem at once, not only the first', async () => {
    const text = VALID.replace('iodepth: [1, 16]', 'iodepth: deep').replace('mode: [strict, lazy]', 'mode: fast');
    const err = (await problemsOf(text)).messages;
    expect(err[0]).toMatch(/^error\[E_INVALID_INPUT\]: 2 problems in /);
  });
});
