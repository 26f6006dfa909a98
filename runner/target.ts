/**
 * Stage 2: the target. Once per target and boot: connect, run the preflight,
 * judge the IOMMU configuration in effect (sysfs, /sys/class/iommu, the kernel
 * command line), and make the working directory. The result is the target's
 * state for its repetitions: ready (with the session and the preflight's
 * facts) or failed (with the failure every repetition of it records).
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { CLOCKS, PACER_ARG } from '../core/clock.js';
import { DiskFullError, PreflightError, ProfilerWindowError, SshCommandError } from '../core/errors.js';
import { BPF_DIR } from '../core/paths.js';
import type { InventoryTarget } from '../inventory/types.js';
import type { RunStore } from '../result/store.js';
import type { Failure } from '../result/types.js';
import { installDetached } from './detached.js';
import { failureOf } from './failure.js';
import { judgeIommu, runPreflight, type IommuVerdict, type PreflightFacts } from './preflight.js';
import { GuestProfiler } from './profile/guest.js';
import { shellQuote, type SshSession } from '../transport/ssh.js';
import type { TargetLink } from './session.js';
import { prepareScript, probeAvailability, scriptProbes, type PreparedScript } from './tracing.js';

/** What the preflight found: kept in every result of the target (provenance). */
export interface TargetFacts {
  readonly facts: PreflightFacts;
  readonly verdict: IommuVerdict;
}

export type TargetState =
  | {
      readonly kind: 'ready';
      /** The target's connection: it alone reconnects when the connection is lost (runner/session.ts). */
      readonly link: TargetLink;
      readonly remoteDir: string;
      readonly extra: TargetFacts;
      /** The scenario's bpftrace scripts, cut to the probes this target's kernel has (made at the first traced repetition). */
      scripts?: readonly { name: string; prepared: PreparedScript }[];
      /** The lab's QEMU plugin in this boot (runner/profile/), or why there is none where an emulated guest should have it. */
      readonly profiler: { readonly state: 'ready'; readonly guest: GuestProfiler } | { readonly state: 'none' } | { readonly state: 'unavailable'; readonly why: string };
    }
  | { readonly kind: 'failed'; readonly failure: Failure; readonly extra?: Partial<TargetFacts> };

export type ReadyTarget = Extract<TargetState, { kind: 'ready' }>;

export interface PrepareContext {
  readonly run: string;
  readonly store: RunStore;
  readonly link: TargetLink;
  readonly sysfsRoot?: string;
  readonly onState: (state: string) => void;
}

/** Connect and preflight; a target that fails either fails all its repetitions of this boot with the reason. */
export async function prepareTarget(target: InventoryTarget, ctx: PrepareContext): Promise<TargetState> {
  ctx.onState('connecting');
  let session: SshSession;
  try {
    session = await ctx.link.connect();
  } catch (e) {
    return { kind: 'failed', failure: failureOf(e) };
  }
  const fail = (failure: Failure, extra: TargetFacts): TargetState => {
    ctx.link.close();
    return { kind: 'failed', failure, extra };
  };
  try {
    ctx.onState('preflight');
    const pre = await runPreflight(session, target, ctx.sysfsRoot);
    const verdict = judgeIommu(target, pre.facts);
    await ctx.store.writePreflight(target.name, { target: target.name, expected: target.iommu, verdict, facts: pre.facts, raw: pre.raw, at: new Date().toISOString() });
    const extra = { facts: pre.facts, verdict };
    if (!verdict.ok) {
      ctx.onState('IOMMU mode mismatch');
      return fail({ kind: 'iommu-mode-mismatch', message: `${target.name}: ${verdict.reasons.join('; ')}` }, extra);
    }
    if (target.disks.length > 0 && pre.facts.tools.fio === 'missing') return fail({ kind: 'preflight', message: `${target.name}: fio is not installed on the target (apt-get install fio)` }, extra);
    if (target.nics?.length && pre.facts.links?.iperf3 === 'missing') return fail({ kind: 'preflight', message: `${target.name}: iperf3 is not installed on the target (apt-get install iperf3): its test links cannot be measured` }, extra);
    // Under the virtual clock the guest's pacer must run, or SSH to the idle guest fails at random (docs/runner.md).
    if (target.vm && CLOCKS[target.vm.clock].kernelArgs.includes(PACER_ARG)) {
      const pacer = await session.exec('kill -0 "$(cat /run/iommu-lab-pacer.pid 2>/dev/null)" 2>/dev/null', { timeoutMs: 30_000, allowFailure: true });
      if (pacer.code !== 0) {
        return fail({ kind: 'preflight', message: `${target.name}: the guest's pacer is not running (no live /run/iommu-lab-pacer.pid): its virtual clock would race whenever it idles, and SSH to it fails at random; rebuild the image (iommu-lab image build --force)` }, extra);
      }
    }
    const remoteDir = `/tmp/iommu-lab-${ctx.run}`;
    await session.exec(`mkdir -p ${shellQuote(remoteDir)}`, { timeoutMs: 30_000 });
    await installDetached(session, remoteDir);
    return { kind: 'ready', link: ctx.link, remoteDir, extra, profiler: await profilerOf(target, session, remoteDir) };
  } catch (e) {
    ctx.link.close();
    // Nothing can be recorded any more: the run stops (runner/run.ts, runner/group.ts).
    if (e instanceof DiskFullError) throw e;
    // A command of the preflight that failed is a preflight failure; lost connections keep their kind.
    return { kind: 'failed', failure: failureOf(e instanceof SshCommandError ? new PreflightError(e.message, { detail: e.detail }) : e) };
  }
}

/**
 * The plugin for this boot: ready, not meant to be (a static host, profiler: false), or unavailable with
 * why (the guest was booted without it, or its preflight part failed): the target is then measured
 * without exact counts, and every repetition says why (a failed `profiler` check).
 */
async function profilerOf(target: InventoryTarget, session: SshSession, remoteDir: string): Promise<ReadyTarget['profiler']> {
  const p = target.vm?.profiler;
  if (!p) return { state: 'none' };
  if (p.state === 'unavailable') return { state: 'unavailable', why: p.why };
  try {
    const guest = await GuestProfiler.prepare(target, session, remoteDir);
    return guest ? { state: 'ready', guest } : { state: 'none' };
  } catch (e) {
    if (e instanceof ProfilerWindowError) return { state: 'unavailable', why: e.message };
    throw e;
  }
}

/** The scenario's scripts, prepared for this target's kernel once (absent probes cut out and recorded). */
export async function scriptsFor(st: ReadyTarget, names: readonly string[]): Promise<readonly { name: string; prepared: PreparedScript }[]> {
  if (st.scripts) return st.scripts;
  const texts = await Promise.all(names.map(async (name) => ({ name, text: await readFile(join(BPF_DIR, `${name}.bt`), 'utf8') })));
  const available = await probeAvailability(st.link.session, texts.flatMap((t) => scriptProbes(t.text)));
  st.scripts = texts.map((t) => ({ name: t.name, prepared: prepareScript(t.text, available, st.extra.facts.kernel) }));
  return st.scripts;
}

/** Ends a ready target's session and removes its remote files (the guest is running). */
export async function releaseTarget(st: ReadyTarget): Promise<void> {
  try {
    await st.link.session.exec(`rm -rf ${shellQuote(st.remoteDir)}`, { timeoutMs: 30_000, allowFailure: true });
  } catch {
    // Not connected, or gone: nothing to remove.
  }
  st.link.close();
}
