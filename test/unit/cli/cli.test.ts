import { describe, expect, it } from 'vitest';
import { runCli } from '../../helpers/run-cli.js';
import { useTmpDir, writeIn } from '../../helpers/tmp.js';

const tmp = useTmpDir();

describe('iommu-lab CLI', () => {
  it('validates the shipped files with exit code 0', async () => {
    const r = await runCli('validate', 'scenarios/quick.yaml', 'scenarios/nightly.yaml', 'scenarios/hosts.example.yaml');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('ok  scenarios/quick.yaml: scenario "quick", 4 cells on 4 guest(s)');
    expect(r.stdout).toContain('ok  scenarios/hosts.example.yaml: hosts file with 2 host(s)');
  });

  it('exits 2 on invalid input, with located problems and no stack trace', async () => {
    const file = await writeIn(await tmp(), 'bad.yaml', 'name: x\nworkloads: 3\n');
    const r = await runCli('validate', file);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`${file}:2:12: workloads: must be a list, got integer 3`);
    expect(r.stderr).toContain('missing required key "iommu"');
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });

  it('collects problems from several files in one report', async () => {
    const dir = await tmp();
    const a = await writeIn(dir, 'a.yaml', 'name: x\n');
    const b = await writeIn(dir, 'b.yaml', 'name: [\n');
    const r = await runCli('validate', a, b);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`${a}:1:1`);
    expect(r.stderr).toContain(`${b}:`);
  });

  it('exits 2 for a missing file', async () => {
    const r = await runCli('plan', '/no/such/scenario.yaml');
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('/no/such/scenario.yaml:1:1: cannot read the file (ENOENT)');
  });

  it('exits 2 for an unknown command or option', async () => {
    expect((await runCli('frobnicate')).code).toBe(2);
    expect((await runCli('plan', '--no-such-option', 'x')).code).toBe(2);
  });

  it('exits 2 for a shard out of range and for a remote hypervisor without a pinned key, before anything boots', async () => {
    const shard = await runCli('sweep', 'scenarios/quick.yaml', '--shard', '3/2');
    expect(shard.code).toBe(2);
    expect(shard.stderr).toContain('error[E_SHARD]: --shard 3/2: the shard index must be between 1 and 2');
    const unpinned = await runCli('sweep', 'scenarios/quick.yaml', '--hypervisor', 'qemu+ssh://root@lab9/system');
    expect(unpinned.code).toBe(2);
    expect(unpinned.stderr).toContain('error[E_HYPERVISOR_UNPINNED]: qemu+ssh://root@lab9/system is a remote hypervisor, but no hosts file was given');
    const merge = await runCli('merge', 'scenarios');
    expect(merge.code).toBe(2);
  });

  it('prints the matrix as a table', async () => {
    const r = await runCli('plan', 'scenarios/quick.yaml');
    expect(r.code).toBe(0);
    const lines = r.stdout.split('\n');
    expect(lines[0]).toMatch(/^#\s+cell\s+target\s+iommu\s+job\s+device$/);
    expect(lines[2]).toMatch(/^1\s+randread-4k__intel-strict__tcg__nvme0\s+tcg-intel-strict\s+intel\/strict\s+randread 4k qd16 j1 libaio\s+nvme0$/);
    expect(r.stdout).toContain('4 cells on 4 guest(s); 2 timing + 0 traced repetitions per cell');
  });

  it('prints the plan as JSON for machines', async () => {
    const r = await runCli('plan', 'scenarios/nightly.yaml', '--json');
    const plan = JSON.parse(r.stdout) as { cellCount: number; cells: { id: string }[]; guests: unknown[] };
    expect(plan.cellCount).toBe(plan.cells.length);
    expect(plan.cellCount).toBe(104);
    // 80 fio cells, and 3 network cells (TCP with 1 and 4 flows, UDP) on the test link of each of the 8 guests.
    expect(plan.cells.filter((c) => c.id.startsWith('tcp-stream') || c.id.startsWith('udp-1448'))).toHaveLength(24);
    expect(plan.guests).toHaveLength(8);
  });

  it('answers --help and --version with exit code 0', async () => {
    const help = await runCli('--help');
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('validate');
    expect((await runCli('--version')).stdout).toMatch(/^\d+\.\d+\.\d+$/);
  });
});
