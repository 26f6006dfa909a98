/**
 * The guest image recipe: what goes into the image, as data. Its hash (over
 * this data and the files the build uses) names the cache directory, so any
 * change to the recipe, the build script or the guest's init makes a new image
 * and an unchanged recipe is a cache hit.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { labPath } from '../core/paths.js';

export interface Recipe {
  readonly name: string;
  readonly suite: 'bookworm';
  readonly mirror: string;
  readonly securityMirror: string;
  /** Installed by mmdebstrap from bookworm; the 6.12 kernel is added from bookworm-backports. */
  readonly packages: readonly string[];
  /** Files whose contents shape the image. */
  readonly files: readonly string[];
}

export const RECIPE: Recipe = {
  name: 'debian12-lab',
  suite: 'bookworm',
  mirror: process.env['IOMMU_LAB_MIRROR'] ?? 'http://deb.debian.org/debian',
  securityMirror: process.env['IOMMU_LAB_SECURITY_MIRROR'] ?? 'http://deb.debian.org/debian-security',
  packages: [
    'linux-image-amd64', // Debian 12's 6.1; 6.12 comes from backports (virtio-iommu needs it)
    'openssh-server',
    'fio',
    'iperf3', // network streams (runner/network.ts)
    'sockperf', // network request/response latency (runner/network.ts)
    'bpftrace',
    'bpftool', // the runner lists bpftrace's attached probes and their programs' recursion misses (runner/traced.ts)
    'iproute2',
    'pciutils',
    'procps',
    'kmod',
    'busybox-static', // the initramfs
    'tini', // PID 1: reaps zombies, forwards signals
  ],
  files: ['guest-images/build.sh', 'guest-images/files/initramfs-init', 'guest-images/files/sshd_config'],
};

export function recipeHash(recipe: Recipe = RECIPE): string {
  const h = createHash('sha256');
  // Mirrors do not change what is built (same archive), so they stay out of the hash.
  h.update(JSON.stringify({ name: recipe.name, suite: recipe.suite, packages: recipe.packages }));
  for (const f of recipe.files) {
    h.update(`\0${f}\0`);
    h.update(readFileSync(labPath(f)));
  }
  return h.digest('hex');
}
