import { describe, expect, it } from 'vitest';
import { cmdlineProblems, combinationProblem, configName, configOrder, iommuActive, iommuKernelArgs, modeOfGroupType, MODES, translates, VM_CONFIGS } from '../../../core/iommu.js';
import { IOMMU_MODES } from '../../../core/iommu.js';

describe('core/iommu: the configuration described once', () => {
  it('has eight emulated configurations and says why the others do not exist', () => {
    expect(VM_CONFIGS.map(configName)).toEqual(['intel-off', 'intel-passthrough', 'intel-lazy', 'intel-strict', 'virtio-passthrough', 'virtio-lazy', 'virtio-strict', 'none-off']);
    expect(combinationProblem({ device: 'none', mode: 'strict' })).toMatch(/use mode "off"/);
    expect(combinationProblem({ device: 'virtio', mode: 'off' })).toMatch(/no kernel switch/);
    expect(combinationProblem({ device: 'amd', mode: 'off' })).toBeUndefined();
  });

  it('maps each mode to its group type and back', () => {
    for (const m of IOMMU_MODES) expect(modeOfGroupType(MODES[m].groupType)).toBe(m);
    expect(modeOfGroupType('blocked')).toBe('other');
  });

  it('orders configurations by device, then protection', () => {
    const sorted = [...VM_CONFIGS].sort((a, b) => configOrder(a) - configOrder(b)).map(configName);
    expect(sorted).toEqual(['none-off', 'intel-off', 'intel-passthrough', 'intel-lazy', 'intel-strict', 'virtio-passthrough', 'virtio-lazy', 'virtio-strict']);
  });

  it('translates in lazy and strict only; is active from passthrough up', () => {
    expect(VM_CONFIGS.filter(translates).map(configName)).toEqual(['intel-lazy', 'intel-strict', 'virtio-lazy', 'virtio-strict']);
    expect(VM_CONFIGS.filter(iommuActive).map(configName)).toEqual(['intel-passthrough', 'intel-lazy', 'intel-strict', 'virtio-passthrough', 'virtio-lazy', 'virtio-strict']);
  });

  it('builds the kernel parameters of a configuration', () => {
    expect(iommuKernelArgs({ device: 'intel', mode: 'strict' })).toEqual(['intel_iommu=on', 'iommu.passthrough=0', 'iommu.strict=1']);
    expect(iommuKernelArgs({ device: 'intel', mode: 'off' })).toEqual(['intel_iommu=off']);
    expect(iommuKernelArgs({ device: 'virtio', mode: 'passthrough' })).toEqual(['iommu.passthrough=1']);
    expect(iommuKernelArgs({ device: 'none', mode: 'off' })).toEqual([]);
  });

  it('finds a command line that contradicts or lacks the mode', () => {
    const strict = { device: 'intel', mode: 'strict' } as const;
    expect(cmdlineProblems(strict, 'console=ttyS0 intel_iommu=on iommu.passthrough=0 iommu.strict=1', true)).toEqual([]);
    expect(cmdlineProblems(strict, 'console=ttyS0 intel_iommu=on iommu.passthrough=0 iommu.strict=0', true)).toEqual(['iommu.strict=0 where intel-strict needs iommu.strict=1']);
    expect(cmdlineProblems(strict, 'console=ttyS0 intel_iommu=on', true)).toEqual(['iommu.passthrough=0 is missing', 'iommu.strict=1 is missing']);
    // A real machine may rely on its kernel's defaults, and spells booleans its own way.
    expect(cmdlineProblems(strict, 'root=/dev/sda1 intel_iommu=on,sm_on iommu.strict=y', false)).toEqual([]);
    expect(cmdlineProblems(strict, 'root=/dev/sda1 iommu.strict=1 iommu.strict=0', false)).toEqual(['iommu.strict=0 where intel-strict needs iommu.strict=1']);
  });
});
