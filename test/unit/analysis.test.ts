import { describe, expect, it } from 'vitest';
import {
  analyzeVariants,
  AnalysisError,
  planAnalysis,
  prepareVariant,
  resolveSettings,
  runAnalysisJob,
} from '../../src/core/analysis';
import { expectedCalibrationError, predictionsFromLogits } from '../../src/core/metrics';
import { MetricPool, bootstrapMetrics, metricColumn, percentileInterval } from '../../src/core/stats';
import { Rng, deriveSeed } from '../../src/core/random';
import { bcaInterval } from '../../src/core/intervals';
import { SmoothEcePool, smoothCalibrationError } from '../../src/core/smooth-ece';
import { DEFAULT_ANALYSIS_SETTINGS, METRICS, type VariantScores } from '../../src/core/types';
import { pairedVariant, syntheticVariant } from '../support/synthetic';

const fast = { bootstrap: 200, permutations: 199 };

describe('resolveSettings', () => {
  it('fills the documented defaults', () => {
    expect(resolveSettings()).toEqual(DEFAULT_ANALYSIS_SETTINGS);
    expect(resolveSettings({ bins: 10, bootstrap: undefined }).bootstrap).toBe(10_000);
  });

  it('refuses bad settings with a message naming the setting', () => {
    expect(() => resolveSettings({ bins: 0 })).toThrow(/bins must be an integer from 1 to 255, got 0/);
    expect(() => resolveSettings({ folds: 1 })).toThrow(/folds/);
    expect(() => resolveSettings({ lambda: -1 })).toThrow(/lambda must be a finite number >= 0/);
    expect(() => resolveSettings({ scaling: 'platt' as never })).toThrow(
      /scaling must be one of none, temperature, vector, matrix/,
    );
    expect(() => resolveSettings({ confidence: 1 })).toThrow(/confidence/);
    expect(() => resolveSettings({ seed: -3 })).toThrow(AnalysisError);
  });
});

describe('analyzeVariants', () => {
  const base = { ...syntheticVariant({ n: 400, seed: 1, sharpness: 1 }), name: 'base', role: 'base' as const };
  const grpo = { ...pairedVariant(base, 2, 2.5, 'grpo'), role: 'grpo' as const };

  it('gives the same report for the same inputs in any item order', () => {
    const r1 = analyzeVariants([base, grpo], fast);
    const shuffled = { ...grpo, items: [...grpo.items].reverse() };
    const r2 = analyzeVariants([base, shuffled], fast);
    expect(r2).toEqual(r1);
  }, 30_000); // two analyses of 400 items, smooth ECE resampling included

  it('reports point estimates equal to the metric definitions, with their CIs', () => {
    const r = analyzeVariants([base], { ...fast, scaling: 'none' });
    const v = r.variants.base;
    const pred = predictionsFromLogits(
      base.items.flatMap((it) => it.letterLogits),
      Uint8Array.from(base.items.map((it) => it.label)),
    );
    expect(v.uncalibrated.ece).toBeCloseTo(expectedCalibrationError(pred, 15), 12);
    expect(v.n).toBe(400);
    expect(v.scaled).toBeUndefined();
    for (const m of METRICS) {
      const [lo, hi] = v.uncalibrated.ci![m];
      expect(lo).toBeLessThanOrEqual(hi);
      // Means (accuracy, Brier, NLL) sit inside their percentile CI; binned errors are biased upward in
      // resamples (duplicated items), so their point estimate may fall below the interval.
      if (m === 'accuracy' || m === 'brier' || m === 'nll') {
        expect(lo).toBeLessThanOrEqual(v.uncalibrated[m] + 1e-12);
        expect(hi).toBeGreaterThanOrEqual(v.uncalibrated[m] - 1e-12);
      }
    }
    expect(v.uncalibrated.reliability).toHaveLength(15);
    expect(v.uncalibrated.reliability.reduce((s, b) => s + b.count, 0)).toBe(400);
  });

  it('matrix scaling repairs an overconfident variant out of sample', () => {
    const r = analyzeVariants([grpo], { ...fast, permutations: 0 });
    const v = r.variants.grpo;
    expect(v.scaling).toEqual({
      method: 'matrix',
      folds: 5,
      lambda: 0.01,
      mu: 0.01,
      in_sample: false,
      resampling: 'fixed-calibrated-logits',
    });
    expect(v.uncalibrated.ece).toBeGreaterThan(0.1);
    expect(v.scaled!.ece).toBeLessThan(v.uncalibrated.ece / 2);
    expect(v.scaled!.nll).toBeLessThan(v.uncalibrated.nll);
    expect(v.ece_reduction_pct).toBeCloseTo((100 * (v.uncalibrated.ece - v.scaled!.ece)) / v.uncalibrated.ece, 12);
    expect(v.accuracy_change_pts).toBeCloseTo(100 * (v.scaled!.accuracy - v.uncalibrated.accuracy), 12);
  });

  it('labels in-sample fits and temperature scaling', () => {
    const r = analyzeVariants([grpo], { ...fast, scaling: 'temperature', inSample: true });
    expect(r.variants.grpo.scaling.in_sample).toBe(true);
    expect(r.variants.grpo.scaling.method).toBe('temperature');
    expect(r.variants.grpo.scaled!.ece).toBeLessThan(r.variants.grpo.uncalibrated.ece);
  });

  it('carries simulated and role through', () => {
    const r = analyzeVariants([base, { ...grpo, simulated: false }], fast);
    expect(r.variants.base.simulated).toBe(true);
    expect(r.variants.grpo.simulated).toBe(false);
    expect(r.variants.grpo.role).toBe('grpo');
  });

  it('compares every pair at both stages, with a paired bootstrap CI and a permutation p', () => {
    const sft = pairedVariant(base, 3, 1.1, 'sft');
    const r = analyzeVariants([base, sft, grpo], fast);
    const pairs = [...new Set(r.comparisons.map((c) => `${c.a}:${c.b}`))];
    expect(pairs).toEqual(['base:sft', 'base:grpo', 'sft:grpo']);
    expect(r.comparisons).toHaveLength(3 * 2 * METRICS.length);
    const ece = r.comparisons.find(
      (c) => c.a === 'base' && c.b === 'grpo' && c.metric === 'ece' && c.stage === 'uncalibrated',
    )!;
    expect(ece.diff).toBeCloseTo(r.variants.base.uncalibrated.ece - r.variants.grpo.uncalibrated.ece, 12);
    expect(ece.p).toBeGreaterThan(0);
    expect(ece.p).toBeLessThanOrEqual(1);
    expect(ece.p).toBe(1 / 200); // grpo is far more overconfident on every resample
    expect(ece.n).toBe(400);
    expect(ece.unmatched).toEqual({ onlyA: 0, onlyB: 0 });

    // The CI is the percentile interval of the paired per-resample differences.
    const seed = deriveSeed(0, 'bootstrap');
    const prep = (v: VariantScores) => prepareVariant(v, resolveSettings({ ...fast, scaling: 'none' })).uncalibrated;
    const paired = bootstrapMetrics(new MetricPool([prep(base), prep(grpo)], 15), 400, 200, seed);
    const j = METRICS.indexOf('ece');
    expect(ece.ci).toEqual(percentileInterval(metricColumn(paired.group0, j, paired.group1), 0.95));
  });

  it('honours --compare and refuses unknown names', () => {
    const r = analyzeVariants([base, grpo], fast, { compare: [['grpo', 'base']] });
    expect(r.comparisons.every((c) => c.a === 'grpo' && c.b === 'base')).toBe(true);
    expect(() => analyzeVariants([base, grpo], fast, { compare: [['grpo', 'sft']] })).toThrow(
      /sft, which is not a variant/,
    );
  });

  it('pairs items by id and reports the unmatched ones', () => {
    const partial = { ...grpo, items: grpo.items.slice(50) };
    const extra = {
      ...base,
      items: [
        ...base.items,
        { itemId: 'zzz/extra', label: 1, letterLogits: [0, 1, 0, 0] as [number, number, number, number] },
      ],
    };
    const r = analyzeVariants([extra, partial], fast);
    const c = r.comparisons[0];
    expect(c.n).toBe(350);
    expect(c.unmatched).toEqual({ onlyA: 51, onlyB: 0 });
    expect(c.ci![0]).toBeLessThanOrEqual(c.ci![1]);
  });

  it('refuses inconsistent inputs with a message a person can act on', () => {
    const relabelled = {
      ...grpo,
      items: grpo.items.map((it, i) => (i === 0 ? { ...it, label: (it.label + 1) % 4 } : it)),
    };
    expect(() => analyzeVariants([base, relabelled], fast)).toThrow(
      /item item\/00000 has gold answer . in base but . in grpo/,
    );
    expect(() => analyzeVariants([base, { ...grpo, name: 'base' }], fast)).toThrow(/two variants are named base/);
    expect(() => analyzeVariants([{ ...base, items: [] }], fast)).toThrow(/variant base has no items/);
    expect(() => analyzeVariants([{ ...base, items: [base.items[0], base.items[0]] }], fast)).toThrow(/more than once/);
    const nan = {
      ...base,
      items: [{ ...base.items[0], letterLogits: [NaN, 0, 0, 0] as [number, number, number, number] }],
    };
    expect(() => analyzeVariants([nan], { ...fast, scaling: 'none' })).toThrow(
      /logit 0 is NaN, expected a finite number/,
    );
    const disjoint = { ...grpo, items: grpo.items.map((it) => ({ ...it, itemId: `other/${it.itemId}` })) };
    expect(() => analyzeVariants([base, disjoint], fast)).toThrow(/share no item ids/);
  });

  it('per run: names a variant it cannot analyse and a pair it cannot compare, and analyses the rest', () => {
    const tiny = { ...base, name: 'tiny', items: base.items.slice(0, 3) };
    const disjoint = {
      ...grpo,
      name: 'disjoint',
      items: grpo.items.map((it) => ({ ...it, itemId: `other/${it.itemId}` })),
    };
    const relabelled = {
      ...grpo,
      name: 'relabelled',
      items: grpo.items.map((it, i) => (i === 0 ? { ...it, label: (it.label + 1) % 4 } : it)),
    };
    const r = analyzeVariants([base, grpo, tiny, disjoint, relabelled], fast, { perRun: true });
    expect(Object.keys(r.variants)).toEqual(['base', 'grpo', 'disjoint', 'relabelled']);
    expect(r.unanalysed).toEqual([
      { variant: 'tiny', reason: 'variant tiny has 3 items, fewer than the 5 cross-fitting folds' },
    ]);
    // Each run's own metrics are those it gets analysed alone.
    expect(r.variants.disjoint).toEqual(analyzeVariants([disjoint], fast).variants.disjoint);
    expect(r.variants.base).toEqual(analyzeVariants([base], fast).variants.base);
    const uncompared = Object.fromEntries(r.uncompared!.map((u) => [`${u.a}|${u.b}`, u.reason]));
    expect(uncompared['base|disjoint']).toMatch(/^no shared items: base and disjoint share no item ids/);
    expect(uncompared['base|tiny']).toBe('tiny could not be analysed');
    expect(uncompared['base|relabelled']).toMatch(/item item\/00000 has gold answer . in base but . in relabelled/);
    // Pairs that share items are still compared, with the numbers of a strict analysis of that pair.
    const strict = analyzeVariants([base, grpo], fast).comparisons;
    expect(r.comparisons.filter((c) => c.a === 'base' && c.b === 'grpo')).toEqual(strict);
    // Nothing left out: the per-run report is the strict one.
    expect(analyzeVariants([base, grpo], fast, { perRun: true })).toEqual(analyzeVariants([base, grpo], fast));
  }, 60_000);

  it('reads every CI by settings.interval: basic reflects the percentile interval, BCa uses the jackknife', () => {
    const one = { ...base, items: base.items.slice(0, 120) };
    const settings = { bootstrap: 300, permutations: 0, scaling: 'none' as const };
    const pct = analyzeVariants([one], settings).variants.base.uncalibrated;
    const basic = analyzeVariants([one], { ...settings, interval: 'basic' }).variants.base.uncalibrated;
    const bca = analyzeVariants([one], { ...settings, interval: 'bca' }, {}).variants.base.uncalibrated;
    for (const m of METRICS) {
      if (!Number.isFinite(pct.ci![m][0])) continue;
      expect(basic.ci![m][0]).toBeCloseTo(2 * pct[m] - pct.ci![m][1], 12);
      expect(basic.ci![m][1]).toBeCloseTo(2 * pct[m] - pct.ci![m][0], 12);
    }
    // BCa by hand from the same resamples and the leave-one-out values of each metric.
    const prepared = prepareVariant(one, resolveSettings(settings));
    const pool = new MetricPool([prepared.uncalibrated]);
    const { group0 } = bootstrapMetrics(pool, pool.slots, 300, deriveSeed(0, 'bootstrap'));
    const jack = new Float64Array(120 * METRICS.length);
    const out = new Float64Array(2 * METRICS.length);
    for (let i = 0; i < 120; i++) {
      const w = new Float64Array(120).fill(1);
      w[i] = 0;
      pool.evaluate(w, null, out);
      jack.set(out.subarray(0, METRICS.length), i * METRICS.length);
    }
    METRICS.forEach((m, j) => {
      expect(bca.ci![m]).toEqual(bcaInterval(metricColumn(group0, j), pct[m], metricColumn(jack, j)));
    });
    // Smooth ECE: its own pass over the same draws, at the point estimate's bandwidth.
    const smooth = new SmoothEcePool(prepared.uncalibrated, pct.smooth_ece_bandwidth!);
    const rng = new Rng(deriveSeed(0, 'bootstrap'));
    const values = Array.from({ length: 300 }, () => {
      const counts = new Float64Array(120);
      for (let k = 0; k < 120; k++) counts[rng.nextInt(120)]++;
      return smooth.evaluate(counts);
    });
    expect(pct.ci!.smooth_ece).toEqual(percentileInterval(values, 0.95));
    expect(pct.smooth_ece).toBe(smoothCalibrationError(prepared.uncalibrated).value);
  }, 60_000);

  it('skips CIs and p-values when asked for zero resamples', () => {
    const r = analyzeVariants([base, grpo], { bootstrap: 0, permutations: 0, scaling: 'none' });
    expect(r.variants.base.uncalibrated.ci).toBeUndefined();
    expect(r.comparisons[0].ci).toBeUndefined();
    expect(r.comparisons[0].p).toBeUndefined();
    expect(r.comparisons[0].diff).toBeCloseTo(
      r.variants.base.uncalibrated.accuracy - r.variants.grpo.uncalibrated.accuracy,
      12,
    );
  });
});

describe('runAnalysisJob', () => {
  it('reuses a pool only for the same predictions: a job on changed data right after gets its own numbers', () => {
    const base = { ...syntheticVariant({ n: 300, seed: 1, sharpness: 1.5 }), name: 'base' };
    const grpo = pairedVariant(base, 2, 2.5, 'grpo');
    const plan = planAnalysis([base, grpo], { bootstrap: 40, permutations: 40, seed: 3 });
    for (const kind of ['bootstrap', 'permutation', 'smooth-bootstrap'] as const) {
      const job = plan.jobs.find((j) => j.kind === kind)!;
      const first = runAnalysisJob(job);
      // The same job again, as a thread gets it: new copies of the same arrays, so a pool built once serves it.
      expect(runAnalysisJob(structuredClone(job))).toEqual(first);
      // One item's label changed in a copy: the numbers must be those of a fresh computation on the changed data.
      const changed = structuredClone(job);
      changed.sets[0].labels[0] = (changed.sets[0].labels[0] + 1) % 4;
      const got = runAnalysisJob(changed);
      expect(got, kind).not.toEqual(first);
      if (kind === 'bootstrap') {
        const fresh = bootstrapMetrics(
          new MetricPool(changed.sets, job.bins, job.mceMinCount),
          job.sets[0].n,
          40,
          job.seed,
        );
        expect(got.group0).toEqual(fresh.group0);
        expect(got.group1).toEqual(fresh.group1);
      }
      if (kind === 'smooth-bootstrap') {
        const pool = new SmoothEcePool(changed.sets[0], job.sigmas![0]);
        const rng = new Rng(job.seed);
        const n = job.sets[0].n;
        const weights = new Float64Array(n);
        rng.drawInts(n, n, weights);
        expect(got.group0[0]).toBe(pool.evaluate(weights));
      }
    }
  });
});
