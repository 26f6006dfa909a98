/** The preflight's parser and judgement on saved real outputs (runner/preflight.sh in lab guests and a machine without an IOMMU). */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { InventoryTarget } from '../../../inventory/types.js';
import { judgeIommu, parsePreflight } from '../../../runner/preflight.js';

const fixture = (name: string) => readFileSync(join(import.meta.dirname, '../../fixtures/preflight', name), 'utf8');
const nvme = [{ name: 'nvme0', path: '/dev/lab/nvme0', behind_iommu: true, allow_destructive_writes: true }];
const guest = (device: InventoryTarget['iommu']['device'], mode: InventoryTarget['iommu']['mode']) => ({ kind: 'vm' as const, iommu: { device, mode }, disks: nvme });

describe('preflight on real guests', () => {
  it('parses what the script printed in an intel strict guest', () => {
    const f = parsePreflight(fixture('guest-virtual-intel-strict.txt'));
    expect(f.kernel).toBe('6.12.95+deb12-amd64');
    expect(f.cmdline).toMatch(/intel_iommu=on iommu.passthrough=0 iommu.strict=1$/);
    expect(f.bootId).toMatch(/^[0-9a-f-]{36}$/);
    expect(f.tools).toEqual({ fio: 'fio-3.33', bpftrace: 'bpftrace v0.17.0' });
    expect(f.iommuClass).toEqual(['dmar0']);
    expect(f.disks).toEqual([expect.objectContaining({ name: 'nvme0', majmin: '259:0', pci: '0000:00:12.0', groupType: 'DMA', missing: false })]);
    expect(f.boot.some((l) => l.includes('DMA domain TLB invalidation policy: strict mode'))).toBe(true);
  });

  it.each([
    ['guest-virtual-intel-strict.txt', 'intel', 'strict'],
    ['guest-virtual-intel-lazy.txt', 'intel', 'lazy'],
    ['guest-virtual-intel-passthrough.txt', 'intel', 'passthrough'],
    ['guest-virtual-virtio-lazy.txt', 'virtio', 'lazy'],
  ] as const)('%s proves %s %s and nothing else', (file, device, mode) => {
    const facts = parsePreflight(fixture(file));
    expect(judgeIommu(guest(device, mode), facts)).toMatchObject({ ok: true });
    for (const other of ['strict', 'lazy', 'passthrough'] as const) {
      if (other === mode) continue;
      const v = judgeIommu(guest(device, other), facts);
      expect(v.ok).toBe(false);
      if (!v.ok) expect(v.reasons.join('\n')).toMatch(/kernel command line: .*needs iommu\.|expected (DMA|DMA-FQ|identity)/);
    }
  });

  it('names a guest whose kernel command line lacks the mode though sysfs agrees', () => {
    const facts = parsePreflight(fixture('guest-virtual-intel-strict.txt').replace(' iommu.strict=1', ''));
    const v = judgeIommu(guest('intel', 'strict'), facts);
    expect(v).toMatchObject({ ok: false, reasons: ['kernel command line: iommu.strict=1 is missing'] });
  });

  it('a machine without an IOMMU passes as none/off and fails as intel strict, with every reason', () => {
    const facts = parsePreflight(fixture('localhost-firecracker-no-iommu.txt'));
    const host = (device: InventoryTarget['iommu']['device'], mode: InventoryTarget['iommu']['mode']) => ({ kind: 'static' as const, iommu: { device, mode }, disks: [{ name: 'scratch', path: facts.disks[0]?.path ?? '/tmp/x', behind_iommu: false, allow_destructive_writes: false }] });
    expect(facts.iommuClass).toEqual([]);
    expect(judgeIommu(host('none', 'off'), facts).ok).toBe(true);
    const v = judgeIommu(host('intel', 'strict'), facts);
    expect(v).toMatchObject({ ok: false, reasons: [expect.stringMatching(/expected a intel IOMMU, but \/sys\/class\/iommu has nothing/)] });
  });
});
