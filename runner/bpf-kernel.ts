/**
 * What the guest's kernel says about a running bpftrace: which of its probes
 * are attached (its BPF links and perf events, read from /proc/PID/fd and
 * fdinfo) and how many events its programs missed (`recursion_misses` of
 * `bpftool prog show`). bpftrace's "attached_probes" line comes before it
 * attaches anything, so the lab also waits for bpftrace's own word that it is
 * done (runner/traced.ts) and checks it against this. The parser is pure and
 * tested on saved output; one command reads it all on the target.
 *
 * Debian 12's bpftool (7.1) lists no owning pids for programs and links, hence
 * /proc. A kprobe's skipped runs are not counted by the kernel where the lab can
 * read them (seen: 38 of 27,698 unmaps lost, recursion_misses absent), so a
 * script with kprobe programs cannot prove its counts: the lab's scripts count
 * with kfuncs, whose misses the kernel does count.
 */
import { shellQuote, type SshSession } from '../transport/ssh.js';

export interface BpfProgramView {
  readonly id: number;
  /** As bpftool names it: `tracing` (kfunc/kretfunc), `kprobe`, `tracepoint`, … */
  readonly type: string;
  readonly name: string;
  readonly recursionMisses: number;
}

export interface BpfProcessView {
  /** BPF links held (one per kfunc, kretfunc or multi-kprobe probe). */
  readonly links: number;
  /** perf events held (single kprobes, tracepoints, BEGIN/END uprobes). */
  readonly perfEvents: number;
  readonly programs: readonly BpfProgramView[];
}

/** The marker between the fd listing and bpftool's JSON in the command's output. */
const SPLIT = '--bpftool--';

/** The command that prints what `bpfProcessView` parses, for process `pid`. */
export function bpfProcessCommand(pid: number): string {
  const p = shellQuote(String(pid));
  return `for f in /proc/${p}/fd/*; do case "$(readlink "$f")" in ` +
    `anon_inode:bpf_link) echo link;; ` +
    `anon_inode:bpf-prog) echo "prog $(sed -n 's/^prog_id:[[:space:]]*//p' /proc/${p}/fdinfo/"\${f##*/}")";; ` +
    `'anon_inode:[perf_event]') echo perf;; esac; done; echo ${SPLIT}; bpftool -j prog show`;
}

export function parseBpfProcessView(stdout: string): BpfProcessView {
  const at = stdout.indexOf(SPLIT);
  if (at < 0) throw new Error('no bpftool output');
  const fds = stdout.slice(0, at).split('\n').map((l) => l.trim()).filter(Boolean);
  const ids = new Set(fds.filter((l) => l.startsWith('prog ')).map((l) => Number(l.slice(5))).filter(Number.isInteger));
  const json = stdout.slice(at + SPLIT.length).trim();
  const all = (json ? JSON.parse(json) : []) as { id: number; type?: string; name?: string; recursion_misses?: number }[];
  return {
    links: fds.filter((l) => l === 'link').length,
    perfEvents: fds.filter((l) => l === 'perf').length,
    programs: all.filter((p) => ids.has(p.id)).map((p) => ({ id: p.id, type: p.type ?? 'unknown', name: p.name ?? '', recursionMisses: p.recursion_misses ?? 0 })),
  };
}

export type KernelView = { readonly ok: true; readonly view: BpfProcessView } | { readonly ok: false; readonly why: string };

export async function bpfProcessView(session: SshSession, pid: number): Promise<KernelView> {
  const r = await session.exec(bpfProcessCommand(pid), { timeoutMs: 60_000, allowFailure: true });
  if (/bpftool: (command )?not found/.test(r.stderr) || r.code === 127) return { ok: false, why: 'bpftool is not installed on the target (apt-get install bpftool)' };
  try {
    return { ok: true, view: parseBpfProcessView(r.stdout) };
  } catch {
    return { ok: false, why: `bpftool prog show gave nothing readable (exit ${r.code}: ${r.stderr.trim().split('\n').slice(-2).join(' ')})` };
  }
}

export async function pidOf(session: SshSession, pidfile: string): Promise<number | undefined> {
  const r = await session.exec(`cat ${shellQuote(pidfile)}`, { timeoutMs: 30_000, allowFailure: true });
  const pid = Number(r.stdout.trim());
  return r.code === 0 && Number.isInteger(pid) && pid > 0 ? pid : undefined;
}
