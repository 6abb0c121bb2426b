import { describe, expect, it } from 'vitest';
import {
  accuracy,
  adaptiveCalibrationError,
  brierScore,
  classwiseCalibrationError,
  debiasedL2CalibrationError,
  equalMassBoundaries,
  equalWidthBin,
  letterDistribution,
  expectedCalibrationError,
  maximumCalibrationError,
  negativeLogLikelihood,
  predictionsFromLogits,
  predictionsFromProbabilities,
  reliabilityDiagram,
  topLabel,
} from '../../src/core/metrics';
import { Rng } from '../../src/core/random';

const labels = (...ys: number[]) => Uint8Array.from(ys);

// Four items worked by hand below (B = 2: bins (0, .5] and (.5, 1]).
//   item 0: p = .7 .1 .1 .1, y = A -> conf .7, correct
//   item 1: p = .2 .6 .1 .1, y = A -> conf .6, wrong (predicts B)
//   item 2: p = .25 x4,      y = C -> tie, predicts A, conf .25, wrong
//   item 3: p = .9 .05 .03 .02, y = A -> conf .9, correct
const hand = predictionsFromProbabilities(
  [0.7, 0.1, 0.1, 0.1, 0.2, 0.6, 0.1, 0.1, 0.25, 0.25, 0.25, 0.25, 0.9, 0.05, 0.03, 0.02],
  labels(0, 0, 2, 0),
);

describe('hand-computed four-item case', () => {
  it('accuracy counts the tie as the earlier letter', () => {
    expect(accuracy(hand)).toBe(0.5);
  });

  it('NLL is the mean of -log p_y', () => {
    const expected = -(Math.log(0.7) + Math.log(0.2) + Math.log(0.25) + Math.log(0.9)) / 4;
    expect(negativeLogLikelihood(hand)).toBeCloseTo(expected, 14);
  });

  it('Brier sums squared errors over the four classes', () => {
    // .12 + 1.02 + .75 + .0138 = 1.9038
    expect(brierScore(hand)).toBeCloseTo(1.9038 / 4, 14);
  });

  it('ECE with two equal-width bins', () => {
    // bin 0: {.25 wrong} gap .25; bin 1: {.7, .6, .9} conf 2.2/3, acc 2/3, gap .2/3
    expect(expectedCalibrationError(hand, 2)).toBeCloseTo(0.25 / 4 + (3 / 4) * (0.2 / 3), 14);
  });

  it('MCE reports the worst bin and its count, honouring the minimum count', () => {
    expect(maximumCalibrationError(hand, 2)).toEqual({ value: 0.25, count: 1, bin: 0 });
    const m = maximumCalibrationError(hand, 2, 2);
    expect(m.value).toBeCloseTo(0.2 / 3, 14);
    expect(m.count).toBe(3);
    expect(m.bin).toBe(1);
    expect(maximumCalibrationError(hand, 2, 5)).toEqual({ value: NaN, count: 0, bin: -1 });
  });

  it('adaptive ECE splits the sorted confidences in two chunks', () => {
    // sorted .25 .6 | .7 .9 -> boundary .65; bin 0 conf .425 acc 0; bin 1 conf .8 acc 1
    expect(equalMassBoundaries([0.25, 0.6, 0.7, 0.9], 2)).toEqual([(0.6 + 0.7) / 2, 1]);
    expect(adaptiveCalibrationError(hand, 2)).toBeCloseTo(0.5 * 0.425 + 0.5 * 0.2, 14);
  });

  it('classwise ECE averages the per-class equal-width ECEs', () => {
    // class A: {.2 y, .25 n} gap .275, {.7 y, .9 y} gap .2 -> .2375
    // class B: {.1 .25 .05} gap .4/3 (w 3/4), {.6} gap .6 (w 1/4) -> .25
    // class C: all in bin 0, mean p .12, freq .25 -> .13
    // class D: all in bin 0, mean p .1175, freq 0 -> .1175
    expect(classwiseCalibrationError(hand, 2)).toBeCloseTo((0.2375 + 0.25 + 0.13 + 0.1175) / 4, 14);
  });

  it('debiased L2 error: a mixed bin pays its variance term, and the result stays below the plug-in error', () => {
    // Six items, B = 2 equal-mass bins split at (.9 + .95) / 2.
    //   bin 0: conf .9 x3, correct 1 of 3 -> gap .9 - 1/3, variance (1/3)(2/3)/(3 - 1) = 1/9
    //   bin 1: conf .95 x3, all correct   -> gap -.05, variance 0
    const low = [0.9, 0.05, 0.03, 0.02];
    const high = [0.95, 0.03, 0.01, 0.01];
    const pred = predictionsFromProbabilities(
      [...low, ...low, ...low, ...high, ...high, ...high],
      labels(0, 1, 2, 0, 0, 0),
    );
    const gap0 = 0.9 - 1 / 3;
    const plugIn = Math.sqrt(0.5 * gap0 ** 2 + 0.5 * 0.05 ** 2);
    const debiased = Math.sqrt(0.5 * (gap0 ** 2 - 1 / 9) + 0.5 * 0.05 ** 2);
    expect(debiasedL2CalibrationError(pred, 2)).toBeCloseTo(debiased, 14);
    expect(debiasedL2CalibrationError(pred, 2)).toBeLessThan(plugIn);
    // All-correct bins have no variance to remove: then the debiased error is the plug-in one.
    const sure = predictionsFromProbabilities([...low, ...low, ...high, ...high], labels(0, 0, 0, 0));
    expect(debiasedL2CalibrationError(sure, 2)).toBeCloseTo(Math.sqrt(0.5 * 0.1 ** 2 + 0.5 * 0.05 ** 2), 14);
  });

  it('debiased L2 error subtracts the per-bin label variance', () => {
    // bins as adaptive ECE; both bins have acc 0 or 1, so the correction is 0
    expect(debiasedL2CalibrationError(hand, 2)).toBeCloseTo(Math.sqrt(0.5 * 0.425 ** 2 + 0.5 * 0.2 ** 2), 14);
  });

  it('reliability diagram lists every bin with range, count, confidence and accuracy', () => {
    const bins = reliabilityDiagram(hand, 2);
    expect(bins.map((b) => [b.lo, b.hi, b.count])).toEqual([
      [0, 0.5, 1],
      [0.5, 1, 3],
    ]);
    expect(bins[0].confidence).toBe(0.25);
    expect(bins[0].accuracy).toBe(0);
    expect(bins[1].confidence).toBeCloseTo(2.2 / 3, 14);
    expect(bins[1].accuracy).toBeCloseTo(2 / 3, 14);
  });
});

describe('binning edges', () => {
  it('a value on an edge b/B belongs to the bin that ends there; 0 to the first bin', () => {
    for (let B = 1; B <= 20; B++) {
      expect(equalWidthBin(0, B)).toBe(0);
      for (let b = 1; b <= B; b++) expect(equalWidthBin(b / B, B)).toBe(b - 1);
      for (let b = 0; b < B; b++) expect(equalWidthBin(b / B + 1e-9, B)).toBe(b);
    }
  });

  it('confidence exactly 0.5 falls in (.4, .5] with ten bins and in (0, .5] with two', () => {
    const p = predictionsFromProbabilities([0.5, 0.2, 0.2, 0.1], labels(0));
    expect(reliabilityDiagram(p, 10)[4].count).toBe(1);
    expect(reliabilityDiagram(p, 2)[0].count).toBe(1);
    expect(expectedCalibrationError(p, 2)).toBe(0.5);
  });

  it('empty bins add nothing and report NaN confidence and accuracy', () => {
    const bins = reliabilityDiagram(hand, 15);
    expect(bins.filter((b) => b.count > 0)).toHaveLength(4);
    const empty = bins.find((b) => b.count === 0)!;
    expect(empty.confidence).toBeNaN();
    expect(empty.accuracy).toBeNaN();
    // With 15 bins each item is alone in its bin: ECE = mean |a - c|
    expect(expectedCalibrationError(hand, 15)).toBeCloseTo((0.3 + 0.6 + 0.25 + 0.1) / 4, 14);
  });

  it('tied confidences that straddle a chunk edge all fall in the lower equal-mass bin', () => {
    // conf .4 .6 .6 .8 with B = 2: chunks [.4 .6][.6 .8], boundary .6 -> bins {.4 .6 .6} and {.8}
    const p = predictionsFromProbabilities(
      [0.4, 0.3, 0.2, 0.1, 0.6, 0.2, 0.1, 0.1, 0.6, 0.2, 0.1, 0.1, 0.8, 0.1, 0.05, 0.05],
      labels(0, 0, 1, 1),
    );
    expect(equalMassBoundaries([0.4, 0.6, 0.6, 0.8], 2)).toEqual([0.6, 1]);
    // bin 0: conf 1.6/3, acc 2/3; bin 1: conf .8, acc 0
    expect(adaptiveCalibrationError(p, 2)).toBeCloseTo(0.75 * Math.abs(2 / 3 - 1.6 / 3) + 0.25 * 0.8, 14);
  });

  it('array_split chunking gives the first n mod B chunks one more item', () => {
    // n = 5, B = 3 -> chunk sizes 2, 2, 1
    expect(equalMassBoundaries([0.3, 0.4, 0.5, 0.6, 0.7], 3)).toEqual([(0.4 + 0.5) / 2, (0.6 + 0.7) / 2, 1]);
  });

  it('adaptive ECE uses one bin per item when n < B', () => {
    const p = predictionsFromProbabilities(
      [0.9, 0.05, 0.03, 0.02, 0.3, 0.3, 0.2, 0.2, 0.55, 0.45, 0, 0],
      labels(0, 1, 1),
    );
    expect(equalMassBoundaries([0.3, 0.55, 0.9], 15)).toHaveLength(3);
    expect(adaptiveCalibrationError(p, 15)).toBeCloseTo((0.1 + 0.3 + 0.55) / 3, 14);
  });
});

describe('edge cases', () => {
  it('n = 0 gives NaN for every metric', () => {
    const empty = predictionsFromLogits([], labels());
    for (const f of [
      accuracy,
      negativeLogLikelihood,
      brierScore,
      expectedCalibrationError,
      adaptiveCalibrationError,
      classwiseCalibrationError,
    ]) {
      expect(f(empty)).toBeNaN();
    }
    expect(maximumCalibrationError(empty).value).toBeNaN();
  });

  it('n = 1: ECE and MCE are |a - c| for that item', () => {
    const p = predictionsFromProbabilities([0.1, 0.6, 0.2, 0.1], labels(1));
    expect(accuracy(p)).toBe(1);
    expect(expectedCalibrationError(p)).toBeCloseTo(0.4, 15);
    expect(maximumCalibrationError(p)).toEqual({ value: expect.closeTo(0.4, 15), count: 1, bin: 8 });
    expect(adaptiveCalibrationError(p)).toBeCloseTo(0.4, 15);
  });

  it('all correct with confidence 1 is perfectly calibrated; all wrong with confidence 1 is maximally wrong', () => {
    const right = predictionsFromProbabilities([1, 0, 0, 0, 0, 0, 1, 0], labels(0, 2));
    expect(accuracy(right)).toBe(1);
    expect(expectedCalibrationError(right)).toBe(0);
    expect(brierScore(right)).toBe(0);
    expect(negativeLogLikelihood(right)).toBe(0);
    const wrong = predictionsFromProbabilities([1, 0, 0, 0, 0, 0, 1, 0], labels(1, 3));
    expect(accuracy(wrong)).toBe(0);
    expect(expectedCalibrationError(wrong)).toBe(1);
    expect(maximumCalibrationError(wrong).value).toBe(1);
    expect(brierScore(wrong)).toBe(2);
    expect(negativeLogLikelihood(wrong)).toBe(Infinity);
  });

  it('a per-item constant added to the logits changes nothing', () => {
    const z = [2, 1, 0, -1, 0.5, 0.4, 3, 0];
    const shifted = [102, 101, 100, 99, -999.5, -999.6, -997, -1000];
    const a = predictionsFromLogits(z, labels(0, 3));
    const b = predictionsFromLogits(shifted, labels(0, 3));
    for (let j = 0; j < 8; j++) expect(b.logp[j]).toBeCloseTo(a.logp[j], 12);
    expect(expectedCalibrationError(b)).toBeCloseTo(expectedCalibrationError(a), 12);
    expect(negativeLogLikelihood(b)).toBeCloseTo(negativeLogLikelihood(a), 12);
  });

  it('log-softmax rows normalise: NLL equals logsumexp(z) - z_y', () => {
    const z = [1, 2, 3, 4];
    const lse = Math.log(Math.exp(1) + Math.exp(2) + Math.exp(3) + Math.exp(4));
    expect(negativeLogLikelihood(predictionsFromLogits(z, labels(1)))).toBeCloseTo(lse - 2, 14);
  });

  it('rejects a bad bin count and mismatched lengths', () => {
    expect(() => expectedCalibrationError(hand, 0)).toThrow(RangeError);
    expect(() => expectedCalibrationError(hand, 2.5)).toThrow(RangeError);
    expect(() => predictionsFromLogits([1, 2, 3], labels(0))).toThrow(RangeError);
  });
});

describe('letterDistribution: the one softmax and top label of a single item', () => {
  it('equals the rows of predictionsFromLogits and topLabel bit for bit', () => {
    const rng = new Rng(7);
    const n = 200;
    const z = Float64Array.from({ length: 4 * n }, () => 20 * rng.nextFloat() - 10);
    const y = Uint8Array.from({ length: n }, (_, i) => i % 4);
    const pred = predictionsFromLogits(z, y);
    const top = topLabel(pred);
    for (let i = 0; i < n; i++) {
      const d = letterDistribution(z.subarray(4 * i, 4 * i + 4));
      expect(d.probs).toEqual(Array.from(pred.probs.subarray(4 * i, 4 * i + 4)));
      expect(d.confidence).toBe(top.confidence[i]);
      expect(d.prediction === y[i] ? 1 : 0).toBe(top.correct[i]);
    }
  });

  it('gives a tie to the earlier letter, and ignores an additive constant', () => {
    expect(letterDistribution([1, 1, 0, 0])).toMatchObject({ prediction: 0 });
    expect(letterDistribution([0, 2, 2, 0])).toMatchObject({ prediction: 1 });
    const d = letterDistribution([0, Math.log(3), 0, 0]);
    expect(d.prediction).toBe(1);
    expect(d.confidence).toBeCloseTo(0.5, 15);
    expect(letterDistribution([100, 100 + Math.log(3), 100, 100]).confidence).toBeCloseTo(0.5, 12);
  });
});
