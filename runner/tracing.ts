/**
 * bpftrace in the runner: which of a script's probes the target's kernel has
 * (absent ones are cut out and recorded as skipped, with the reason), the
 * script's `-f json` output parsed into maps, and the maps turned into the
 * metrics as core/metrics.ts describes their extraction. Everything here is pure except `probeAvailability`.
 */
import { METRICS } from '../core/metrics.js';
import { shellQuote, type SshSession } from '../transport/ssh.js';

export interface ProbeSpec {
  /** As written, e.g. `kfunc:qi_submit_sync`, `kretprobe:iommu_dma_map_page*` or `tracepoint:iommu:io_page_fault`. */
  readonly spec: string;
  /**
   * kfunc/kretfunc (fentry/fexit through BTF) count every call; a kprobe's program is skipped when the
   * function runs in an interrupt that arrives while another probe's handler runs on that CPU, and the
   * kernel does not report it (docs/tracing.md): the lab's counting scripts use kfuncs.
   */
  readonly kind: 'kprobe' | 'kretprobe' | 'kfunc' | 'kretfunc' | 'tracepoint' | 'special';
  /** Function (k*probes, wildcard stripped) or `category:event` (tracepoints). */
  readonly target: string;
}

interface Block {
  readonly probes: readonly ProbeSpec[];
  readonly start: number;
  readonly end: number;
}

export function parseProbe(spec: string): ProbeSpec {
  const [kind, ...rest] = spec.split(':');
  if (kind === 'kprobe' || kind === 'kretprobe' || kind === 'kfunc' || kind === 'kretfunc') return { spec, kind, target: rest.join(':').replace(/\*$/, '') };
  if (kind === 'tracepoint') return { spec, kind, target: rest.join(':') };
  return { spec, kind: 'special', target: spec };
}

/** Probe blocks of a script: a line starting with probe specs up to where its braces balance. */
export function scriptBlocks(text: string): Block[] {
  const lines = text.split('\n');
  const blocks: Block[] = [];
  let inComment = false;
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    if (inComment) { if (line.includes('*/')) inComment = false; continue; }
    if (line.trimStart().startsWith('/*')) { if (!line.includes('*/')) inComment = true; continue; }
    const m = /^([a-z]+:[^\s{/]*(?:\s*,\s*[a-z]+:[^\s{/]*)*|BEGIN|END)\s*(?:\/|\{)/.exec(line);
    if (!m) continue;
    let depth = 0;
    let end = i;
    for (let j = i; j < lines.length; j++) {
      for (const ch of lines[j]!) { if (ch === '{') depth++; else if (ch === '}') depth--; }
      if (depth <= 0 && lines[j]!.includes('}')) { end = j; break; }
    }
    blocks.push({ probes: m[1]!.split(',').map((s) => parseProbe(s.trim())), start: i, end });
    i = end;
  }
  return blocks;
}

/**
 * The script's pure counters: kfunc blocks whose whole body is `@map = count();`, as function → map.
 * For these a run of the program that the kernel skipped (a recursion miss: the function called again,
 * from an interrupt, while its own program ran on that CPU) is exactly one call not counted, so the
 * kernel's miss count can be added back (runner/traced.ts). BPF names a program after its function's
 * first 15 characters, which is how the misses are matched to it.
 */
export function pureCounters(text: string): Map<string, string> {
  const lines = text.split('\n');
  const out = new Map<string, string>();
  for (const b of scriptBlocks(text)) {
    const body = lines.slice(b.start, b.end + 1).join('\n');
    // No predicate (a skipped run might not have passed it) and nothing but the count.
    const m = /^[^{/]*\{\s*@(\w+)\s*=\s*count\(\);?\s*\}\s*$/.exec(body);
    if (!m) continue;
    for (const p of b.probes) if (p.kind === 'kfunc') out.set(p.target, m[1]!);
  }
  return out;
}

/**
 * Probes whose programs feed only samples (a latency histogram the report treats as a sample, never as a
 * count), named in the script's header as `SAMPLED: probe, probe`: their skipped runs thin the sample and
 * are recorded, but do not set the attempt aside. Returned as the names BPF gives their programs' functions
 * or events (the part after the last colon).
 */
export function sampledProbes(text: string): Set<string> {
  // The probe specs before the explanation in parentheses.
  const line = (/^\s*\*\s*SAMPLED:\s*(.+)$/m.exec(text)?.[1] ?? '').split('(')[0]!;
  return new Set([...line.matchAll(/\b[a-z]+:[\w:]+/g)].map((m) => m[0].split(':').pop()!));
}

export function scriptProbes(text: string): ProbeSpec[] {
  return scriptBlocks(text).flatMap((b) => b.probes).filter((p) => p.kind !== 'special');
}

export interface PreparedScript {
  readonly text: string;
  /** Probes kept. */
  readonly probes: readonly string[];
  readonly skipped: readonly { readonly probe: string; readonly reason: string }[];
}

/**
 * Removes the blocks whose probes the kernel lacks. A block with several probes
 * stays if any of them exists (bpftrace attaches the ones it can resolve only
 * when all resolve, so the missing ones are removed from the list).
 */
export function prepareScript(text: string, available: ReadonlySet<string>, kernel: string): PreparedScript {
  const lines = text.split('\n');
  const skipped: { probe: string; reason: string }[] = [];
  const kept: string[] = [];
  const out = [...lines];
  for (const b of [...scriptBlocks(text)].reverse()) {
    const real = b.probes.filter((p) => p.kind !== 'special');
    if (real.length === 0) continue;
    const have = real.filter((p) => available.has(availabilityKey(p)));
    for (const p of real.filter((x) => !available.has(availabilityKey(x)))) {
      const what = p.kind === 'tracepoint' ? 'tracepoint' : p.kind === 'kfunc' || p.kind === 'kretfunc' ? 'function (under its own name, for a kfunc)' : 'function';
      skipped.push({ probe: p.spec, reason: `${what} ${p.target} does not exist in kernel ${kernel}` });
    }
    if (have.length === 0) {
      out.splice(b.start, b.end - b.start + 1, `// skipped: ${real.map((p) => p.spec).join(', ')} (not in kernel ${kernel})`);
    } else {
      kept.push(...have.map((p) => p.spec));
      if (have.length < real.length) {
        const head = out[b.start]!;
        out[b.start] = head.replace(real.map((p) => p.spec).join(', '), have.map((p) => p.spec).join(', '));
      }
    }
  }
  return { text: out.join('\n'), probes: kept.reverse(), skipped: skipped.reverse() };
}

const isFunctionProbe = (p: ProbeSpec) => p.kind === 'kprobe' || p.kind === 'kretprobe' || p.kind === 'kfunc' || p.kind === 'kretfunc';

/**
 * What a probe needs from the kernel, as `probeAvailability` reports it: a kprobe its function under
 * its name or a compiler clone's (`.isra.0`, matched by the trailing `*`); a kfunc the function under
 * its own name, since BTF describes the function and not its clones; a tracepoint its event.
 */
export function availabilityKey(p: ProbeSpec): string {
  return p.kind === 'kfunc' || p.kind === 'kretfunc' ? `btf:${p.target}` : p.target;
}

/**
 * Which of these functions and tracepoints the target's kernel offers to tracing (keys: availabilityKey).
 * kfuncs also need the kernel's BTF (modules' included: bpftrace 0.17 finds virtio_iommu's), which the
 * preflight checks; a function traceable under its own name is described there.
 */
export async function probeAvailability(session: SshSession, probes: readonly ProbeSpec[]): Promise<Set<string>> {
  const funcs = [...new Set(probes.filter(isFunctionProbe).map((p) => p.target))];
  const tps = [...new Set(probes.filter((p) => p.kind === 'tracepoint').map((p) => p.target))];
  const have = new Set<string>();
  if (funcs.length) {
    // Names, with or without a compiler-clone suffix (.isra.0, .constprop.0), as the trailing * matches.
    const pattern = `^(${funcs.join('|')})(\\.[a-z]+\\.[0-9]+)*( |$)`;
    const r = await session.exec(`grep -oE ${shellQuote(pattern)} /sys/kernel/tracing/available_filter_functions /sys/kernel/debug/tracing/available_filter_functions 2>/dev/null | cut -d: -f2 | sort -u`, { timeoutMs: 60_000, allowFailure: true });
    for (const line of r.stdout.split('\n')) {
      const t = line.trim();
      const name = t.replace(/(\.[a-z]+\.[0-9]+)+$/, '');
      if (name) have.add(name);
      if (t && t === name) have.add(`btf:${name}`);
    }
  }
  for (const tp of tps) {
    const [cat, ev] = tp.split(':');
    const r = await session.exec(`test -d /sys/kernel/tracing/events/${shellQuote(cat!)}/${shellQuote(ev!)}`, { timeoutMs: 30_000, allowFailure: true });
    if (r.code === 0) have.add(tp);
  }
  return have;
}

export type BpfValue = number | Readonly<Record<string, number>> | readonly HistBucket[] | Readonly<Record<string, readonly HistBucket[]>>;

export interface HistBucket {
  readonly min?: number;
  readonly max?: number;
  readonly count: number;
}

export interface BpftraceOutput {
  readonly attachedProbes?: number;
  readonly maps: Readonly<Record<string, BpfValue>>;
  readonly errors: readonly string[];
}

/** bpftrace `-f json`: one JSON object a line; maps and histograms arrive at exit. */
export function parseBpftraceJson(stdout: string): BpftraceOutput {
  const maps: Record<string, BpfValue> = {};
  const errors: string[] = [];
  let attachedProbes: number | undefined;
  for (const line of stdout.split('\n')) {
    const t = line.trim();
    if (!t.startsWith('{')) continue;
    let obj: { type?: string; data?: unknown; msg?: string };
    try {
      obj = JSON.parse(t);
    } catch {
      errors.push(`not JSON: ${t.slice(0, 120)}`);
      continue;
    }
    if (obj.type === 'attached_probes') attachedProbes = (obj.data as { probes: number }).probes;
    else if (obj.type === 'map' || obj.type === 'hist' || obj.type === 'stats') {
      for (const [k, v] of Object.entries(obj.data as Record<string, BpfValue>)) maps[k.replace(/^@/, '')] = v;
    } else if (obj.type === 'error') errors.push(String(obj.msg ?? obj.data));
  }
  return { ...(attachedProbes !== undefined ? { attachedProbes } : {}), maps, errors };
}

export function scalar(v: BpfValue | undefined): number {
  if (v === undefined) return 0;
  if (typeof v === 'number') return v;
  if (Array.isArray(v)) return (v as HistBucket[]).reduce((s, b) => s + b.count, 0);
  return Object.values(v as Record<string, number>).reduce((s, x) => s + (typeof x === 'number' ? x : 0), 0);
}

export function keyed(v: BpfValue | undefined, key: string): number {
  if (v === undefined || typeof v === 'number' || Array.isArray(v)) return 0;
  const x = (v as Record<string, unknown>)[key];
  return typeof x === 'number' ? x : 0;
}

/** A percentile from a linear histogram: the upper edge of the bucket that holds it. */
export function histPercentile(buckets: readonly HistBucket[] | undefined, p: number): number | undefined {
  if (!buckets || buckets.length === 0) return undefined;
  const total = buckets.reduce((s, b) => s + b.count, 0);
  if (total === 0) return undefined;
  let cum = 0;
  for (const b of buckets) {
    cum += b.count;
    if (cum >= (p / 100) * total) return b.max ?? b.min ?? 0;
  }
  return buckets[buckets.length - 1]!.max;
}

export interface TraceContext {
  /** Completed I/Os in the traced repetition (from fio). */
  readonly ios: number;
  /** PCI address of the test disk's controller, as the kernel names the device. */
  readonly pci?: string;
}

/** The metrics core/metrics.ts extracts from this script's maps; per-I/O sums are divided by the repetition's I/Os. */
export function traceMetrics(script: string, out: BpftraceOutput, ctx: TraceContext): Record<string, number> {
  const r: Record<string, number> = {};
  for (const d of METRICS) {
    const x = d.extract;
    if (x.tool !== 'bpftrace' || x.script !== script) continue;
    const maps = x.maps.map((name) => out.maps[name]);
    if (typeof x.reduce === 'object') {
      const p = histPercentile(maps[0] as HistBucket[] | undefined, x.reduce.percentile);
      if (p !== undefined) r[d.name] = p;
      continue;
    }
    const forDisk = x.reduce === 'sum-for-disk' && ctx.pci;
    const events = maps.reduce<number>((s, v) => s + (forDisk ? keyed(v, ctx.pci!) : scalar(v)), 0);
    r[d.name] = d.per === 'io' ? (ctx.ios > 0 ? events / ctx.ios : 0) : events;
  }
  return r;
}
