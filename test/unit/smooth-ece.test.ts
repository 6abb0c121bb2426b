import { readFileSync } from 'node:fs';
import { describe, expect, it, onTestFinished } from 'vitest';
import { kernelBackend, setKernelBackend } from '../../src/core/kernel-wasm';
import { predictionsFromProbabilities } from '../../src/core/metrics';
import { Rng } from '../../src/core/random';
import {
  SMOOTH_BLOCK,
  SmoothEcePool,
  smoothDiscretisation,
  smoothCalibrationError,
  smoothCalibrationErrorAt,
} from '../../src/core/smooth-ece';

/** Predictions whose top-label confidence is f (on letter A) and that are correct where y = 1. */
function topLabelSet(f: readonly number[], y: readonly number[]) {
  const probs = f.flatMap((c) => [c, (1 - c) / 3, (1 - c) / 3, (1 - c) / 3]);
  return predictionsFromProbabilities(
    probs,
    Uint8Array.from(y, (ok) => (ok ? 0 : 1)),
  );
}

interface OracleCase {
  name: string;
  f: number[];
  y: number[];
  smooth_ece: number;
  sigma: number;
  at: Record<string, number>;
}
// Written by test/fixtures/smooth-ece/relplot_oracle.py, a numpy reimplementation of relplot's smECE.
const cases = JSON.parse(
  readFileSync(new URL('../fixtures/smooth-ece/cases.json', import.meta.url), 'utf8'),
) as OracleCase[];

describe('smooth ECE (Błasiok & Nakkiran 2023, relplot)', () => {
  it('is |acc - conf| when every item has the same confidence (all correct, all wrong)', () => {
    // One point mass: the smoothed residual is (c - y) times the smoothed density everywhere, so
    // smECE = |c - acc| * S / (S + E * 1e-4) with S the summed density, within 1e-7 of |c - acc| for n = 1000.
    const n = 1000;
    const right = topLabelSet(Array(n).fill(0.8), Array(n).fill(1));
    expect(smoothCalibrationErrorAt(right, 0.1)).toBeCloseTo(0.2, 6);
    const wrong = topLabelSet(Array(n).fill(0.8), Array(n).fill(0));
    expect(smoothCalibrationErrorAt(wrong, 0.1)).toBeCloseTo(0.8, 6);
    expect(smoothCalibrationErrorAt(wrong, 0.1)).toBeLessThan(0.8);
  });

  it('is exactly 0 when residuals cancel at every point, and the search then ends at its smallest bandwidth', () => {
    const half = topLabelSet([0.5, 0.5, 0.5, 0.5], [1, 0, 1, 0]);
    expect(smoothCalibrationErrorAt(half, 0.05)).toBe(0);
    // sigma >= smECE_sigma = 0 for every sigma, so each bisection step moves down, until 1/1024 < eps = 0.001:
    // the search ends at 2/1024 (relplot and the oracle give the same).
    expect(smoothCalibrationError(half)).toEqual({ value: 0, sigma: 2 / 1024 });
  });

  it('matches the numpy oracle of relplot: value, bandwidth and fixed-bandwidth values', () => {
    expect(cases.map((c) => c.name)).toEqual(['overconfident-300', 'calibrated-1000', 'near-one-200', 'three-items']);
    for (const c of cases) {
      const pred = topLabelSet(c.f, c.y);
      const { value, sigma } = smoothCalibrationError(pred);
      expect(sigma, c.name).toBe(c.sigma);
      expect(Math.abs(value - c.smooth_ece), c.name).toBeLessThan(1e-12);
      for (const [s, expected] of Object.entries(c.at)) {
        expect(Math.abs(smoothCalibrationErrorAt(pred, Number(s)) - expected), `${c.name} at ${s}`).toBeLessThan(1e-12);
      }
      // The bandwidth is the fixed point relplot searches for: sigma ~ smECE_sigma, to the bisection's 1/1024.
      expect(Math.abs(sigma - value)).toBeLessThan(2 / 1024);
    }
  });

  it('weights repeat items: the pool at a fixed bandwidth equals the repeated data set', () => {
    const c = cases[0];
    const pred = topLabelSet(c.f, c.y);
    const weights = c.f.map((_, i) => (i * 7) % 3);
    const repeatedF = c.f.flatMap((f, i) => Array(weights[i]).fill(f));
    const repeatedY = c.y.flatMap((y, i) => Array(weights[i]).fill(y));
    const pool = new SmoothEcePool(pred, 0.0625);
    expect(pool.evaluate(weights)).toBeCloseTo(smoothCalibrationErrorAt(topLabelSet(repeatedF, repeatedY), 0.0625), 13);
    expect(pool.evaluate(new Float64Array(c.f.length).fill(1))).toBeCloseTo(smoothCalibrationErrorAt(pred, 0.0625), 14);
    // Both exact paths (item by item for small sets, through the grid for large ones) agree: 3,000 items take the grid.
    const big = topLabelSet(
      Array.from({ length: 3000 }, (_, i) => c.f[i % c.f.length]),
      Array.from({ length: 3000 }, (_, i) => c.y[i % c.y.length]),
    );
    const bigWeights = Array.from({ length: 3000 }, (_, i) => (i * 5) % 4);
    const small = new SmoothEcePool(pred, 0.0625);
    const smallWeights = Array.from({ length: c.f.length }, (_, i) =>
      bigWeights.filter((_, j) => j % c.f.length === i).reduce((a, b) => a + b, 0),
    );
    expect(new SmoothEcePool(big, 0.0625).evaluate(bigWeights)).toBeCloseTo(small.evaluate(smallWeights), 13);
    expect(pool.evaluate(new Float64Array(c.f.length))).toBeNaN();
  });

  it.each(['wasm', 'js'] as const)(
    'evaluates a block of weightings to the same doubles as one at a time, on both paths (%s backend)',
    (backend) => {
      setKernelBackend(backend);
      onTestFinished(() => setKernelBackend('wasm'));
      expect(kernelBackend()).toBe(backend);
      const rng = new Rng(5);
      // 300 items take the item path, 1,500 the grid path (whose values are relplot's grid computation itself, as
      // smoothCalibrationErrorAt computes it in JavaScript: the WebAssembly pass must give the same doubles).
      for (const n of [300, 1500]) {
        const f = Array.from({ length: n }, () => 0.25 + 0.75 * rng.nextFloat());
        const y = f.map((c) => (rng.nextFloat() < c ? 1 : 0));
        const pred = topLabelSet(f, y);
        const sigma = smoothCalibrationError(pred).sigma;
        const pool = new SmoothEcePool(pred, sigma);
        const draws = Array.from({ length: SMOOTH_BLOCK + 3 }, (_, q) => {
          const w = new Float64Array(n);
          if (q !== 2) for (let j = 0; j < n; j++) w[rng.nextInt(n)]++;
          return w; // weighting 2 is all zero: NaN
        });
        const singles = draws.map((w) => pool.evaluate(w));
        const block = new Float64Array(SMOOTH_BLOCK);
        pool.evaluateBlock(draws.slice(0, SMOOTH_BLOCK), block);
        expect(Array.from(block)).toEqual(singles.slice(0, SMOOTH_BLOCK));
        const tail = new Float64Array(SMOOTH_BLOCK);
        pool.evaluateBlock(draws.slice(SMOOTH_BLOCK), tail);
        expect(Array.from(tail.subarray(0, 3))).toEqual(singles.slice(SMOOTH_BLOCK));
        expect(singles[2]).toBeNaN();
        for (const [q, w] of draws.entries()) {
          if (q === 2) continue;
          const direct = smoothCalibrationErrorAt(pred, sigma, w);
          if (n === 1500) expect(singles[q]).toBe(direct);
          else expect(singles[q]).toBeCloseTo(direct, 14);
        }
        expect(() => pool.evaluateBlock(draws, block)).toThrow(/at most 8/);
      }
    },
  );

  it('computes each bandwidth without building its weights, to the doubles of the built weights (both backends)', () => {
    onTestFinished(() => setKernelBackend('wasm'));
    const rng = new Rng(9);
    // 3,000 items: the pools take the grid path, which reads the built weights (buildDiscretisation). Confidences
    // spread over [0.25, 1], crowded at 1 (rows reflected at the top end), and all at one value.
    const sets = [
      Array.from({ length: 3000 }, () => 0.25 + 0.75 * rng.nextFloat()),
      Array.from({ length: 3000 }, (_, i) => (i % 3 === 0 ? 1 : 1 - 0.05 * rng.nextFloat())),
      Array.from({ length: 3000 }, () => 0.6),
    ];
    let compared = 0;
    for (const f of sets) {
      const pred = topLabelSet(
        f,
        f.map((c) => (rng.nextFloat() < c ? 1 : 0)),
      );
      const ones = new Float64Array(f.length).fill(1);
      for (const sigma of [1, 0.5, 0.2, 0.0625, 0.03125, 0.01, 0.002]) {
        const values = (['wasm', 'js'] as const).flatMap((backend) => {
          setKernelBackend(backend);
          return [smoothCalibrationErrorAt(pred, sigma), new SmoothEcePool(pred, sigma).evaluate(ones)];
        });
        expect(values[0], `sigma ${sigma}`).toBeGreaterThan(0);
        expect(values, `sigma ${sigma}`).toEqual([values[0], values[0], values[0], values[0]]);
        compared++;
      }
    }
    expect(compared).toBe(21);
  });

  it('builds the same kernel-weight tables on both backends, reach included', () => {
    onTestFinished(() => setKernelBackend('wasm'));
    let cells = 0;
    for (const sigma of [1, 0.37, 0.1, 0.0625, 0.01, 0.002]) {
      const [wasm, js] = (['wasm', 'js'] as const).map((backend) => {
        setKernelBackend(backend);
        return smoothDiscretisation(sigma);
      });
      // Two tables, one per backend (not.toBe would deep-compare them on passing: seconds).
      expect(wasm === js).toBe(false);
      const arrays = (d: typeof wasm) => [
        d.first,
        d.length,
        d.offsets,
        d.weights,
        d.columnSums,
        d.reach.first,
        d.reach.end,
      ];
      const [a, b] = [arrays(wasm), arrays(js)];
      // Bit for bit (byte equality; toEqual takes seconds on a million elements): the first differing byte, if any.
      a.forEach((x, i) => {
        const [p, q] = [
          new Uint8Array(x.buffer, x.byteOffset, x.byteLength),
          new Uint8Array(b[i].buffer, b[i].byteOffset, b[i].byteLength),
        ];
        expect(p.length, `sigma ${sigma} array ${i}`).toBe(q.length);
        expect(
          p.findIndex((v, j) => v !== q[j]),
          `sigma ${sigma} array ${i}`,
        ).toBe(-1);
      });
      // The table is not trivially empty: every node is read by some row, and the weights are not all zero.
      expect(wasm.reach.first.every((k) => k < wasm.evalPoints)).toBe(true);
      expect(wasm.weights.some((w) => w > 0)).toBe(true);
      cells += wasm.weights.length;
    }
    expect(cells).toBeGreaterThan(100_000);
  });

  it('draws bootstrap resamples in the kernel as the JavaScript draws them, and evaluates them alike', () => {
    const rng = new Rng(21);
    const n = 3000; // the grid path, where the kernel draws
    const f = Array.from({ length: n }, () => 0.25 + 0.75 * rng.nextFloat());
    const pred = topLabelSet(
      f,
      f.map((c) => (rng.nextFloat() < c ? 1 : 0)),
    );
    const sigma = smoothCalibrationError(pred).sigma;
    const pool = new SmoothEcePool(pred, sigma);
    const [inKernel, inScript] = [new Rng(77), new Rng(77)];
    const out = new Float64Array(SMOOTH_BLOCK);
    for (const count of [SMOOTH_BLOCK, 3]) {
      const drawn = pool.drawBlock(inKernel, count, out)!;
      expect(drawn).toHaveLength(count);
      for (let q = 0; q < count; q++) {
        const weights = new Float64Array(n);
        inScript.drawInts(n, n, weights);
        expect(Array.from(drawn[q])).toEqual(Array.from(weights));
        expect(out[q]).toBe(pool.evaluate(weights));
      }
    }
    // Both streams go on from the same place.
    expect(inKernel.nextUint32()).toBe(inScript.nextUint32());
    // Elsewhere (the JavaScript backend) nothing is drawn.
    onTestFinished(() => setKernelBackend('wasm'));
    setKernelBackend('js');
    const before = new Rng(5);
    expect(new SmoothEcePool(pred, sigma).drawBlock(before, 2, out)).toBeNull();
    expect(before.nextUint32()).toBe(new Rng(5).nextUint32());
  });

  it('gives NaN for no items and refuses a bandwidth outside (0, 1]', () => {
    const empty = topLabelSet([], []);
    expect(smoothCalibrationError(empty).value).toBeNaN();
    expect(() => smoothCalibrationErrorAt(topLabelSet([0.7], [1]), 0)).toThrow(/sigma must be in \(0, 1\]/);
  });
});
