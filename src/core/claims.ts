/**
 * The study's published figures and the check of each against a user's report, criterion by criterion: the
 * direction, whether the CI excludes 0 on that side, and whether the estimate lies in (or its CI reaches) the
 * published range or value. "reproduced" only when all that applies holds. Plain data in and out.
 */
import {
  ROLE_LABELS,
  type AnalysisReport,
  type Comparison,
  type Interval,
  type MetricName,
  type Stage,
  type VariantRole,
} from './types';
import type { ScalingEffect } from './report-views';

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

/**
 * `reproduced` only when every criterion that applies to the figure holds; `not reproduced` when the direction
 * is the opposite (or, for the p-value, the difference is significant); `partly reproduced` otherwise (e.g. the
 * right direction with a CI that includes 0); `not available` without the variants or stage it needs.
 */
export type ClaimVerdict = 'reproduced' | 'partly reproduced' | 'not reproduced' | 'not available';

export interface ClaimCheck {
  id: string;
  /** The claim in words. */
  claim: string;
  /** The published figure as printed in the study. */
  published: string;
  /** The user's value (same units as `published`), when available. */
  value?: number;
  /** The CI of `value`, in its units (an ECE change in % has its CI in %). */
  ci?: Interval;
  p?: number;
  verdict: ClaimVerdict;
  /** The estimate has the published sign (absent for the p-value claim). */
  directionMatches?: boolean;
  /** The CI lies wholly on the published side of 0; absent without a CI. */
  ciExcludesZero?: boolean;
  /** Whether `ciExcludesZero` is part of the verdict (not for a difference the study itself found not significant). */
  ciExcludesZeroRequired?: boolean;
  /** Range figures: the estimate lies inside the published range. */
  inPublishedRange?: boolean;
  /** Range figures: the CI overlaps the published range; single figures: the CI contains the published value. */
  ciMeetsPublished?: boolean;
  /** What holds and what does not, in words, one clause per criterion. */
  summary: string;
  /** Why a claim is not available, or what differs from the study's setup. */
  note?: string;
}

/** The published figure a check compares against: a value (with its sign) or a range [lo, hi]. */
type Target = { value: number } | { range: readonly [number, number] };

const fmtTarget = (t: Target, unit: string) =>
  'value' in t
    ? `the published ${t.value > 0 ? '+' : ''}${t.value}${unit}`
    : `the published ${t.range[0]}${unit} to ${t.range[1]}${unit}`;

/**
 * The criteria of one figure: direction (sign of the published effect), CI excludes 0 on that side, and the
 * estimate in (or the CI reaching) the published range or value. Plain data in and out; exported for tests.
 */
export function judgeFigure(
  value: number,
  ci: Interval | undefined,
  target: Target,
  options: { unit?: string; ciExcludesZeroRequired?: boolean } = {},
): Pick<
  ClaimCheck,
  | 'verdict'
  | 'directionMatches'
  | 'ciExcludesZero'
  | 'ciExcludesZeroRequired'
  | 'inPublishedRange'
  | 'ciMeetsPublished'
  | 'summary'
> {
  const unit = options.unit ?? '';
  const required = options.ciExcludesZeroRequired ?? true;
  const sign = 'value' in target ? Math.sign(target.value) : Math.sign(target.range[0] + target.range[1]);
  const directionMatches = Math.sign(value) === sign && value !== 0;
  const clauses = [directionMatches ? 'direction matches' : value === 0 ? 'no effect (0)' : 'opposite direction'];
  const out: ReturnType<typeof judgeFigure> = {
    verdict: 'not reproduced',
    directionMatches,
    ciExcludesZeroRequired: required,
    summary: '',
  };
  let inRange: boolean | undefined;
  let meets: boolean | undefined;
  if ('range' in target) {
    const [a, b] = target.range;
    const [lo, hi] = [Math.min(a, b), Math.max(a, b)];
    inRange = value >= lo && value <= hi;
    out.inPublishedRange = inRange;
    if (ci) meets = ci[1] >= lo && ci[0] <= hi;
  } else if (ci) meets = ci[0] <= target.value && target.value <= ci[1];
  if (ci) {
    out.ciExcludesZero = sign > 0 ? ci[0] > 0 : ci[1] < 0;
    out.ciMeetsPublished = meets;
    clauses.push(
      out.ciExcludesZero
        ? 'CI excludes 0'
        : `CI includes 0${required ? ': not told apart from no effect' : ' (as in the study)'}`,
    );
  } else {
    clauses.push('no CI yet');
  }
  if ('range' in target) {
    clauses.push(
      inRange
        ? `inside ${fmtTarget(target, unit)}`
        : meets
          ? `outside ${fmtTarget(target, unit)}, though the CI reaches it`
          : `outside ${fmtTarget(target, unit)}${ci ? ' and so is the whole CI' : ''}`,
    );
  } else if (ci) {
    clauses.push(meets ? `CI contains ${fmtTarget(target, unit)}` : `CI excludes ${fmtTarget(target, unit)}`);
  }
  // The size criterion: the estimate in the range, or its CI reaching the range (or containing the value).
  const sizeOk = inRange === true || meets === true;
  const ciOk = !required || out.ciExcludesZero === true;
  out.verdict = !directionMatches ? 'not reproduced' : ci && ciOk && sizeOk ? 'reproduced' : 'partly reproduced';
  out.summary = clauses.join('; ');
  return out;
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
export function findComparison(
  report: AnalysisReport,
  a: string,
  b: string,
  metric: MetricName,
  stage: Stage,
): Comparison | undefined {
  for (const c of report.comparisons) {
    if (c.metric !== metric || c.stage !== stage) continue;
    if (c.a === a && c.b === b) return c;
    if (c.a === b && c.b === a) {
      return { ...c, a, b, diff: -c.diff, ...(c.ci ? { ci: [-c.ci[1], -c.ci[0]] as Interval } : {}) };
    }
  }
  return undefined;
}

/** Checks every published figure against the report (and the scaling effects' paired CIs). */
export function checkPublishedClaims(report: AnalysisReport, effects: readonly ScalingEffect[] = []): ClaimCheck[] {
  const roles = variantsByRole(report);
  const checks: ClaimCheck[] = [];
  const setupNote = [
    report.settings.scaling !== 'matrix'
      ? `the study used matrix scaling; this view uses ${report.settings.scaling}`
      : '',
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
    return absent.length ? `no analysed variant has the role ${absent.map((r) => ROLE_LABELS[r]).join(' or ')}` : '';
  };
  const join = (...notes: string[]) => notes.filter(Boolean).join('; ') || undefined;

  const contrast = (
    id: string,
    claim: string,
    published: string,
    target: number,
    a: VariantRole,
    b: VariantRole,
    metric: MetricName,
    stage: Stage,
    note = '',
    ciExcludesZeroRequired = true,
  ) => {
    const why = missing(a, b);
    const c = why ? undefined : findComparison(report, roles[a]!.name, roles[b]!.name, metric, stage);
    if (!c) {
      const reason = why || (stage === 'scaled' ? 'no scaled stage (scaling is none)' : 'not compared');
      checks.push({ id, claim, published, verdict: 'not available', summary: reason, note: reason });
      return;
    }
    checks.push({
      id,
      claim,
      published,
      value: c.diff,
      ...(c.ci ? { ci: c.ci } : {}),
      ...(c.p !== undefined ? { p: c.p } : {}),
      ...judgeFigure(c.diff, c.ci, { value: target }, { ciExcludesZeroRequired }),
      note: join(roleNote(a, b), note),
    });
  };

  contrast(
    'ece-grpo-base',
    'GRPO has a higher ECE than base (before scaling)',
    `+${PUBLISHED.eceGrpoMinusBase.toFixed(3)}`,
    PUBLISHED.eceGrpoMinusBase,
    'grpo',
    'base',
    'ece',
    'uncalibrated',
  );
  // The study reports this difference with p = 0.41: it did not claim it excludes 0, so that is not required.
  contrast(
    'mce-grpo-sft',
    'MCE GRPO - SFT (before scaling): higher, but not significantly in the study',
    `+${PUBLISHED.mceGrpoMinusSft.toFixed(3)}`,
    PUBLISHED.mceGrpoMinusSft,
    'grpo',
    'sft',
    'mce',
    'uncalibrated',
    'the study found this difference not significant (p = 0.41), so its CI need not exclude 0',
    false,
  );

  // p = 0.41: the study's "MCE +0.010 vs SFT (p = 0.41)" — the MCE difference GRPO - SFT is not significant.
  const mce = checks.find((c) => c.id === 'mce-grpo-sft')!;
  checks.push({
    id: 'p-mce-grpo-sft',
    claim: 'The MCE difference GRPO - SFT is not significant (permutation test, 0.05 level)',
    published: `p = ${PUBLISHED.pValue}`,
    ...(mce.p !== undefined ? { value: mce.p, p: mce.p } : {}),
    verdict:
      mce.p === undefined
        ? mce.verdict === 'not available'
          ? 'not available'
          : 'partly reproduced'
        : mce.p >= 0.05
          ? 'reproduced'
          : 'not reproduced',
    summary:
      mce.p === undefined
        ? mce.verdict === 'not available'
          ? mce.summary
          : 'no permutation p yet'
        : mce.p >= 0.05
          ? `p = ${mce.p.toPrecision(2)} >= 0.05: not significant, as in the study`
          : `p = ${mce.p.toPrecision(2)} < 0.05: significant, unlike the study`,
    note:
      mce.p === undefined
        ? (mce.note ?? 'no permutation test (permutations = 0, or results still computing)')
        : mce.note,
  });

  for (const role of ['base', 'sft', 'grpo'] as const) {
    const who = roles[role];
    const v = who ? report.variants[who.name] : undefined;
    const effect = who ? effects.find((e) => e.variant === who.name) : undefined;
    const label = ROLE_LABELS[role];
    if (!who || !v?.scaled || v.ece_reduction_pct === undefined || v.accuracy_change_pts === undefined) {
      const note = missing(role) || 'no scaled stage (scaling is none)';
      checks.push({
        id: `ece-reduction-${role}`,
        claim: `Scaling cuts ${label}'s ECE`,
        published: '-40% to -64%',
        verdict: 'not available',
        summary: note,
        note,
      });
      checks.push({
        id: `accuracy-gain-${role}`,
        claim: `Scaling raises ${label}'s accuracy`,
        published: '+1.5 to +3.0 pts',
        verdict: 'not available',
        summary: note,
        note,
      });
      continue;
    }
    // The ECE change in % (negative: a cut), its CI in % from the relative change on the same resamples.
    const change = -v.ece_reduction_pct;
    const [rLo, rHi] = PUBLISHED.eceReductionPct;
    checks.push({
      id: `ece-reduction-${role}`,
      claim: `Scaling cuts ${label}'s ECE (ECE change in %)`,
      published: '-40% to -64%',
      value: change,
      ...(effect?.eceChangePctCi ? { ci: effect.eceChangePctCi } : {}),
      ...judgeFigure(change, effect?.eceChangePctCi, { range: [-rLo, -rHi] }, { unit: '%' }),
      note: join(roleNote(role), setupNote),
    });
    const gain = v.accuracy_change_pts;
    checks.push({
      id: `accuracy-gain-${role}`,
      claim: `Scaling raises ${label}'s accuracy (points)`,
      published: '+1.5 to +3.0 pts',
      value: gain,
      ...(effect?.accuracyChangePtsCi ? { ci: effect.accuracyChangePtsCi } : {}),
      ...judgeFigure(gain, effect?.accuracyChangePtsCi, { range: PUBLISHED.accuracyGainPts }, { unit: ' pts' }),
      note: join(roleNote(role), setupNote),
    });
  }

  contrast(
    'scaled-ece-grpo-sft',
    'After scaling, GRPO keeps a higher ECE than SFT',
    `${PUBLISHED.scaledEceGrpo.toFixed(3)} vs ${PUBLISHED.scaledEceSft.toFixed(3)} (+${(PUBLISHED.scaledEceGrpo - PUBLISHED.scaledEceSft).toFixed(3)})`,
    Math.round((PUBLISHED.scaledEceGrpo - PUBLISHED.scaledEceSft) * 1000) / 1000,
    'grpo',
    'sft',
    'ece',
    'scaled',
    setupNote,
  );
  return checks;
}
