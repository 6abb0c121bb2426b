import { describe, expect, it, onTestFinished } from 'vitest';
import { KernelMemory, kernelBackend, setKernelBackend } from '../../src/core/kernel-wasm';
import {
  accuracy,
  adaptiveCalibrationError,
  brierScore,
  classwiseCalibrationError,
  expectedCalibrationError,
  maximumCalibrationError,
  negativeLogLikelihood,
  predictionsFromLogits,
  type Predictions,
} from '../../src/core/metrics';
import {
  METRIC_COUNT,
  MetricPool,
  ascendingOrder,
  bootstrapMetrics,
  finiteQuantiles,
  finiteSorted,
  metricColumn,
  pairedPermutationTest,
  percentileInterval,
  quantileSorted,
} from '../../src/core/stats';
import { Rng } from '../../src/core/random';
import { METRICS } from '../../src/core/types';

/** Random 4-way predictions with a controllable sharpness, from a seed. */
function randomPredictions(n: number, seed: number, sharpness = 2): Predictions {
  const rng = new Rng(seed);
  const logits = new Float64Array(n * 4);
  const labels = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    labels[i] = rng.nextInt(4);
    for (let k = 0; k < 4; k++) logits[i * 4 + k] = sharpness * (rng.nextFloat() * 2 - 1) + (k === labels[i] ? 1 : 0);
    // Repeat some logit rows exactly, so tied confidences occur.
    if (i > 0 && rng.nextFloat() < 0.1) logits.copyWithin(i * 4, (i - 1) * 4, i * 4);
  }
  return predictionsFromLogits(logits, labels);
}

/** The reference metrics of metrics.ts, in kernel order. */
function reference(pred: Predictions, bins: number, minCount = 1): number[] {
  const values: Record<string, number> = {
    accuracy: accuracy(pred),
    ece: expectedCalibrationError(pred, bins),
    mce: maximumCalibrationError(pred, bins, minCount).value,
    ece_adaptive: adaptiveCalibrationError(pred, bins),
    classwise_ece: classwiseCalibrationError(pred, bins),
    brier: brierScore(pred),
    nll: negativeLogLikelihood(pred),
  };
  return METRICS.map((m) => values[m]);
}

/** A prediction set in which item i appears counts[i] times. */
function expand(pred: Predictions, counts: ArrayLike<number>): Predictions {
  const idx: number[] = [];
  for (let i = 0; i < pred.n; i++) for (let c = 0; c < counts[i]; c++) idx.push(i);
  const take = (a: Float64Array) => Float64Array.from(idx.flatMap((i) => Array.from(a.subarray(i * 4, i * 4 + 4))));
  return {
    n: idx.length,
    logp: take(pred.logp),
    probs: take(pred.probs),
    labels: Uint8Array.from(idx.map((i) => pred.labels[i])),
  };
}

function expectRowClose(actual: ArrayLike<number>, expected: number[]) {
  expected.forEach((v, m) => {
    if (Number.isNaN(v)) expect(actual[m], METRICS[m]).toBeNaN();
    else expect(actual[m], METRICS[m]).toBeCloseTo(v, 11);
  });
}

describe('MetricPool', () => {
  it('with unit weights reproduces every metric of metrics.ts', () => {
    for (const [n, seed, bins] of [
      [1, 1, 15],
      [7, 2, 15],
      [200, 3, 15],
      [200, 4, 1],
      [333, 5, 10],
      [50, 6, 200],
    ]) {
      const pred = randomPredictions(n, seed);
      const pool = new MetricPool([pred], bins);
      const out = new Float64Array(2 * METRIC_COUNT);
      pool.evaluate(new Float64Array(n).fill(1), null, out);
      expectRowClose(out, reference(pred, bins));
      for (let m = METRIC_COUNT; m < 2 * METRIC_COUNT; m++) expect(out[m]).toBeNaN();
    }
  });

  it('with integer weights equals the metrics of the data set with items repeated', () => {
    for (const seed of [11, 12, 13]) {
      const pred = randomPredictions(120, seed);
      const rng = new Rng(seed + 100);
      const counts = Float64Array.from({ length: 120 }, () => rng.nextInt(4)); // 0..3, zeros included
      const pool = new MetricPool([pred], 15, 3);
      const out = new Float64Array(2 * METRIC_COUNT);
      pool.evaluate(counts, null, out);
      expectRowClose(out, reference(expand(pred, counts), 15, 3));
    }
  });

  it('splits a paired pool into both arms, and flip swaps the chosen pairs', () => {
    const a = randomPredictions(90, 21);
    const b = randomPredictions(90, 22, 4);
    b.labels.set(a.labels); // paired: same items, same gold answers
    const pool = new MetricPool([a, b], 15);
    const out = new Float64Array(2 * METRIC_COUNT);
    const ones = new Float64Array(90).fill(1);
    pool.evaluate(ones, null, out);
    expectRowClose(out.subarray(0, METRIC_COUNT), reference(a, 15));
    expectRowClose(out.subarray(METRIC_COUNT), reference(b, 15));

    const flip = Uint8Array.from({ length: 90 }, (_, i) => (i % 3 === 0 ? 1 : 0));
    const swapped = (x: Predictions, y: Predictions): Predictions => {
      const logp = Float64Array.from(x.logp);
      const probs = Float64Array.from(x.probs);
      for (let i = 0; i < 90; i++) {
        if (flip[i]) {
          logp.set(y.logp.subarray(i * 4, i * 4 + 4), i * 4);
          probs.set(y.probs.subarray(i * 4, i * 4 + 4), i * 4);
        }
      }
      return { n: 90, logp, probs, labels: x.labels };
    };
    pool.evaluate(ones, flip, out);
    expectRowClose(out.subarray(0, METRIC_COUNT), reference(swapped(a, b), 15));
    expectRowClose(out.subarray(METRIC_COUNT), reference(swapped(b, a), 15));
  });

  it('gives NaN for a group with no weight', () => {
    const pool = new MetricPool([randomPredictions(5, 1)], 15);
    const out = new Float64Array(2 * METRIC_COUNT);
    pool.evaluate(new Float64Array(5), null, out);
    expect(Array.from(out).every(Number.isNaN)).toBe(true);
  });
});

describe('ascendingOrder', () => {
  it('orders indices by value, ties by index, as a comparator sort on (value, index) does', () => {
    const rng = new Rng(3);
    for (const m of [0, 1, 2, 50, 2000]) {
      for (const distinct of [3, 1000]) {
        const values = Float64Array.from({ length: m }, (_, i) =>
          i % 11 === 0 ? (i % 2 ? -0 : 0) : Math.floor(rng.nextFloat() * distinct) / distinct,
        );
        const expected = Int32Array.from({ length: m }, (_, i) => i).sort((x, y) => values[x] - values[y] || x - y);
        expect(ascendingOrder(values)).toEqual(expected);
      }
    }
  });
});

describe('quantiles and percentile intervals', () => {
  it('interpolates linearly between order statistics (numpy default)', () => {
    expect(quantileSorted([1, 2, 3, 4], 0.5)).toBe(2.5);
    expect(quantileSorted([1, 2, 3, 4], 0.25)).toBe(1.75);
    expect(quantileSorted([1, 2, 3, 4], 0)).toBe(1);
    expect(quantileSorted([1, 2, 3, 4], 1)).toBe(4);
    expect(quantileSorted([5], 0.3)).toBe(5);
    expect(quantileSorted([], 0.5)).toBeNaN();
  });

  it('takes the central interval of the finite values, whatever their order', () => {
    const values = Array.from({ length: 101 }, (_, i) => (i * 37) % 101); // 0..100 shuffled
    const [lo, hi] = percentileInterval(values, 0.9);
    expect(lo).toBeCloseTo(5, 12);
    expect(hi).toBeCloseTo(95, 12);
    expect(percentileInterval([NaN, 3, 1, NaN, 2], 1)).toEqual([1, 3]);
    expect(percentileInterval([NaN], 0.95)).toEqual([NaN, NaN]);
  });

  it.each(['wasm', 'js'] as const)(
    'finds by selection exactly the quantiles sorting gives: ties, signed zeros, infinities, any length (%s)',
    (backend) => {
      onTestFinished(() => setKernelBackend('wasm'));
      setKernelBackend(backend);
      expect(kernelBackend()).toBe(backend);
      const rng = new Rng(11);
      const qs = [0, 0.005, 0.025, 0.05, 0.5, 0.95, 0.975, 0.995, 1];
      const kinds: ((i: number) => number)[] = [
        () => rng.nextFloat() - 0.5, // distinct
        () => Math.floor(rng.nextFloat() * 7) / 100, // few values, many ties
        (i) => [0, -0, 0.25, -0.25, NaN, Infinity, -Infinity][i % 7], // zeros of both signs among the non-finite
        (i) => i, // already sorted: the worst case of a naive pivot
        (i) => -i,
        () => 0.125,
      ];
      let checked = 0;
      for (const kind of kinds) {
        for (const m of [1, 2, 3, 17, 100, 1001, 10000]) {
          const values = Float64Array.from({ length: m }, (_, i) => kind(i));
          const sorted = finiteSorted(values);
          const expected = qs.map((q) => quantileSorted(sorted, q));
          // toEqual tells -0 from +0 (Object.is) and NaN equals NaN.
          expect(finiteQuantiles(values, qs), `${kind} at ${m}`).toEqual(expected);
          checked++;
        }
      }
      expect(checked).toBe(42);
      expect(finiteQuantiles([NaN, Infinity], [0.5])).toEqual([NaN]);
      expect(finiteQuantiles([], [0.5])).toEqual([NaN]);
    },
  );

  it('selects in the kernel by either fallback sort too (insertion for short ranges, heapsort when rounds run out)', () => {
    const rng = new Rng(12);
    const laid = KernelMemory.create([4000 * 8])!;
    const a = new Float64Array(laid.memory.buffer, 0, 4000);
    for (const [m, rounds] of [
      [10, 5], // under 16: insertion sort
      [4000, 0], // no partition allowed: heapsort at once
      [4000, 2],
      [4000, 30],
    ]) {
      for (const k of [0, 1, m >> 1, m - 2, m - 1]) {
        const values = Float64Array.from({ length: m }, () => Math.floor(rng.nextFloat() * 50) / 7 - 3);
        a.set(values);
        laid.memory.exports.selectOrder(0, 0, m, k, rounds);
        const sorted = values.slice().sort();
        expect(a[k], `m ${m}, rounds ${rounds}, k ${k}`).toBe(sorted[k]);
        // Partitioned around k: nothing larger before it, nothing smaller after it.
        expect(a.subarray(0, k).every((v) => v <= a[k])).toBe(true);
        expect(a.subarray(k + 1, m).every((v) => v >= a[k])).toBe(true);
        // A permutation of the input.
        expect(a.slice(0, m).sort()).toEqual(sorted);
      }
    }
  });
});

describe('bootstrap', () => {
  it('is deterministic for a seed and changes with it', () => {
    const pool = new MetricPool([randomPredictions(100, 31)], 15);
    const a = bootstrapMetrics(pool, 100, 50, 7).group0;
    const b = bootstrapMetrics(pool, 100, 50, 7).group0;
    const c = bootstrapMetrics(pool, 100, 50, 8).group0;
    expect(a).toEqual(b);
    expect(a).not.toEqual(c);
  });

  it('each resample equals the metrics of the items it drew', () => {
    const pred = randomPredictions(40, 32);
    const pool = new MetricPool([pred], 15);
    const table = bootstrapMetrics(pool, 40, 3, 99).group0;
    const rng = new Rng(99);
    for (let r = 0; r < 3; r++) {
      const counts = new Float64Array(40);
      for (let j = 0; j < 40; j++) counts[rng.nextInt(40)]++;
      expectRowClose(table.subarray(r * METRIC_COUNT, (r + 1) * METRIC_COUNT), reference(expand(pred, counts), 15));
    }
  });

  it('collapses to the point value when every item is the same', () => {
    const logits = Array.from({ length: 30 }, () => [2, 0, 0, 0]).flat();
    const pred = predictionsFromLogits(logits, new Uint8Array(30));
    const table = bootstrapMetrics(new MetricPool([pred], 15), 30, 200, 1).group0;
    const ece = metricColumn(table, METRICS.indexOf('ece'));
    const [lo, hi] = percentileInterval(ece, 0.95);
    expect(lo).toBeCloseTo(expectedCalibrationError(pred), 12);
    expect(hi).toBeCloseTo(expectedCalibrationError(pred), 12);
  });

  it('covers the true accuracy about 95% of the time (simulation, fixed seeds)', () => {
    // Items correct with probability .7: the 95% percentile CI of accuracy should cover .7 in most of 200 trials.
    let covered = 0;
    for (let t = 0; t < 200; t++) {
      const rng = new Rng(1000 + t);
      const labels = new Uint8Array(200);
      const logits = new Float64Array(800);
      for (let i = 0; i < 200; i++) logits[i * 4 + (rng.nextFloat() < 0.7 ? 0 : 1)] = 1;
      const table = bootstrapMetrics(new MetricPool([predictionsFromLogits(logits, labels)], 15), 200, 400, t).group0;
      const [lo, hi] = percentileInterval(metricColumn(table, METRICS.indexOf('accuracy')), 0.95);
      if (lo <= 0.7 && 0.7 <= hi) covered++;
    }
    expect(covered / 200).toBeGreaterThan(0.88);
    expect(covered / 200).toBeLessThan(0.99);
  });

  it('paired resamples of a paired pool equal the difference of two single pools with the same seed', () => {
    const a = randomPredictions(60, 41);
    const b = randomPredictions(60, 42, 3);
    b.labels.set(a.labels);
    const paired = bootstrapMetrics(new MetricPool([a, b], 15), 60, 20, 5);
    const singleA = bootstrapMetrics(new MetricPool([a], 15), 60, 20, 5).group0;
    const singleB = bootstrapMetrics(new MetricPool([b], 15), 60, 20, 5).group0;
    for (let j = 0; j < singleA.length; j++) {
      expect(paired.group0[j]).toBeCloseTo(singleA[j], 12);
      expect(paired.group1[j]).toBeCloseTo(singleB[j], 12);
    }
  });
});

describe('paired permutation test', () => {
  it('gives p = 1 for identical variants', () => {
    const a = randomPredictions(80, 51);
    const { observed, p } = pairedPermutationTest(new MetricPool([a, a], 15), 80, 99, 3);
    for (let m = 0; m < METRIC_COUNT; m++) {
      expect(observed[m]).toBe(0);
      expect(p[m]).toBe(1);
    }
  });

  it('gives the smallest possible p for a large, consistent difference', () => {
    const n = 100;
    const labels = new Uint8Array(n);
    const good = new Float64Array(n * 4);
    const bad = new Float64Array(n * 4);
    for (let i = 0; i < n; i++) {
      good[i * 4] = 5; // confident and right
      bad[i * 4 + 1] = 5; // confident and wrong
    }
    const { observed, p } = pairedPermutationTest(
      new MetricPool([predictionsFromLogits(good, labels), predictionsFromLogits(bad, labels)], 15),
      n,
      199,
      1,
    );
    expect(observed[METRICS.indexOf('accuracy')]).toBe(1);
    expect(p[METRICS.indexOf('accuracy')]).toBe(1 / 200);
    expect(p[METRICS.indexOf('nll')]).toBe(1 / 200);
  });

  it('counts exactly the permutations at least as extreme, for one pair by enumeration', () => {
    // With one pair, a swap only changes the sign of T, so every permutation is as extreme: p = 1.
    const a = predictionsFromLogits([3, 0, 0, 0], new Uint8Array(1));
    const b = predictionsFromLogits([0, 3, 0, 0], new Uint8Array(1));
    const { observed, p } = pairedPermutationTest(new MetricPool([a, b], 15), 1, 50, 9);
    expect(observed[METRICS.indexOf('accuracy')]).toBe(1);
    expect(p[METRICS.indexOf('accuracy')]).toBe(1);
  });

  it('matches a brute-force replay of the documented swap bits on a small case', () => {
    const a = randomPredictions(6, 61);
    const b = randomPredictions(6, 62, 4);
    b.labels.set(a.labels);
    const R = 40;
    const { observed, p } = pairedPermutationTest(new MetricPool([a, b], 3), 6, R, 77);
    const rng = new Rng(77);
    const obs = reference(a, 3).map((v, m) => v - reference(b, 3)[m]);
    const extreme = new Array(METRIC_COUNT).fill(0);
    for (let r = 0; r < R; r++) {
      let bits = rng.nextUint32();
      const pick = (x: Predictions, y: Predictions): Predictions => {
        const logp = new Float64Array(24);
        const probs = new Float64Array(24);
        for (let i = 0; i < 6; i++) {
          const src = (bits >>> i) & 1 ? y : x;
          logp.set(src.logp.subarray(i * 4, i * 4 + 4), i * 4);
          probs.set(src.probs.subarray(i * 4, i * 4 + 4), i * 4);
        }
        return { n: 6, logp, probs, labels: a.labels };
      };
      const ta = reference(pick(a, b), 3);
      const tb = reference(pick(b, a), 3);
      ta.forEach((v, m) => {
        if (Math.abs(v - tb[m]) >= Math.abs(obs[m]) - 1e-12) extreme[m]++;
      });
      bits = 0;
    }
    for (let m = 0; m < METRIC_COUNT; m++) {
      expect(observed[m]).toBeCloseTo(obs[m], 12);
      expect(p[m]).toBe((1 + extreme[m]) / (R + 1));
    }
  });

  it('is deterministic for a seed', () => {
    const a = randomPredictions(70, 71);
    const b = randomPredictions(70, 72, 1);
    b.labels.set(a.labels);
    const pool = new MetricPool([a, b], 15);
    expect(pairedPermutationTest(pool, 70, 300, 4).p).toEqual(pairedPermutationTest(pool, 70, 300, 4).p);
  });
});
