/**
 * What tracing costs: fio 4k random reads (iodepth 16, 10 s) on the emulated
 * NVMe disk of one TCG guest, untraced and with each bpftrace script attached,
 * in interleaved rounds (a seeded shuffle per round). Prints, per script, the
 * median IOPS ratio traced/untraced and its range over rounds.
 *
 * Usage: npm run bench:tracing [-- ROUNDS DEVICE MODE]   (defaults: 3 intel lazy)
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { BPF_DIR } from '../core/paths.js';
import { requireImage } from '../guest-images/build.js';
import { createGuest, removeGuest } from '../infra/guest.js';
import { parseFio } from '../runner/fio-parse.js';
import { prng, shuffle } from '../runner/order.js';
import { SshSession } from '../transport/ssh.js';
import { runTraced } from '../runner/traced.js';
import { prepareScript, probeAvailability, scriptProbes } from '../runner/tracing.js';
import { guestName } from '../cell/expand.js';
import type { IommuDevice, IommuMode } from '../scenario/types.js';
import { median } from '../analysis/stats/describe.js';

const [roundsArg = '3', device = 'intel', mode = 'lazy'] = process.argv.slice(2);
const SCRIPTS = ['iotlb-invalidations', 'dma-map-latency', 'iova-alloc', 'iommu-faults', 'block-io'];
const image = await requireImage();
const guest = guestName('bench-trace', { device: device as IommuDevice, mode: mode as IommuMode });
const g = await createGuest({
  guest, scenario: 'bench', image, uri: 'qemu:///system', bootTimeoutS: 300, kernel: '6.12',
  profile: { name: 'bench', vcpus: 2, memory_mib: 2048, kernel: '6.12', clock: 'tcg', disks: [{ name: 'nvme0', bus: 'nvme', size_mib: 512 }] },
  iommu: { device: device as IommuDevice, mode: mode as IommuMode },
});
const session = await SshSession.connect(guest, g.target.ssh);
try {
  const dir = '/tmp/bench-trace';
  await session.exec(`mkdir -p ${dir}`);
  const job = ['[global]', 'filename=/dev/lab/nvme0', 'ioengine=libaio', 'direct=1', 'size=256m', 'time_based=1', 'runtime=10', 'randrepeat=1', '[rr]', 'rw=randread', 'bs=4k', 'iodepth=16', ''].join('\n');
  await session.upload(`${dir}/job.fio`, job);
  const facts = (await session.exec('uname -r')).stdout.trim();
  const texts = await Promise.all(SCRIPTS.map(async (n) => ({ name: n, text: await readFile(join(BPF_DIR, `${n}.bt`), 'utf8') })));
  const available = await probeAvailability(session, texts.flatMap((t) => scriptProbes(t.text)));
  const prepared = texts.map((t) => ({ name: t.name, prepared: prepareScript(t.text, available, facts) }));
  const iops: Record<string, number[]> = { none: [] };
  const attach: Record<string, number[]> = {};
  const random = prng(42);
  for (let r = 0; r < Number(roundsArg); r++) {
    for (const what of shuffle(['none', ...SCRIPTS], random)) {
      const fio = 'fio --output-format=json+ /tmp/bench-trace/job.fio';
      let stdout: string;
      if (what === 'none') stdout = (await session.exec(fio, { timeoutMs: 120_000 })).stdout;
      else {
        const p = prepared.find((x) => x.name === what)!;
        const out = await runTraced(session, dir, [p], () => session.exec(fio, { timeoutMs: 120_000, allowFailure: true }), 120_000);
        stdout = out.fio.stdout;
        (attach[what] ??= []).push(out.traces[0]!.attachSeconds);
      }
      (iops[what] ??= []).push(parseFio(stdout).metrics['iops']!);
      process.stderr.write(`round ${r + 1} ${what}: ${iops[what]!.at(-1)!.toFixed(0)} IOPS\n`);
    }
  }
  const base = median(iops['none']!);
  console.log(`tracing overhead, ${device}/${mode}, kernel ${facts}, ${roundsArg} interleaved rounds; untraced median ${base.toFixed(0)} IOPS`);
  for (const s of SCRIPTS) {
    const ratios = iops[s]!.map((v) => v / base);
    console.log(`  ${s.padEnd(22)} IOPS ratio ${median(ratios).toFixed(2)} (${Math.min(...ratios).toFixed(2)}–${Math.max(...ratios).toFixed(2)}), attach ${median(attach[s]!).toFixed(1)} s`);
  }
} finally {
  session.close();
  await removeGuest('qemu:///system', guest);
}
