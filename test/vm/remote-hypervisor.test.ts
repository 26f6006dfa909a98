/**
 * A hypervisor that is not this machine's loopback (tools/netns-hypervisor.ts:
 * its own network namespace, address, sshd and libvirtd; its guests forward
 * SSH inside that namespace only) beside this machine's, in one sweep: the
 * image is copied there by digest, the remote guest is reached through the
 * hypervisor's SSH, `down` cleans both hosts. A wrong pinned key, an
 * unreachable host and a host without room for the image are named, and the
 * other host's cells go on.
 */
import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { portIsFree } from '../../infra/host.js';
import { LOCAL } from '../../infra/up.js';
import { Virsh } from '../../infra/virsh.js';
import type { Inventory } from '../../inventory/types.js';
import { startNetnsHypervisor, type NetnsHypervisor } from '../../tools/netns-hypervisor.js';
import { printedReport, runBin } from '../helpers/run-cli.js';
import { useVmScenario } from '../helpers/vm-scenario.js';

const SCENARIO = `name: vmremote
seed: 16
repetitions: 2
workloads:
  - { name: rr, rw: randread, bs: 4k, iodepth: 8, size: 64m, runtime: 3, ramp_time: 0 }
iommu:
  - { device: intel, mode: strict }
  - { device: intel, mode: passthrough }
targets:
  vms:
    - name: r
      vcpus: 2
      memory_mib: 1024
      kernel: "6.12"
      disks: [{ name: nvme0, bus: nvme, size_mib: 128 }]
tracing: { scripts: [iotlb-invalidations], repetitions: 1 }
metrics: [iops, iotlb_sync_flush_per_io]
timeouts: { cell_s: 120, boot_s: 240 }
`;

const vm = useVmScenario('vmremote', SCENARIO);
let hv: NetnsHypervisor;
/** The copied image's inode and mtime ('' before any copy): a later sweep finds it there and copies nothing. */
const blobIdentity = async () => (await hv.exec('stat -c %i:%Y /var/cache/iommu-lab/blobs/*-rootfs.qcow2 2>/dev/null')).stdout.trim();
beforeAll(async () => {
  hv = await startNetnsHypervisor();
}, 60_000);
afterAll(async () => {
  // Whatever a failed test left on the remote host goes with it.
  await hv?.exec('for d in $(virsh -c qemu:///system list --all --name); do virsh -c qemu:///system destroy "$d"; virsh -c qemu:///system undefine "$d"; done >/dev/null 2>&1');
  await hv?.stop();
});

const cli = runBin;
const hostsFile = async (name: string, entry: string) => {
  const f = join(vm.dir, name);
  await writeFile(f, `hypervisors:\n${entry}`);
  return f;
};
// Strict first: it lands on this machine (capacity 1), passthrough on the namespace's host.
const LOCAL_GUEST = 'r-intel-strict';
const REMOTE_GUEST = 'r-intel-passthrough';

describe('a sweep over this machine and a hypervisor in another network namespace', () => {
  it('places one guest on each, copies the image there by digest, tunnels to the remote guest, and cleans both hosts', async () => {
    const hosts = await hostsFile('hosts.yaml', hv.hostsEntry(1));
    const results = join(vm.dir, 'results');
    const r = await cli(['sweep', vm.file, '--results', results, '--hosts', hosts, '--hypervisor', `${LOCAL.uri}=1,${hv.uri}`, '--keep']);
    expect(r.exitCode, r.all).toBe(0);
    expect(r.stdout).toContain('6 passed, 0 failed of 6 repetitions');

    const inv = JSON.parse(await readFile(join(results, 'vmremote-inventory.json'), 'utf8')) as Inventory;
    const local = inv.targets.find((t) => t.name === LOCAL_GUEST)!;
    const remote = inv.targets.find((t) => t.name === REMOTE_GUEST)!;
    expect(local.vm!.hypervisor_uri).toBe(LOCAL.uri);
    expect(local.ssh.via).toBeUndefined();
    expect(remote.vm!.hypervisor_uri).toBe(hv.uri);
    expect(remote.ssh.via).toMatchObject({ host: hv.address, port: 22, host_key_sha256: hv.hostKeyFingerprint });
    // The remote guest's forward listens inside the namespace only: not on this machine's loopback.
    expect(await portIsFree(remote.ssh.port)).toBe(true);
    const listening = await hv.exec(`awk '$4=="0A"{print $2}' /proc/net/tcp`);
    expect(listening.stdout).toContain(`:${remote.ssh.port.toString(16).toUpperCase().padStart(4, '0')}`);
    expect((await hv.exec('virsh -c qemu:///system list --name')).stdout).toContain(`iommu-lab-${REMOTE_GUEST}`);
    // The image arrived whole, named by the manifest's digest.
    const blobs = (await hv.exec('ls /var/cache/iommu-lab/blobs')).stdout;
    expect(blobs).toContain(`${vm.image.manifest.artifacts['rootfs.qcow2']}-rootfs.qcow2`);
    expect(blobs).not.toContain('.part-');

    // The modes were in effect on both hosts: strict flushes the IOTLB once per I/O, passthrough never.
    const report = await printedReport(r.stdout);
    const flushes = (id: string) => report.cells.find((c) => c.cell.includes(id))!.metrics['iotlb_sync_flush_per_io']?.median ?? 0;
    expect(flushes('intel-strict')).toBeGreaterThan(0.97);
    expect(flushes('intel-passthrough')).toBe(0);

    const d = await cli(['down', '--hosts', hosts, '--hypervisor', `${LOCAL.uri},${hv.uri}`]);
    expect(d.exitCode, d.all).toBe(0);
    expect(d.stdout).toMatch(/removed [2-9] guest/);
    expect((await hv.exec('virsh -c qemu:///system list --all --name')).stdout.trim()).toBe('');
    expect((await hv.exec('ls /var/lib/iommu-lab/guests')).stdout.trim()).toBe('');
    expect((await new Virsh(LOCAL.uri).labDomains()).filter((x) => x.metadata.includes("scenario='vmremote'"))).toEqual([]);
  });

  it('a wrong pinned host key fails only that host\'s cells; pinned right, the next sweep completes the run there', async () => {
    const results = join(vm.dir, 'results-key');
    const wrong = await hostsFile('wrong.yaml', hv.hostsEntry(1).replace(hv.hostKeyFingerprint, `SHA256:${'A'.repeat(43)}`));
    const r = await cli(['sweep', vm.file, '--results', results, '--hosts', wrong, '--hypervisor', `${LOCAL.uri}=1,${hv.uri}`, '--fresh']);
    expect(r.exitCode, r.all).toBe(1);
    expect(r.stdout).toContain('3 passed, 3 failed of 6 repetitions');
    expect(r.stdout).toMatch(new RegExp(`rr__intel-passthrough__r__nvme0 timing-01: host-key-mismatch: hypervisor ${hv.uri.replace(/[+.]/g, '\\$&')}: host key of .* is ${hv.hostKeyFingerprint.replace(/[+/]/g, '\\$&')}, but the hosts file pins`));
    // Nothing was sent to a host whose key is not the pinned one.
    expect((await hv.exec('virsh -c qemu:///system list --all --name')).stdout.trim()).toBe('');

    const before = await blobIdentity();
    const right = await hostsFile('right.yaml', hv.hostsEntry(1));
    const again = await cli(['sweep', vm.file, '--results', results, '--hosts', right, '--hypervisor', `${LOCAL.uri}=1,${hv.uri}`]);
    expect(again.exitCode, again.all).toBe(0);
    expect(again.all).toContain('completing the unfinished run');
    // This sweep ran only the 3 that failed; the run now holds all 6 passed.
    expect(again.stdout).toMatch(/3 passed, 0 failed of 6 repetitions \(resumed\)/);
    const report = await printedReport(again.stdout);
    expect(report.cells.map((c) => c.metrics['iops']!.n)).toEqual([2, 2]);
    expect((await hv.exec('virsh -c qemu:///system list --all --name')).stdout.trim()).toBe('');
    // The image the first test copied there was used as it was (run alone, this test copies it itself).
    if (before) expect(await blobIdentity()).toBe(before);
  });

  it('names an unreachable hypervisor and one without room for the image, and boots nothing there', async () => {
    const dead = await hostsFile('dead.yaml', hv.hostsEntry(1).replace(hv.address, '10.213.254.9'));
    const u = await cli(['up', vm.file, '--hosts', dead, '--inventory', join(vm.dir, 'dead-inv.json'), '--hypervisor', 'qemu+ssh://root@10.213.254.9/system', '--only', REMOTE_GUEST]);
    expect(u.exitCode, u.all).toBe(1);
    expect(u.stdout).toContain('error[E_HYPERVISOR_UNREACHABLE]: hypervisor qemu+ssh://root@10.213.254.9/system is unreachable');

    const small = await startNetnsHypervisor({ cacheMiB: 64 });
    try {
      const tiny = await hostsFile('tiny.yaml', small.hostsEntry(1));
      const s = await cli(['up', vm.file, '--hosts', tiny, '--inventory', join(vm.dir, 'tiny-inv.json'), '--hypervisor', small.uri, '--only', REMOTE_GUEST]);
      expect(s.exitCode, s.all).toBe(1);
      expect(s.stdout).toMatch(/error\[E_HYPERVISOR_DISK\]: .* has \d+ MiB free in \/var\/cache\/iommu-lab\/blobs; rootfs\.qcow2 needs \d+ MiB/);
      expect((await small.exec('ls -A /var/cache/iommu-lab/blobs')).stdout.trim()).toBe('');
      expect((await small.exec('virsh -c qemu:///system list --all --name')).stdout.trim()).toBe('');
    } finally {
      await small.stop();
    }
    expect(existsSync(join(vm.dir, 'tiny-inv.json'))).toBe(true);
  });
});
