/**
 * A labelled suite of nightly histories, one family per shape a nightly
 * history has, with the change points a person would mark (the index of the
 * first night of a new level, as TCPDBench annotates). Drifts, trends,
 * seasonality and single bad nights are labelled with no change point: the
 * detector should report them as what they are, not as steps.
 *
 * Nights are medians of 10 lognormal repetitions (CV 2 %) with a boot offset
 * (SD 0.3 %), as in bench/analysis.ts; counts near zero are Poisson per night.
 */
import { gaussian, prng } from '../core/random.js';
import { median } from '../analysis/stats/describe.js';
import { lognormal } from '../analysis/synthetic.js';

export interface LabelledSeries {
  readonly shape: string;
  readonly values: readonly number[];
  /** Change points (first index of each new level). */
  readonly labels: readonly number[];
}

export const SHAPES = [
  'flat', 'step down 6 %', 'step up 8 %', 'regression and fix (−6 %, +6 %)', 'slow drift 0.1 %/night', 'trend 0.3 %/night',
  'single bad night', 'bad night and a step', 'missing nights and a step', 'weekly pattern', 'weekly pattern and a step',
  'drift then a step', 'small step 2 % (min effect 1 %)', 'near zero, flat (Poisson 0.3)', 'near zero, step (Poisson 0.3 → 2)', 'exact count 1.000 → 0.500',
] as const;

export function labelledSuite(perShape: number, seed = 20261125): LabelledSeries[] {
  const random = prng(seed);
  const normal = gaussian(random);
  const poisson = (lambda: number) => {
    let k = 0;
    let p = Math.exp(-lambda);
    let s = p;
    const u = random();
    while (u > s && k < 1000) { k++; p *= lambda / k; s += p; }
    return k;
  };
  const night = (level: number) => median(Array.from({ length: 10 }, () => lognormal(normal, level * Math.exp(0.003 * normal()), 0.02)));
  const at = (n: number, lo: number, hi: number) => lo + Math.floor(random() * Math.max(1, Math.min(hi, n - 3) - lo));
  const out: LabelledSeries[] = [];
  for (const shape of SHAPES) {
    for (let k = 0; k < perShape; k++) {
      const n = 40 + Math.floor(random() * 50);
      let values: number[];
      let labels: number[] = [];
      const level = 10_000;
      switch (shape) {
        case 'flat': values = Array.from({ length: n }, () => night(level)); break;
        case 'step down 6 %': { const t = at(n, 8, n - 4); values = Array.from({ length: n }, (_, i) => night(level * (i >= t ? 0.94 : 1))); labels = [t]; break; }
        case 'step up 8 %': { const t = at(n, 8, n - 4); values = Array.from({ length: n }, (_, i) => night(level * (i >= t ? 1.08 : 1))); labels = [t]; break; }
        case 'small step 2 % (min effect 1 %)': { const t = at(n, 8, n - 6); values = Array.from({ length: n }, (_, i) => night(level * (i >= t ? 0.98 : 1))); labels = [t]; break; }
        case 'regression and fix (−6 %, +6 %)': {
          const t1 = at(n, 8, n - 16);
          const t2 = t1 + 6 + Math.floor(random() * 8);
          values = Array.from({ length: n }, (_, i) => night(level * (i >= t1 && i < t2 ? 0.94 : 1)));
          labels = [t1, t2];
          break;
        }
        case 'slow drift 0.1 %/night': values = Array.from({ length: n }, (_, i) => night(level * Math.pow(0.999, i))); break;
        case 'trend 0.3 %/night': values = Array.from({ length: n }, (_, i) => night(level * Math.pow(1.003, i))); break;
        case 'single bad night': { const t = at(n, 3, n - 2); values = Array.from({ length: n }, (_, i) => night(level * (i === t ? 0.9 : 1))); break; }
        case 'bad night and a step': {
          const t = at(n, 12, n - 4);
          const bad = at(n, 2, t - 3);
          values = Array.from({ length: n }, (_, i) => night(level * (i >= t ? 0.94 : 1) * (i === bad ? 1.12 : 1)));
          labels = [t];
          break;
        }
        case 'missing nights and a step': {
          const t = at(n, 10, n - 6);
          const kept: number[] = [];
          const all = Array.from({ length: n }, (_, i) => night(level * (i >= t ? 0.94 : 1)));
          let newT = -1;
          all.forEach((v, i) => {
            if (i !== t && i !== t + 1 && random() < 0.2) return; // the nights right at the step are kept, so the label is well defined
            if (i === t) newT = kept.length;
            kept.push(v);
          });
          values = kept;
          labels = [newT];
          break;
        }
        case 'weekly pattern': values = Array.from({ length: n }, (_, i) => night(level * (i % 7 >= 5 ? 1.015 : 1))); break;
        case 'weekly pattern and a step': { const t = at(n, 10, n - 4); values = Array.from({ length: n }, (_, i) => night(level * (i % 7 >= 5 ? 1.015 : 1) * (i >= t ? 0.94 : 1))); labels = [t]; break; }
        case 'drift then a step': { const t = at(n, 20, n - 4); values = Array.from({ length: n }, (_, i) => night(level * Math.pow(0.999, i) * (i >= t ? 0.94 : 1))); labels = [t]; break; }
        case 'near zero, flat (Poisson 0.3)': values = Array.from({ length: n }, () => poisson(0.3)); break;
        case 'near zero, step (Poisson 0.3 → 2)': { const t = at(n, 8, n - 4); values = Array.from({ length: n }, (_, i) => poisson(i >= t ? 2 : 0.3)); labels = [t]; break; }
        case 'exact count 1.000 → 0.500': { const t = at(n, 5, n - 3); values = Array.from({ length: n }, (_, i) => (i >= t ? 0.5 : 1)); labels = [t]; break; }
      }
      out.push({ shape, values, labels });
    }
  }
  return out;
}
