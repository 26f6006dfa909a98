/**
 * The guest kernel command line for an IOMMU configuration (its IOMMU part is
 * core/iommu.ts's). The mode is set
 * here, on the command line of a direct kernel boot, so one image serves every
 * configuration.
 */
import { CLOCKS, type VmClock } from '../core/clock.js';
import { iommuKernelArgs, type IommuDevice, type IommuMode } from '../core/iommu.js';

const BASE = ['console=ttyS0,115200', 'loglevel=4', 'net.ifnames=0', 'panic=-1', 'random.trust_cpu=on', 'tsc=reliable'];

export function kernelCmdline(device: IommuDevice, mode: IommuMode, clock: VmClock = 'tcg'): string {
  return [...BASE, ...CLOCKS[clock].kernelArgs, ...iommuKernelArgs({ device, mode })].join(' ');
}
