/**
 * Advice per workload: which IOMMU mode to run, what it costs and what it buys.
 * Users ask a lab for a conclusion, not only numbers. For each workload group
 * (the same workload, target and disk under several configurations of one
 * device) the modes are ranked by their cost against the untranslated
 * reference (passthrough, or no IOMMU), each with the isolation it gives
 * (core/iommu.ts), and one recommendation with its reasoning — said only when
 * the comparisons behind it are sound; otherwise the advice says what to
 * measure next. Pure: comparisons in, sentences out.
 */
import { isNetworkJob, type Cell } from '../cell/types.js';
import { configName, configOrder, MODES, translates, type IommuConfig } from '../core/iommu.js';
import { describeMetric } from '../core/metrics.js';
import { type Comparison, type ComparisonSet } from './compare/index.js';
import { fmtNum, fmtPct } from './format.js';

export interface ModeCost {
  readonly config: string;
  /** candidate / reference of the deciding timing metric, with its interval; absent for the reference itself. */
  readonly ratio?: number;
  readonly lower?: number;
  readonly upper?: number;
  /** Synchronous IOTLB invalidations per I/O: the QEMU plugin's exact count, else a traced one. */
  readonly syncPerIo?: number;
  /** IOMMU-path instructions per I/O (the QEMU plugin's exact count), when measured. */
  readonly insnPerIo?: number;
  readonly isolation: string;
}

export interface Advice {
  readonly group: string;
  /** The timing metric the ranking is by (iops when measured), and whether it is virtual time. */
  readonly metric: string;
  readonly virtual: boolean;
  readonly reference: string;
  /** What the counts are per: an I/O, or for a network workload a packet on its test link. */
  readonly per: 'I/O' | 'packet';
  /** Cheapest first. */
  readonly ranking: readonly ModeCost[];
  /** One line: the mode to run and why; or, when the data are not sound, that there is no recommendation. */
  readonly recommendation: string;
  readonly sound: boolean;
  /** What to measure next, when not sound. */
  readonly next?: string;
}

/** A comparison advice may rest on: a verdict, a finite interval, not flagged noisy. */
const isSound = (c: Comparison) => c.verdict !== 'inconclusive' && Number.isFinite(c.lower) && Number.isFinite(c.upper) && !c.noisy;
const sound = (c: Comparison | undefined): c is Comparison => c !== undefined && isSound(c);

/**
 * The timing metric advice is given on: IOPS when the group has it (fio),
 * throughput for network workloads, the unmap latency for the DMA-map
 * benchmark (where strict pays its invalidation), else the first timing
 * compared.
 */
function decidingMetric(cs: readonly Comparison[]): string | undefined {
  const timings = cs.filter((c) => c.metricKind === 'timing');
  return ['iops', 'net_throughput_mbit_s', 'dmabench_unmap_us'].find((m) => timings.some((c) => c.metric === m)) ?? timings[0]?.metric;
}

/** What a group's counts are per: a network workload's I/Os are the packets on its test link. */
const perOf = (cs: readonly Comparison[], cells: ReadonlyMap<string, Cell>): Advice['per'] => {
  const job = cells.get(cs[0]?.cell ?? '')?.job;
  return job && isNetworkJob(job) ? 'packet' : 'I/O';
};

/** Cost as a fraction of the reference, in the direction that is worse: "−15.2 % [−15.4, −15.0]" of IOPS. */
function share(c: Comparison): string {
  const pct = (r: number) => `${(r * 100).toFixed(1)} %`;
  return `${pct(c.ratio)} [${pct(c.lower)}, ${pct(c.upper)}]`;
}

/**
 * Advice per group from a run's configuration comparisons. `cells` gives each
 * cell's configuration (comparisons name cells by id).
 */
export function adviseModes(modes: ComparisonSet, cells: ReadonlyMap<string, Cell>): Advice[] {
  const byGroup = new Map<string, Comparison[]>();
  for (const c of modes.comparisons) byGroup.set(c.group, [...(byGroup.get(c.group) ?? []), c]);
  const out: Advice[] = [];
  const minEffect = modes.thresholds.min_effect_pct;
  for (const [group, cs] of byGroup) {
    const metric = decidingMetric(cs);
    if (!metric) continue;
    const configOf = (id: string): IommuConfig | undefined => cells.get(id)?.iommu;
    // One device at a time: no IOMMU is every device's reference, the device's own untranslated mode its next.
    const devices = [...new Set(cs.flatMap((c) => [configOf(c.cell), configOf(c.reference)]).filter((x): x is IommuConfig => x !== undefined && x.device !== 'none').map((x) => x.device))];
    for (const device of devices) {
      const involved = (c: Comparison) => [configOf(c.cell), configOf(c.reference)].every((x) => x && (x.device === device || x.device === 'none'));
      const mine = cs.filter(involved);
      const configs = new Map<string, IommuConfig>();
      for (const c of mine) for (const id of [c.cell, c.reference]) { const x = configOf(id); if (x) configs.set(configName(x), x); }
      const untranslated = [...configs.values()].filter((x) => !translates(x)).sort((a, b) => (b.device === device ? 1 : 0) - (a.device === device ? 1 : 0) || configOrder(b) - configOrder(a));
      const reference = untranslated[0];
      const translated = [...configs.values()].filter((x) => translates(x)).sort((a, b) => configOrder(a) - configOrder(b));
      if (!reference || translated.length === 0) continue;
      const find = (cand: IommuConfig, ref: IommuConfig, m: string) => mine.find((c) => c.metric === m && configName(configOf(c.cell)!) === configName(cand) && configName(configOf(c.reference)!) === configName(ref));
      const sync = (x: IommuConfig) => {
        const c = find(x, reference, 'calls_sync_inval_per_io') ?? find(x, reference, 'iotlb_sync_flush_per_io');
        return c ? c.cand.median : undefined;
      };
      // The exact IOMMU-path instructions per I/O, where the plugin counted them (the reference's from any comparison with it).
      const insns = (x: IommuConfig) => find(x, reference, 'insn_iommu_per_io')?.cand.median;
      const refInsns = translated.map((x) => find(x, reference, 'insn_iommu_per_io')?.ref.median).find((v) => v !== undefined);
      const ranking: ModeCost[] = [{ config: configName(reference), ...(refInsns !== undefined ? { insnPerIo: refInsns } : {}), isolation: MODES[reference.mode].isolation }];
      for (const x of translated) {
        const c = find(x, reference, metric);
        const s = sync(x);
        const n = insns(x);
        ranking.push({ config: configName(x), ...(c ? { ratio: c.ratio, lower: c.lower, upper: c.upper } : {}), ...(s !== undefined ? { syncPerIo: s } : {}), ...(n !== undefined ? { insnPerIo: n } : {}), isolation: MODES[x.mode].isolation });
      }
      const d = describeMetric(metric);
      const virtual = mine.some((c) => c.metric === metric && c.timebase === 'virtual');
      const what = `${virtual ? 'virtual-time ' : ''}${d?.title ?? metric}`;
      const lazy = translated.find((x) => x.mode === 'lazy');
      const strict = translated.find((x) => x.mode === 'strict');
      const lazyCost = lazy ? find(lazy, reference, metric) : undefined;
      const strictCost = strict ? find(strict, reference, metric) : undefined;
      const strictVsLazy = lazy && strict ? find(strict, lazy, metric) : undefined;
      const refName = configName(reference);
      const per = perOf(cs, cells);
      const base = { group: `${group} (${device})`, metric, virtual, reference: refName, per };
      const better = d?.better ?? 'higher';
      // How much worse the candidate is, as a positive percentage (higher-is-better metrics: a ratio below 1).
      const worsePct = (c: Comparison) => (better === 'higher' ? (1 - c.ratio) * 100 : (c.ratio - 1) * 100);
      const counts = (x: IommuConfig | undefined) => (x && sync(x) !== undefined ? ` (${fmtNum(sync(x)!)} synchronous invalidations per ${per})` : '');
      if (lazy && strict && sound(lazyCost) && sound(strictVsLazy)) {
        const extra = worsePct(strictVsLazy);
        const lazyLine = `lazy gives ${share(lazyCost)} of ${refName}'s ${what}`;
        if (extra < minEffect) {
          out.push({ ...base, ranking, sound: true, recommendation: `strict: it costs no more than lazy here (${fmtPct(strictVsLazy.ratio)} [${fmtPct(strictVsLazy.lower)}, ${fmtPct(strictVsLazy.upper)}], within the ${minEffect} % minimum effect) and closes lazy's window in which a device can still reach freed buffers; ${lazyLine}` });
        } else {
          // The interval of the extra cost, as a positive percentage like the cost itself.
          const [lo, hi] = better === 'higher' ? [(1 - strictVsLazy.upper) * 100, (1 - strictVsLazy.lower) * 100] : [(strictVsLazy.lower - 1) * 100, (strictVsLazy.upper - 1) * 100];
          out.push({ ...base, ranking, sound: true, recommendation: `lazy where the devices are trusted: ${lazyLine}; strict costs a further ${extra.toFixed(1)} % [${lo.toFixed(1)}, ${hi.toFixed(1)}]${counts(strict)} to close the stale-IOTLB window — run strict where a device must not reach memory after it is unmapped` });
        }
        continue;
      }
      const only = strict ?? lazy;
      const onlyCost = strict ? strictCost : lazyCost;
      if (only && !(lazy && strict) && sound(onlyCost)) {
        out.push({ ...base, ranking, sound: true, recommendation: `${configName(only)} gives ${share(onlyCost)} of ${refName}'s ${what}${counts(only)}; ${MODES[only.mode].isolation}` });
        continue;
      }
      // Not sound: say which comparison failed and what would make it sound; the exact counts, where there are any, still say what each mode costs the CPU.
      const weak = [strictVsLazy, lazyCost, strictCost].find((c): c is Comparison => c !== undefined && !isSound(c));
      const next = weak ? nextMeasurement(weak) : 'measure the translated modes against passthrough in the same run';
      const cpu = refInsns !== undefined && translated.some((x) => insns(x) !== undefined)
        ? `; by the exact counts, ${translated.filter((x) => insns(x) !== undefined).map((x) => `${configName(x)} runs ${fmtNum(insns(x)! - refInsns)} more IOMMU-path instructions per ${per} than ${refName}${counts(x)}`).join(', ')}`
        : '';
      out.push({ ...base, ranking, sound: false, recommendation: `no timing recommendation: ${weak ? `${weak.label} ${weak.metric} is ${weak.verdict} (${weak.reason})` : 'a comparison is missing'}${cpu}`, next });
    }
  }
  return out;
}

/** One mode of the ranking as a sentence (Markdown and HTML print the same words). */
export function rankingText(a: Advice, m: ModeCost): string {
  const pct = (r: number | undefined) => ((r ?? NaN) * 100).toFixed(1);
  const interval = Number.isFinite(m.lower) && Number.isFinite(m.upper) ? ` [${pct(m.lower)}, ${pct(m.upper)}]` : ' (no interval)';
  const cost = m.ratio === undefined ? 'the reference' : `${pct(m.ratio)} %${interval} of ${a.reference}'s ${a.virtual ? 'virtual-time ' : ''}${a.metric}`;
  return `${m.config}: ${cost}${m.insnPerIo !== undefined ? `, ${fmtNum(m.insnPerIo)} IOMMU-path instructions per ${a.per}` : ''}${m.syncPerIo !== undefined ? `, ${fmtNum(m.syncPerIo)} synchronous invalidations per ${a.per}` : ''}; ${m.isolation}`;
}

function nextMeasurement(c: Comparison): string {
  if (c.noisy) return 'the timings are too noisy here: use clock: virtual (docs/timing.md), or a quieter host';
  if (c.test === 'none' && c.needsReps !== undefined) return `at least ${c.needsReps} traced repetitions a side`;
  if (c.test === 'none') return 'boots: 2 (or more) in the VM profile, so that two configurations, which are two guests, can be compared across boots';
  if (c.test === 'mann-whitney-exact' || c.test === 'mann-whitney-asymptotic') return 'more repetitions (the exact U test needs at least 4 a side for p < 0.05)';
  const mde = c.test === 'boot-t' ? c.mdePct : undefined;
  return mde !== undefined && Number.isFinite(mde) ? `more repetitions or boots: this noise detects only changes of ${mde.toFixed(1)} % or more` : 'more repetitions or boots';
}
