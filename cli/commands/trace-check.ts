import { EXIT, UsageError } from '../../core/errors.js';
import { loadInventoryFile } from '../../inventory/load.js';
import { parkGuest, unparkGuest } from '../../infra/guest.js';
import { SshSession } from '../../transport/ssh.js';
import { checkScripts, LAB_SCRIPTS, type ScriptCheck } from '../../runner/trace-check.js';
import { table } from '../render.js';
import { defineCommand } from '../table.js';
import { jsonOption } from '../options.js';

export const traceCheckCommand = defineCommand({
  name: 'trace-check',
  summary: "Dry-run every bpftrace script on each target's kernel: compile and attach, and list the probes skipped there with the reason.",
  args: [],
  options: [
    { flags: '--inventory <file>', description: 'inventory written by `iommu-lab up`', default: 'results/inventory.json' },
    { flags: '--scripts <names>', description: `comma-separated scripts from bpf/ (default: ${LAB_SCRIPTS.join(', ')})` },
    jsonOption('the checks'),
  ],
  example: 'iommu-lab trace-check --inventory results/inventory.json',
  async run(_args, options, io) {
    const inventory = await loadInventoryFile(options.inventory);
    const scripts = options.scripts ? String(options.scripts).split(',').map((s) => s.trim()).filter(Boolean) : [...LAB_SCRIPTS];
    const unknown = scripts.filter((s) => !LAB_SCRIPTS.includes(s));
    if (unknown.length) throw new UsageError(`unknown script(s): ${unknown.join(', ')}`, `choose from ${LAB_SCRIPTS.join(', ')}`);
    const results: { target: string; kernel: string; checks: ScriptCheck[] }[] = [];
    for (const t of inventory.targets) {
      io.err(`${t.name}: checking ${scripts.length} script(s)…`);
      // Virtual-clock guests wait paused between measurements: resumed for the check, paused again after.
      await unparkGuest(t);
      const session = await SshSession.connect(t.name, t.ssh, { connectTimeoutMs: 30_000 });
      try {
        const kernel = (await session.exec('uname -r', { timeoutMs: 30_000 })).stdout.trim();
        results.push({ target: t.name, kernel, checks: await checkScripts(session, kernel, scripts) });
      } finally {
        session.close();
        await parkGuest(t).catch(() => {});
      }
    }
    if (options.json) io.out(JSON.stringify(results, null, 2));
    else {
      const rows = results.flatMap((r) => r.checks.map((c) => [
        r.target, r.kernel, c.script, c.state,
        c.state === 'attached' ? String(c.attached) : '-',
        c.state === 'failed' ? c.error.split('\n')[0]! : c.skipped.map((s) => s.probe).join(' ') || '-',
      ]));
      io.out(table(['target', 'kernel', 'script', 'state', 'attached', 'skipped (or error)'], rows));
      for (const r of results) for (const c of r.checks) if (c.state === 'failed') io.out(`\n${r.target} ${c.script}:\n${c.error}`);
    }
    return results.some((r) => r.checks.some((c) => c.state === 'failed')) ? EXIT.failed : EXIT.ok;
  },
});
