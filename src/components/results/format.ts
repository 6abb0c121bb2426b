/** Number formatting for the results page: fixed decimals, CIs, p-values, percentages and points. */
import type { Interval } from '../../core/types';

/** `0.042`, or an en dash for a number that is not finite (an empty bin, no CI). */
export function fmt(x: number | undefined, digits = 3): string {
  return x === undefined || !Number.isFinite(x) ? '–' : x.toFixed(digits);
}

/**
 * A count with thousands separators, `15,858`: what `toLocaleString('en')` writes for an integer, without it
 * (the first Intl call of a page loads locale data, a main-thread task of tens of ms).
 */
export function fmtCount(n: number): string {
  return Number.isSafeInteger(n) ? String(n).replace(/\B(?=(\d{3})+$)/g, ',') : String(n);
}

/** A signed difference, `+0.006` / `-0.010`. */
export function fmtSigned(x: number | undefined, digits = 3): string {
  if (x === undefined || !Number.isFinite(x)) return '–';
  const s = x.toFixed(digits);
  return x > 0 ? `+${s}` : s;
}

export function fmtCi(ci: Interval | undefined, digits = 3): string {
  return ci ? `[${fmt(ci[0], digits)}, ${fmt(ci[1], digits)}]` : '';
}

/** A permutation p-value: never 0 (its least value is 1/(R+1)), four decimals below 0.01. */
export function fmtP(p: number | undefined): string {
  if (p === undefined || !Number.isFinite(p)) return '–';
  return p < 0.01 ? p.toFixed(4) : p.toFixed(3);
}

export function fmtPct(x: number | undefined): string {
  return x === undefined || !Number.isFinite(x) ? '–' : `${x > 0 ? '+' : ''}${x.toFixed(1)}%`;
}

export function fmtPts(x: number | undefined): string {
  return x === undefined || !Number.isFinite(x) ? '–' : `${x > 0 ? '+' : ''}${x.toFixed(2)} pts`;
}

export const METRIC_LABELS = {
  accuracy: 'Accuracy',
  ece: 'ECE',
  mce: 'MCE',
  ece_adaptive: 'Adaptive ECE',
  classwise_ece: 'Classwise ECE',
  brier: 'Brier',
  nll: 'NLL',
} as const;

export const STAGE_LABELS = { uncalibrated: 'before scaling', scaled: 'after scaling' } as const;

/** Display order of roles in tables: the study's base, SFT, GRPO, then others, then a quantisation study's builds. */
export const ROLE_ORDER = { base: 0, sft: 1, grpo: 2, other: 3, quantisation: 4 } as const;

/** How the CIs were read off the bootstrap resamples (settings.interval). */
export const INTERVAL_LABELS = {
  percentile: 'percentile-bootstrap',
  bca: 'BCa-bootstrap (Efron 1987)',
  basic: 'basic-bootstrap',
} as const;

/** A variant as the ordering and colouring need it. */
export interface NamedVariant {
  name: string;
  role?: keyof typeof ROLE_ORDER;
}

/**
 * The one order of variants everywhere (study table, legends, charts, run list): by role as the study lists them
 * (base, SFT, GRPO, other), then by name (locale-independent code-unit order, so every machine agrees).
 */
export function compareVariants(a: NamedVariant, b: NamedVariant): number {
  const byRole = ROLE_ORDER[a.role ?? 'other'] - ROLE_ORDER[b.role ?? 'other'];
  return byRole !== 0 ? byRole : a.name < b.name ? -1 : a.name > b.name ? 1 : 0;
}

/**
 * An analysis view with its runs and its report's variants in compareVariants order (a report's variants are an
 * object keyed by name; its key order is what the charts and legends follow).
 */
export function inVariantOrder<
  V extends { runs: readonly NamedVariant[]; report?: { variants: Record<string, { role?: NamedVariant['role'] }> } },
>(view: V): V {
  const runs = [...view.runs].sort(compareVariants);
  if (!view.report) return { ...view, runs };
  const variants = Object.fromEntries(
    Object.entries(view.report.variants).sort(([a, va], [b, vb]) =>
      compareVariants({ name: a, role: va.role }, { name: b, role: vb.role }),
    ),
  );
  return { ...view, runs, report: { ...view.report, variants } };
}
