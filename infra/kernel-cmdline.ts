/**
 * The guest kernel command line for an IOMMU configuration. The mode is set
 * here, on the command line of a direct kernel boot, so one image serves every
 * configuration.
 */
import { CLOCKS, type VmClock } from '../core/clock.js';
import type { IommuDevice, IommuMode } from '../scenario/types.js';

const BASE = ['console=ttyS0,115200', 'loglevel=4', 'net.ifnames=0', 'panic=-1', 'random.trust_cpu=on', 'tsc=reliable'];

export function iommuArgs(device: IommuDevice, mode: IommuMode): string[] {
  if (device === 'none') return [];
  // Debian's kernels leave Intel VT-d off unless asked (INTEL_IOMMU_DEFAULT_ON is not set).
  const enable = device === 'intel' ? (mode === 'off' ? ['intel_iommu=off'] : ['intel_iommu=on']) : [];
  switch (mode) {
    case 'strict':
      return [...enable, 'iommu.passthrough=0', 'iommu.strict=1'];
    case 'lazy':
      return [...enable, 'iommu.passthrough=0', 'iommu.strict=0'];
    case 'passthrough':
      return [...enable, 'iommu.passthrough=1'];
    case 'off':
      return enable;
  }
}

export function kernelCmdline(device: IommuDevice, mode: IommuMode, clock: VmClock = 'tcg'): string {
  return [...BASE, ...CLOCKS[clock].kernelArgs, ...iommuArgs(device, mode)].join(' ');
}
