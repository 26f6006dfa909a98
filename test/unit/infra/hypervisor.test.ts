/**
 * Which hypervisors a command uses, and how a remote one is reached: its SSH
 * from the URI and the hosts file's pinned key; what is refused.
 */
import { describe, expect, it } from 'vitest';
import { parseHypervisor, remoteLibvirtSocket, resolveHypervisors, sshEndpointOf } from '../../../infra/hypervisor.js';
import { loadHostsFile } from '../../../scenario/load.js';
import { useTmpDir, writeIn } from '../../helpers/tmp.js';

const tmp = useTmpDir();
const FP = `SHA256:${'C'.repeat(43)}`;
const HOSTS = `hypervisors:
  - uri: qemu+ssh://root@10.0.0.2/system
    capacity: 3
    ssh: { key: keys/hv, host_key_sha256: "${FP}" }
  - uri: qemu+ssh://lab@lab3:2222/system?socket=/run/libvirt/other-sock
    ssh: { key: /k, host_key_sha256: "${FP}" }
`;

describe('remote hypervisors', () => {
  it('takes user, host and port from the URI, and the remote libvirt socket from ?socket=', () => {
    expect(sshEndpointOf('qemu+ssh://lab@lab3:2222/system')).toEqual({ user: 'lab', host: 'lab3', port: 2222 });
    expect(sshEndpointOf('qemu+ssh://lab2/system')).toEqual({ user: 'root', host: 'lab2', port: 22 });
    expect(remoteLibvirtSocket('qemu+ssh://lab2/system')).toBe('/var/run/libvirt/libvirt-sock');
    expect(remoteLibvirtSocket('qemu+ssh://lab2/system?socket=/run/x.sock')).toBe('/run/x.sock');
  });

  it('refuses transports other than SSH and a capacity of 0', () => {
    expect(() => parseHypervisor('qemu+tcp://lab2/system')).toThrow(/over SSH only/);
    expect(() => parseHypervisor('qemu+ssh://lab2/system=0')).toThrow(/capacity of 0/);
  });

  it('pins remote hosts from the hosts file: its capacity unless the command line gives one, its key relative to the file', async () => {
    const dir = await tmp();
    const hosts = await loadHostsFile(await writeIn(dir, 'hosts.yaml', HOSTS));
    expect(hosts.hosts.hosts).toEqual([]);
    const all = resolveHypervisors([], hosts);
    expect(all.map((h) => [h.uri, h.capacity])).toEqual([['qemu+ssh://root@10.0.0.2/system', 3], ['qemu+ssh://lab@lab3:2222/system?socket=/run/libvirt/other-sock', 8]]);
    expect(all[0]!.ssh).toEqual({ user: 'root', host: '10.0.0.2', port: 22, key_path: `${dir}/keys/hv`, host_key_sha256: FP });
    const named = resolveHypervisors(['qemu:///system=2', 'qemu+ssh://root@10.0.0.2/system=5'], hosts);
    expect(named.map((h) => [h.uri, h.capacity, Boolean(h.ssh)])).toEqual([['qemu:///system', 2, false], ['qemu+ssh://root@10.0.0.2/system', 5, true]]);
    expect(resolveHypervisors(['qemu+ssh://root@10.0.0.2/system'], hosts)[0]!.capacity).toBe(3);
    expect(resolveHypervisors([], undefined)).toEqual([{ uri: 'qemu:///system', capacity: 8 }]);
  });

  it('refuses a remote host that is not pinned, saying where to pin it', async () => {
    const dir = await tmp();
    const hosts = await loadHostsFile(await writeIn(dir, 'hosts.yaml', HOSTS));
    expect(() => resolveHypervisors(['qemu+ssh://root@lab9/system'], hosts)).toThrow(/qemu\+ssh:\/\/root@lab9\/system is a remote hypervisor, but .*hosts\.yaml does not list it under hypervisors:/);
    try { resolveHypervisors(['qemu+ssh://lab9/system'], undefined); } catch (e) {
      expect((e as { code: string }).code).toBe('E_HYPERVISOR_UNPINNED');
      expect((e as { fix: string }).fix).toMatch(/ssh-keyscan/);
    }
  });

  it('reports a hosts-file entry without a pinned key, or listed twice, at its line', async () => {
    const dir = await tmp();
    const bad = await writeIn(dir, 'bad.yaml', `hypervisors:\n  - uri: qemu+ssh://a/system\n    ssh: { key: k }\n  - uri: qemu+tcp://b/system\n    ssh: { key: k, host_key_sha256: "${FP}" }\n`);
    const e = (await loadHostsFile(bad).then(() => ({ problems: [] }), (x: unknown) => x)) as { problems: { line: number; message: string }[] };
    expect(e.problems.map((p) => p.line)).toEqual([3, 4]);
    expect(e.problems[0]!.message).toMatch(/host_key_sha256/);
  });
});
