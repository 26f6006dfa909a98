/**
 * The dry-run check of the lab's bpftrace scripts on one target, like
 * bpftrace's own tools test: each script is cut to the probes the target's
 * kernel has (the others recorded as skipped, with the reason), then really
 * compiled and attached, with `-c /bin/true` so it detaches at once. bpftrace
 * 0.17 (Debian 12) has no --dry-run, and only attaching proves that a probe,
 * its BTF types and its arguments work on that kernel.
 */
import { readdirSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { BPF_DIR } from '../core/paths.js';
import { shellQuote, type SshSession } from '../transport/ssh.js';
import { parseBpftraceJson, prepareScript, probeAvailability, scriptProbes } from './tracing.js';

/** Every script in bpf/, by name. */
export const LAB_SCRIPTS: readonly string[] = readdirSync(BPF_DIR).filter((f) => f.endsWith('.bt')).map((f) => f.slice(0, -3)).sort();

export type ScriptCheck =
  | { readonly state: 'attached'; readonly script: string; readonly attached: number; readonly probes: readonly string[]; readonly skipped: readonly { probe: string; reason: string }[]; readonly seconds: number }
  | { readonly state: 'all-skipped'; readonly script: string; readonly skipped: readonly { probe: string; reason: string }[] }
  | { readonly state: 'failed'; readonly script: string; readonly probes: readonly string[]; readonly error: string };

export async function checkScripts(session: SshSession, kernel: string, scripts: readonly string[] = LAB_SCRIPTS, remoteDir = '/tmp/iommu-lab-trace-check'): Promise<ScriptCheck[]> {
  const texts = await Promise.all(scripts.map(async (name) => ({ name, text: await readFile(join(BPF_DIR, `${name}.bt`), 'utf8') })));
  const available = await probeAvailability(session, texts.flatMap((t) => scriptProbes(t.text)));
  await session.exec(`mkdir -p ${shellQuote(remoteDir)}`, { timeoutMs: 30_000 });
  const out: ScriptCheck[] = [];
  try {
    for (const t of texts) {
      const prepared = prepareScript(t.text, available, kernel);
      if (prepared.probes.length === 0) {
        out.push({ state: 'all-skipped', script: t.name, skipped: prepared.skipped });
        continue;
      }
      const path = `${remoteDir}/${t.name}.bt`;
      await session.upload(path, prepared.text);
      const t0 = Date.now();
      // Attaching took up to 29 s under TCG; the timeout leaves room for slower guests.
      const r = await session.exec(`timeout 300 bpftrace -f json -c /bin/true ${shellQuote(path)}`, { timeoutMs: 330_000, allowFailure: true });
      const seconds = (Date.now() - t0) / 1000;
      const parsed = parseBpftraceJson(r.stdout);
      if (r.code !== 0 || parsed.attachedProbes === undefined || parsed.errors.length > 0) {
        const why = [...parsed.errors, ...r.stderr.split('\n').filter((l) => l.trim())].slice(-8).join('\n');
        out.push({ state: 'failed', script: t.name, probes: prepared.probes, error: `exit ${r.code}${why ? `: ${why}` : ''}` });
      } else {
        out.push({ state: 'attached', script: t.name, attached: parsed.attachedProbes, probes: prepared.probes, skipped: prepared.skipped, seconds });
      }
    }
  } finally {
    await session.exec(`rm -rf ${shellQuote(remoteDir)}`, { timeoutMs: 30_000, allowFailure: true }).catch(() => {});
  }
  return out;
}
