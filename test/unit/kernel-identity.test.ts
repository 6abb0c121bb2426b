/**
 * The fast resampling kernel, on both its backends (WebAssembly and JavaScript), against the kernel as it was
 * (test/support/reference-kernel.ts): every bootstrap row and every permutation p must be the same double, bit for bit, on inputs with ties, empty bins, zero
 * weights, n < bins and a high MCE minimum count. The reference itself is tested against metrics.ts in
 * stats.test.ts.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { kernelBackend, setKernelBackend } from '../../src/core/kernel-wasm';
import { predictionsFromLogits, predictionsFromProbabilities, type Predictions } from '../../src/core/metrics';
import {
  METRIC_COUNT,
  MetricPool,
  bootstrapMetrics,
  pairedPermutationTest,
  permutationExtremes,
} from '../../src/core/stats';
import { Rng } from '../../src/core/random';
import * as ref from '../support/reference-kernel';
import {
  analyzeVariants,
  assembleReport,
  planAnalysis,
  runAnalysisJob,
  type AnalysisJob,
} from '../../src/core/analysis';
import { pairedVariant, syntheticVariant } from '../support/synthetic';

function randomPredictions(n: number, seed: number, sharpness = 2, labels?: Uint8Array): Predictions {
  const rng = new Rng(seed);
  const logits = new Float64Array(n * 4);
  const y = labels ?? new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    if (!labels) y[i] = rng.nextInt(4);
    for (let k = 0; k < 4; k++) logits[i * 4 + k] = sharpness * (rng.nextFloat() * 2 - 1) + (k === y[i] ? 1 : 0);
    if (i > 0 && rng.nextFloat() < 0.15) logits.copyWithin(i * 4, (i - 1) * 4, i * 4); // tied confidences
  }
  return predictionsFromLogits(logits, y);
}

/** Same double in every position (Object.is: NaN equals NaN, 0 differs from -0). */
function expectBitIdentical(actual: Float64Array, expected: Float64Array, what: string) {
  expect(actual.length, what).toBe(expected.length);
  const differing = [];
  for (let i = 0; i < actual.length; i++)
    if (!Object.is(actual[i], expected[i])) differing.push([i, actual[i], expected[i]]);
  expect(differing.slice(0, 5), `${what}: ${differing.length} values differ`).toEqual([]);
}

const cases: [n: number, bins: number, minCount: number, sharpness: number][] = [
  [1, 15, 1, 2],
  [2, 15, 1, 2],
  [9, 15, 1, 3],
  [40, 15, 3, 2],
  [157, 10, 1, 0.5],
  [300, 15, 1, 4],
  [64, 1, 1, 2],
  [80, 255, 2, 2],
];

// Both backends of MetricPool (kernel-wasm.ts): the WebAssembly loops and the JavaScript ones.
describe.each(['wasm', 'js'] as const)('%s kernel backend', (backend) => {
  beforeAll(() => setKernelBackend(backend));
  afterAll(() => setKernelBackend('wasm'));

  it('is the backend in use (WebAssembly compiles in Node)', () => {
    expect(kernelBackend()).toBe(backend);
  });

  describe('fast kernel, bit for bit against the reference kernel', () => {
    it('bootstrap rows of single and paired pools', () => {
      for (const [n, bins, minCount, sharpness] of cases) {
        const a = randomPredictions(n, n * 7 + bins, sharpness);
        const b = randomPredictions(n, n * 7 + bins + 1, sharpness * 1.7, a.labels);
        for (const sets of [[a], [a, b]]) {
          const fast = bootstrapMetrics(new MetricPool(sets, bins, minCount), n, 61, n + 3);
          const slow = ref.bootstrapMetrics(new ref.ReferencePool(sets, bins, minCount), n, 61, n + 3);
          expectBitIdentical(fast.group0, slow.group0, `n ${n} bins ${bins} sets ${sets.length} group 0`);
          expectBitIdentical(fast.group1, slow.group1, `n ${n} bins ${bins} sets ${sets.length} group 1`);
        }
      }
    });

    it('evaluateSides and evaluateSwapped equal evaluate for any weights and swaps', () => {
      const rng = new Rng(5);
      for (const [n, bins, minCount] of cases) {
        const a = randomPredictions(n, n + 100);
        const b = randomPredictions(n, n + 101, 5, a.labels);
        const pool = new MetricPool([a, b], bins, minCount);
        const reference = new ref.ReferencePool([a, b], bins, minCount);
        const fast = new Float64Array(2 * METRIC_COUNT);
        const slow = new Float64Array(2 * METRIC_COUNT);
        for (let t = 0; t < 20; t++) {
          const weights = Float64Array.from({ length: n }, () => rng.nextInt(4));
          pool.evaluateSides(weights, fast);
          reference.evaluate(weights, null, slow);
          expectBitIdentical(fast, slow, `n ${n} weights`);
          const flip = Uint8Array.from({ length: n }, () => rng.nextInt(2));
          pool.evaluateSwapped(flip, fast);
          reference.evaluate(new Float64Array(n).fill(1), flip, slow);
          expectBitIdentical(fast, slow, `n ${n} flip`);
        }
      }
    });

    it('draws in the kernel (resample4, permute4) are the draws of this thread, lane by lane', () => {
      for (const [n, bins, minCount] of cases) {
        const a = randomPredictions(n, n + 300);
        const b = randomPredictions(n, n + 301, 3, a.labels);
        const pool = new MetricPool([a, b], bins, minCount);
        const W = 2 * METRIC_COUNT;
        const drawn = new Float64Array(4 * W);
        const here = new Float64Array(4 * W);
        const rng = new Rng(n + 7);
        const mirror = new Rng(n + 7);
        // Resamples as bootstrapMetrics draws them on this thread: counts of `n` draws each, in turn.
        const counts = [0, 1, 2, 3].map(() => new Float64Array(n));
        const ok = pool.resample4(rng, drawn);
        expect(ok).toBe(backend === 'wasm');
        if (!ok) continue;
        for (const c of counts) mirror.drawInts(n, n, c);
        pool.evaluateSides4(counts[0], counts[1], counts[2], counts[3], here);
        expectBitIdentical(drawn, here, `n ${n} resample4`);
        // Permutations as permutationExtremes draws them: one word per 32 pairs, low bit first, each in turn.
        expect(pool.permute4(rng, drawn)).toBe(true);
        const flips = [0, 1, 2, 3].map(() => {
          const flip = new Uint8Array(n);
          for (let j = 0; j < n; j += 32) {
            let bits = mirror.nextUint32();
            for (let i = j; i < Math.min(n, j + 32); i++, bits >>>= 1) flip[i] = bits & 1;
          }
          return flip;
        });
        pool.evaluateSwapped4(flips[0], flips[1], flips[2], flips[3], here);
        expectBitIdentical(drawn, here, `n ${n} permute4`);
        // Both streams have moved on alike.
        expect(rng.nextUint32()).toBe(mirror.nextUint32());
      }
    });

    it('four at a time (evaluateSides4, evaluateSwapped4) equal evaluate for each of the four', () => {
      const rng = new Rng(6);
      for (const [n, bins, minCount] of cases) {
        const a = randomPredictions(n, n + 200);
        const b = randomPredictions(n, n + 201, 3, a.labels);
        const pool = new MetricPool([a, b], bins, minCount);
        const reference = new ref.ReferencePool([a, b], bins, minCount);
        const W = 2 * METRIC_COUNT;
        const four = new Float64Array(4 * W);
        const slow = new Float64Array(W);
        for (let t = 0; t < 10; t++) {
          const weights = [0, 1, 2, 3].map(() => Float64Array.from({ length: n }, () => rng.nextInt(4)));
          pool.evaluateSides4(weights[0], weights[1], weights[2], weights[3], four);
          weights.forEach((w, q) => {
            reference.evaluate(w, null, slow);
            expectBitIdentical(four.subarray(q * W, (q + 1) * W), slow, `n ${n} weights, lane ${q}`);
          });
          const flips = [0, 1, 2, 3].map(() => Uint8Array.from({ length: n }, () => rng.nextInt(2)));
          pool.evaluateSwapped4(flips[0], flips[1], flips[2], flips[3], four);
          flips.forEach((flip, q) => {
            reference.evaluate(new Float64Array(n).fill(1), flip, slow);
            expectBitIdentical(four.subarray(q * W, (q + 1) * W), slow, `n ${n} flips, lane ${q}`);
          });
        }
      }
    });

    it('weights the WebAssembly loops cannot hold (fractions, counts above 65,535) take the JavaScript ones', () => {
      const a = randomPredictions(50, 7);
      const b = randomPredictions(50, 8, 5, a.labels);
      const pool = new MetricPool([a, b], 15, 1);
      const reference = new ref.ReferencePool([a, b], 15, 1);
      const fast = new Float64Array(4 * 2 * METRIC_COUNT);
      const slow = new Float64Array(2 * METRIC_COUNT);
      const rng = new Rng(9);
      const lanes = [
        Float64Array.from({ length: 50 }, () => rng.nextInt(3) + 0.5),
        Float64Array.from({ length: 50 }, (_, i) => (i === 3 ? 70_000 : rng.nextInt(3))),
        Float64Array.from({ length: 50 }, () => rng.nextInt(3)),
        Float64Array.from({ length: 50 }, () => rng.nextInt(3)),
      ];
      for (const weights of lanes.slice(0, 2)) {
        pool.evaluateSides(weights, fast);
        reference.evaluate(weights, null, slow);
        expectBitIdentical(fast.subarray(0, 2 * METRIC_COUNT), slow, 'one weighting');
      }
      pool.evaluateSides4(lanes[0], lanes[1], lanes[2], lanes[3], fast);
      lanes.forEach((weights, q) => {
        reference.evaluate(weights, null, slow);
        const row = fast.subarray(q * 2 * METRIC_COUNT, (q + 1) * 2 * METRIC_COUNT);
        expectBitIdentical(row, slow, `lane ${q} of four`);
      });
    });

    it('permutation p-values and observed differences', () => {
      for (const [n, bins, minCount, sharpness] of cases) {
        const a = randomPredictions(n, n * 3 + 1, sharpness);
        const b = randomPredictions(n, n * 3 + 2, sharpness * 1.3, a.labels);
        const fast = pairedPermutationTest(new MetricPool([a, b], bins, minCount), n, 199, 11);
        const slow = ref.pairedPermutationTest(new ref.ReferencePool([a, b], bins, minCount), n, 199, 11);
        expectBitIdentical(fast.observed, slow.observed, `n ${n} observed`);
        expectBitIdentical(fast.p, slow.p, `n ${n} p`);
      }
    });

    it('confidences exactly on bin edges and all-tied items', () => {
      // Rows whose top probability is exactly b/15 or 0.5, repeated: every tie and edge rule is exercised.
      const rows: number[] = [];
      const y: number[] = [];
      for (let i = 0; i < 60; i++) {
        const top = [0.4, 0.5, 0.6, 1 / 3 + 1 / 15, 0.8][i % 5];
        const rest = (1 - top) / 3;
        rows.push(top, rest, rest, rest);
        y.push(i % 4);
      }
      const a = predictionsFromProbabilities(rows, Uint8Array.from(y));
      const b = predictionsFromProbabilities(
        rows.map((_, j) => rows[(j + 4) % rows.length]),
        Uint8Array.from(y),
      );
      const fast = bootstrapMetrics(new MetricPool([a, b], 15), 60, 40, 2);
      const slow = ref.bootstrapMetrics(new ref.ReferencePool([a, b], 15), 60, 40, 2);
      expectBitIdentical(fast.group0, slow.group0, 'edges group 0');
      expectBitIdentical(fast.group1, slow.group1, 'edges group 1');
      const pFast = pairedPermutationTest(new MetricPool([a, b], 15), 60, 99, 3).p;
      expectBitIdentical(pFast, ref.pairedPermutationTest(new ref.ReferencePool([a, b], 15), 60, 99, 3).p, 'edges p');
    });
  });

  describe('large item sets (one resample at a time, not four)', () => {
    it('bootstrap rows and permutation p of 5,000 paired items', () => {
      const a = randomPredictions(5000, 90);
      const b = randomPredictions(5000, 91, 3, a.labels);
      const fast = bootstrapMetrics(new MetricPool([a, b], 15), 5000, 6, 1);
      const slow = ref.bootstrapMetrics(new ref.ReferencePool([a, b], 15), 5000, 6, 1);
      expectBitIdentical(fast.group0, slow.group0, '5,000 items group 0');
      expectBitIdentical(fast.group1, slow.group1, '5,000 items group 1');
      const pFast = pairedPermutationTest(new MetricPool([a, b], 15), 5000, 9, 2).p;
      expectBitIdentical(
        pFast,
        ref.pairedPermutationTest(new ref.ReferencePool([a, b], 15), 5000, 9, 2).p,
        '5,000 items p',
      );
    });
  });

  it('four permutations of 5,000 pairs drawn in the kernel, lane by lane (its group masks made as read)', () => {
    const a = randomPredictions(5000, 92);
    const b = randomPredictions(5000, 93, 3, a.labels);
    const pool = new MetricPool([a, b], 15);
    const drawn = new Float64Array(8 * METRIC_COUNT);
    const here = new Float64Array(8 * METRIC_COUNT);
    const rng = new Rng(17);
    const mirror = new Rng(17);
    if (!pool.permute4(rng, drawn)) {
      expect(backend).toBe('js');
      return;
    }
    const flips = [0, 1, 2, 3].map(() => {
      const flip = new Uint8Array(5000);
      for (let j = 0; j < 5000; j += 32) {
        let bits = mirror.nextUint32();
        for (let i = j; i < Math.min(5000, j + 32); i++, bits >>>= 1) flip[i] = bits & 1;
      }
      return flip;
    });
    pool.evaluateSwapped4(flips[0], flips[1], flips[2], flips[3], here);
    const one = new Float64Array(2 * METRIC_COUNT);
    pool.evaluate(new Float64Array(5000).fill(1), flips[2], one);
    expectBitIdentical(drawn, here, '5,000 pairs permute4');
    expectBitIdentical(drawn.subarray(4 * METRIC_COUNT, 6 * METRIC_COUNT), one, '5,000 pairs, permutation 2');
  });

  describe('chunks of a resampling run', () => {
    it('bootstrap chunks concatenate to the rows of one run', () => {
      const a = randomPredictions(50, 1);
      const pool = new MetricPool([a], 15);
      const whole = bootstrapMetrics(pool, 50, 30, 9).group0;
      const parts = [
        [0, 7],
        [7, 16],
        [23, 7],
      ].map(([first, count]) => bootstrapMetrics(pool, 50, count, 9, first).group0);
      const joined = new Float64Array(whole.length);
      let at = 0;
      for (const part of parts) {
        joined.set(part, at);
        at += part.length;
      }
      expectBitIdentical(joined, whole, 'chunks');
    });

    it('permutation counts of chunks add up to the count of one run', () => {
      const a = randomPredictions(70, 2);
      const b = randomPredictions(70, 3, 4, a.labels);
      const pool = new MetricPool([a, b], 15);
      const whole = permutationExtremes(pool, 70, 100, 4);
      const sum = new Float64Array(METRIC_COUNT);
      for (const [first, count] of [
        [0, 33],
        [33, 33],
        [66, 34],
      ]) {
        permutationExtremes(pool, 70, count, 4, first).extreme.forEach((e, m) => (sum[m] += e));
      }
      expectBitIdentical(sum, whole.extreme, 'extremes');
    });
  });

  describe('the whole report', () => {
    it('is exactly the report of the reference kernel (every CI, every p), with items not shared too', () => {
      const base = { ...syntheticVariant({ n: 240, seed: 8, sharpness: 1.4 }), name: 'base' };
      const sft = pairedVariant(base, 9, 1.9, 'sft');
      const partial = { ...pairedVariant(base, 10, 0.8, 'grpo'), items: base.items.slice(30).map((it) => ({ ...it })) };
      const settings = { bootstrap: 120, permutations: 119, seed: 3 };
      const variants = [base, sft, partial];
      const plan = planAnalysis(variants, settings);
      // The reference is the binned-metric kernel; smooth ECE's resampling jobs have their own code and tests.
      const reference = (job: AnalysisJob) =>
        job.kind === 'bootstrap' || job.kind === 'permutation' ? ref.referenceRunJob(job) : runAnalysisJob(job);
      expect(analyzeVariants(variants, settings)).toEqual(assembleReport(plan, plan.jobs.map(reference)));
    });
  });
});
