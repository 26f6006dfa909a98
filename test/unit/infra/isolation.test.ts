import { describe, expect, it } from 'vitest';
import { GUEST_DEATH, GuestDiedOnConsole, loadBetween, waitForConsoleLine } from '../../../infra/isolation.js';
import { hostLoadCheck } from '../../../runner/repetition.js';

describe('host load during a measurement', () => {
  it('is the host\'s busy time less the measuring QEMU\'s, in CPUs', () => {
    const l = loadBetween({ at: 0, hostBusy: 1000, qemuBusy: 200 }, { at: 4000, hostBusy: 1000 + 4 * 100 * 1.9, qemuBusy: 200 + 4 * 100 * 1.2 });
    expect(l.seconds).toBe(4);
    expect(l.qemuCpus).toBeCloseTo(1.2);
    expect(l.otherCpus).toBeCloseTo(0.7);
  });

  it('flags a repetition beside too much other load, and says what isolation was in force', () => {
    const quiet = hostLoadCheck({ seconds: 4, otherCpus: 0.02, qemuCpus: 1.2 }, { state: 'on', priority: 1, budgetUs: 800_000 });
    expect(quiet.ok).toBe(true);
    expect(quiet.detail).toContain('SCHED_FIFO 1 (cgroup budget 800 ms/s)');
    const busy = hostLoadCheck({ seconds: 4, otherCpus: 1.9, qemuCpus: 1.1 }, { state: 'off', why: 'IOMMU_LAB_REALTIME=off' }, 0.25, [{ seconds: 4, otherCpus: 1.8, qemuCpus: 1 }]);
    expect(busy.ok).toBe(false);
    expect(busy.detail).toContain('normal priority (IOMMU_LAB_REALTIME=off)');
    expect(busy.detail).toContain('1 earlier attempt(s) discarded (other load 1.80 CPUs)');
  });
});

describe('a virtual-time job that overran its runtime', () => {
  it('is measured from fio\'s own job_runtime (guest time)', async () => {
    const { runtimeOverrunPct } = await import('../../../runner/timed.js');
    // The repetition that exposed it: 5 s asked, 65.4 s of guest time, one I/O waited 62 s.
    expect(runtimeOverrunPct('{"jobs":[{"job_runtime":65446}]}', 5)).toBeCloseTo(1208.9, 0);
    expect(runtimeOverrunPct('note: noise before\n{"jobs":[{"job_runtime":5000}]}', 5)).toBe(0);
    expect(runtimeOverrunPct('not json', 5)).toBeUndefined();
  });
});

describe('waiting for a line on the serial console', () => {
  it('ends at once when the guest kernel panics, with the console tail', async () => {
    const { mkdtemp, writeFile, rm } = await import('node:fs/promises');
    const { tmpdir } = await import('node:os');
    const { join } = await import('node:path');
    const dir = await mkdtemp(join(tmpdir(), 'iommu-lab-console-'));
    try {
      const log = join(dir, 'console.log');
      // Saved from a virtio-iommu guest that double-faulted during a repetition (2026-11-25).
      await writeFile(log, '[   78.337374] Oops: double fault: 0000 [#1] PREEMPT SMP NOPTI\n[   78.343672] Kernel panic - not syncing: Fatal exception in interrupt\n');
      const err = await waitForConsoleLine(log, 'iommu-lab: done abc ', { timeoutMs: 30_000, failOn: GUEST_DEATH }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(GuestDiedOnConsole);
      expect((err as GuestDiedOnConsole).line).toContain('Kernel panic - not syncing');
      expect((err as GuestDiedOnConsole).tail).toContain('double fault');
      // Without failOn it is only the line that counts.
      await writeFile(log, 'iommu-lab: done abc 0\n');
      await expect(waitForConsoleLine(log, 'iommu-lab: done abc ', { timeoutMs: 5_000 })).resolves.toBe('iommu-lab: done abc 0');
      // A guest that goes without a word: the reason libvirt gives ends the wait.
      await writeFile(log, 'booting\n');
      const gone = await waitForConsoleLine(log, 'iommu-lab: done abc ', { timeoutMs: 30_000, isAlive: async () => 'its domain is shut off (destroyed)' }).catch((e: unknown) => e);
      expect((gone as GuestDiedOnConsole).line).toBe('the guest stopped running (its domain is shut off (destroyed))');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
