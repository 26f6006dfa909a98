/**
 * Runner overhead: how much wall time a repetition costs beyond fio's own
 * runtime + ramp_time (job upload, SSH exec, JSON transfer, parsing, atomic
 * store write), and what a run costs once (connect, preflight).
 *
 * Target: this machine as a static host behind a real OpenSSH server on
 * 127.0.0.1, fio on a file. Usage: npm run bench:runner [-- CELLS REPS RUNTIME_S]
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expand } from '../cell/expand.js';
import { inventoryFromHosts } from '../inventory/load.js';
import { RunStore } from '../result/store.js';
import { runPlan } from '../runner/run.js';
import { loadScenarioFile } from '../scenario/load.js';
import { startSshd } from '../tools/loopback-sshd.js';
import { quantile } from '../analysis/stats/describe.js';

const [cells = 4, reps = 5, runtime = 2] = process.argv.slice(2).map(Number);

const sshd = await startSshd();
const dir = await mkdtemp(join(tmpdir(), 'iommu-lab-bench-'));
try {
  const depths = Array.from({ length: cells }, (_, i) => 2 ** i);
  await writeFile(join(dir, 'hosts.yaml'), `hosts:
  - name: localhost
    ssh: { host: 127.0.0.1, port: ${sshd.port}, user: ${sshd.user}, key: ${sshd.keyPath}, host_key_sha256: "${sshd.hostKeyFingerprint}" }
    iommu: { device: none, mode: off }
    disks: [{ name: scratch, path: ${join(dir, 'scratch.dat')}, behind_iommu: false }]
`);
  await writeFile(join(dir, 's.yaml'), `name: bench
repetitions: ${reps}
workloads:
  - { name: rr, rw: randread, bs: 4k, iodepth: [${depths.join(', ')}], size: 32m, runtime: ${runtime}, ramp_time: 0 }
iommu: [{ device: none, mode: off }]
targets: { hosts: [localhost] }
hosts_file: hosts.yaml
`);
  const loaded = await loadScenarioFile(join(dir, 's.yaml'));
  const plan = expand(loaded);
  const t0 = performance.now();
  const summary = await runPlan({ loaded, plan, inventory: inventoryFromHosts(loaded.hosts!), resultsRoot: join(dir, 'results') });
  const wall = (performance.now() - t0) / 1000;
  const store = await RunStore.open(summary.dir);
  const results = (await Promise.all(plan.cells.map((c) => store.listReps(c.id)))).flat();
  const perRep = results.map((r) => (Date.parse(r.finished) - Date.parse(r.started)) / 1000 - runtime);
  const fioTotal = results.length * runtime;
  console.log(`runner overhead, ${cells} cells × ${reps} repetitions, fio runtime ${runtime} s, ${summary.passed}/${summary.total} passed`);
  console.log(`  per repetition beyond fio runtime: median ${quantile(perRep, 0.5).toFixed(3)} s, p90 ${quantile(perRep, 0.9).toFixed(3)} s, max ${Math.max(...perRep).toFixed(3)} s`);
  console.log(`  whole run: ${wall.toFixed(1)} s wall for ${fioTotal} s of fio: ${(wall - fioTotal).toFixed(1)} s overhead ` +
    `(${((wall - fioTotal) / results.length).toFixed(3)} s per repetition including connect and preflight)`);
} finally {
  await sshd.stop();
  await rm(dir, { recursive: true, force: true });
}
