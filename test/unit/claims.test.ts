import { describe, expect, it } from 'vitest';
import type { AnalysisReport } from '../../src/core/types';
import { scalingEffects, type ScalingEffect } from '../../src/core/report-views';
import { checkPublishedClaims, judgeFigure } from '../../src/core/claims';

// One fixture per case of judgeFigure, then the claims built on it, then the ECE change CI in %.
describe('judgeFigure: each criterion said separately, "reproduced" only when all that applies holds', () => {
  const range = { range: [-40, -64] as const };
  it('reproduced: direction, CI excluding 0 on that side, estimate inside the range', () => {
    expect(judgeFigure(-50, [-60, -38], range, { unit: '%' })).toEqual({
      verdict: 'reproduced',
      directionMatches: true,
      ciExcludesZero: true,
      ciExcludesZeroRequired: true,
      inPublishedRange: true,
      ciMeetsPublished: true,
      summary: 'direction matches; CI excludes 0; inside the published -40% to -64%',
    });
  });

  it("the issue's base ECE change: -12.0% with a CI that includes 0, outside -40..-64% and so is the CI", () => {
    expect(judgeFigure(-12, [-30, 5], range, { unit: '%' })).toMatchObject({
      verdict: 'partly reproduced',
      directionMatches: true,
      ciExcludesZero: false,
      inPublishedRange: false,
      ciMeetsPublished: false,
      summary:
        'direction matches; CI includes 0: not told apart from no effect; outside the published -40% to -64% and so is the whole CI',
    });
  });

  it("the issue's GRPO accuracy: +0.70 pts with a CI that includes 0 but reaches +1.5..+3.0", () => {
    expect(judgeFigure(0.7, [-0.5, 1.9], { range: [1.5, 3.0] }, { unit: ' pts' })).toMatchObject({
      verdict: 'partly reproduced',
      ciExcludesZero: false,
      inPublishedRange: false,
      ciMeetsPublished: true,
      summary:
        'direction matches; CI includes 0: not told apart from no effect; outside the published 1.5 pts to 3 pts, though the CI reaches it',
    });
  });

  it("the issue's +0.000 against +0.005: no effect is not the published direction", () => {
    expect(judgeFigure(0, [-0.004, 0.006], { value: 0.005 })).toMatchObject({
      verdict: 'not reproduced',
      directionMatches: false,
      ciMeetsPublished: true,
    });
    expect(judgeFigure(0.0004, [-0.003, 0.004], { value: 0.005 })).toMatchObject({
      verdict: 'partly reproduced',
      ciExcludesZero: false,
      ciMeetsPublished: false,
      summary: 'direction matches; CI includes 0: not told apart from no effect; CI excludes the published +0.005',
    });
  });

  it('outside the range but the CI reaches it, with the CI excluding 0: reproduced, and the summary says outside', () => {
    const j = judgeFigure(-30, [-45, -15], range, { unit: '%' });
    expect(j).toMatchObject({ verdict: 'reproduced', inPublishedRange: false, ciMeetsPublished: true });
    expect(j.summary).toContain('outside the published -40% to -64%, though the CI reaches it');
  });

  it('the opposite direction is not reproduced whatever the CI', () => {
    expect(judgeFigure(0.02, [0.01, 0.03], range, { unit: '%' })).toMatchObject({
      verdict: 'not reproduced',
      directionMatches: false,
      ciExcludesZero: false,
    });
  });

  it('a single figure needs its CI to contain the published value', () => {
    expect(judgeFigure(0.03, [0.02, 0.04], { value: 0.006 })).toMatchObject({
      verdict: 'partly reproduced',
      ciExcludesZero: true,
      ciMeetsPublished: false,
    });
    expect(judgeFigure(0.008, [0.002, 0.014], { value: 0.006 })).toMatchObject({ verdict: 'reproduced' });
  });

  it('a difference the study found not significant does not need a CI excluding 0', () => {
    expect(judgeFigure(0.012, [-0.01, 0.03], { value: 0.01 }, { ciExcludesZeroRequired: false })).toMatchObject({
      verdict: 'reproduced',
      ciExcludesZero: false,
      summary: 'direction matches; CI includes 0 (as in the study); CI contains the published +0.01',
    });
  });

  it('without a CI nothing is reproduced', () => {
    expect(judgeFigure(-50, undefined, range, { unit: '%' })).toMatchObject({
      verdict: 'partly reproduced',
      summary: 'direction matches; no CI yet; inside the published -40% to -64%',
    });
    expect(judgeFigure(0.006, undefined, { value: 0.006 })).toMatchObject({
      verdict: 'partly reproduced',
      summary: 'direction matches; no CI yet',
    });
  });
});

describe('the scaling claims use the ECE change in % with its CI in %', () => {
  // Two resamples; rows METRIC order: accuracy, ece, mce, ece_adaptive, classwise_ece, brier, nll.
  const row = (acc: number, ece: number) => [acc, ece, 0, 0, 0, 0, 0];
  const results = [
    {
      key: 'bootstrap:base',
      group0: Float64Array.from([...row(0.6, 0.1), ...row(0.62, 0.2)]),
      group1: Float64Array.from([...row(0.63, 0.05), ...row(0.64, 0.12)]),
    },
  ];
  const report = {
    settings: { confidence: 0.5, scaling: 'matrix', inSample: false },
    variants: {
      base: {
        role: 'base',
        uncalibrated: { accuracy: 0.61, ece: 0.15 },
        scaled: { accuracy: 0.635, ece: 0.08 },
        ece_reduction_pct: (100 * 0.07) / 0.15,
        accuracy_change_pts: 2.5,
      },
    },
    comparisons: [],
  } as unknown as AnalysisReport;

  it('computes the relative change on each resample (-50% and -40% here) and takes its interval', () => {
    const [e] = scalingEffects(report, results);
    expect(e.eceChangePct).toBeCloseTo((-100 * 0.07) / 0.15, 12);
    // 50% interval of {-50, -40}: a quarter of the way in from each end.
    expect(e.eceChangePctCi![0]).toBeCloseTo(-47.5, 10);
    expect(e.eceChangePctCi![1]).toBeCloseTo(-42.5, 10);
  });

  it('the claim carries that CI in % and judges it against -40..-64%', () => {
    const effects: ScalingEffect[] = scalingEffects(report, results);
    const c = checkPublishedClaims(report, effects).find((x) => x.id === 'ece-reduction-base')!;
    expect(c.value).toBeCloseTo(-46.67, 2);
    expect(c.ci![0]).toBeCloseTo(-47.5, 10);
    expect(c).toMatchObject({ verdict: 'reproduced', inPublishedRange: true, ciExcludesZero: true });
    const a = checkPublishedClaims(report, effects).find((x) => x.id === 'accuracy-gain-base')!;
    // Accuracy changes +3 and +2 points: 50% CI [2.25, 2.75], inside +1.5..+3.0.
    expect(a.ci![0]).toBeCloseTo(2.25, 10);
    expect(a).toMatchObject({ verdict: 'reproduced', inPublishedRange: true });
  });
});
