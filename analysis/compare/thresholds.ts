/** The scenario's thresholds for one metric: its own where it sets them, else the scenario's. */
import type { Thresholds } from '../../scenario/types.js';

export function minEffect(t: Thresholds, metric: string): number {
  return t.metrics?.[metric]?.min_effect_pct ?? t.min_effect_pct;
}

export function maxCv(t: Thresholds, metric: string): number {
  return t.metrics?.[metric]?.max_cv_pct ?? t.max_cv_pct;
}
