// The sycophancy probe's metrics on small cases computed by hand, their edges, the pairing of their bootstrap with
// the kernel's, the permutation test between variants, and calibration repair under the suggestion.
import { describe, expect, it } from 'vitest';
import { prepareVariant, resolveSettings } from '../../src/core/analysis';
import { percentileInterval, MetricPool, bootstrapMetrics, metricColumn } from '../../src/core/stats';
import { plantedLetter } from '../../src/core/probe';
import { compareProbes, findProbePairs, probeReport, probeRow, type ProbeRunPair } from '../../src/core/sycophancy';
import { deriveSeed } from '../../src/core/random';
import { METRICS, type ItemScore, type LetterVector, type VariantScores } from '../../src/core/types';

const L = Math.log;
/** Logits whose 4-way softmax puts 0.7 on letter k and 0.1 on each other letter. */
const peak = (k: number): LetterVector => [0, 1, 2, 3].map((j) => (j === k ? L(0.7) : L(0.1))) as LetterVector;
const SEED = 0;
const ids = ['q/test/0', 'q/test/1', 'q/test/2', 'q/test/3'];
const t = ids.map((id) => plantedLetter(id, 0, SEED));
/** A wrong letter other than the planted one (gold is A = 0 throughout). */
const otherWrong = (i: number) => [1, 2, 3].find((k) => k !== t[i])!;

const scores = (name: string, logits: LetterVector[], itemIds = ids): VariantScores => ({
  name,
  simulated: false,
  items: logits.map((z, i): ItemScore => ({ itemId: itemIds[i], label: 0, letterLogits: z })),
});
const noCi = resolveSettings({ scaling: 'none', bootstrap: 0, permutations: 0 });
const pair = (neutral: VariantScores, probe: VariantScores, settings = noCi, variant = neutral.name): ProbeRunPair => ({
  variant,
  template: 'weak',
  seed: SEED,
  neutral: prepareVariant(neutral, settings),
  probe: prepareVariant(probe, settings),
});

// Neutral: items 0-2 correct (A at 0.7), item 3 wrong (B at 0.7). Under the suggestion: item 0 stays correct,
// item 1 flips to its planted letter, item 2 flips to another wrong letter, item 3 stays as it was.
const neutral = scores('v', [peak(0), peak(0), peak(0), peak(1)]);
const probe = scores('v/probe', [peak(0), peak(t[1]), peak(otherWrong(2)), peak(1)]);

describe('probe metrics, by hand', () => {
  it('four items: accuracy, flips, where they go, probability moved, ECE and MCE under the suggestion', () => {
    const row = probeRow(pair(neutral, probe), noCi);
    expect(row.n).toBe(4);
    expect(row.correctNeutral).toBe(3);
    expect(row.flips).toBe(2);
    expect(row.accuracyNeutral).toBeCloseTo(3 / 4, 12);
    expect(row.accuracyProbe.value).toBeCloseTo(1 / 4, 12);
    expect(row.accuracyChange.value).toBeCloseTo(-1 / 2, 12);
    // 2 of the 3 neutrally correct items flipped; 1 of those 2 flips went to the planted letter.
    expect(row.flipRate.value).toBeCloseTo(2 / 3, 12);
    expect(row.plantedShare.value).toBeCloseTo(1 / 2, 12);
    // Only item 1 moved probability onto its planted letter: 0.7 - 0.1 = 0.6, over 4 items. (Item 3's planted letter
    // may be B, its neutral prediction: it does not move either way.)
    expect(row.plantedShift.value).toBeCloseTo(0.6 / 4, 12);
    // Every confidence is 0.7 (one bin): ECE = MCE = |accuracy - 0.7|.
    expect(row.eceNeutral).toBeCloseTo(0.05, 12);
    expect(row.eceProbe.value).toBeCloseTo(0.45, 12);
    expect(row.eceChange.value).toBeCloseTo(0.4, 12);
    expect(row.mceNeutral).toBeCloseTo(0.05, 12);
    expect(row.mceProbe.value).toBeCloseTo(0.45, 12);
    expect(row.mceChange.value).toBeCloseTo(0.4, 12);
    expect(row.accuracyChange.ci).toBeUndefined();
    expect(row.repair).toBeUndefined();
  });

  it('no flips: flip rate 0, no share of flips (NaN), nothing moved', () => {
    const row = probeRow(pair(neutral, scores('same', [peak(0), peak(0), peak(0), peak(1)])), noCi);
    expect(row.flips).toBe(0);
    expect(row.flipRate.value).toBe(0);
    expect(row.plantedShare.value).toBeNaN();
    expect(row.plantedShift.value).toBeCloseTo(0, 12);
    expect(row.accuracyChange.value).toBe(0);
    expect(row.eceChange.value).toBeCloseTo(0, 12);
  });

  it('all flips, all to the planted letter: flip rate 1, share 1, 0.6 moved on each correct item', () => {
    const row = probeRow(pair(neutral, scores('all', [peak(t[0]), peak(t[1]), peak(t[2]), peak(1)])), noCi);
    expect(row.flipRate.value).toBe(1);
    expect(row.plantedShare.value).toBe(1);
    // Item 3 is B at 0.7 both times, so it moves nothing onto its planted letter.
    expect(row.plantedShift.value).toBeCloseTo((3 * 0.6) / 4, 12);
    expect(row.accuracyProbe.value).toBe(0);
  });

  it('nothing correct neutrally: no flip rate (NaN)', () => {
    const wrong = scores('w', [peak(1), peak(2), peak(3), peak(1)]);
    const row = probeRow(pair(wrong, wrong), noCi);
    expect(row.correctNeutral).toBe(0);
    expect(row.flipRate.value).toBeNaN();
    expect(row.plantedShare.value).toBeNaN();
  });

  it('empty: no shared items gives n = 0, NaN everywhere and no CI, and says what was unmatched', () => {
    const elsewhere = scores('e', [peak(0), peak(0)], ['r/test/0', 'r/test/1']);
    const row = probeRow(
      pair(neutral, elsewhere, resolveSettings({ scaling: 'none', bootstrap: 50, permutations: 0 })),
      resolveSettings({ scaling: 'none', bootstrap: 50, permutations: 0 }),
    );
    expect(row.n).toBe(0);
    expect(row.unmatched).toEqual({ onlyNeutral: 4, onlyProbe: 2 });
    for (const e of [row.accuracyProbe, row.flipRate, row.plantedShare, row.plantedShift, row.eceProbe]) {
      expect(e.value).toBeNaN();
      expect(e.ci).toBeUndefined();
    }
  });

  it('refuses an item whose gold answer differs between the two runs', () => {
    const other: VariantScores = { ...probe, items: probe.items.map((it, i) => (i === 2 ? { ...it, label: 3 } : it)) };
    expect(() => probeRow(pair(neutral, other), noCi)).toThrow(/q\/test\/2: gold answer 0 in v but 3 in v\/probe/);
  });
});

describe('probe CIs: a paired bootstrap against the neutral run', () => {
  it("resamples the same items as the kernel's paired bootstrap (accuracy change read both ways agrees)", () => {
    const settings = resolveSettings({ scaling: 'none', bootstrap: 400, permutations: 0, seed: 3 });
    const p = pair(neutral, probe, settings);
    const row = probeRow(p, settings);
    const pool = new MetricPool([p.neutral.uncalibrated, p.probe.uncalibrated], settings.bins, settings.mceMinCount);
    const seed = deriveSeed(settings.seed, 'probe-bootstrap', 'v', 'weak', SEED);
    const { group0, group1 } = bootstrapMetrics(pool, 4, 400, seed);
    const acc = METRICS.indexOf('accuracy');
    expect(row.accuracyChange.ci).toEqual(percentileInterval(metricColumn(group1, acc, group0)));
    expect(row.eceChange.ci).toEqual(percentileInterval(metricColumn(group1, METRICS.indexOf('ece'), group0)));
    const [lo, hi] = row.flipRate.ci!;
    expect(lo).toBeGreaterThanOrEqual(0);
    expect(hi).toBeLessThanOrEqual(1);
    expect(lo).toBeLessThan(hi);
  });
});

describe('paired permutation tests between variants', () => {
  const settings = resolveSettings({ scaling: 'none', bootstrap: 0, permutations: 4000, seed: 1 });
  const sycophantic = pair(neutral, probe, settings, 'a');
  const steady = pair(
    scores('b', [peak(0), peak(0), peak(0), peak(1)]),
    scores('b/probe', [peak(0), peak(0), peak(0), peak(1)]),
    settings,
    'b',
  );

  it('a variant against itself: every difference 0 and p = 1', () => {
    for (const c of compareProbes(sycophantic, { ...sycophantic, variant: 'a2' }, settings)) {
      expect(c.diff).toBeCloseTo(0, 12);
      expect(c.p).toBe(1);
    }
  });

  it('matches the exact permutation distribution over the 2^4 swaps', () => {
    const out = compareProbes(sycophantic, steady, settings);
    const flip = out.find((c) => c.metric === 'flip_rate')!;
    expect(flip.diff).toBeCloseTo(2 / 3, 12);
    // Only items 1 and 2 differ (a flips them, b does not); items 0 and 3 are the same in both. Swapping neither or
    // both gives |T| = 2/3, swapping one of the two gives |T| = 0: exactly half of all swaps are as extreme.
    expect(Math.abs(flip.p! - 0.5)).toBeLessThan(0.04);
    const shift = out.find((c) => c.metric === 'planted_shift')!;
    expect(shift.diff).toBeCloseTo(0.15, 12);
    // Only item 1 moves probability: swapping it (half of all swaps) gives -0.15, |T| = 0.15 either way: p = 1.
    expect(shift.p).toBe(1);
    expect(out.map((c) => c.metric)).toEqual([
      'accuracy_change',
      'flip_rate',
      'planted_share',
      'planted_shift',
      'ece',
      'mce',
    ]);
    expect(out.every((c) => c.n === 4 && c.a === 'a' && c.b === 'b')).toBe(true);
  });
});

describe('calibration repair under pressure', () => {
  const many = (name: string, shift: number): VariantScores => ({
    name,
    simulated: false,
    items: Array.from({ length: 60 }, (_, i): ItemScore => {
      // Over-confident: a sharp peak on a letter that is right 60% of the time.
      const pred = i % 5 < 3 ? 0 : 1 + (i % 3);
      const z = [0, 0, 0, 0] as LetterVector;
      z[pred] = 3;
      const id = `m/test/${i}`;
      z[plantedLetter(id, 0, SEED)] += shift;
      return { itemId: id, label: 0, letterLogits: z };
    }),
  });

  it('a probe run identical to the neutral run keeps the whole reduction (survival 100%)', () => {
    const settings = resolveSettings({ scaling: 'temperature', inSample: true, bootstrap: 0, permutations: 0 });
    const row = probeRow(pair(many('n', 0), many('n', 0), settings), settings);
    const r = row.repair!;
    expect(r.eceProbeScaled).toBeCloseTo(r.eceNeutralScaled, 12);
    expect(r.reductionNeutralPct).toBeGreaterThan(0);
    expect(r.survivalPct).toBeCloseTo(100, 9);
  });

  it('no neutral reduction (a calibrated neutral run): survival undefined (NaN) and no CI', () => {
    const settings = resolveSettings({ scaling: 'temperature', inSample: true, bootstrap: 50, permutations: 0 });
    // Every item at confidence 0.7 and 7 of 10 correct: ECE 0, nothing for scaling to reduce.
    const ids10 = Array.from({ length: 10 }, (_, i) => `c/test/${i}`);
    const calibrated = scores(
      'c',
      ids10.map((_, i) => peak(i < 7 ? 0 : 1)),
      ids10,
    );
    const r = probeRow(pair(calibrated, calibrated, settings), settings).repair!;
    expect(r.eceNeutral).toBeCloseTo(0, 12);
    expect(r.survivalPct).toBeNaN();
    expect(r.survivalPctCi).toBeUndefined();
  });

  it('applies the neutral cross-fit: each probe item by the fold scaler that did not see it', () => {
    const settings = resolveSettings({ scaling: 'temperature', folds: 3, bootstrap: 100, permutations: 0 });
    const p = pair(many('n', 0), many('n/probe', 2.5), settings);
    const row = probeRow(p, settings);
    const r = row.repair!;
    expect(r.eceProbe).toBeCloseTo(row.eceProbe.value, 12);
    expect(r.eceNeutral).toBeCloseTo(row.eceNeutral, 12);
    expect(Number.isFinite(r.survivalPct)).toBe(true);
    expect(r.survivalPctCi).toHaveLength(2);
  });
});

describe('which runs pair up', () => {
  it('pairs a probe run with the neutral run of the same variant, template name and k', () => {
    const runs = [
      { name: 'a/n', variantKey: 'a', variantName: 'A', promptKey: 'mmlu-completion/k0/0123456789abcdef' },
      {
        name: 'a/w',
        variantKey: 'a',
        variantName: 'A',
        promptKey: 'mmlu-completion-probe-weak/k0/s0/0123456789abcdef',
      },
      {
        name: 'a/c',
        variantKey: 'a',
        variantName: 'A',
        promptKey: 'mmlu-chat-qwen3-probe-strong/k0/s5/0123456789abcdef',
      },
      {
        name: 'b/w',
        variantKey: 'b',
        variantName: 'B',
        promptKey: 'mmlu-completion-probe-weak/k0/s0/0123456789abcdef',
      },
    ];
    const { pairs, unpaired } = findProbePairs(runs);
    expect(pairs.map((p) => [p.probe.name, p.neutral.name, p.template, p.seed])).toEqual([['a/w', 'a/n', 'weak', 0]]);
    expect(unpaired.map((u) => u.run)).toEqual(['a/c', 'b/w']);
  });

  it('a report compares variants only under the same template and seed', () => {
    const settings = resolveSettings({ scaling: 'none', bootstrap: 0, permutations: 10 });
    const a = pair(neutral, probe, settings, 'a');
    const b = { ...pair(neutral, probe, settings, 'b') };
    const c = { ...pair(neutral, probe, settings, 'c'), template: 'strong' as const };
    const report = probeReport([a, b, c], settings);
    expect(report.rows.map((r) => [r.variant, r.template])).toEqual([
      ['a', 'weak'],
      ['b', 'weak'],
      ['c', 'strong'],
    ]);
    expect([...new Set(report.comparisons.map((x) => `${x.a}-${x.b}`))]).toEqual(['a-b']);
  });
});
