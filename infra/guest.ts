/**
 * One lab guest's life on a hypervisor host (infra/host.ts: this machine or
 * another): files (a qcow2 overlay over the cached base image, scratch test
 * disks, the serial console log), define, start, wait for SSH, and removal. Idempotent: creating a guest that exists replaces it;
 * removing one that does not is fine.
 */
import { readFileSync } from 'node:fs';
import { mkdir, readFile, rm, truncate } from 'node:fs/promises';
import { join } from 'node:path';
import { BootTimeoutError, GuestBootFailedError, GuestDiedError, ImageKernelError, LabError, NoPortError, PortBusyError, QemuTooOldError, RebootStaticError } from '../core/errors.js';
import type { Image } from '../guest-images/build.js';
import type { InventoryProfiler, InventorySsh, InventoryTarget } from '../inventory/types.js';
import { SshSession } from '../transport/ssh.js';
import type { IommuDevice, IommuMode, VmProfile } from '../scenario/types.js';
import { CLOCKS } from '../core/clock.js';
import { domainXml, type DomainSpec, type ProfilerLoad } from './domain-xml.js';
import { inventoryNics } from './test-links.js';
import { kernelCmdline } from './kernel-cmdline.js';
import { GUEST_DEATH, qemuPidOf } from './isolation.js';
import type { KernelIdentity } from '../guest-images/kernel/identity.js';
import { inspectBuild, prepareBuild, type KernelBuildSpec } from '../guest-images/kernel/under-test.js';
import { factsOf } from '../guest-images/kernel/config.js';
import { buildDmaMapTool, dmaMapToolSources } from '../guest-images/kernel/dma-map-tool.js';
import { buildProfiler, type ProfilerBuild } from './profiler/build.js';
import { MIN_QEMU, olderThan, Virsh, type HypervisorVersions } from './virsh.js';
import type { Hypervisor } from './hypervisor.js';
import { fileTail, GUESTS_DIR, hypervisorHost, localConsoleLog, ownedByQemu, runsHere, type GuestFiles, type GuestToStage, type HypervisorHost, type PlacedImage } from './host.js';
import type { GuestSpec } from '../cell/types.js';
import type { LoadedScenario } from '../scenario/load.js';



/**
 * A guest to boot, as `up` and the Pulumi provider both pass it: the plan's
 * GuestSpec with its VM profile and the scenario's boot budget, placed on a
 * hypervisor host. The image comes beside it (an Image here, its directory in
 * Pulumi's inputs).
 */
export interface GuestDescription {
  readonly guest: string;
  readonly scenario: string;
  readonly profile: VmProfile;
  /** The kernel this guest boots: "6.1"/"6.12" from the image, or a scenario kernel's name (then `kernelBuild`). */
  readonly kernel: string;
  /** The scenario's build of that name, paths absolute. */
  readonly kernelBuild?: KernelBuildSpec;
  readonly iommu: { readonly device: IommuDevice; readonly mode: IommuMode };
  readonly uri: string;
  /** A remote hypervisor's SSH (infra/hypervisor.ts); absent for this machine. */
  readonly hypervisorSsh?: InventorySsh;
  readonly bootTimeoutS: number;
}

/** The plan's guest, placed on `host`. */
export function describeGuest(g: GuestSpec, loaded: Pick<LoadedScenario, 'scenario'>, host: Hypervisor): GuestDescription {
  const profile = loaded.scenario.targets.vms.find((v) => v.name === g.profile);
  if (!profile) throw new Error(`plan guest ${g.name} names VM profile ${g.profile}, which the scenario lacks`);
  return {
    guest: g.name, scenario: loaded.scenario.name, profile, kernel: g.kernel, ...(g.kernelBuild ? { kernelBuild: g.kernelBuild } : {}),
    iommu: g.iommu, uri: host.uri, ...(host.ssh ? { hypervisorSsh: host.ssh } : {}), bootTimeoutS: loaded.scenario.timeouts.boot_s,
  };
}

export interface GuestRequest extends GuestDescription {
  readonly image: Image;
  readonly sshPort?: number;
}

export interface BootRecord {
  readonly seconds: number;
  readonly attempts: number;
  readonly virtType: 'kvm' | 'qemu';
  /** Set when KVM was offered but QEMU could not start with it, and TCG was used instead. */
  readonly kvmFallback?: string;
  /** Why an earlier attempt was retried (a known TCG boot flake), if one was. */
  readonly retried?: string;
}

export interface RunningGuest {
  readonly target: InventoryTarget;
  readonly boot: BootRecord;
}

export const domainName = (guest: string) => `iommu-lab-${guest}`;

/** Hypervisors on which QEMU could not start with KVM in this process: TCG from then on. */
const brokenKvm = new Map<string, string>();

/** A free port on the hypervisor's 127.0.0.1 (this machine's unless `isFree` asks another), preferring a stable one derived from the guest name. */
export async function choosePort(guest: string, taken: ReadonlySet<number> = new Set(), isFree: (port: number) => Promise<boolean> | boolean): Promise<number> {
  let h = 0;
  for (const c of guest) h = (h * 31 + c.charCodeAt(0)) >>> 0;
  for (let i = 0; i < 2000; i++) {
    const port = 22000 + ((h + i) % 8000);
    if (!taken.has(port) && (await isFree(port))) return port;
  }
  throw new NoPortError('no free TCP port between 22000 and 29999 on 127.0.0.1', { fix: 'stop what holds them, or run fewer guests' });
}

/** A TCG boot with interrupt remapping occasionally panics on the timer check; one retry fixes it. */
export function knownBootFlake(console: string): string | undefined {
  if (console.includes("timer doesn't work through Interrupt-remapped IO-APIC")) return 'timer does not work through interrupt-remapped IO-APIC (TCG flake)';
  if (/Kernel panic - not syncing/.test(console)) return 'kernel panic during boot';
  return undefined;
}

/** The files a guest boots and who its kernel is. */
export interface BootKernel {
  readonly release: string;
  readonly vmlinuz: string;
  readonly initrd: string;
  /** For the user's own builds: what results record about it. */
  readonly identity?: KernelIdentity;
  /** The DMA-map benchmark's tool built for this kernel, when it has the benchmark and its source tree is known. */
  readonly dmaMapTool?: string;
}

/** The image's kernel of that series, or the user's build made ready for this image (checked first: guest-images/kernel/). */
export async function bootKernel(req: Pick<GuestRequest, 'kernel' | 'kernelBuild' | 'image' | 'iommu'>): Promise<BootKernel> {
  if (req.kernelBuild) {
    const b = inspectBuild(req.kernelBuild, [req.iommu.device]);
    const k = await prepareBuild(b, req.image);
    // The benchmark's tool is built from the kernel's own tree (its ioctl struct is that kernel's).
    const tool = b.source && factsOf(b.config).dmaMapBenchmark && dmaMapToolSources(b.source) ? await buildDmaMapTool(b.source) : undefined;
    return { release: k.release, vmlinuz: k.vmlinuz, initrd: k.initrd, identity: k.identity, ...(tool ? { dmaMapTool: tool } : {}) };
  }
  const k = req.image.manifest.kernels.find((x) => x.series === req.kernel);
  if (!k) throw new ImageKernelError(`the image has no ${req.kernel} kernel`, { fix: 'rebuild the image (iommu-lab image build --force), or name one of the scenario\'s kernels:' });
  return { release: k.version, vmlinuz: join(req.image.dir, k.vmlinuz), initrd: join(req.image.dir, k.initrd) };
}

/** What the runner needs to reach and judge this guest. */
export function guestTarget(req: GuestRequest, port: number, k: BootKernel, versions: HypervisorVersions = {}, profiler?: InventoryProfiler): InventoryTarget {
  return {
    name: req.guest,
    kind: 'vm',
    // The forward listens on the hypervisor's loopback: on another host, reached through its SSH.
    ssh: { host: '127.0.0.1', port, user: 'root', key_path: join(req.image.dir, req.image.manifest.ssh.client_key), host_key_sha256: req.image.manifest.ssh.host_key_sha256[0]!, ...(req.hypervisorSsh ? { via: req.hypervisorSsh } : {}) },
    iommu: req.iommu,
    disks: req.profile.disks.map((d) => ({
      name: d.name,
      // lab-init links each test disk by its serial (the disk's name).
      path: `/dev/lab/${d.name}`,
      bus: d.bus,
      behind_iommu: req.iommu.device !== 'none' && req.iommu.mode !== 'off',
      // VM test disks are scratch files made for this guest.
      allow_destructive_writes: true,
    })),
    ...(req.profile.nics?.length ? { nics: inventoryNics(req.profile.nics, req.iommu.device !== 'none' && req.iommu.mode !== 'off') } : {}),
    vm: {
      profile: req.profile.name,
      hypervisor_uri: req.uri,
      ...(req.hypervisorSsh ? { hypervisor_ssh: req.hypervisorSsh } : {}),
      domain: domainName(req.guest),
      image_digest: req.image.manifest.digest,
      kernel: k.release,
      ...(k.identity ? { kernel_build: k.identity } : {}),
      ...(k.dmaMapTool ? { dma_map_tool: k.dmaMapTool } : {}),
      ...(profiler ? { profiler } : {}),
      cmdline: kernelCmdline(req.iommu.device, req.iommu.mode, req.profile.clock),
      clock: req.profile.clock,
      ...(versions.qemu ? { qemu_version: versions.qemu } : {}),
      ...(versions.libvirt ? { libvirt_version: versions.libvirt } : {}),
    },
  };
}

/**
 * Whether a guest must run under TCG whatever the host offers: an instruction-count clock (QEMU
 * refuses -icount with hardware virtualization), a guest of this machine that loads the lab's QEMU
 * plugin (it sees only TCG-translated code: under KVM the exact counts the profile asked for would
 * be missing; `profiler: false` lets the guest use KVM), or a host whose KVM already refused QEMU.
 */
export function mustUseTcg(profile: Pick<VmProfile, 'clock' | 'profiler'>, remote: boolean, kvmBroken: boolean): boolean {
  return kvmBroken || CLOCKS[profile.clock].tcgOnly || (!remote && profile.profiler !== false);
}

/**
 * The lab's QEMU plugin for a guest, or why it has none: guests of this
 * machine get it (and so run under TCG) unless the profile says profiler: false. Under an
 * instruction-count clock with two or more vCPUs QEMU 10.0 aborts the boot
 * when a plugin's inline per-vCPU counters are loaded ("Bad icount read",
 * docs/profiler.md): there the plugin counts with a callback per block.
 */
async function profilerFor(req: GuestRequest, host: HypervisorHost, dir: string): Promise<{ inventory?: InventoryProfiler; load?: ProfilerLoad }> {
  if (req.profile.profiler === false) return {};
  const unavailable = (why: string) => ({ inventory: { state: 'unavailable' as const, why } });
  // A guest of this machine that loads it runs under TCG (mustUseTcg): only another host's guest may be under KVM.
  if (host.kind === 'remote') return unavailable('the guest runs on another hypervisor host: the plugin is loaded only into guests of the machine that runs the lab');
  let build: ProfilerBuild;
  try {
    build = await buildProfiler();
  } catch (e) {
    return unavailable(e instanceof LabError ? `${e.message}${e.detail ? `: ${e.detail.split('\n')[0]}` : ''}` : String(e));
  }
  const icount = CLOCKS[req.profile.clock].qemuArgs.includes('-icount');
  // IOMMU_LAB_PROFILER_COUNT (inline|callback) overrides the choice, for measuring it (bench/profiler.ts).
  const forced = process.env['IOMMU_LAB_PROFILER_COUNT'];
  const count = forced === 'inline' || forced === 'callback' ? forced : icount && req.profile.vcpus > 1 ? 'callback' : 'inline';
  const load: ProfilerLoad = { plugin: build.plugin, dir: join(dir, 'profile'), count };
  return { load, inventory: { state: 'loaded', plugin: load.plugin, dir: load.dir, marker: build.marker, count: load.count, version: build.version } };
}

/** The plugin's window directory, empty and writable by QEMU's user. */
async function prepareProfilerDir(dir: string): Promise<void> {
  await rm(dir, { recursive: true, force: true });
  await mkdir(dir, { recursive: true, mode: 0o755 });
  await ownedByQemu([dir]);
}

/** The line the guest's init prints on the serial console just before it starts sshd. */
export const READY_MARK = 'iommu-lab: guest ready';

/** What the serial console says of a boot: still going, ready for SSH, or failed for a reason it names. */
export type ConsoleState =
  | { readonly state: 'booting' }
  | { readonly state: 'ready' }
  | { readonly state: 'failed'; readonly why: string; readonly fix: string };

/**
 * Boots that cannot end well, as the console shows them: the guest's init giving up, a kernel panic,
 * QEMU's own abort. Read while booting, so such a boot ends at once with its cause, not after the boot timeout.
 */
export function bootFailure(console: string): Extract<ConsoleState, { state: 'failed' }> | undefined {
  const init = /iommu-lab init: (.*)/.exec(console);
  if (init) {
    return { state: 'failed', why: `the guest's init gave up: ${init[1]!.trim()}`, fix: /labroot/.test(init[1]!)
      ? 'the root disk did not appear: the kernel may lack its disk driver (for your own kernel: iommu-lab kernel check), or, with virtio-iommu, the virtio_iommu module did not load first'
      : 'the root file system could not be mounted: rebuild the image (iommu-lab image build --force)' };
  }
  const panic = /Kernel panic - not syncing: (.*)/.exec(console);
  if (panic) {
    const what = panic[1]!.trim();
    const fix = /Unable to mount root|No working init/.test(what)
      ? 'the kernel found no root or init: the initramfs does not fit this kernel (rebuild it: iommu-lab image build --force, or iommu-lab kernel check for your own kernel)'
      : /timer doesn't work|IO-APIC/.test(what)
        ? 'a known TCG flake with interrupt remapping: the lab boots once more'
        : 'the console below says where it panicked; if it repeats on one configuration, try the other kernel of the image or vcpus: 1';
    return { state: 'failed', why: `the guest kernel panicked while booting: ${what}`, fix };
  }
  return undefined;
}

/** The console log's state (where readable: local hypervisors). */
export async function consoleState(consoleLog: string): Promise<ConsoleState> {
  let text: string;
  try {
    text = await readFile(consoleLog, 'utf8');
  } catch {
    return { state: 'booting' };
  }
  if (text.includes(READY_MARK)) return { state: 'ready' };
  return bootFailure(text) ?? { state: 'booting' };
}

export async function waitForSsh(target: InventoryTarget, timeoutMs: number, isAlive: () => Promise<boolean>, console?: () => Promise<ConsoleState>): Promise<void> {
  const until = Date.now() + timeoutMs;
  let last: unknown;
  // Where the console is readable, the first SSH attempt waits for the guest's ready mark:
  // earlier attempts only queue behind QEMU's SYN retransmissions (see below).
  if (console) {
    let polls = 0;
    for (;;) {
      const c = await console();
      if (c.state === 'ready' || Date.now() >= until) break;
      if (c.state === 'failed') throw new GuestBootFailedError(`${target.name} cannot boot: ${c.why}`, { fix: c.fix });
      if (++polls % 20 === 0 && !(await isAlive())) throw new GuestDiedError(`${target.name} stopped while booting`, { fix: 'see the serial console below' });
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  // Short first tries, growing: QEMU's user-mode network accepts the TCP connection at once,
  // and while the guest is not yet listening its SYN to the guest is retransmitted with
  // backoff, so an early attempt can sit for seconds after sshd is up (6.1 guests reached SSH
  // 3.5 s after they were ready). A fresh connection gets through as soon as sshd listens.
  let attemptMs = 1500;
  while (Date.now() < until) {
    try {
      const s = await SshSession.connect(target.name, target.ssh, { connectTimeoutMs: Math.min(attemptMs, Math.max(1000, until - Date.now())) });
      try {
        await s.exec('true', { timeoutMs: 10_000 });
        return;
      } finally {
        s.close();
      }
    } catch (e) {
      last = e;
      if ((e as { kind?: string }).kind === 'host-key-mismatch' || (e as { kind?: string }).kind === 'auth') throw e;
      if (!(await isAlive())) throw new GuestDiedError(`${target.name} stopped while booting`, { fix: 'see the serial console below' });
      attemptMs = Math.min(10_000, attemptMs * 1.25);
      await new Promise((r) => setTimeout(r, 250));
    }
  }
  // No SSH attempt at all: the console never showed the ready mark (an empty console: the kernel printed nothing there).
  const why = last === undefined ? `its serial console never said "${READY_MARK}"` : String((last as Error)?.message ?? last);
  // Seen: the tiny 6.1 build under -icount hangs bringing up its second vCPU (the boot CPU waits in schedule() for it).
  const smp = last === undefined && target.vm?.clock === 'virtual' && target.vm.kernel_build
    ? '; under the virtual clock some kernels hang bringing up a second vCPU (the tiny 6.1 build does): try vcpus: 1 in the VM profile'
    : '';
  throw new BootTimeoutError(`${target.name} did not answer SSH on 127.0.0.1:${target.ssh.port} within ${Math.round(timeoutMs / 1000)} s (${why})`, { fix: `look at the serial console below; raise timeouts.boot_s if the machine is just slow${smp}` });
}

export async function createGuest(req: GuestRequest, options: { taken?: Set<number> } = {}): Promise<RunningGuest> {
  // On another host everything goes through the lab's SSH connection to it: made (and its key checked) first.
  const host = await hypervisorHost(req.uri, req.hypervisorSsh);
  const versions = await host.virsh.versions();
  if (versions.qemu && olderThan(versions.qemu, MIN_QEMU)) {
    throw new QemuTooOldError(`${req.uri} runs QEMU ${versions.qemu}; the lab needs QEMU ${MIN_QEMU} or newer`);
  }
  const domain = domainName(req.guest);
  await host.virsh.remove(domain);
  const isFree = await host.portTest();
  const port = req.sshPort ?? (await choosePort(req.guest, options.taken, isFree));
  if (!(await isFree(port))) {
    throw new PortBusyError(`port ${port} on 127.0.0.1${host.kind === 'remote' ? ` of ${req.uri}` : ''} is already in use; ${req.guest} cannot forward SSH to it`, { fix: 'free the port or let the lab choose one' });
  }
  options.taken?.add(port);
  const k = await bootKernel(req);
  const profiler = await profilerFor(req, host, join(GUESTS_DIR, domain));
  const target = guestTarget(req, port, k, versions, profiler.inventory);
  const virtType = mustUseTcg(req.profile, host.kind === 'remote', brokenKvm.has(req.uri)) ? 'qemu' : await host.virsh.virtType();
  // What QEMU opens, where it runs: the image's root and the kernel copied to another host by digest, once.
  const placed: PlacedImage = await host.placeImage(req.image, k);
  const spec = (files: GuestFiles, virt: 'kvm' | 'qemu'): DomainSpec => ({
    domain, guest: req.guest, scenario: req.scenario, profile: req.profile, iommu: req.iommu, virtType: virt,
    rootOverlay: files.overlay, kernel: placed.kernel, initrd: placed.initrd,
    imageDigest: req.image.manifest.digest, disks: files.disks, sshPort: port, consoleLog: files.consoleLog,
    ...(profiler.load ? { profiler: profiler.load } : {}),
  });
  const staging: GuestToStage = { domain, root: placed.root, disks: req.profile.disks, instantDisks: CLOCKS[req.profile.clock].instantDisks };
  const boot = await bootOnHost(host, target, { staging, spec, virtType, bootTimeoutS: req.bootTimeoutS, ...(profiler.load ? { profilerDir: profiler.load.dir } : {}) });
  return { target, boot };
}

/**
 * Defines and starts the domain, and waits for its SSH: once more after a
 * known TCG boot flake, and under TCG when the host's KVM refuses QEMU's CPU
 * set-up (libvirt offers KVM whenever /dev/kvm is usable, but nested or
 * paravirtual KVM can still refuse; said in the boot record). Every attempt
 * starts from freshly staged files.
 */
async function bootOnHost(
  host: HypervisorHost, target: InventoryTarget,
  o: { staging: GuestToStage; spec: (files: GuestFiles, virt: 'kvm' | 'qemu') => DomainSpec; virtType: 'kvm' | 'qemu'; bootTimeoutS: number; profilerDir?: string },
): Promise<BootRecord> {
  const { domain } = o.staging;
  let virtType = o.virtType;
  let kvmFallback: string | undefined = brokenKvm.get(host.uri);
  let retried: string | undefined;
  for (let attempt = 1; ; attempt++) {
    const files = await host.stageGuest(o.staging);
    if (o.profilerDir) await prepareProfilerDir(o.profilerDir);
    await host.virsh.define(domainXml(o.spec(files, virtType)));
    const t0 = Date.now();
    try {
      await host.virsh.start(domain);
    } catch (e) {
      if (virtType === 'kvm' && e instanceof LabError && /kvm/i.test(e.detail)) {
        kvmFallback = e.detail.split('\n').find((l) => /kvm|MSR/i.test(l))?.trim() ?? 'KVM start failed';
        brokenKvm.set(host.uri, kvmFallback);
        virtType = 'qemu';
        attempt--;
        continue;
      }
      throw e;
    }
    const followed = host.followedConsole(domain);
    try {
      await waitForSsh(target, o.bootTimeoutS * 1000, async () => (await host.virsh.state(domain)) === 'running', followed ? () => consoleState(followed) : undefined);
      await parkGuest(target);
      return { seconds: (Date.now() - t0) / 1000, attempts: attempt, virtType, ...(kvmFallback ? { kvmFallback } : {}), ...(retried ? { retried } : {}) };
    } catch (e) {
      const tail = await host.consoleTail(domain);
      await host.virsh.remove(domain);
      const flake = knownBootFlake(tail);
      if (flake && attempt === 1) {
        retried = flake;
        continue;
      }
      if (e instanceof LabError) throw e.withDetail(tail);
      throw e;
    }
  }
}

/**
 * Boots a running guest again (same domain, disks and pinned keys; a new QEMU
 * process and a new boot of the same kernel): how a run measures several boots of one configuration
 * (`boots:` in a VM profile). Waits for SSH as `up` does, then parks it again.
 */
export async function rebootGuest(target: InventoryTarget, timeoutMs: number): Promise<void> {
  if (!target.vm) throw new RebootStaticError(`${target.name} is a static host; the lab reboots only its own guests`, { fix: 'use boots: 1 for static hosts' });
  const virsh = Virsh.of(target.vm);
  const domain = target.vm.domain;
  const log = consoleLogOf(target);
  // A fresh QEMU process, not a reset: the domain's on_reboot is destroy, so that a guest that
  // reboots by itself shows as dead; and a new process is what a new run's boot is.
  await virsh.run(['destroy', domain], { allowFailure: true });
  // The console must not still hold the first boot's ready mark.
  if (log) await truncate(log, 0).catch(() => {});
  await virsh.start(domain);
  const ready = log ? () => consoleState(log) : undefined;
  await waitForSsh(target, timeoutMs, async () => (await virsh.state(domain)) === 'running', ready);
  await parkGuest(target);
}

/** The serial console log of a guest on this machine, where the lab can read it; undefined elsewhere. */
export function consoleLogOf(target: InventoryTarget): string | undefined {
  return target.vm && runsHere(target.vm) ? localConsoleLog(target.vm.domain) : undefined;
}

/** Whether the guest is paused between its repetitions (see core/clock.ts, parkWhenIdle). */
export const parksWhenIdle = (target: InventoryTarget): boolean => Boolean(target.vm && CLOCKS[target.vm.clock].parkWhenIdle);

/** Pauses a guest that parks when idle; a no-op for every other target. */
export async function parkGuest(target: InventoryTarget): Promise<void> {
  if (parksWhenIdle(target)) await Virsh.of(target.vm!).suspend(target.vm!.domain);
}

/** Resumes a parked guest; a no-op for every other target. */
export async function unparkGuest(target: InventoryTarget): Promise<void> {
  if (parksWhenIdle(target)) await Virsh.of(target.vm!).resume(target.vm!.domain);
}

/** Domain states of a guest that lives: parked (paused) guests are alive. */
const RUNNING = /^(running|paused)\b/;

/**
 * Whether a lab guest died, and how: its domain no longer running (with
 * libvirt's reason: `shut off (destroyed)`, `shut off (crashed)`, gone), or its
 * kernel's panic on the serial console. Undefined when it lives, or when libvirt
 * cannot say (libvirtd restarting): a failure is then not blamed on a death.
 */
export async function guestDeath(target: InventoryTarget): Promise<{ readonly why: string; readonly tail: string } | undefined> {
  if (!target.vm) return undefined;
  const log = consoleLogOf(target);
  const tail = log ? await fileTail(log) : '';
  // A guest of this machine whose QEMU process lives is running or paused: asked every 2 s during a
  // measurement, that answer costs no process and no libvirt call in the measurement's window.
  if (!(runsHere(target.vm) && qemuAlive(target.vm.domain))) {
    let state: string;
    try {
      const r = await Virsh.of(target.vm).run(['domstate', target.vm.domain, '--reason'], { allowFailure: true, timeoutMs: 20_000 });
      state = r.exitCode === 0 ? r.stdout.trim() : 'gone (undefined)';
    } catch {
      return undefined;
    }
    if (!RUNNING.test(state)) {
      // On another host the console is read over the lab's connection to it, only once the guest is dead.
      const far = runsHere(target.vm) ? '' : await hypervisorHost(target.vm.hypervisor_uri, target.vm.hypervisor_ssh).then((h) => h.consoleTail(target.vm!.domain)).catch(() => '');
      return { why: `its domain is ${state}`, tail: tail || far };
    }
  }
  const panic = tail.split('\n').find((l) => GUEST_DEATH.test(l));
  return panic ? { why: panic.trim(), tail } : undefined;
}

/** Whether the domain's QEMU process (libvirt's pid file) exists and is not a zombie. */
function qemuAlive(domain: string): boolean {
  const pid = qemuPidOf(domain);
  if (pid === undefined) return false;
  try {
    return !/^\S+ \(.*\) Z /.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}

/**
 * Whether a lab guest still runs: its domain running (or parked, paused),
 * stopped (shut off, crashed), or gone (undefined out of band).
 */
export async function guestLiveness(uri: string, guest: string, ssh?: InventorySsh): Promise<'running' | 'stopped' | 'gone'> {
  const state = await new Virsh(uri, ssh).state(domainName(guest));
  if (state === undefined) return 'gone';
  return RUNNING.test(state) ? 'running' : 'stopped';
}

export async function removeGuest(uri: string, guest: string, ssh?: InventorySsh): Promise<void> {
  await removeGuestFrom(await hypervisorHost(uri, ssh), domainName(guest));
}

/** The domain and its files gone from the host. */
export async function removeGuestFrom(host: HypervisorHost, domain: string): Promise<void> {
  await host.virsh.remove(domain);
  await host.removeGuestFiles(domain);
}
