/**
 * Every error the lab expects, registered once (in the style of vitest's
 * src/node/errors.ts): one class per stable `code`, each with the failure kind
 * it gives a repetition it ends, the exit code the CLI uses, what it means and,
 * where there is one, the usual fix. docs/errors.md is generated from this
 * registry. Known errors print without a stack; anything else is a bug, and
 * the CLI writes its stack to a file and prints one line saying where.
 */

export const EXIT = { ok: 0, failed: 1, badInput: 2 } as const;
export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

/**
 * How a repetition failed, as results record it (`outcome.failure.kind`).
 * `what` says what the lab does about it (docs/errors.md, docs/runner.md).
 */
export const FAILURE_KINDS = {
  connect: 'The target did not answer SSH, or the connection dropped. Retried with backoff (3 times); then the rest of the target\'s repetitions in this boot fail the same way.',
  auth: 'The target refused the key, or the key file cannot be read. Not retried: fix the key or the inventory.',
  'host-key-mismatch': 'The target\'s host key is not the pinned one. Not retried: a different machine (or a rebuilt one) answers at that address.',
  timeout: 'A command or the workload ran past its budget (runtime + ramp + timeouts.cell_s), or a guest did not answer SSH within timeouts.boot_s. The repetition fails; the next one gets a fresh connection.',
  command: 'A command on the target failed (upload, set-up). The stderr tail is kept.',
  preflight: 'The preflight script could not run, or the target lacks fio. Every repetition of the target in this boot fails with it.',
  'iommu-mode-mismatch': 'The target does not run the IOMMU configuration it should (sysfs group types, /sys/class/iommu, the kernel command line). Nothing is measured on it.',
  'destructive-write-refused': 'A writing workload would overwrite a raw block device that is not marked allow_destructive_writes. Refused before connecting.',
  fio: 'fio exited non-zero. The stderr tail and fio\'s output are kept.',
  parse: 'fio\'s JSON was missing, truncated or without latency histograms. The raw output is kept as fio.json.',
  bpftrace: 'A bpftrace script did not attach, printed errors, or did not exit after SIGINT. Its stderr is kept.',
  'trace-incomplete': 'A traced repetition whose counts could not be proven complete: the kernel did not list all of a script\'s probes as attached within the budget, its BPF programs missed events (recursion misses), or the target has no bpftool to tell. The repetition fails; a partial count is never recorded.',
  profiler: 'The lab\'s QEMU plugin gave no count for the repetition\'s window (no window file, or one the lab cannot read). The repetition fails; its timing is not recorded without its counts.',
  'dma-map-benchmark': 'The DMA-map benchmark could not run: the guest kernel lacks CONFIG_DMA_MAP_BENCHMARK, no tool was built for it, the test device could not be bound to the benchmark, or the tool failed. Its output and stderr are kept.',
  network: 'A network repetition could not run: the test link carried no packet between its two ends, iperf3 is missing, its server did not start, or iperf3 failed or printed no JSON the lab can read. iperf3\'s output and stderr are kept.',
  'guest-died': 'The guest\'s kernel panicked or its domain stopped (libvirt\'s state and the serial console are asked before any failure on a guest is recorded). The guest is booted again and the repetition run anew (at most twice per guest, six times per run); after that it fails with the console\'s last lines.',
  hypervisor: 'libvirt or QEMU could not start, stop or reboot a guest (libvirtd down, a virsh command failed, no free port). The rest of the guest\'s repetitions in this boot fail with it; the next boot, or the next sweep, tries again.',
  'host-contention': 'A virtual-time repetition ran beside too much other host load (or the guest clock jumped) three times in a row; it is not reported.',
  interrupted: 'The run was interrupted (SIGINT or SIGTERM) during the repetition. It is named in the run\'s summary but not recorded (a result is never half-made); `sweep` or `run --resume` runs it.',
  internal: 'A bug in the lab: the result says it in one line and keeps the stack in stderr_tail; the CLI prints one line and the file it wrote the stack to.',
} as const;
export type FailureKind = keyof typeof FAILURE_KINDS;
export const FAILURE_KIND_NAMES = Object.keys(FAILURE_KINDS) as FailureKind[];

export interface LabErrorOptions {
  readonly fix?: string;
  readonly cause?: unknown;
  /** What explains the failure beyond the message: a command's stderr tail, a serial console's last lines. */
  readonly detail?: string;
}

/** What the registry knows of a code. */
export interface ErrorSpec {
  /** The failure kind a repetition gets when this error ends it; none for errors that end a command, not a repetition (`internal` if one ever does). */
  readonly kind?: FailureKind;
  readonly exitCode: ExitCode;
  /** What it means, for docs/errors.md. */
  readonly means: string;
  /** The fix when the thrower gives none. */
  readonly fix?: string;
}

export class LabError extends Error {
  static readonly code: string = 'E_LAB';
  static readonly spec: ErrorSpec = { exitCode: EXIT.failed, means: 'An error of the lab.' };
  readonly code: string;
  readonly kind: FailureKind;
  readonly exitCode: ExitCode;
  readonly fix: string | undefined;
  readonly detail: string;

  constructor(message: string, options: LabErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    const cls = new.target as unknown as { code: string; spec: ErrorSpec; name: string };
    this.name = cls.name;
    this.code = cls.code;
    this.kind = cls.spec.kind ?? 'internal';
    this.exitCode = cls.spec.exitCode;
    this.fix = options.fix ?? cls.spec.fix;
    this.detail = options.detail ?? '';
  }

  /** What the CLI prints: message, what explains it (its last 20 lines), then the fix; never a stack. */
  format(): string {
    const lines = [`error[${this.code}]: ${this.message}`];
    if (this.detail.trim()) lines.push(...this.detail.trimEnd().split('\n').slice(-20).map((l) => `  | ${l}`));
    if (this.fix) lines.push(`  fix: ${this.fix}`);
    return lines.join('\n');
  }

  /** The same error with what explains it (a console tail found after it was thrown). */
  withDetail(detail: string): LabError {
    const cls = this.constructor as new (message: string, options?: LabErrorOptions) => LabError;
    return new cls(this.message, { ...(this.fix ? { fix: this.fix } : {}), detail, ...(this.cause !== undefined ? { cause: this.cause } : {}) });
  }
}

type LabErrorClass<B extends LabError = LabError> = (new (message: string, options?: LabErrorOptions) => B) & { readonly code: string; readonly spec: ErrorSpec };

/** Every registered class, for docs/errors.md and the test that each code is unique. */
export const ERROR_REGISTRY: LabErrorClass[] = [];

/**
 * Registers a code: a class of its own (so `instanceof` and `code` agree),
 * optionally under a family (`SshError`) that callers catch as one.
 */
function define<B extends LabError>(code: string, spec: ErrorSpec, family?: LabErrorClass<B>): LabErrorClass<B> {
  const Base = (family ?? LabError) as unknown as LabErrorClass<B>;
  const cls = class extends (Base as unknown as new (message: string, options?: LabErrorOptions) => LabError) {
    static readonly code = code;
    static readonly spec = spec;
  };
  Object.defineProperty(cls, 'name', { value: codeToName(code) });
  ERROR_REGISTRY.push(cls as unknown as LabErrorClass);
  return cls as unknown as LabErrorClass<B>;
}

/** `E_GUEST_DIED` → `GuestDiedError`. */
function codeToName(code: string): string {
  return `${code.replace(/^E_/, '').toLowerCase().split('_').map((w) => w[0]!.toUpperCase() + w.slice(1)).join('')}Error`;
}

const bad = (means: string, fix?: string): ErrorSpec => ({ exitCode: EXIT.badInput, means, ...(fix ? { fix } : {}) });
const failed = (kind: FailureKind | undefined, means: string, fix?: string): ErrorSpec => ({ ...(kind ? { kind } : {}), exitCode: EXIT.failed, means, ...(fix ? { fix } : {}) });

// ---- Input: scenarios, hosts files, the command line (exit 2) ----

/** One thing wrong in an input file, located to the character. */
export interface Problem {
  readonly file: string;
  readonly line: number;
  readonly column: number;
  /** Dotted path of the offending key, e.g. `workloads[0].iodepth`; empty for the whole document. */
  readonly path: string;
  readonly message: string;
  readonly fix?: string;
}

export function formatProblem(p: Problem): string {
  const where = `${p.file}:${p.line}:${p.column}`;
  const at = p.path ? `${p.path}: ` : '';
  return `${where}: ${at}${p.message}${p.fix ? `\n  fix: ${p.fix}` : ''}`;
}

const InvalidInputBase = define('E_INVALID_INPUT', bad('A scenario, hosts file or inventory does not validate; every problem is listed with file:line:column and its fix.'));

/** Input that does not validate: every problem found, not just the first. Exit code 2. */
export class InvalidInputError extends InvalidInputBase {
  readonly problems: readonly Problem[];

  constructor(problems: readonly Problem[]) {
    const files = [...new Set(problems.map((p) => p.file))].join(', ');
    super(`${problems.length} problem${problems.length === 1 ? '' : 's'} in ${files}`);
    this.problems = problems;
  }

  override format(): string {
    return [`error[${this.code}]: ${this.message}`, ...this.problems.map(formatProblem)].join('\n');
  }
}

/** YAML that does not parse (syntax, duplicate keys, too large), before any schema check. */
export class YamlError extends InvalidInputError {
  static override readonly code = 'E_YAML';
  static override readonly spec = bad('The file is not YAML the lab reads: a syntax error, a duplicate key, an empty or too large file.');
}
ERROR_REGISTRY.push(YamlError as unknown as LabErrorClass);

const UsageBase = define('E_USAGE', bad('A bad command line: a missing file, an unknown form or option value.'));
/** A bad command line (missing file, unknown option value). Exit code 2. */
export class UsageError extends UsageBase {
  constructor(message: string, fix?: string) {
    super(message, fix === undefined ? {} : { fix });
  }
}
export const FioJobError = define('E_FIO_JOB', bad('A fio option or value the job file cannot hold; the scenario schema should have refused it.', 'report it: the scenario schema let it through'));
export const ResumeScenarioChangedError = define('E_RESUME_SCENARIO_CHANGED', bad('A run is resumed with a scenario file that changed since the run began.'));
export const CompareScenariosError = define('E_COMPARE_SCENARIOS', bad('Two runs of different scenarios cannot be compared.'));
export const BaselineCorruptError = define('E_BASELINE_CORRUPT', bad('The baseline file cannot be read.', 'set it again: iommu-lab baseline set RUN'));
export const BaselineMissingError = define('E_BASELINE_MISSING', bad('The baseline names a run that is no longer under the results root.', 'set a new baseline: iommu-lab baseline set RUN'));
export const ReproTargetError = define('E_REPRO_TARGET', bad('`repro` was not given RUN_DIR/CELL_ID.'));
export const ReproCellError = define('E_REPRO_CELL', bad('The run has no such cell.'));
export const ReproCellDiffersError = define('E_REPRO_CELL_DIFFERS', bad('This lab version expands the run\'s scenario into a different cell than the run recorded.'));
export const ReproImageError = define('E_REPRO_IMAGE', bad('The guest image differs from the one the run used.'));
export const ReproKernelError = define('E_REPRO_KERNEL', bad("The kernel build a cell ran on is no longer the one its scenario names (the tree was rebuilt or moved)."));
export const ReproHostsError = define('E_REPRO_HOSTS', bad('The cell ran on a static host and no hosts file was given.', 'pass the hosts file with --hosts'));
export const SweepLockedError = define('E_SWEEP_LOCKED', bad('Another sweep of this results root is running.'));
export const NotRootError = define('E_NOT_ROOT', bad('Bringing guests up or down needs root.', 'run as root, e.g. sudo npx iommu-lab up …'));

// ---- The results store (exit 2: the input directory is wrong) ----

export const ResultsRootError = define('E_RESULTS_ROOT', bad('The results root cannot be made or written (permissions, a read-only file system, a file in the way).', 'pass --results DIR with a directory you can write'));
export const RunExistsError = define('E_RUN_EXISTS', bad('A new run\'s directory already exists.'));
export const RunNotFoundError = define('E_RUN_NOT_FOUND', bad('The directory is not a run (no run.json).'));
export const RunCorruptError = define('E_RUN_CORRUPT', bad('run.json cannot be read.'));
export const RunVersionError = define('E_RUN_VERSION', bad('The run was written by a lab that writes another format version.'));
export const RunUnreadableError = define('E_RUN_UNREADABLE', bad('A run cannot be loaded for analysis.'));
export const DiskFullError = define('E_DISK_FULL', failed(undefined, 'A file system the lab writes to (the results root, the image cache) is full. The run stops at once; no result is half-written, none already written is touched.', 'free space there (df -h shows it) and run the same sweep again: it completes the run'));
export const UnsafeNameError = define('E_UNSAFE_NAME', bad('A cell id, target or file name would leave the run directory or is not a plain name; the store refuses it.', 'report it: names are checked by the scenario schema before a run'));

// ---- Guests, libvirt, images (exit 1) ----

export const GuestDiedError = define('E_GUEST_DIED', failed('guest-died', 'A lab guest stopped (kernel panic on the serial console, or its domain no longer runs); the console\'s last lines are kept.', 'the serial console says why; the lab boots the guest again'));
export const GuestBootFailedError = define('E_GUEST_BOOT', failed('guest-died', 'A lab guest cannot boot, as its serial console or QEMU\'s log shows (its init gave up, its kernel panicked, QEMU refused a device or aborted): the boot ends at once with that cause, not after the boot timeout.', 'the cause and its usual fix are printed with the console\'s last lines'));
export const BootTimeoutError = define('E_BOOT_TIMEOUT', failed('timeout', 'A guest did not answer SSH within timeouts.boot_s.', 'look at the serial console below; raise timeouts.boot_s if the host is slow'));
export const PortBusyError = define('E_PORT_BUSY', failed('hypervisor', 'The loopback port a guest forwards SSH to is taken.', 'free the port or let the lab choose one'));
export const NoPortError = define('E_NO_PORT', failed('hypervisor', 'No free loopback port for a guest\'s SSH.', 'stop what holds ports 22000–29999, or run fewer guests'));
export const RebootStaticError = define('E_REBOOT_STATIC', failed(undefined, 'A static host cannot be rebooted by the lab.', 'use boots: 1 for static hosts'));
export const VirshMissingError = define('E_VIRSH_MISSING', failed('hypervisor', 'virsh is not installed.', 'apt-get install libvirt-clients libvirt-daemon-system (or run scripts/setup.sh)'));
export const LibvirtdDownError = define('E_LIBVIRTD_DOWN', failed('hypervisor', 'libvirtd does not answer at the hypervisor URI.'));
export const QemuTooOldError = define('E_QEMU_TOO_OLD', failed('hypervisor', "The hypervisor's QEMU is older than the lab needs (8.1): QEMU 7.2 stalls emulated NVMe queues under the virtual clock and can hang two-vCPU boots (both fixed upstream in 8.1). Its guests are not booted.", 'Debian 12: scripts/setup.sh installs QEMU 10 and libvirt 11 from bookworm-backports; elsewhere install QEMU 8.1 or newer from your distribution (docs/infra.md)'));
export const VirshError = define('E_VIRSH', failed('hypervisor', 'A virsh command failed; its stderr is kept.'));
export const HypervisorUnreachableError = define('E_HYPERVISOR_UNREACHABLE', failed('hypervisor', 'The lab cannot reach a remote hypervisor over SSH (no answer, refused, or its key not accepted); its guests are not booted and their cells fail; the other hosts\' cells go on.', 'check that the host is up, sshd listens, and the key in the hosts file is in root\'s authorized_keys there'));
export const HypervisorHostKeyError = define('E_HYPERVISOR_HOST_KEY', failed('host-key-mismatch', 'A remote hypervisor\'s SSH host key is not the one pinned in the hosts file; nothing is sent to it.', 'if the host was reinstalled, pin its new key (ssh-keyscan -t ed25519 HOST | ssh-keygen -lf -); otherwise find out who answers at that address'));
export const HypervisorDiskError = define('E_HYPERVISOR_DISK', failed('hypervisor', 'A remote hypervisor has not enough free disk for the guest image or a kernel the lab copies to it.', 'free space in /var/cache/iommu-lab on that host (or mount a larger disk there), or leave the host out'));
export const HypervisorCopyError = define('E_HYPERVISOR_COPY', failed('hypervisor', 'A file copied to a remote hypervisor did not arrive whole (its sha256 there differs), or the copy failed.', 'try again; if it repeats, check the host\'s disk and memory'));
export const HypervisorUnpinnedError = define('E_HYPERVISOR_UNPINNED', bad('A remote hypervisor was named without its SSH key and pinned host key.', 'add it under hypervisors: in the hosts file (uri, capacity, ssh: { key, host_key_sha256 }) and pass --hosts FILE'));
export const ShardError = define('E_SHARD', bad('A --shard value the lab cannot use: not i/n, or i outside 1..n.', 'write --shard 1/2 … --shard 2/2: one sweep per shard, then iommu-lab merge'));
export const MergeError = define('E_MERGE', bad('The runs given to merge are not the shards of one sweep: another scenario text or seed, shards overlapping, or a run that is not a shard.', 'merge the runs of one sharded sweep, made from the same scenario file and seed'));
/** Any failure of the guest image; catch this to handle them all. */
export const ImageError = define('E_IMAGE', failed(undefined, 'A guest image failure (one of the codes below).'));
export const ImageNotRootError = define('E_IMAGE_NOT_ROOT', bad('Building the guest image needs root.', 'run it as root, e.g. sudo npx iommu-lab image build'), ImageError);
export const ImageToolsError = define('E_IMAGE_TOOLS', failed(undefined, 'Tools the image build needs are missing.'), ImageError);
export const ImageDiskSpaceError = define('E_IMAGE_DISK_SPACE', failed(undefined, 'Not enough disk space for the image build.', 'free some space, or point IOMMU_LAB_CACHE elsewhere'), ImageError);
export const ImageMissingError = define('E_IMAGE_MISSING', failed(undefined, 'No guest image for the current recipe.', 'build it: iommu-lab image build (needs root)'), ImageError);
export const ImageKernelsError = define('E_IMAGE_KERNELS', failed(undefined, 'The built image lacks an expected kernel.'), ImageError);
export const ImageKernelError = define('E_IMAGE_KERNEL', failed(undefined, 'The image has no kernel of the series a VM profile asks for.', 'rebuild the image (iommu-lab image build --force)'), ImageError);
export const ImagePackageError = define('E_IMAGE_PACKAGE', failed(undefined, 'Debian has no package the recipe names.', 'fix the package list in guest-images/recipe.ts (apt-cache policy NAME shows what exists)'), ImageError);
export const ImageNetworkError = define('E_IMAGE_NETWORK', failed(undefined, 'The Debian mirror could not be reached during the image build.', 'check the network, or set IOMMU_LAB_MIRROR to a reachable Debian mirror'), ImageError);
export const ImageBuildError = define('E_IMAGE_BUILD', failed(undefined, 'The image build failed for another reason; the log is printed.', 'the full log is above; nothing was left in the cache'), ImageError);
export const ImageCorruptError = define('E_IMAGE_CORRUPT', failed(undefined, 'Cached images do not match their manifests.', 'rebuild: iommu-lab image build --force'), ImageError);

// ---- Kernels under test: your own builds (guest-images/kernel/) ----
export const KernelError = define('E_KERNEL', failed(undefined, 'A kernel under test failure (one of the codes below).'));
export const KernelNotFoundError = define('E_KERNEL_NOT_FOUND', bad('A kernel path is not a kernel build: no bzImage, no .config, or not a kernel source tree.', 'point kernel.path at a built tree (arch/x86/boot/bzImage and .config) or at the output of iommu-lab kernel build'), KernelError);
export const KernelConfigError = define('E_KERNEL_CONFIG', bad("The kernel's .config lacks options the lab needs; each is named with why.", 'scripts/config --file .config -e OPTION for each, then make olddefconfig (or merge guest-images/kernel/lab.config; iommu-lab kernel build does it)'), KernelError);
export const KernelModulesError = define('E_KERNEL_MODULES', bad('The modules given with a kernel are for another kernel release, or a module the lab needs is missing.', 'give the modules directory made by make modules_install INSTALL_MOD_PATH=DIR for this very build'), KernelError);
export const KernelBuildError = define('E_KERNEL_BUILD', failed(undefined, 'Building a kernel failed; the end of the build log is printed and the whole log kept.', 'fix the build error shown, then build again (the build is incremental)'), KernelError);
export const KernelToolsError = define('E_KERNEL_TOOLS', failed(undefined, 'Tools a kernel build needs are missing.', 'apt-get install -y build-essential bc bison flex libelf-dev libssl-dev dwarves ccache git (or scripts/setup.sh --kernel)'), KernelError);
export const BisectError = define('E_BISECT', bad('A bisection cannot start or go on: a dirty tree, an unknown commit, a good commit that is not an ancestor of the bad one, or a log of another bisection.'));

// ---- Measuring: SSH, preflight, fio, bpftrace (exit 1; each fails a repetition with its kind) ----

/** Any SSH failure; catch this to handle them all. */
export const SshError = define('E_SSH', failed('command', 'An SSH failure (one of the codes below).'));
export const SshConnectError = define('E_SSH_CONNECT', failed('connect', 'No SSH connection to the target, or it dropped.'), SshError);
export const SshAuthError = define('E_SSH_AUTH', failed('auth', 'The target refused the key, or the key cannot be read.'), SshError);
export const SshHostKeyMismatchError = define('E_SSH_HOST_KEY_MISMATCH', failed('host-key-mismatch', 'The target\'s host key is not the pinned one.'), SshError);
export const SshTimeoutError = define('E_SSH_TIMEOUT', failed('timeout', 'A command on the target did not finish within its budget.'), SshError);
export const SshCommandError = define('E_SSH_COMMAND', failed('command', 'A command on the target exited non-zero; its stderr tail is kept.'), SshError);
export const InterruptedError = define('E_INTERRUPTED', failed('interrupted', 'The run was interrupted (SIGINT or SIGTERM) while this was going on.', 'run the same sweep again: it completes the run'));
export const PreflightError = define('E_PREFLIGHT', failed('preflight', 'The preflight could not run on the target, or found it unable to measure (no fio).'));
export const IommuModeMismatchError = define('E_IOMMU_MODE_MISMATCH', failed('iommu-mode-mismatch', 'The target does not run the IOMMU configuration it should.'));
export const FioError = define('E_FIO', failed('fio', 'fio exited non-zero; its stderr tail is kept.'));
export const FioParseError = define('E_FIO_PARSE', failed('parse', 'fio\'s output has no usable JSON.', 'the raw output is kept as fio.json beside the result; look there'));
export const DmaMapBenchmarkError = define('E_DMA_MAP_BENCHMARK', failed('dma-map-benchmark', "The kernel's DMA-map benchmark could not run or said nothing the lab could read; the tool's output and stderr are kept beside the result.", 'see docs/dma-map-benchmark.md'));
export const DmaMapToolError = define('E_DMA_MAP_TOOL', failed(undefined, "Building the DMA-map benchmark's tool (tools/testing/selftests/dma/dma_map_benchmark.c of the kernel's source) for a guest failed.", 'apt-get install -y build-essential (a static build needs libc6-dev), or see the compiler output'));
export const NetworkError = define('E_NETWORK', failed('network', 'A network repetition could not run, or iperf3 said nothing the lab could read; its output and stderr are kept beside the result.', 'see docs/network.md'));
export const ProfilerBuildError = define('E_PROFILER_BUILD', failed(undefined, "Building the lab's QEMU plugin (infra/profiler/profile.c) or the guest's window marker (infra/profiler/mark.c) with the system compiler failed: guests are then booted without the plugin and their counts come from bpftrace.", 'apt-get install -y build-essential (the marker is linked statically: libc6-dev), or see the compiler output'));
export const ProfilerWindowError = define('E_PROFILER_WINDOW', failed('profiler', "The lab's QEMU plugin wrote no window for the repetition's workload, or one the lab cannot read: the marker did not run in the guest, or the plugin could not write its window file.", "the plugin's messages are in QEMU's log (/var/log/libvirt/qemu/DOMAIN.log); profiler: false in the VM profile measures without it"));
export const TraceIncompleteError = define('E_TRACE_INCOMPLETE', failed('trace-incomplete', "A bpftrace script's counts would not cover the whole workload: the kernel lists fewer of its probes as attached than bpftrace announced, or its programs missed events (bpftool prog show: recursion_misses).", 'install bpftool on the target (apt-get install bpftool); the lab\'s guest image has it'));
export const TraceMissedError = define('E_TRACE_MISSED', failed('trace-incomplete', "A bpftrace script's programs skipped runs during the workload (bpftool prog show: recursion_misses) that no count can take back: a program that does more than count (a latency histogram, a keyed map) ran when its function was called again from an interrupt. The traced repetition is run again, up to 3 attempts; its figures are never recorded short. (A pure counter's skipped runs are uncounted calls, added back.)", 'if it repeats, trace the function in a repetition of its own, or count it with a pure counter (@name = count();)'));
export const BpftraceError = define('E_BPFTRACE', failed('bpftrace', 'A bpftrace script failed to attach, reported errors, or did not exit.', 'the script and its stderr are kept beside the result'));

export function isLabError(e: unknown): e is LabError {
  return e instanceof LabError;
}
