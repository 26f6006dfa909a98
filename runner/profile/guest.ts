/**
 * The plugin's side of one booted guest (docs/profiler.md): made at the
 * boot's preflight (the plugin loaded, the marker uploaded, the kernel's
 * symbols read: module addresses differ per boot), then asked for each
 * repetition's window and turned into exact metrics (core/metrics.ts, kind
 * `exact`) and a per-function profile.
 */
import { existsSync } from 'node:fs';
import { readdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { ProfilerWindowError } from '../../core/errors.js';
import { METRICS, type MetricDescription } from '../../core/metrics.js';
import type { InventoryTarget } from '../../inventory/types.js';
import type { ProfileRecord } from '../../result/types.js';
import type { SshSession } from '../../transport/ssh.js';
import { profileTable } from '../../result/profile-table.js';
import { attribute, callsOf, type Profile } from './attribute.js';
import { KernelSymbols } from './kallsyms.js';
import { parseWindow, type Window } from './window.js';

/** What a repetition's window gave: its metrics, what the result records, and the profile file's text. */
export interface Profiled {
  readonly metrics: Record<string, number>;
  readonly record: ProfileRecord;
  readonly table: string;
}

const WINDOW_FILE = /^window-(\d+)\.tsv$/;

export class GuestProfiler {
  private constructor(
    private readonly dir: string,
    readonly marker: string,
    private readonly symbols: KernelSymbols,
    private readonly version: string,
    private readonly count: 'inline' | 'callback',
  ) {}

  /**
   * At a boot's preflight: the plugin must have said it is loaded, the marker goes to the target and the
   * kernel's symbols come back. Throws what is wrong, with its fix.
   */
  static async prepare(target: InventoryTarget, session: SshSession, remoteDir: string): Promise<GuestProfiler | undefined> {
    const p = target.vm?.profiler;
    if (p?.state !== 'loaded') return undefined;
    if (!existsSync(join(p.dir, 'loaded'))) {
      throw new ProfilerWindowError(`${target.name}: the QEMU plugin did not say it is loaded (${p.dir}/loaded is missing)`, { fix: `look at /var/log/libvirt/qemu/${target.vm!.domain}.log; iommu-lab up boots the guest with it again` });
    }
    await GuestProfiler.clear(p.dir);
    const marker = `${remoteDir}/iommu-lab-mark`;
    await session.upload(marker, await readFile(p.marker), '0755');
    const kallsyms = await session.exec('cat /proc/kallsyms', { timeoutMs: 120_000 });
    let symbols: KernelSymbols;
    try {
      symbols = KernelSymbols.parse(kallsyms.stdout);
    } catch (e) {
      throw new ProfilerWindowError(`${target.name}: ${(e as Error).message}`, { fix: 'the lab reads /proc/kallsyms as root; set kernel.kptr_restrict to 0 or 1 in the guest' });
    }
    return new GuestProfiler(p.dir, marker, symbols, p.version, p.count);
  }

  /** Window files left by earlier boots or attempts that were never read. */
  private static async clear(dir: string): Promise<void> {
    for (const f of await readdir(dir).catch(() => [] as string[])) {
      if (WINDOW_FILE.test(f) || f.startsWith('.window-')) await rm(join(dir, f), { force: true });
    }
  }

  /** The newest window the plugin wrote (the workload's: earlier ones are attempts set aside), then none are left. */
  async takeWindow(what: string): Promise<Window> {
    const files = (await readdir(this.dir).catch(() => [] as string[])).map((f) => WINDOW_FILE.exec(f)).filter((m): m is RegExpExecArray => m !== null);
    if (files.length === 0) throw new ProfilerWindowError(`no window from the QEMU plugin for ${what} (nothing in ${this.dir})`);
    const newest = files.sort((a, b) => Number(b[1]) - Number(a[1]))[0]![0];
    const text = await readFile(join(this.dir, newest), 'utf8');
    // The ones just listed, and no other: a second listing would read the directory again for nothing.
    await Promise.all(files.map((m) => rm(join(this.dir, m[0]), { force: true })));
    try {
      return parseWindow(text);
    } catch (e) {
      throw new ProfilerWindowError(`the QEMU plugin's window for ${what} cannot be read: ${(e as Error).message}`);
    }
  }

  /**
   * A window as metrics: per I/O over `ios` (fio: the test disks' requests; the DMA-map benchmark:
   * undefined, then its dma_map_page_attrs calls).
   */
  profile(w: Window, ios: number | undefined, what: string, linkBytes?: number): Profiled {
    const p = attribute(w, this.symbols);
    const n = ios ?? callsOf(p, ['dma_map_page_attrs']);
    const from = ios === undefined ? 'dma-map-calls' : linkBytes === undefined ? 'disk-stats' : 'nic-stats';
    if (!(n > 0)) throw new ProfilerWindowError(`the window of ${what} holds no I/O (${{ 'dma-map-calls': 'no dma_map_page_attrs call', 'disk-stats': 'the test disks completed no request', 'nic-stats': 'the test NICs sent no packet' }[from]}): the marker ran, the workload did not reach the device`);
    const mib = linkBytes === undefined ? undefined : linkBytes / (1024 * 1024);
    const record: ProfileRecord = { plugin_version: this.version, count: this.count, window: w.seq, ios: n, ios_from: from, ...(mib !== undefined ? { mib } : {}), instructions: p.bySubsystem };
    return { metrics: exactMetrics(p, n, mib), record, table: profileTable(p) };
  }
}

const exact = METRICS.filter((d): d is MetricDescription & { extract: { tool: 'profiler' } } => d.extract.tool === 'profiler');

/** Every exact metric of a profile, per I/O over `ios` where the metric is per I/O, per MiB over `mib` (network windows; without it none). */
export function exactMetrics(p: Profile, ios: number, mib?: number): Record<string, number> {
  const out: Record<string, number> = {};
  for (const d of exact) {
    if (d.per === 'mib' && !(mib !== undefined && mib > 0)) continue;
    const of = d.extract.of;
    const total = 'instructions' in of ? of.instructions.reduce((s, id) => s + p.bySubsystem[id], 0) : callsOf(p, of.calls);
    out[d.name] = d.per === 'io' ? total / ios : d.per === 'mib' ? total / mib! : total;
  }
  return out;
}

