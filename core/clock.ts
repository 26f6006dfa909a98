/**
 * How a VM guest keeps time, described once. The domain XML (QEMU's flags and
 * the test disks' backend), the runner (real-time scheduling, contamination
 * checks) and the reports (what a timing means, what may be compared) all
 * read this table.
 *
 * - `tcg`: guest time follows the host's wall clock. Timings carry the host's
 *   noise (IOPS CV 10–30 % under TCG on a 2-core host).
 * - `icount`: guest time follows executed instructions at a rate QEMU keeps
 *   re-tuning to the host (`shift=auto,sleep=on`); measured noisier than `tcg`.
 * - `virtual`: a fixed instruction-count clock that never sleeps
 *   (`shift=3,sleep=off,align=off`: one instruction is 8 ns of guest time, and
 *   an idle guest jumps to its next timer) with test disks that complete at
 *   once (QEMU's `null-co`: reads return zeroes, writes are discarded). Guest
 *   time then counts the guest's own work, so timings repeat to a fraction of a
 *   percent; they leave out device latency, the cost of the vIOMMU emulation in
 *   QEMU and, since icount runs all vCPUs on one host thread, lock contention
 *   between CPUs. See docs/timing.md.
 */
export const VM_CLOCKS = ['tcg', 'icount', 'virtual'] as const;
export type VmClock = (typeof VM_CLOCKS)[number];

/** What a timing measured on a target means: host wall-clock time, or the guest's instruction-count time. */
export type Timebase = 'wall' | 'virtual';

export interface ClockDescription {
  readonly name: VmClock;
  readonly timebase: Timebase;
  /** QEMU arguments that set the clock. */
  readonly qemuArgs: readonly string[];
  /** Test disks on an instant backend instead of scratch files. */
  readonly instantDisks: boolean;
  /**
   * Extra kernel parameters. Virtual: no address-space randomisation, so that
   * two boots execute the same instructions for the same work (under a virtual
   * clock a different layout is a different time), and the guest's pacer (see
   * guest-images/files/initramfs-init) that keeps an idle guest's clock at
   * instruction pace between measurements.
   */
  readonly kernelArgs: readonly string[];
  /** Instruction counting exists only in TCG: QEMU refuses -icount with KVM. */
  readonly tcgOnly: boolean;
  /**
   * Idle guests are paused between their repetitions: with `sleep=off` an idle
   * guest spins a host core racing through its timers, and a paused guest's
   * clock stands still.
   */
  readonly parkWhenIdle: boolean;
  readonly summary: string;
}

/** Kernel parameter that makes the image's init start the pacer (guest-images/files/initramfs-init). */
export const PACER_ARG = 'iommu_lab.pacer=1';

/** One instruction = 2^3 ns of guest time: about the speed TCG runs at here, so guest seconds stay close to wall seconds. */
export const VIRTUAL_ICOUNT_SHIFT = 3;

export const CLOCKS: Readonly<Record<VmClock, ClockDescription>> = {
  tcg: {
    name: 'tcg', timebase: 'wall', qemuArgs: [], instantDisks: false, kernelArgs: [], tcgOnly: false, parkWhenIdle: false,
    summary: 'wall-clock guest time (noisy under TCG)',
  },
  icount: {
    name: 'icount', timebase: 'wall', qemuArgs: ['-icount', 'shift=auto,sleep=on'], instantDisks: false, kernelArgs: [], tcgOnly: true, parkWhenIdle: false,
    summary: 'instruction-counted guest time re-tuned to the host (shift=auto); noisier than tcg',
  },
  virtual: {
    name: 'virtual', timebase: 'virtual',
    qemuArgs: ['-icount', `shift=${VIRTUAL_ICOUNT_SHIFT},sleep=off,align=off`],
    instantDisks: true,
    // nohz=off: the tick runs even when idle, so a jump of the clock is at most one tick (4 ms). Tickless, an
    // idle guest once jumped 62 s to its next timer in the middle of a measurement.
    kernelArgs: ['nokaslr', 'norandmaps', 'nohz=off', PACER_ARG],
    tcgOnly: true,
    parkWhenIdle: true,
    summary: 'virtual time: a fixed instruction-count clock and instant test disks; timings count the guest\'s own work and repeat',
  },
};

export function timebaseOf(clock: VmClock | undefined): Timebase {
  return clock ? CLOCKS[clock].timebase : 'wall';
}

/**
 * How many guests of one hypervisor host boot side by side: one per host CPU where they are
 * guests of this machine that all park when idle (icount runs a guest on one host thread and the
 * lab parks it once booted), else one at a time (parallel TCG boots on a small host only slow each
 * other down). `up` and the run loop's reboots between boots both follow it.
 */
export function bootsSideBySide(local: boolean, clocks: readonly VmClock[], cpus: number): number {
  return local && clocks.every((c) => CLOCKS[c].parkWhenIdle) ? cpus : 1;
}

