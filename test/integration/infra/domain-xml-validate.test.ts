/** libvirt's own schema (virt-xml-validate) and its test driver accept every (device, mode) pair's XML. */
import { execa } from 'execa';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { domainXml } from '../../../infra/domain-xml.js';
import { VM_CONFIGS } from '../../../core/iommu.js';
import { baseSpec } from '../../helpers/domain-spec.js';

let dir: string;
beforeAll(async () => { dir = await mkdtemp(join(tmpdir(), 'iommu-lab-xml-')); });
afterAll(async () => { await rm(dir, { recursive: true, force: true }); });

const pairs = VM_CONFIGS.map((c) => [c.device, c.mode] as const);

describe('domain XML against libvirt', () => {
  it('covers every valid (device, mode) pair', () => {
    expect(pairs).toHaveLength(8); // intel ×4, virtio ×3, none ×1
  });

  for (const [device, mode] of pairs) {
    for (const virtType of ['qemu', 'kvm'] as const) {
      it(`${device}/${mode} (${virtType}) passes virt-xml-validate and defines on test:///default`, async () => {
        const xml = domainXml({ ...baseSpec(device, mode), virtType });
        const file = join(dir, `${device}-${mode}-${virtType}.xml`);
        await writeFile(file, xml);
        const v = await execa('virt-xml-validate', [file, 'domain'], { reject: false });
        expect(v.exitCode, `${v.stdout}\n${v.stderr}`).toBe(0);
        // The test driver keeps state for one connection only: define and dump in one virsh session.
        const r = await execa('virsh', ['-c', 'test:///default'], { input: `define ${file}\ndumpxml iommu-lab-t-${device}-${mode}\n`, reject: false });
        expect(r.stderr).toBe('');
        if (device !== 'none') expect(r.stdout).toContain(`<iommu model='${device}'`);
        if (device === 'virtio') expect(r.stdout).toMatch(/<driver [^>]*iommu='on'/);
      });
    }
  }
});
