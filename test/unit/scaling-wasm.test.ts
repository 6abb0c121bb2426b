/**
 * The matrix scaler's objective on its WebAssembly backend (src/wasm/scaling.ts) against its JavaScript
 * definition (src/core/scaling-objectives.ts), and the kernel's exp and log against src/core/detmath.ts: every
 * double the same, bit for bit (Object.is, so NaN equals NaN and 0 differs from -0).
 */
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { exp, log } from '../../src/core/detmath';
import { KernelMemory, kernelBackend, setKernelBackend, type KernelExports } from '../../src/core/kernel-wasm';
import { predictionsFromLogits } from '../../src/core/metrics';
import { Rng } from '../../src/core/random';
import { crossFitScaling, identityParameters, scalingObjective, type FittedScaler } from '../../src/core/scaling';
import { syntheticVariant } from '../../src/core/synthetic';

const K = 4;
const P = K * K + K;

/**
 * Every kernel memory made while this file runs counts its matrixObjective calls, so a test can tell that the
 * WebAssembly backend really ran (its results are, by design, indistinguishable from the JavaScript ones).
 */
let kernelCalls = 0;
const create = KernelMemory.create.bind(KernelMemory);
beforeAll(() => {
  vi.spyOn(KernelMemory, 'create').mockImplementation((byteLengths) => {
    const laid = create(byteLengths);
    if (laid) {
      const exports = laid.memory.exports;
      (laid.memory as { exports: KernelExports }).exports = {
        ...exports,
        matrixObjective: (...args) => {
          kernelCalls++;
          return exports.matrixObjective(...args);
        },
      };
    }
    return laid;
  });
  setKernelBackend('wasm');
  // Without WebAssembly both sides of every comparison below would be the JavaScript loop.
  expect(kernelBackend()).toBe('wasm');
});
afterAll(() => {
  vi.restoreAllMocks();
  setKernelBackend('wasm');
});

/** The first position where two arrays differ (Object.is), or null. */
function firstDifference(actual: ArrayLike<number>, expected: ArrayLike<number>): [number, number, number] | null {
  expect(actual.length).toBe(expected.length);
  for (let i = 0; i < actual.length; i++) if (!Object.is(actual[i], expected[i])) return [i, actual[i], expected[i]];
  return null;
}

const bits = new DataView(new ArrayBuffer(8));
function fromBits(hi: number, lo: number): number {
  bits.setUint32(0, hi >>> 0);
  bits.setUint32(4, lo >>> 0);
  return bits.getFloat64(0);
}
/** The double `steps` representable values above x (below for negative steps), for finite x > 0. */
function ulpStep(x: number, steps: number): number {
  bits.setFloat64(0, x);
  bits.setBigInt64(0, bits.getBigInt64(0) + BigInt(steps));
  return bits.getFloat64(0);
}
/** x and its neighbours within 3 ulps, for finite x > 0 and its negation when `signed`. */
function around(x: number, signed = false): number[] {
  const out: number[] = [];
  for (let s = -3; s <= 3; s++) out.push(ulpStep(x, s));
  return signed ? [...out, ...out.map((v) => -v)] : out;
}

function normal(rng: Rng): number {
  const u = 1 - rng.nextFloat();
  const v = rng.nextFloat();
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
}

const LN2 = 0.6931471805599453;
const SPECIALS = [0, -0, Infinity, -Infinity, NaN, Number.MIN_VALUE, -Number.MIN_VALUE, Number.MAX_VALUE];

describe('kernel detExp and detLog', () => {
  let kernel: KernelExports;
  beforeAll(() => {
    kernel = KernelMemory.create([8])!.memory.exports;
  });

  /** Inputs spread over every exponent: random bit patterns (incl. NaNs and subnormals) and random magnitudes. */
  function wideInputs(seed: number): number[] {
    const rng = new Rng(seed);
    const out: number[] = [];
    for (let i = 0; i < 50_000; i++) out.push(fromBits(rng.nextUint32(), rng.nextUint32()));
    for (let i = 0; i < 50_000; i++) out.push((rng.nextFloat() * 2 - 1) * 2 ** (rng.nextFloat() * 40 - 30));
    return out;
  }

  it('exp is detmath exp, bit for bit', () => {
    const rng = new Rng(1);
    const xs = [...SPECIALS, ...wideInputs(2)];
    for (let i = 0; i < 50_000; i++) xs.push((rng.nextFloat() * 2 - 1) * 750, (rng.nextFloat() * 2 - 1) * 40);
    for (let i = 0; i < 5_000; i++) xs.push(709 + rng.nextFloat(), -745.2 + 40 * rng.nextFloat());
    // Overflow and underflow thresholds, the k = 1024 and k < -1021 scalings, the reduction's branch points
    // (|x| = ln2/2, 3 ln2/2, 2^-28) and the rounding of k (x = (m + 1/2) ln2).
    xs.push(...around(7.09782712893383973096e2), ...around(7.4513321910194110842e2).map((v) => -v));
    xs.push(...around(1024 * LN2), ...around(1023.5 * LN2), ...around(1021 * LN2).map((v) => -v));
    xs.push(...around(1021.5 * LN2).map((v) => -v), ...around(1070 * LN2).map((v) => -v));
    xs.push(...around(0.5 * LN2, true), ...around(1.5 * LN2, true), ...around(3.725290298461914e-9, true));
    for (let m = -1075; m <= 1025; m++) xs.push(...around(Math.abs(m + 0.5) * LN2).map((v) => Math.sign(m + 0.5) * v));
    const actual = xs.map((x) => kernel.detExp(x));
    expect(firstDifference(actual, xs.map(exp))).toBeNull();
    // By hand: e^0 = 1 exactly, e^-Infinity = 0, and past ln(MAX_VALUE) it overflows.
    expect([kernel.detExp(-0), kernel.detExp(-Infinity), kernel.detExp(710)]).toEqual([1, 0, Infinity]);
  });

  it('log is detmath log, bit for bit', () => {
    const rng = new Rng(3);
    const xs = [...SPECIALS, -1, ...wideInputs(4)];
    for (let i = 0; i < 50_000; i++) xs.push(rng.nextFloat() * 1e6, 1 + (rng.nextFloat() * 2 - 1) * 2 ** -18);
    // Near 1 (f = 0 and the |f| < 2^-20 shortcut), powers of two, the subnormal boundary and scaling, the
    // normalisation boundary near sqrt(2) (high word 0x6a09c) and the branches on the high word's last 20 bits.
    xs.push(...around(1), ...around(1 + 2 ** -20), ...around(1 - 2 ** -20), ...around(Math.SQRT2));
    for (let e = -1074; e <= 1023; e++) xs.push(...around(2 ** e));
    xs.push(...around(2 ** -1022 - 2 ** -1074), ...around(2 ** -1030 * 3));
    for (const high of [0x6147a, 0x6147b, 0x6b851, 0x6b852, 0x6a09c, 0x6a09d, 0x00001, 0x00002, 0xffffd, 0xffffe]) {
      for (const exponent of [0x3fe, 0x3ff, 0x400, 0x001, 0x7fe])
        xs.push(...around(fromBits((exponent << 20) | high, 0)));
    }
    const actual = xs.map((x) => kernel.detLog(x));
    expect(firstDifference(actual, xs.map(log))).toBeNull();
    // By hand: log 1 = +0, log of +-0 is -Infinity, of a negative number NaN, and log e^2 = 2 to the ulp.
    const byHand = [kernel.detLog(1), kernel.detLog(-0), kernel.detLog(-1), kernel.detLog(Math.E * Math.E)];
    expect(byHand).toEqual([0, -Infinity, NaN, 2]);
    expect(Object.is(byHand[0], 0)).toBe(true);
  });
});

interface Objective {
  loss: number;
  grad: Float64Array | null;
  hess: Float64Array | null;
}

/** scalingObjective('matrix', ...) on one backend; the outputs start as garbage, so every entry must be written. */
function objectiveOn(
  backend: 'wasm' | 'js',
  theta: Float64Array,
  logp: Float64Array,
  labels: Uint8Array,
  penalties: { lambda: number; mu: number },
  withGrad: boolean,
  withHess: boolean,
): Objective {
  setKernelBackend(backend);
  try {
    const grad = withGrad ? new Float64Array(P).fill(backend === 'js' ? NaN : 7) : null;
    const hess = withHess ? new Float64Array(P * P).fill(backend === 'js' ? -3 : NaN) : null;
    return { loss: scalingObjective('matrix', theta, logp, labels, penalties, grad, hess), grad, hess };
  } finally {
    setKernelBackend('wasm');
  }
}

function expectSameObjective(wasm: Objective, js: Objective, what: string): void {
  expect(Object.is(wasm.loss, js.loss), `${what}: loss ${wasm.loss} vs ${js.loss}`).toBe(true);
  if (js.grad) expect(firstDifference(wasm.grad!, js.grad), `${what}: gradient`).toBeNull();
  if (js.hess) expect(firstDifference(wasm.hess!, js.hess), `${what}: Hessian`).toBeNull();
}

/** n items of random log-probabilities (log-softmax of logits of the given spread) and labels. */
function randomData(n: number, seed: number, spread: number): { logp: Float64Array; labels: Uint8Array } {
  const rng = new Rng(seed);
  const logits = new Float64Array(n * K);
  const labels = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    labels[i] = rng.nextInt(K);
    for (let k = 0; k < K; k++) logits[i * K + k] = spread * normal(rng) + (k === labels[i] ? 1 : 0);
  }
  return { logp: predictionsFromLogits(logits, labels).logp, labels };
}

function randomTheta(seed: number, scale: number): Float64Array {
  const rng = new Rng(seed);
  const theta = identityParameters('matrix');
  for (let p = 0; p < P; p++) theta[p] += scale * normal(rng);
  return theta;
}

describe('matrix objective on the WebAssembly backend', () => {
  const PENALTIES = [
    { lambda: 0, mu: 0 },
    { lambda: 0.01, mu: 0.01 },
    { lambda: 0.7, mu: 0 },
    { lambda: 0, mu: 0.3 },
  ];
  const DATA: [n: number, seed: number, spread: number][] = [
    [1, 1, 1],
    [2, 2, 3],
    [37, 3, 0.5],
    [800, 4, 2],
    [3000, 5, 1.5],
  ];

  for (const [n, seed, spread] of DATA) {
    it(`n = ${n}: loss, gradient and Hessian equal the JavaScript loop's at the identity and random theta`, () => {
      const { logp, labels } = randomData(n, seed, spread);
      const thetas = [identityParameters('matrix'), randomTheta(seed + 100, 0.3), randomTheta(seed + 200, 2)];
      for (const [t, theta] of thetas.entries()) {
        for (const penalties of PENALTIES) {
          const what = `theta ${t}, lambda ${penalties.lambda}, mu ${penalties.mu}`;
          for (const [g, h] of [
            [true, false],
            [false, true],
            [true, true],
            [false, false],
          ]) {
            const js = objectiveOn('js', theta, logp, labels, penalties, g, h);
            const wasm = objectiveOn('wasm', theta, logp, labels, penalties, g, h);
            expectSameObjective(wasm, js, `${what}, grad ${g}, hess ${h}`);
          }
          expect(Number.isFinite(objectiveOn('js', theta, logp, labels, penalties, false, false).loss)).toBe(true);
        }
      }
    });
  }

  /** Items whose scores W z + b span more than 745.2, so that exp underflows to 0 for their lowest class. */
  function underflowingRows(theta: Float64Array, logp: Float64Array): number {
    let count = 0;
    for (let i = 0; i < logp.length / K; i++) {
      const s = [0, 1, 2, 3].map((k) => {
        let v = theta[K * K + k];
        for (let j = 0; j < K; j++) v += theta[k * K + j] * logp[i * K + j];
        return v;
      });
      if (Math.max(...s) - Math.min(...s) > 745.2) count++;
    }
    return count;
  }

  it('extreme logits: probabilities that underflow to 0, subnormal inputs, signed zeros and huge weights', () => {
    const rng = new Rng(9);
    const n = 400;
    const logp = new Float64Array(n * K);
    const labels = new Uint8Array(n);
    const pool = [0, -0, -5e-324, -1e-300, -1e-12, -1, -30, -700, -745.5, -1e4, -1e300];
    for (let i = 0; i < n; i++) {
      labels[i] = rng.nextInt(K);
      for (let k = 0; k < K; k++) logp[i * K + k] = i % 3 ? pool[rng.nextInt(pool.length)] : -1e3 * rng.nextFloat();
    }
    for (const theta of [identityParameters('matrix'), randomTheta(10, 1), randomTheta(11, 50)]) {
      for (const penalties of [
        { lambda: 0, mu: 0 },
        { lambda: 0.01, mu: 2 },
      ]) {
        const js = objectiveOn('js', theta, logp, labels, penalties, true, true);
        // The data reach the corner this test is for: rows whose scores s = W z + b spread by more than
        // -EXP_UNDERFLOW, so some q_k are exactly 0.
        expect(underflowingRows(theta, logp)).toBeGreaterThan(n / 10);
        expectSameObjective(objectiveOn('wasm', theta, logp, labels, penalties, true, true), js, 'extreme');
      }
    }
  });

  it('non-finite inputs give the same NaNs and infinities as the JavaScript loop', () => {
    const { logp, labels } = randomData(50, 12, 1);
    logp[7] = NaN;
    logp[21] = -Infinity;
    logp[42] = Infinity;
    const theta = randomTheta(13, 0.5);
    const js = objectiveOn('js', theta, logp, labels, { lambda: 0.01, mu: 0.01 }, true, true);
    expect(js.loss).toBeNaN();
    expectSameObjective(objectiveOn('wasm', theta, logp, labels, { lambda: 0.01, mu: 0.01 }, true, true), js, 'NaN');
  });

  it('runs in the kernel on the wasm backend and in JavaScript on the js backend', () => {
    const { logp, labels } = randomData(20, 14, 1);
    const theta = identityParameters('matrix');
    const penalties = { lambda: 0.01, mu: 0.01 };
    kernelCalls = 0;
    objectiveOn('wasm', theta, logp, labels, penalties, true, false);
    expect(kernelCalls).toBe(1);
    objectiveOn('js', theta, logp, labels, penalties, true, true);
    expect(kernelCalls).toBe(1);
    // Temperature and vector scaling stay in JavaScript.
    scalingObjective('vector', identityParameters('vector'), logp, labels, penalties, new Float64Array(2 * K));
    expect(kernelCalls).toBe(1);
  });
});

describe("crossFitScaling('matrix') on both backends", () => {
  function items(n: number, seed: number, sharpness: number): { logp: Float64Array; labels: Uint8Array } {
    const variant = syntheticVariant({ n, seed, sharpness });
    const logits = new Float64Array(n * K);
    const labels = new Uint8Array(n);
    variant.items.forEach((item, i) => {
      labels[i] = item.label;
      logits.set(item.letterLogits, i * K);
    });
    return { logp: predictionsFromLogits(logits, labels).logp, labels };
  }

  function scalerFields(s: FittedScaler): number[] {
    return [...s.W, ...s.b, s.loss, s.gradNorm, s.iterations, Number(s.converged)];
  }

  const cases: [n: number, seed: number, sharpness: number, lambda: number, mu: number][] = [
    [1000, 1, 1.2, 0.01, 0.01],
    [300, 2, 2.5, 0, 0],
    [57, 3, 0.7, 0.5, 0.1],
  ];
  for (const [n, seed, sharpness, lambda, mu] of cases) {
    it(`n = ${n}, lambda ${lambda}, mu ${mu}: the same calibrated logp and scalers`, () => {
      const { logp, labels } = items(n, seed, sharpness);
      const opts = { folds: 5, seed: 1, lambda, mu };
      setKernelBackend('js');
      const js = crossFitScaling('matrix', logp, labels, opts);
      setKernelBackend('wasm');
      kernelCalls = 0;
      const wasm = crossFitScaling('matrix', logp, labels, opts);
      // At least a gradient and a Hessian per fold, all in the kernel.
      expect(kernelCalls).toBeGreaterThanOrEqual(10);
      expect(firstDifference(wasm.logp, js.logp)).toBeNull();
      expect(wasm.scalers.length).toBe(5);
      for (let f = 0; f < 5; f++) {
        expect(firstDifference(scalerFields(wasm.scalers[f]), scalerFields(js.scalers[f]))).toBeNull();
      }
      // The fits moved: a scaler that stayed at the identity would make this comparison trivial.
      expect(js.scalers[0].iterations).toBeGreaterThan(0);
      expect(firstDifference(js.logp, logp)).not.toBeNull();
    });
  }
});
