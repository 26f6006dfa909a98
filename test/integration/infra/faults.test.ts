/** Infra faults that need libvirtd but no guest: a dead daemon, a busy port. */
import { createServer, type Server } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execa } from 'execa';
import { labPath } from '../../../core/paths.js';
import type { Image } from '../../../guest-images/build.js';
import { createGuest } from '../../../infra/guest.js';
import { Virsh } from '../../../infra/virsh.js';

let server: Server;
let port = 0;
beforeAll(async () => {
  await execa(labPath('scripts', 'start-libvirtd.sh'));
  server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  port = (server.address() as { port: number }).port;
});
afterAll(() => new Promise<void>((r) => server.close(() => r())));

const fakeImage: Image = {
  dir: '/nonexistent',
  manifest: { version: 1, recipe: { name: 'x', hash: 'x' }, digest: 'sha256:x', created: '', build_seconds: 0, packages: {}, kernels: [], ssh: { host_key_sha256: ['SHA256:x'], client_key: 'k', user: 'root' }, artifacts: {} },
};

describe('infra faults', () => {
  it('says how to start libvirtd when it does not answer', async () => {
    const err = await new Virsh('qemu:///system?socket=/nonexistent/libvirt-sock').ping().catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'E_LIBVIRTD_DOWN', fix: expect.stringContaining('scripts/start-libvirtd.sh') });
  });

  it('detects a busy SSH port before starting the guest', async () => {
    const err = await createGuest({
      guest: 'busy-port', scenario: 'faults', image: fakeImage, kernel: '6.12', uri: 'qemu:///system', sshPort: port, bootTimeoutS: 10,
      profile: { name: 'p', vcpus: 1, memory_mib: 512, kernel: '6.12', clock: 'tcg', disks: [] }, iommu: { device: 'none', mode: 'off' },
    }).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'E_PORT_BUSY', message: expect.stringContaining(`port ${port} on 127.0.0.1 is already in use`) });
    expect(await new Virsh('qemu:///system').state('iommu-lab-busy-port')).toBeUndefined();
  });
});
