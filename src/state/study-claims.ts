/**
 * The study's published figures and the check of each against a user's report: whether the direction of the
 * claim is reproduced, and whether the user's CI could tell the effect apart from zero. Plain data in and out.
 */
import type { AnalysisReport, Comparison, Interval, MetricName, Stage, VariantRole } from '../core/types';
import type { ScalingEffect } from './analysis-service';

/** The study's headline figures (Calibration Collapse Under Sycophancy Fine-Tuning, arXiv 2604.10585). */
export const PUBLISHED = Object.freeze({
  eceGrpoMinusBase: 0.006,
  mceGrpoMinusSft: 0.01,
  pValue: 0.41,
  eceReductionPct: [40, 64] as const,
  accuracyGainPts: [1.5, 3.0] as const,
  scaledEceGrpo: 0.042,
  scaledEceSft: 0.037,
});

export type ClaimVerdict = 'reproduced' | 'not reproduced' | 'not available';

export interface ClaimCheck {
  id: string;
  /** The claim in words. */
  claim: string;
  /** The published figure as printed in the study. */
  published: string;
  /** The user's value (same units as `published`), when available. */
  value?: number;
  ci?: Interval;
  p?: number;
  /** Direction (or, for the p-value claim, the non-significance) reproduced. */
  verdict: ClaimVerdict;
  /** Whether the CI excludes zero; absent without a CI. */
  ciExcludesZero?: boolean;
  /** Whether the value falls inside the published range (range claims only). */
  inPublishedRange?: boolean;
  /** Why a claim is not available, or what differs from the study's setup. */
  note?: string;
}

/** The first analysed variant of each role, by report order, and how many share that role. */
export function variantsByRole(report: AnalysisReport): Partial<Record<VariantRole, { name: string; count: number }>> {
  const out: Partial<Record<VariantRole, { name: string; count: number }>> = {};
  for (const [name, v] of Object.entries(report.variants)) {
    if (!v.role) continue;
    const seen = out[v.role];
    if (seen) seen.count++;
    else out[v.role] = { name, count: 1 };
  }
  return out;
}

/** The comparison a - b of a metric at a stage, flipping a stored b - a. */
export function findComparison(report: AnalysisReport, a: string, b: string, metric: MetricName, stage: Stage): Comparison | undefined {
  for (const c of report.comparisons) {
    if (c.metric !== metric || c.stage !== stage) continue;
    if (c.a === a && c.b === b) return c;
    if (c.a === b && c.b === a) {
      return { ...c, a, b, diff: -c.diff, ...(c.ci ? { ci: [-c.ci[1], -c.ci[0]] as Interval } : {}) };
    }
  }
  return undefined;
}

const excludesZero = (ci: Interval | undefined) => (ci ? ci[0] > 0 || ci[1] < 0 : undefined);
const ROLE_LABEL: Record<VariantRole, string> = { base: 'base', sft: 'SFT', grpo: 'GRPO', other: 'other' };

/** Checks every published figure against the report (and the scaling effects' paired CIs). */
export function checkPublishedClaims(report: AnalysisReport, effects: readonly ScalingEffect[] = []): ClaimCheck[] {
  const roles = variantsByRole(report);
  const checks: ClaimCheck[] = [];
  const setupNote = [
    report.settings.scaling !== 'matrix' ? `the study used matrix scaling; this view uses ${report.settings.scaling}` : '',
    report.settings.inSample ? 'scaling is fitted in-sample (optimistic)' : '',
  ]
    .filter(Boolean)
    .join('; ');
  const roleNote = (...rs: VariantRole[]) =>
    rs
      .map((r) => roles[r])
      .filter((x): x is { name: string; count: number } => Boolean(x && x.count > 1))
      .map((x) => `${x.count} variants share a role; using ${x.name}`)
      .join('; ');
  const missing = (...rs: VariantRole[]) => {
    const absent = rs.filter((r) => !roles[r]);
    return absent.length ? `no analysed variant has the role ${absent.map((r) => ROLE_LABEL[r]).join(' or ')}` : '';
  };
  const join = (...notes: string[]) => notes.filter(Boolean).join('; ') || undefined;

  const contrast = (id: string, claim: string, published: string, a: VariantRole, b: VariantRole, metric: MetricName, stage: Stage, note = '') => {
    const why = missing(a, b);
    const c = why ? undefined : findComparison(report, roles[a]!.name, roles[b]!.name, metric, stage);
    if (!c) {
      checks.push({ id, claim, published, verdict: 'not available', note: why || (stage === 'scaled' ? 'no scaled stage (scaling is none)' : 'not compared') });
      return;
    }
    checks.push({
      id,
      claim,
      published,
      value: c.diff,
      ...(c.ci ? { ci: c.ci } : {}),
      ...(c.p !== undefined ? { p: c.p } : {}),
      verdict: c.diff > 0 ? 'reproduced' : 'not reproduced',
      ...(c.ci ? { ciExcludesZero: excludesZero(c.ci) } : {}),
      note: join(roleNote(a, b), note),
    });
  };

  contrast('ece-grpo-base', 'GRPO has a higher ECE than base (before scaling)', `+${PUBLISHED.eceGrpoMinusBase.toFixed(3)}`, 'grpo', 'base', 'ece', 'uncalibrated');
  contrast('mce-grpo-sft', 'GRPO has a higher MCE than SFT (before scaling)', `+${PUBLISHED.mceGrpoMinusSft.toFixed(3)}`, 'grpo', 'sft', 'mce', 'uncalibrated');

  // p = 0.41: the study's "MCE +0.010 vs SFT (p = 0.41)" — the MCE difference GRPO - SFT is not significant.
  const mce = checks.find((c) => c.id === 'mce-grpo-sft')!;
  checks.push({
    id: 'p-mce-grpo-sft',
    claim: 'The MCE difference GRPO - SFT is not significant (permutation test, 0.05 level)',
    published: `p = ${PUBLISHED.pValue}`,
    ...(mce.p !== undefined ? { value: mce.p, p: mce.p } : {}),
    verdict: mce.p === undefined ? 'not available' : mce.p >= 0.05 ? 'reproduced' : 'not reproduced',
    ...(mce.ciExcludesZero !== undefined ? { ciExcludesZero: mce.ciExcludesZero } : {}),
    note: mce.p === undefined ? (mce.note ?? 'no permutation test (permutations = 0, or results still computing)') : mce.note,
  });

  for (const role of ['base', 'sft', 'grpo'] as const) {
    const who = roles[role];
    const v = who ? report.variants[who.name] : undefined;
    const effect = who ? effects.find((e) => e.variant === who.name) : undefined;
    const label = ROLE_LABEL[role];
    if (!who || !v?.scaled || v.ece_reduction_pct === undefined || v.accuracy_change_pts === undefined) {
      const note = missing(role) || 'no scaled stage (scaling is none)';
      checks.push({ id: `ece-reduction-${role}`, claim: `Scaling cuts ${label}'s ECE`, published: '-40% to -64%', verdict: 'not available', note });
      checks.push({ id: `accuracy-gain-${role}`, claim: `Scaling raises ${label}'s accuracy`, published: '+1.5 to +3.0 pts', verdict: 'not available', note });
      continue;
    }
    const reduction = v.ece_reduction_pct;
    const [rLo, rHi] = PUBLISHED.eceReductionPct;
    checks.push({
      id: `ece-reduction-${role}`,
      claim: `Scaling cuts ${label}'s ECE (ECE change in %)`,
      published: '-40% to -64%',
      value: -reduction,
      ...(effect?.eceChangeCi ? { ci: effect.eceChangeCi, ciExcludesZero: excludesZero(effect.eceChangeCi) } : {}),
      verdict: reduction > 0 ? 'reproduced' : 'not reproduced',
      inPublishedRange: reduction >= rLo && reduction <= rHi,
      note: join(roleNote(role), setupNote, effect?.eceChangeCi ? 'CI is of the ECE change (after - before)' : ''),
    });
    const gain = v.accuracy_change_pts;
    const [aLo, aHi] = PUBLISHED.accuracyGainPts;
    checks.push({
      id: `accuracy-gain-${role}`,
      claim: `Scaling raises ${label}'s accuracy (points)`,
      published: '+1.5 to +3.0 pts',
      value: gain,
      ...(effect?.accuracyChangePtsCi ? { ci: effect.accuracyChangePtsCi, ciExcludesZero: excludesZero(effect.accuracyChangePtsCi) } : {}),
      verdict: gain > 0 ? 'reproduced' : 'not reproduced',
      inPublishedRange: gain >= aLo && gain <= aHi,
      note: join(roleNote(role), setupNote),
    });
  }

  contrast(
    'scaled-ece-grpo-sft',
    'After scaling, GRPO keeps a higher ECE than SFT',
    `${PUBLISHED.scaledEceGrpo.toFixed(3)} vs ${PUBLISHED.scaledEceSft.toFixed(3)} (+${(PUBLISHED.scaledEceGrpo - PUBLISHED.scaledEceSft).toFixed(3)})`,
    'grpo',
    'sft',
    'ece',
    'scaled',
    setupNote,
  );
  return checks;
}
