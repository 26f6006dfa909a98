/**
 * One colour per IOMMU configuration, the same in every chart of every report,
 * so a reader who learned "strict is red" keeps it across runs: each device a
 * hue, its modes from light (untranslated) to dark (strict).
 */
import { HOST_IOMMU_DEVICES, IOMMU_DEVICES, IOMMU_MODES } from '../../core/iommu.js';

const HUES: Readonly<Record<string, readonly [off: string, passthrough: string, lazy: string, strict: string]>> = {
  none: ['#6b7280', '#6b7280', '#6b7280', '#6b7280'],
  intel: ['#9ecae1', '#4292c6', '#e6850e', '#c0281f'],
  virtio: ['#a1d99b', '#41ab5d', '#9e6bd6', '#6a1b6e'],
  amd: ['#fdd0a2', '#fd8d3c', '#d94801', '#7f2704'],
  'arm-smmu-v3': ['#d9d9d9', '#969696', '#525252', '#000000'],
};

/** The colour of a configuration name (`intel-strict`); a name the lab does not know gets a neutral grey. */
export function configColor(config: string): string {
  const mode = IOMMU_MODES.find((m) => config.endsWith(`-${m}`));
  const device = mode ? config.slice(0, -(mode.length + 1)) : config;
  const hues = HUES[device];
  return hues && mode ? hues[IOMMU_MODES.indexOf(mode)]! : '#8c8c8c';
}

/** Every configuration's colour, for the report page's data. */
export function configColors(): Record<string, string> {
  const devices = [...new Set<string>([...IOMMU_DEVICES, ...HOST_IOMMU_DEVICES])];
  return Object.fromEntries(devices.flatMap((d) => IOMMU_MODES.map((m) => [`${d}-${m}`, configColor(`${d}-${m}`)])));
}
