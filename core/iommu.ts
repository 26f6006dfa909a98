/**
 * The IOMMU configuration, described once: which devices and modes exist, the
 * kernel command line that selects a mode, the IOMMU group type sysfs shows for
 * a disk in that mode, how protective the mode is (its rank), whether DMA is
 * translated, and the configuration's name. The scenario loader, the guest's
 * command line, the preflight's judgement, the matrix and the analysis all read
 * this file instead of restating it.
 */

/** Emulated IOMMU devices a VM can have. `none` means no IOMMU device at all. */
export const IOMMU_DEVICES = ['intel', 'virtio', 'none'] as const;
export type IommuDevice = (typeof IOMMU_DEVICES)[number];

/** Real IOMMUs a static host can declare. */
export const HOST_IOMMU_DEVICES = ['intel', 'amd', 'arm-smmu-v3', 'none'] as const;
export type HostIommuDevice = (typeof HOST_IOMMU_DEVICES)[number];

export const IOMMU_MODES = ['off', 'passthrough', 'lazy', 'strict'] as const;
export type IommuMode = (typeof IOMMU_MODES)[number];

/** One configuration: a device (emulated or real) in one kernel mode. */
export interface IommuConfig {
  readonly device: IommuDevice | HostIommuDevice;
  readonly mode: IommuMode;
}

export interface ModeFacts {
  /** Protection order: off < passthrough < lazy < strict. Comparisons take the lower rank as reference. */
  readonly rank: number;
  /** Whether a disk's DMA goes through IOMMU page tables in this mode. */
  readonly translates: boolean;
  /** `/sys/kernel/iommu_groups/N/type` of a test disk's group; undefined: the disk has no group. */
  readonly groupType: string | undefined;
  /**
   * The generic kernel parameters that select the mode (Documentation/admin-guide/kernel-parameters.txt:
   * iommu.passthrough, iommu.strict). Off has none: it is the device's own switch (intel_iommu=off) or no device.
   */
  readonly kernelArgs: Readonly<Record<string, string>>;
  /** What the mode protects against, in one sentence (reports' advice). */
  readonly isolation: string;
}

export const MODES: Readonly<Record<IommuMode, ModeFacts>> = {
  off: { rank: 0, translates: false, groupType: undefined, kernelArgs: {}, isolation: 'no isolation: a device can reach all of memory' },
  passthrough: { rank: 1, translates: false, groupType: 'identity', kernelArgs: { 'iommu.passthrough': '1' }, isolation: 'no isolation for DMA: the identity mapping lets a device reach all of memory (the IOMMU still remaps interrupts)' },
  lazy: {
    rank: 2, translates: true, groupType: 'DMA-FQ', kernelArgs: { 'iommu.passthrough': '0', 'iommu.strict': '0' },
    isolation: 'a device reaches only buffers mapped for it, but an unmapped buffer stays reachable until the flush queue invalidates the IOTLB (a batch of unmaps or a timer of about 10 ms later)',
  },
  strict: { rank: 3, translates: true, groupType: 'DMA', kernelArgs: { 'iommu.passthrough': '0', 'iommu.strict': '1' }, isolation: 'a device reaches only buffers mapped for it, and an unmapped buffer is unreachable once unmap returns' },
};

/** Devices in the order reports list them: no IOMMU first, then the emulated ones, then real ones. */
const DEVICE_ORDER: readonly string[] = ['none', 'intel', 'virtio', 'amd', 'arm-smmu-v3'];

/** The configuration's name, as in cell ids, guest names and reports: `intel-strict`. */
export function configName(c: IommuConfig): string {
  return `${c.device}-${c.mode}`;
}

/** Where a configuration sorts in reports: by device, then from least to most protective. */
export function configOrder(c: IommuConfig): number {
  return DEVICE_ORDER.indexOf(c.device) * 10 + MODES[c.mode].rank;
}

/** Whether the disk's DMA is translated: a device that is there, in a translating mode. */
export function translates(c: IommuConfig): boolean {
  return c.device !== 'none' && MODES[c.mode].translates;
}

/**
 * Whether the IOMMU is on for the disk: it sits in an IOMMU group (passthrough
 * too, with an identity domain), and a virtio disk must negotiate ACCESS_PLATFORM.
 */
export function iommuActive(c: IommuConfig): boolean {
  return c.device !== 'none' && c.mode !== 'off';
}

/** Which (device, mode) pairs exist, and why the others do not. */
export function combinationProblem(c: IommuConfig): string | undefined {
  if (c.device === 'none' && c.mode !== 'off') return `device "none" has no IOMMU, so mode "${c.mode}" cannot exist; use mode "off"`;
  if (c.device === 'virtio' && c.mode === 'off') {
    return 'virtio-iommu has no kernel switch to turn it off; use device "none" for an untranslated baseline, or intel with mode "off"';
  }
  return undefined;
}

/** Every configuration of an emulated device that exists. */
export const VM_CONFIGS: readonly { readonly device: IommuDevice; readonly mode: IommuMode }[] = IOMMU_DEVICES.flatMap((device) => IOMMU_MODES.map((mode) => ({ device, mode }))).filter((c) => !combinationProblem(c));

/** The mode a disk's IOMMU group type says is in effect (no group: off). */
export function modeOfGroupType(type: string | undefined): IommuMode | 'other' {
  if (type === undefined || type === '') return 'off';
  const found = IOMMU_MODES.find((m) => MODES[m].groupType === type);
  return found ?? 'other';
}

/** What sysfs should show for a test disk in this mode, in words. */
export function expectedGroupType(mode: IommuMode): string {
  return MODES[mode].groupType ?? 'no IOMMU group';
}

/** Kernel parameters that switch a device on or off, beyond the generic ones. */
function deviceArgs(c: IommuConfig): Record<string, string> {
  // Debian's kernels leave Intel VT-d off unless asked (INTEL_IOMMU_DEFAULT_ON is not set).
  if (c.device === 'intel') return { intel_iommu: c.mode === 'off' ? 'off' : 'on' };
  if (c.device === 'amd' && c.mode === 'off') return { amd_iommu: 'off' };
  return {};
}

/** The kernel parameters that select this configuration, as `key=value` in a fixed order. */
export function iommuKernelArgs(c: IommuConfig): string[] {
  if (c.device === 'none') return [];
  return Object.entries({ ...deviceArgs(c), ...MODES[c.mode].kernelArgs }).map(([k, v]) => `${k}=${v}`);
}

/** `iommu.strict=y` means `1` (kstrtobool); `intel_iommu=on,sm_on` includes `on`. */
function sameValue(got: string, want: string): boolean {
  const bool = (v: string) => (/^(1|y|Y|on)$/.test(v) ? '1' : /^(0|n|N|off)$/.test(v) ? '0' : v);
  return got.split(',').some((v) => v === want || (/^[01]$/.test(want) && bool(v) === want));
}

/**
 * Parameters of an observed kernel command line that contradict the
 * configuration: one of ours with another value (`iommu.strict=0` in a strict
 * guest), or, with `requireAll`, one of ours missing. The lab's guests get every
 * parameter (requireAll); a real machine may rely on its kernel's defaults.
 */
export function cmdlineProblems(c: IommuConfig, cmdline: string, requireAll: boolean): string[] {
  const seen = new Map<string, string>();
  for (const token of cmdline.trim().split(/\s+/)) {
    const eq = token.indexOf('=');
    if (eq > 0) seen.set(token.slice(0, eq), token.slice(eq + 1)); // the last one wins, as in the kernel
  }
  const problems: string[] = [];
  for (const arg of iommuKernelArgs(c)) {
    const [key, want] = arg.split('=') as [string, string];
    const got = seen.get(key);
    if (got === undefined) { if (requireAll) problems.push(`${arg} is missing`); }
    else if (!sameValue(got, want)) problems.push(`${key}=${got} where ${configName(c)} needs ${arg}`);
  }
  return problems;
}
