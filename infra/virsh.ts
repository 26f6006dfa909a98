/**
 * A thin driver over `virsh -c URI`: the same code serves qemu:///system on
 * this machine and qemu+ssh://host/system on other hypervisor hosts. Every
 * failure keeps virsh's stderr; libvirtd not answering gets its own error with
 * the command that starts it.
 */
import { execa } from 'execa';
import { mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LibvirtdDownError, VirshError, VirshMissingError } from '../core/errors.js';
import type { InventorySsh, InventoryVm } from '../inventory/types.js';
import { LAB_XMLNS } from './domain-xml.js';
import { isLocalUri, virshUriFor } from './hypervisor.js';

export interface LabDomain {
  readonly name: string;
  readonly state: string;
  /** The lab's metadata element, as XML text. */
  readonly metadata: string;
}

/**
 * How long a local libvirtd that runs but does not answer may take: one told to stop waits up to 30 s
 * for its workers ("Make forcefull daemon shutdown"), and the one started after it then needs a few
 * seconds (the same bound as scripts/start-libvirtd.sh).
 */
const LIBVIRTD_SETTLE_MS = 60_000;
const CANNOT_CONNECT = /Failed to connect socket|failed to connect to the hypervisor|No such file or directory.*libvirt-sock|Connection refused/;

/** Whether a libvirtd process runs on this machine (starting, answering or stopping). */
async function libvirtdRuns(): Promise<boolean> {
  return (await execa('pgrep', ['-x', 'libvirtd'], { reject: false })).exitCode === 0;
}

export class Virsh {
  /** `ssh`: a remote host's (infra/hypervisor.ts): virsh then talks to its libvirtd through the lab's pinned SSH connection. */
  constructor(readonly uri: string, readonly ssh?: InventorySsh) {}

  /** The guest's hypervisor, as its inventory entry names it. */
  static of(vm: Pick<InventoryVm, 'hypervisor_uri' | 'hypervisor_ssh'>): Virsh {
    return new Virsh(vm.hypervisor_uri, vm.hypervisor_ssh);
  }

  async run(args: readonly string[], options: { input?: string; allowFailure?: boolean; timeoutMs?: number } = {}): Promise<{ stdout: string; stderr: string; exitCode: number }> {
    const connect = await virshUriFor(this.uri, this.ssh);
    const once = async () => {
      const res = await execa('virsh', ['-q', '-c', connect, ...args], { reject: false, input: options.input, timeout: options.timeoutMs ?? 120_000 });
      if (res.failed && (res as { code?: string }).code === 'ENOENT') throw new VirshMissingError('virsh is not installed');
      return { stdout: String(res.stdout ?? ''), stderr: String(res.stderr ?? ''), exitCode: res.exitCode ?? 1 };
    };
    let out = await once();
    // A local libvirtd restarting (stopping, or just started) answers again soon: wait for it rather than
    // fail what needs it — taking the guests down above all. One that does not run fails at once.
    for (const until = Date.now() + LIBVIRTD_SETTLE_MS; out.exitCode !== 0 && CANNOT_CONNECT.test(out.stderr) && isLocalUri(this.uri) && Date.now() < until && (await libvirtdRuns());) {
      await new Promise((r) => setTimeout(r, 2000));
      out = await once();
    }
    if (out.exitCode !== 0 && !options.allowFailure) {
      if (CANNOT_CONNECT.test(out.stderr)) {
        throw new LibvirtdDownError(`libvirtd at ${this.uri} does not answer`, { detail: out.stderr, fix: isLocalUri(this.uri) ? 'start it: scripts/start-libvirtd.sh (no systemd) or systemctl start libvirtd' : `start libvirtd on the host of ${this.uri} (SSH to it works; its socket ${this.uri.includes('socket=') ? 'named in the URI' : '/var/run/libvirt/libvirt-sock'} does not answer)` });
      }
      throw new VirshError(`virsh ${args[0]} failed: ${out.stderr.trim().split('\n').slice(-3).join(' ')}`, { detail: out.stderr });
    }
    return out;
  }

  async ping(): Promise<void> {
    await this.run(['version'], { timeoutMs: 20_000 });
  }

  /** The hypervisor's QEMU and libvirt versions (`virsh version`), asked once per URI. */
  async versions(): Promise<HypervisorVersions> {
    let v = versionsOf.get(this.uri);
    if (!v) {
      v = this.run(['version'], { timeoutMs: 20_000 }).then((r) => parseVirshVersion(r.stdout));
      versionsOf.set(this.uri, v);
      v.catch(() => versionsOf.delete(this.uri));
    }
    return v;
  }

  /**
   * `kvm` where the hypervisor offers it, `qemu` (TCG) otherwise. IOMMU_LAB_ACCEL=tcg
   * forces TCG (comparable timings across machines). On the local host, libvirt
   * offers kvm whenever /dev/kvm exists, even when QEMU's user cannot open it
   * (no udev to set its group, as on this lab's build machines): that is TCG too.
   */
  async virtType(): Promise<'kvm' | 'qemu'> {
    const forced = process.env['IOMMU_LAB_ACCEL'];
    if (forced === 'tcg') return 'qemu';
    const caps = await this.run(['domcapabilities', '--machine', 'q35', '--virttype', 'kvm'], { allowFailure: true });
    const offered = caps.exitCode === 0 && /<domain>kvm<\/domain>/.test(caps.stdout);
    if (!offered) return 'qemu';
    if (forced === 'kvm' || !isLocalUri(this.uri)) return 'kvm';
    return (await qemuUserCanOpenKvm()) ? 'kvm' : 'qemu';
  }

  async define(xml: string): Promise<void> {
    const dir = await mkdtemp(join(tmpdir(), 'iommu-lab-xml-'));
    try {
      const file = join(dir, 'domain.xml');
      await writeFile(file, xml);
      await this.run(['define', file]);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }

  async start(name: string): Promise<void> {
    await this.run(['start', name]);
  }

  /** Pauses a running guest (its vCPUs stop, and with them an instruction-count clock); a paused one stays paused. */
  async suspend(name: string): Promise<void> {
    await this.toState(name, 'suspend', 'paused');
  }

  /** Resumes a paused guest; a running one is left as it is. */
  async resume(name: string): Promise<void> {
    await this.toState(name, 'resume', 'running');
  }

  /** One virsh call on the hot path (every repetition); the state is asked only when it failed. */
  private async toState(name: string, verb: 'suspend' | 'resume', wanted: string): Promise<void> {
    const r = await this.run([verb, name], { allowFailure: true });
    if (r.exitCode !== 0 && (await this.state(name)) !== wanted) await this.run([verb, name]);
  }

  async state(name: string): Promise<string | undefined> {
    const r = await this.run(['domstate', name], { allowFailure: true });
    return r.exitCode === 0 ? r.stdout.trim() : undefined;
  }

  /** Stops and removes a domain; absent domains are fine (idempotent). */
  async remove(name: string): Promise<void> {
    const st = await this.state(name);
    if (st === undefined) return;
    if (st !== 'shut off') await this.run(['destroy', name], { allowFailure: true });
    await this.run(['undefine', name, '--nvram'], { allowFailure: true });
    if ((await this.state(name)) !== undefined) await this.run(['undefine', name]);
  }

  /** Domains carrying the lab's metadata element: exactly what `down` may remove. */
  async labDomains(): Promise<LabDomain[]> {
    const names = (await this.run(['list', '--all', '--name'])).stdout.split('\n').map((s) => s.trim()).filter(Boolean);
    const out: LabDomain[] = [];
    for (const name of names) {
      const md = await this.run(['metadata', name, LAB_XMLNS], { allowFailure: true });
      if (md.exitCode === 0 && md.stdout.includes('<guest')) out.push({ name, state: (await this.state(name)) ?? 'unknown', metadata: md.stdout.trim() });
    }
    return out;
  }
}

export interface HypervisorVersions {
  readonly qemu?: string;
  readonly libvirt?: string;
}

const versionsOf = new Map<string, Promise<HypervisorVersions>>();

/** `virsh version`: "Using library: libvirt 11.3.0", "Running hypervisor: QEMU 10.0.2". */
export function parseVirshVersion(stdout: string): HypervisorVersions {
  const qemu = /Running hypervisor:\s*QEMU\s+([0-9][0-9.]*)/i.exec(stdout)?.[1];
  const libvirt = /Using library:\s*libvirt\s+([0-9][0-9.]*)/i.exec(stdout)?.[1];
  return { ...(qemu ? { qemu } : {}), ...(libvirt ? { libvirt } : {}) };
}

/**
 * The oldest QEMU the lab runs guests on. QEMU 7.2 (Debian 12's own) drops guest memory barriers
 * under -icount while its main loop runs beside the vCPUs: emulated NVMe queues with shadow doorbells
 * stall for ~60 s of guest time, and two vCPUs under icount can hang a boot. Both fixed in 8.1.
 */
export const MIN_QEMU = '8.1';

/** True when dotted version `a` is older than `b` (8.0.5 < 8.1; 10.0.2 ≥ 8.1). */
export function olderThan(a: string, b: string): boolean {
  const x = a.split('.').map(Number);
  const y = b.split('.').map(Number);
  for (let i = 0; i < Math.max(x.length, y.length); i++) {
    const d = (x[i] ?? 0) - (y[i] ?? 0);
    if (d !== 0) return d < 0;
  }
  return false;
}

async function qemuUserCanOpenKvm(): Promise<boolean> {
  try {
    const st = await stat('/dev/kvm');
    if (st.mode & 0o006) return true;
    if (!(st.mode & 0o060)) return false;
    const groups = String((await execa('id', ['-G', 'libvirt-qemu'], { reject: false })).stdout ?? '').split(/\s+/).map(Number);
    return groups.includes(st.gid);
  } catch {
    return false;
  }
}

export function metadataAttr(metadata: string, attr: string): string | undefined {
  return new RegExp(`\\b${attr}=(?:'([^']*)'|"([^"]*)")`).exec(metadata)?.slice(1).find((v) => v !== undefined);
}
