/** The image manifest (`manifest.json` beside the artifacts) and its checks. */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';

export interface KernelFacts {
  readonly version: string;
  /** "6.1" or "6.12": the scenario's name for it. */
  readonly series: string;
  readonly btf: boolean;
  readonly virtioIommu: 'y' | 'm' | 'n';
  readonly defaultDmaPolicy: 'lazy' | 'strict' | 'passthrough' | 'unknown';
  readonly intelIommu: 'y' | 'm' | 'n';
  readonly nvme: 'y' | 'm' | 'n';
  readonly vmlinuz: string;
  readonly initrd: string;
}

export interface ImageManifest {
  readonly version: 1;
  readonly recipe: { readonly name: string; readonly hash: string };
  /** sha256 over the sorted artifact digests: the image's identity in results. */
  readonly digest: string;
  readonly created: string;
  readonly build_seconds: number;
  readonly packages: Readonly<Record<string, string>>;
  readonly kernels: readonly KernelFacts[];
  readonly ssh: { readonly host_key_sha256: readonly string[]; readonly client_key: string; readonly user: 'root' };
  readonly artifacts: Readonly<Record<string, string>>;
}

export function sha256File(path: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const h = createHash('sha256');
    createReadStream(path)
      .on('data', (d) => h.update(d))
      .on('error', reject)
      .on('end', () => resolve(h.digest('hex')));
  });
}

export function imageDigest(artifacts: Readonly<Record<string, string>>): string {
  const h = createHash('sha256');
  for (const name of Object.keys(artifacts).sort()) h.update(`${name}\0${artifacts[name]}\n`);
  return `sha256:${h.digest('hex')}`;
}

const tri = (v: string | undefined): 'y' | 'm' | 'n' => (v === 'y' || v === 'm' ? v : 'n');

/** kernels.tsv from build.sh: version, BTF, VIRTIO_IOMMU, default policy, INTEL_IOMMU, BLK_DEV_NVME. */
export function parseKernelsTsv(text: string): Omit<KernelFacts, 'vmlinuz' | 'initrd'>[] {
  return text
    .split('\n')
    .filter((l) => l.trim())
    .map((l) => {
      const [version = '', btf, virtio, policy, intel, nvme] = l.split('\t');
      const m = /^(\d+)\.(\d+)/.exec(version);
      return {
        version,
        series: m ? `${m[1]}.${m[2]}` : version,
        btf: btf === 'y',
        virtioIommu: tri(virtio),
        defaultDmaPolicy: (['lazy', 'strict', 'passthrough'].includes(policy ?? '') ? policy : 'unknown') as KernelFacts['defaultDmaPolicy'],
        intelIommu: tri(intel),
        nvme: tri(nvme),
      };
    });
}

export function parsePackagesTsv(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const l of text.split('\n')) {
    const [name, version] = l.split('\t');
    if (name && version) out[name] = version;
  }
  return out;
}
