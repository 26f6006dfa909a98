/**
 * What the guest's kernel says about a running bpftrace, through bpftool: how
 * many of its probes are really attached, and how many events its programs
 * missed. bpftrace prints "attached_probes" before it attaches (kprobes one by
 * one, in reverse order of declaration; seconds under TCG), so that line alone
 * does not say the counts will be complete. And a kprobe's program is skipped,
 * silently but counted in `recursion_misses`, when another BPF program already
 * runs on that CPU (an unmap in the completion interrupt while a map probe
 * runs). The parsers are pure and tested on saved bpftool output; the two
 * commands run on the target.
 */
import { shellQuote, type SshSession } from './ssh.js';

interface PerfEntry { readonly pid?: number }
interface LinkEntry { readonly pids?: readonly { readonly pid: number }[] }
interface ProgEntry { readonly pids?: readonly { readonly pid: number }[]; readonly recursion_misses?: number }

function jsonArray<T>(text: string): T[] {
  const t = text.trim();
  if (!t) return [];
  const v: unknown = JSON.parse(t);
  return Array.isArray(v) ? (v as T[]) : [];
}

/**
 * Probes of process `pid` attached in the kernel: its perf-event attachments (kprobes, tracepoints,
 * uprobes: `bpftool perf show`) and its BPF links (fentry/fexit, that is kfunc/kretfunc: `bpftool link show`).
 */
export function attachedProbesOf(perfJson: string, linkJson: string, pid: number): number {
  const perf = jsonArray<PerfEntry>(perfJson).filter((e) => e.pid === pid).length;
  const links = jsonArray<LinkEntry>(linkJson).filter((l) => l.pids?.some((p) => p.pid === pid)).length;
  return perf + links;
}

/** Events the programs of process `pid` missed (`recursion_misses` of `bpftool prog show`; absent means 0). */
export function recursionMissesOf(progJson: string, pid: number): { readonly programs: number; readonly misses: number } {
  const progs = jsonArray<ProgEntry>(progJson).filter((p) => p.pids?.some((x) => x.pid === pid));
  return { programs: progs.length, misses: progs.reduce((s, p) => s + (p.recursion_misses ?? 0), 0) };
}

export type KernelView<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly why: string };

async function bpftool(session: SshSession, args: string): Promise<KernelView<string>> {
  const r = await session.exec(`bpftool -j ${args}`, { timeoutMs: 60_000, allowFailure: true });
  if (r.code === 127) return { ok: false, why: 'bpftool is not installed on the target (apt-get install bpftool)' };
  if (r.code !== 0) return { ok: false, why: `bpftool ${args} exited with ${r.code}: ${r.stderr.trim().split('\n').slice(-2).join(' ')}` };
  return { ok: true, value: r.stdout };
}

export async function attachedProbes(session: SshSession, pid: number): Promise<KernelView<number>> {
  const perf = await bpftool(session, 'perf show');
  if (!perf.ok) return perf;
  const links = await bpftool(session, 'link show');
  if (!links.ok) return links;
  return { ok: true, value: attachedProbesOf(perf.value, links.value, pid) };
}

export async function recursionMisses(session: SshSession, pid: number): Promise<KernelView<{ programs: number; misses: number }>> {
  const progs = await bpftool(session, 'prog show');
  return progs.ok ? { ok: true, value: recursionMissesOf(progs.value, pid) } : progs;
}

export async function pidOf(session: SshSession, pidfile: string): Promise<number | undefined> {
  const r = await session.exec(`cat ${shellQuote(pidfile)}`, { timeoutMs: 30_000, allowFailure: true });
  const pid = Number(r.stdout.trim());
  return r.code === 0 && Number.isInteger(pid) && pid > 0 ? pid : undefined;
}
