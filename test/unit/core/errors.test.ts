import { readFile, rm } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { main } from '../../../cli/main.js';
import { BpftraceError, ERROR_REGISTRY, EXIT, FAILURE_KIND_NAMES, GuestDiedError, InvalidInputError, isLabError, LabError, SshConnectError, SshError, UsageError, YamlError } from '../../../core/errors.js';
import { failureOf } from '../../../runner/failure.js';
import { destructiveWriteRefusal } from '../../../runner/refusal.js';

describe('the error registry', () => {
  it('has one class per code, named after it, with a meaning', () => {
    const codes = ERROR_REGISTRY.map((c) => c.code);
    expect(new Set(codes).size).toBe(codes.length);
    for (const c of ERROR_REGISTRY) {
      expect(c.code).toMatch(/^E_[A-Z0-9_]+$/);
      expect(c.name).toMatch(/Error$/);
      expect(c.spec.means.length).toBeGreaterThan(10);
      expect([EXIT.failed, EXIT.badInput]).toContain(c.spec.exitCode);
    }
  });

  it('gives an instance its class\'s code, kind, exit code and default fix', () => {
    const e = new GuestDiedError('g died', { detail: 'Kernel panic - not syncing' });
    expect(e).toBeInstanceOf(LabError);
    expect([e.code, e.kind, e.exitCode, e.name]).toEqual(['E_GUEST_DIED', 'guest-died', EXIT.failed, 'GuestDiedError']);
    expect(e.fix).toMatch(/boots the guest again/);
    expect(new SshConnectError('x')).toBeInstanceOf(SshError);
    expect(new UsageError('no file', 'pass one').format()).toBe('error[E_USAGE]: no file\n  fix: pass one');
    expect(new YamlError([{ file: 'a.yaml', line: 1, column: 1, path: '', message: 'bad' }])).toBeInstanceOf(InvalidInputError);
    expect(new YamlError([]).code).toBe('E_YAML');
    expect(new InvalidInputError([]).exitCode).toBe(EXIT.badInput);
  });

  it('prints what explains an error and its fix, never a stack', () => {
    const text = new BpftraceError('bpftrace x exited before attaching', { detail: 'ERROR: probe not found\n' }).format();
    expect(text).toBe('error[E_BPFTRACE]: bpftrace x exited before attaching\n  | ERROR: probe not found\n  fix: the script and its stderr are kept beside the result');
    expect(text).not.toMatch(/\n\s+at /);
  });

  it('keeps the class through withDetail', () => {
    const e = new GuestDiedError('stopped while booting').withDetail('console tail');
    expect(e).toBeInstanceOf(GuestDiedError);
    expect(e.detail).toBe('console tail');
  });
});

describe('failure kinds', () => {
  /** Kinds the runner records without an error class: the function that does, beside the class that does for the rest. */
  const direct: Record<string, string> = {
    'destructive-write-refused': 'runner/refusal.ts destructiveWriteRefusal',
    'host-contention': 'runner/repetition.ts timedWorkload',
    internal: 'runner/failure.ts failureOf (an error the lab does not know)',
  };

  it('every documented kind is produced: by a registered error, or by a named path in the runner', () => {
    const byClass = new Set(ERROR_REGISTRY.map((c) => c.spec.kind).filter(Boolean));
    const orphans = FAILURE_KIND_NAMES.filter((k) => !byClass.has(k) && !direct[k]);
    expect(orphans).toEqual([]);
  });

  it('a registered error becomes its kind, with the first line, the fix and the explaining tail', () => {
    for (const c of ERROR_REGISTRY) {
      if (c === (InvalidInputError as unknown) || c === (YamlError as unknown) || !c.spec.kind) continue;
      const f = failureOf(new c('first line\nsecond', { detail: 'tail', fix: 'do this' }));
      expect(f, c.code).toEqual({ kind: c.spec.kind, message: 'first line (do this)', stderr_tail: 'tail' });
    }
  });

  it('an unknown error is internal: one line, the stack kept apart', () => {
    const f = failureOf(new TypeError('x is undefined\nmore'));
    expect(f.kind).toBe('internal');
    expect(f.message).toBe('TypeError: x is undefined (a bug in the lab; the stack is in stderr_tail)');
    expect(f.stderr_tail).toMatch(/\n\s+at /);
  });

  it('destructive writes are refused by the runner itself', () => {
    const target = { name: 'h', kind: 'static', ssh: { host: '', port: 22, user: '', key_path: '', host_key_sha256: '' }, iommu: { device: 'none', mode: 'off' }, disks: [{ name: 'd', path: '/dev/sdz', behind_iommu: false, allow_destructive_writes: false }] } as const;
    const cell = { disk: 'd', job: { rw: 'randwrite' } } as never;
    expect(destructiveWriteRefusal(target, cell)?.kind).toBe('destructive-write-refused');
  });
});

describe('the CLI and errors', () => {
  it('prints a known error in one block without a stack and exits with its code', async () => {
    const err: string[] = [];
    const code = await main(['compare', '/nonexistent/a', '/nonexistent/b'], { out: () => {}, err: (s: string) => err.push(s), isTTY: false } as never);
    expect(code).toBe(EXIT.badInput);
    expect(err.join('\n')).toMatch(/^error\[E_RUN_UNREADABLE\]: \S+ is not a run directory/);
    expect(err.join('\n')).not.toMatch(/\n\s+at /);
  });

  it('prints one line for a bug and writes the stack to the file it names', async () => {
    const err: string[] = [];
    const { COMMANDS } = await import('../../../cli/commands/index.js');
    const cmd = COMMANDS.find((c) => c.name === 'validate')!;
    const run = cmd.run;
    (cmd as { run: typeof run }).run = async () => { throw new TypeError('boom'); };
    try {
      const code = await main(['validate', 'x.yaml'], { out: () => {}, err: (s: string) => err.push(s), isTTY: false } as never);
      expect(code).toBe(EXIT.failed);
    } finally {
      (cmd as { run: typeof run }).run = run;
    }
    expect(err).toHaveLength(1);
    const file = /the full trace is in (\S+),/.exec(err[0]!)?.[1];
    expect(err[0]).toMatch(/^iommu-lab: unexpected error: TypeError: boom/);
    expect(await readFile(file!, 'utf8')).toMatch(/TypeError: boom\n\s+at /);
    await rm(file!, { force: true });
    expect(isLabError(new TypeError('x'))).toBe(false);
  });
});
