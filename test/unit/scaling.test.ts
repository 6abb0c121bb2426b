import { describe, expect, it } from 'vitest';
import { choleskyFactor, choleskySolve } from '../../src/core/linalg';
import { Rng } from '../../src/core/random';
import {
  DEFAULT_SCALING_OPTIONS,
  ScalingInputError,
  applyScaler,
  crossFitScaling,
  fitMatrixScaling,
  fitScaler,
  fitTemperatureScaling,
  fitVectorScaling,
  identityParameters,
  parameterCount,
  scalingObjective,
  stratifiedFolds,
  type FittedScaler,
  type FittedScalingMethod,
} from '../../src/core/scaling';

const K = 4;
const METHODS: FittedScalingMethod[] = ['temperature', 'vector', 'matrix'];

// ---------------------------------------------------------------------------------------------------
// Seeded test data
// ---------------------------------------------------------------------------------------------------

function normal(rng: Rng): number {
  const u = 1 - rng.nextFloat();
  const v = rng.nextFloat();
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
}

function logSoftmax(s: number[]): number[] {
  const m = Math.max(...s);
  const lse = m + Math.log(s.reduce((acc, x) => acc + Math.exp(x - m), 0));
  return s.map((x) => x - lse);
}

function affine(W: ArrayLike<number>, b: ArrayLike<number>, z: ArrayLike<number>): number[] {
  const s: number[] = [];
  for (let k = 0; k < K; k++) {
    let v = b[k];
    for (let j = 0; j < K; j++) v += W[k * K + j] * z[j];
    s.push(v);
  }
  return s;
}

function sampleIndex(rng: Rng, logq: number[]): number {
  let x = rng.nextFloat();
  for (let k = 0; k < K - 1; k++) {
    x -= Math.exp(logq[k]);
    if (x < 0) return k;
  }
  return K - 1;
}

/**
 * n items whose log-softmax z comes from N(0, sd^2) logits and whose labels are drawn from
 * softmax(W z + b): the true calibration map is the affine map (W, b) (identity = calibrated).
 */
function generate(n: number, seed: number, W: ArrayLike<number> = IDENTITY, b: ArrayLike<number> = ZERO, sd = 2) {
  const rng = new Rng(seed);
  const logp = new Float64Array(n * K);
  const labels = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    const z = logSoftmax([0, 0, 0, 0].map(() => sd * normal(rng)));
    logp.set(z, i * K);
    labels[i] = sampleIndex(rng, logSoftmax(affine(W, b, z)));
  }
  return { logp, labels };
}

const IDENTITY = [1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1];
const ZERO = [0, 0, 0, 0];
/** A miscalibration with off-diagonal structure: over-confident, class mixing, biased. */
const TRUE_W = [0.6, 0.2, 0, 0, 0, 0.5, 0.15, 0, 0.1, 0, 0.7, 0, 0, 0, 0.2, 0.4];
const TRUE_B = [0.3, -0.2, 0, 0.1];

function meanNll(logp: Float64Array, labels: Uint8Array): number {
  let s = 0;
  for (let i = 0; i < labels.length; i++) s -= logp[i * K + labels[i]];
  return s / labels.length;
}

function rowLogSumExp(logp: Float64Array, i: number): number {
  let s = 0;
  for (let k = 0; k < K; k++) s += Math.exp(logp[i * K + k]);
  return Math.log(s);
}

function expectFiniteScaler(s: FittedScaler): void {
  for (const v of s.W) expect(Number.isFinite(v)).toBe(true);
  for (const v of s.b) expect(Number.isFinite(v)).toBe(true);
  expect(Number.isFinite(s.loss)).toBe(true);
  expect(Number.isFinite(s.gradNorm)).toBe(true);
  if (s.converged) expect(s.gradNorm).toBeLessThan(DEFAULT_SCALING_OPTIONS.tolerance);
}

function maxOffDiagonal(W: Float64Array): number {
  let m = 0;
  for (let i = 0; i < K; i++) for (let j = 0; j < K; j++) if (i !== j) m = Math.max(m, Math.abs(W[i * K + j]));
  return m;
}

/** The parameter vector (scalingObjective layout) of a fitted scaler. */
function parametersOf(s: FittedScaler): Float64Array {
  if (s.method === 'temperature') return new Float64Array([s.W[0]]);
  if (s.method === 'vector') return new Float64Array([s.W[0], s.W[5], s.W[10], s.W[15], ...s.b]);
  return new Float64Array([...s.W, ...s.b]);
}

/** The directions matrix scaling with lambda = mu = 0 cannot see: W + 1 v^T and b + c 1 (orthonormal). */
function matrixGauge(): Float64Array[] {
  const dirs: Float64Array[] = [];
  for (let j = 0; j <= K; j++) {
    const d = new Float64Array(K * K + K);
    for (let k = 0; k < K; k++) d[j < K ? k * K + j : K * K + k] = 0.5;
    dirs.push(d);
  }
  return dirs;
}

/**
 * Asymptotic standard errors of the fitted parameters: sqrt(diag(H^+) / n), H the Hessian of the mean
 * objective (the Fisher information per item when the model is right). Flat gauge directions N are handled
 * by inverting H + N N^T, whose inverse is H^+ + N N^T, and subtracting N N^T.
 */
function standardErrors(
  method: FittedScalingMethod,
  theta: Float64Array,
  logp: Float64Array,
  labels: Uint8Array,
  penalties: { lambda: number; mu: number },
  gauge: Float64Array[],
): Float64Array {
  const P = theta.length;
  const hess = new Float64Array(P * P);
  scalingObjective(method, theta, logp, labels, penalties, null, hess);
  for (const d of gauge) for (let i = 0; i < P; i++) for (let j = 0; j < P; j++) hess[i * P + j] += d[i] * d[j];
  expect(choleskyFactor(hess, P)).toBe(true);
  const se = new Float64Array(P);
  for (let p = 0; p < P; p++) {
    const e = new Float64Array(P);
    e[p] = 1;
    let v = choleskySolve(hess, P, e)[p];
    for (const d of gauge) v -= d[p] * d[p];
    se[p] = Math.sqrt(v / labels.length);
  }
  return se;
}

// ---------------------------------------------------------------------------------------------------

describe('scalingObjective derivatives', () => {
  const { logp, labels } = generate(60, 11, TRUE_W, TRUE_B);
  const penalties = { lambda: 0.7, mu: 0.3 };

  for (const method of METHODS) {
    it(`${method}: analytic gradient and Hessian match central finite differences`, () => {
      const rng = new Rng(5);
      const P = parameterCount(method);
      const theta = identityParameters(method);
      for (let p = 0; p < P; p++) theta[p] += 0.4 * normal(rng);
      const grad = new Float64Array(P);
      const hess = new Float64Array(P * P);
      const f = (t: Float64Array) => scalingObjective(method, t, logp, labels, penalties);
      scalingObjective(method, theta, logp, labels, penalties, grad, hess);
      const h = 1e-5;
      const gPlus = new Float64Array(P);
      const gMinus = new Float64Array(P);
      for (let p = 0; p < P; p++) {
        const tp = theta.slice();
        const tm = theta.slice();
        tp[p] += h;
        tm[p] -= h;
        const fd = (f(tp) - f(tm)) / (2 * h);
        expect(Math.abs(grad[p] - fd)).toBeLessThan(1e-8 * Math.max(1, Math.abs(fd)));
        scalingObjective(method, tp, logp, labels, penalties, gPlus);
        scalingObjective(method, tm, logp, labels, penalties, gMinus);
        for (let q = 0; q < P; q++) {
          const fdH = (gPlus[q] - gMinus[q]) / (2 * h);
          expect(Math.abs(hess[p * P + q] - fdH)).toBeLessThan(1e-7 * Math.max(1, Math.abs(fdH)));
        }
      }
      // The Hessian is symmetric and (convex objective) positive semi-definite along random directions.
      for (let p = 0; p < P; p++) for (let q = 0; q < P; q++) expect(hess[p * P + q]).toBe(hess[q * P + p]);
      for (let r = 0; r < 5; r++) {
        const v = Array.from({ length: P }, () => normal(rng));
        let quad = 0;
        for (let p = 0; p < P; p++) for (let q = 0; q < P; q++) quad += v[p] * hess[p * P + q] * v[q];
        expect(quad).toBeGreaterThanOrEqual(0);
      }
    });
  }

  it('at the identity the objective is the input NLL plus the penalty on nothing', () => {
    // W = I, b = 0: the scaled log-softmax is z itself and every penalised entry is 0.
    const nll = meanNll(logp, labels);
    for (const method of METHODS) {
      expect(scalingObjective(method, identityParameters(method), logp, labels, penalties)).toBeCloseTo(nll, 14);
    }
  });

  it('the ODIR penalty is lambda/(K(K-1)) sum_{i!=j} W_ij^2 + mu/K sum b_j^2, by hand', () => {
    const theta = identityParameters('matrix');
    theta[1] = 0.5; // W_01
    theta[2 * K + 3] = -1; // W_23
    theta[K * K + 2] = 2; // b_2
    const base = (lambda: number, mu: number) => scalingObjective('matrix', theta, logp, labels, { lambda, mu });
    // lambda = 1.2: 1.2/12 * (0.25 + 1) = 0.125; mu = 0.8: 0.8/4 * 4 = 0.8.
    expect(base(1.2, 0) - base(0, 0)).toBeCloseTo(0.125, 13);
    expect(base(0, 0.8) - base(0, 0)).toBeCloseTo(0.8, 13);
    const v = identityParameters('vector');
    v[K + 1] = 3; // b_1; the diagonal a is never penalised
    v[0] = 7;
    const vec = (mu: number) => scalingObjective('vector', v, logp, labels, { lambda: 5, mu });
    expect(vec(0.4) - vec(0)).toBeCloseTo((0.4 / 4) * 9, 13);
  });
});

describe('fitTemperatureScaling', () => {
  // Four items with the same prediction p = (0.9, 1/30, 1/30, 1/30); three are labelled A, one B.
  // The first-order condition mean_i(E_q[z] - z_y) = 0 reduces to q_A(beta) = 3/4, i.e.
  // 0.9^beta / (0.9^beta + 3 (1/30)^beta) = 3/4  ->  (1/27)^beta = 1/9  ->  beta = 2/3, T = 3/2.
  const z = logSoftmax([Math.log(0.9), Math.log(0.1 / 3), Math.log(0.1 / 3), Math.log(0.1 / 3)]);
  const four = new Float64Array([...z, ...z, ...z, ...z]);

  it('finds the closed-form optimum T = 3/2 on a hand-made case', () => {
    const s = fitTemperatureScaling(four, new Uint8Array([0, 0, 0, 1]));
    expect(s.method).toBe('temperature');
    expect(s.converged).toBe(true);
    expect(s.gradNorm).toBeLessThan(1e-8);
    expect(s.temperature).toBeCloseTo(1.5, 10);
    for (let i = 0; i < K; i++) {
      for (let j = 0; j < K; j++) expect(s.W[i * K + j]).toBeCloseTo(i === j ? 2 / 3 : 0, 10);
    }
    expect(Array.from(s.b)).toEqual([0, 0, 0, 0]);
    const out = applyScaler(s, four);
    expect(Math.exp(out[0])).toBeCloseTo(0.75, 10);
    // Loss at the optimum: -(3/4) ln(3/4) - (1/4) ln(1/12).
    expect(s.loss).toBeCloseTo(-0.75 * Math.log(0.75) - 0.25 * Math.log(1 / 12), 12);
  });

  it('satisfies dNLL/dT = 0 on random data', () => {
    const { logp, labels } = generate(500, 3, [0.5, 0, 0, 0, 0, 0.5, 0, 0, 0, 0, 0.5, 0, 0, 0, 0, 0.5], ZERO);
    const s = fitTemperatureScaling(logp, labels);
    expect(s.converged).toBe(true);
    const T = s.temperature!;
    expect(T).toBeGreaterThan(1); // labels drawn at half the sharpness: over-confident inputs, T > 1
    const nllAt = (t: number) => {
      let acc = 0;
      for (let i = 0; i < labels.length; i++) {
        const row = logSoftmax(Array.from(logp.subarray(i * K, i * K + K), (v) => v / t));
        acc -= row[labels[i]];
      }
      return acc / labels.length;
    };
    const h = 1e-5;
    expect(Math.abs((nllAt(T + h) - nllAt(T - h)) / (2 * h))).toBeLessThan(1e-8);
    expect(nllAt(T)).toBeCloseTo(s.loss, 12);
  });

  it('returns T = Infinity (the uniform prediction) when the model ranks the gold letter below average', () => {
    // Every item is labelled B while the model favours A: the NLL slope at beta = 0 is positive.
    const s = fitTemperatureScaling(four, new Uint8Array([1, 1, 1, 1]));
    expect(s.temperature).toBe(Infinity);
    expect(s.converged).toBe(true);
    expect(Array.from(s.W)).toEqual(new Array(K * K).fill(0));
    expect(s.loss).toBeCloseTo(Math.log(4), 14);
    const out = applyScaler(s, four);
    for (const v of out) expect(v).toBeCloseTo(-Math.log(4), 14);
  });

  it('sharpens (T < 1) and stays finite when every item is answered correctly', () => {
    const s = fitTemperatureScaling(four.subarray(0, 3 * K), new Uint8Array([0, 0, 0]));
    expectFiniteScaler(s);
    expect(s.temperature!).toBeGreaterThan(0);
    expect(s.temperature!).toBeLessThan(1);
    expect(s.loss).toBeLessThan(-Math.log(0.9));
  });
});

describe('fitMatrixScaling and fitVectorScaling', () => {
  it('recovers a known affine miscalibration with lambda = mu = 0 (gauge: column sums 1, sum b = 0)', () => {
    const n = 20_000;
    const { logp, labels } = generate(n, 21, TRUE_W, TRUE_B);
    const s = fitMatrixScaling(logp, labels, { lambda: 0, mu: 0 });
    expect(s.converged).toBe(true);
    expect(s.gradNorm).toBeLessThan(1e-8);
    expect(s.iterations).toBeLessThan(20);
    // The softmax ignores W + 1 v^T and b + c 1; the fit keeps its starting gauge, so compare with the
    // true map moved into it: v_j = (1 - sum_k W_kj)/K, c = -mean(b).
    const truth = new Float64Array(K * K + K);
    for (let j = 0; j < K; j++) {
      let colSum = 0;
      for (let k = 0; k < K; k++) colSum += TRUE_W[k * K + j];
      for (let k = 0; k < K; k++) truth[k * K + j] = TRUE_W[k * K + j] + (1 - colSum) / K;
    }
    const meanB = TRUE_B.reduce((a, x) => a + x, 0) / K;
    for (let k = 0; k < K; k++) truth[K * K + k] = TRUE_B[k] - meanB;
    const fitted = new Float64Array([...s.W, ...s.b]);
    for (let j = 0; j < K; j++) expect(s.W[j] + s.W[K + j] + s.W[2 * K + j] + s.W[3 * K + j]).toBeCloseTo(1, 12);
    expect(s.b.reduce((a, x) => a + x, 0)).toBeCloseTo(0, 12);
    // Every parameter lies within 4.5 standard errors (inverse Fisher information) of the truth.
    const se = standardErrors('matrix', fitted, logp, labels, { lambda: 0, mu: 0 }, matrixGauge());
    for (let p = 0; p < fitted.length; p++) expect(Math.abs(fitted[p] - truth[p]) / se[p]).toBeLessThan(4.5);
    // On fresh items the calibrated probabilities are close to the true ones.
    const fresh = generate(2_000, 22, TRUE_W, TRUE_B);
    const out = applyScaler(s, fresh.logp);
    let sumAbs = 0;
    for (let i = 0; i < 2_000; i++) {
      const exact = logSoftmax(affine(TRUE_W, TRUE_B, fresh.logp.subarray(i * K, i * K + K)));
      for (let k = 0; k < K; k++) sumAbs += Math.abs(Math.exp(out[i * K + k]) - Math.exp(exact[k]));
    }
    expect(sumAbs / (2_000 * K)).toBeLessThan(0.01);
  });

  it('keeps the identity on data that are calibrated (labels drawn from the model itself)', () => {
    const { logp, labels } = generate(20_000, 31);
    for (const method of METHODS) {
      const s = fitScaler(method, logp, labels);
      expect(s.converged).toBe(true);
      const theta = parametersOf(s);
      const identity = identityParameters(method);
      const se = standardErrors(method, theta, logp, labels, DEFAULT_SCALING_OPTIONS, []);
      for (let p = 0; p < theta.length; p++) expect(Math.abs(theta[p] - identity[p]) / se[p]).toBeLessThan(4.5);
    }
  });

  it('nests: matrix <= vector <= temperature <= unscaled NLL (no penalties)', () => {
    const { logp, labels } = generate(1_000, 41, TRUE_W, TRUE_B);
    const t = fitTemperatureScaling(logp, labels);
    const v = fitVectorScaling(logp, labels, { mu: 0 });
    const m = fitMatrixScaling(logp, labels, { lambda: 0, mu: 0 });
    for (const s of [t, v, m]) expect(s.converged).toBe(true);
    expect(m.loss).toBeLessThan(v.loss);
    expect(v.loss).toBeLessThan(t.loss);
    expect(t.loss).toBeLessThan(meanNll(logp, labels));
    // Each reported loss is the NLL of its own applied output (no penalties here).
    for (const s of [t, v, m]) expect(meanNll(applyScaler(s, logp), labels)).toBeCloseTo(s.loss, 12);
    // Vector scaling's W is diagonal; with mu = 0 its bias keeps sum b = 0.
    expect(maxOffDiagonal(v.W)).toBe(0);
    expect(v.b.reduce((a, x) => a + x, 0)).toBeCloseTo(0, 12);
  });

  it('off-diagonals shrink as lambda grows; huge lambda and mu reduce matrix scaling to vector scaling', () => {
    const { logp, labels } = generate(3_000, 51, TRUE_W, TRUE_B);
    const lambdas = [0, 0.01, 1, 100, 1e4];
    const offs = lambdas.map((lambda) => {
      const s = fitMatrixScaling(logp, labels, { lambda, mu: 0.01 });
      expect(s.converged).toBe(true);
      return maxOffDiagonal(s.W);
    });
    for (let i = 1; i < offs.length; i++) expect(offs[i]).toBeLessThan(offs[i - 1]);
    expect(offs[0]).toBeGreaterThan(0.05);
    expect(offs[offs.length - 1]).toBeLessThan(1e-3);

    const big = 1e6;
    const m = fitMatrixScaling(logp, labels, { lambda: big, mu: big });
    const v = fitVectorScaling(logp, labels, { mu: big });
    expect(m.converged && v.converged).toBe(true);
    expect(maxOffDiagonal(m.W)).toBeLessThan(1e-5);
    for (let k = 0; k < K; k++) {
      expect(Math.abs(m.W[k * K + k] - v.W[k * K + k])).toBeLessThan(1e-4);
      expect(Math.abs(m.b[k])).toBeLessThan(1e-5);
    }
  });

  it('with the defaults (lambda = mu = 0.01) the reported loss includes the ODIR penalty', () => {
    const { logp, labels } = generate(1_000, 61, TRUE_W, TRUE_B);
    const s = fitMatrixScaling(logp, labels);
    expect(s.converged).toBe(true);
    let penalty = 0;
    for (let i = 0; i < K; i++) {
      for (let j = 0; j < K; j++) if (i !== j) penalty += (0.01 / 12) * s.W[i * K + j] ** 2;
      penalty += (0.01 / 4) * s.b[i] ** 2;
    }
    expect(penalty).toBeGreaterThan(0);
    expect(meanNll(applyScaler(s, logp), labels) + penalty).toBeCloseTo(s.loss, 12);
  });

  it('stays finite on separable data and says it found no minimum (n = 1, all correct, all one label)', () => {
    const zTop = logSoftmax([2, 1, 0, -1]);
    const oneCorrect = { logp: new Float64Array(zTop), labels: new Uint8Array([0]) };
    const oneWrong = { logp: new Float64Array(zTop), labels: new Uint8Array([3]) };
    const allA = generate(50, 72);
    allA.labels.fill(0);
    const allCorrect = generate(50, 73);
    for (let i = 0; i < 50; i++) {
      const row = Array.from(allCorrect.logp.subarray(i * K, i * K + K));
      allCorrect.labels[i] = row.indexOf(Math.max(...row));
    }
    // Which fits have a minimiser: temperature has one unless every item is answered correctly (beta -> inf);
    // vector and matrix scaling never do here (a class can always be pushed up through W's free diagonal).
    const cases = [
      { name: 'n = 1, correct', data: oneCorrect, minimum: { temperature: false, vector: false, matrix: false } },
      { name: 'n = 1, wrong', data: oneWrong, minimum: { temperature: true, vector: false, matrix: false } },
      { name: 'all A', data: allA, minimum: { temperature: true, vector: false, matrix: false } },
      { name: 'all correct', data: allCorrect, minimum: { temperature: false, vector: false, matrix: false } },
    ];
    for (const { data, minimum } of cases) {
      for (const method of METHODS) {
        for (const pen of [{ lambda: 0, mu: 0 }, {}]) {
          const s = fitScaler(method, data.logp, data.labels, pen);
          expectFiniteScaler(s);
          expect(s.converged).toBe(minimum[method]);
          expect(s.loss).toBeLessThanOrEqual(meanNll(data.logp, data.labels));
          const out = applyScaler(s, data.logp);
          for (let i = 0; i < data.labels.length; i++) expect(Math.abs(rowLogSumExp(out, i))).toBeLessThan(1e-12);
        }
      }
    }
    // One item labelled D, the letter the model ranks last: the NLL slope at beta = 0 is
    // mean(z) - z_D = (2 + 1 + 0 - 1)/4 + 1 = 1.5 > 0, so T = Infinity.
    expect(fitTemperatureScaling(oneWrong.logp, oneWrong.labels).temperature).toBe(Infinity);
    // With every label A and nothing pinning W's diagonal, matrix scaling predicts A everywhere.
    const s = fitMatrixScaling(allA.logp, allA.labels);
    const out = applyScaler(s, allA.logp);
    for (let i = 0; i < 50; i++) {
      const row = Array.from(out.subarray(i * K, i * K + K));
      expect(row.indexOf(Math.max(...row))).toBe(0);
    }
  });

  it('converges with vanishingly small penalties (weak curvature is not mistaken for no minimum)', () => {
    const { logp, labels } = generate(1_000, 75, TRUE_W, TRUE_B);
    for (const tiny of [1e-9, 1e-6]) {
      const m = fitMatrixScaling(logp, labels, { lambda: tiny, mu: tiny });
      expect(m.converged).toBe(true);
      expect(m.gradNorm).toBeLessThan(1e-8);
      const v = fitVectorScaling(logp, labels, { mu: tiny });
      expect(v.converged).toBe(true);
    }
  });

  it('reports converged = false at the iteration limit instead of throwing', () => {
    const { logp, labels } = generate(200, 81, TRUE_W, TRUE_B);
    const none = fitMatrixScaling(logp, labels, { maxIterations: 0 });
    expect(none.iterations).toBe(0);
    expect(none.converged).toBe(false);
    expect(Array.from(none.W)).toEqual(IDENTITY);
    expect(none.loss).toBeCloseTo(meanNll(logp, labels), 14);
    const one = fitMatrixScaling(logp, labels, { maxIterations: 1 });
    expect(one.iterations).toBe(1);
    expect(one.converged).toBe(false);
    expect(one.loss).toBeLessThan(none.loss);
  });

  it('refuses bad input with a ScalingInputError naming the item, and bad options with a RangeError', () => {
    const { logp, labels } = generate(5, 91);
    const withInf = logp.slice();
    withInf[2 * K + 1] = -Infinity;
    const withNaN = logp.slice();
    withNaN[3] = NaN;
    for (const method of METHODS) {
      expect(() => fitScaler(method, withInf, labels)).toThrow(/item 2, class 1: log-probability is -Infinity/);
      expect(() => fitScaler(method, withNaN, labels)).toThrow(ScalingInputError);
      expect(() => fitScaler(method, logp, new Uint8Array([0, 1, 4, 0, 0]))).toThrow(/item 2 has label 4/);
      expect(() => fitScaler(method, logp.subarray(0, 4 * K), labels)).toThrow(ScalingInputError);
      expect(() => fitScaler(method, new Float64Array(0), new Uint8Array(0))).toThrow(/no items/);
    }
    const s = fitMatrixScaling(logp, labels);
    expect(() => applyScaler(s, withInf)).toThrow(ScalingInputError);
    expect(() => applyScaler(s, logp, new Float64Array(3))).toThrow(ScalingInputError);
    expect(() => fitMatrixScaling(logp, labels, { lambda: -1 })).toThrow(RangeError);
    expect(() => fitMatrixScaling(logp, labels, { mu: NaN })).toThrow(RangeError);
    expect(() => fitMatrixScaling(logp, labels, { maxIterations: 1.5 })).toThrow(RangeError);
    expect(() => fitMatrixScaling(logp, labels, { tolerance: 0 })).toThrow(RangeError);
    expect(() => fitScaler('none' as FittedScalingMethod, logp, labels)).toThrow(RangeError);
  });
});

describe('applyScaler', () => {
  it('writes valid log-softmax rows, is the identity for W = I, b = 0, and may work in place', () => {
    const { logp, labels } = generate(300, 101, TRUE_W, TRUE_B);
    const s = fitMatrixScaling(logp, labels);
    const out = applyScaler(s, logp);
    for (let i = 0; i < 300; i++) expect(Math.abs(rowLogSumExp(out, i))).toBeLessThan(1e-14);
    // Row 0 by hand.
    const expected = logSoftmax(affine(s.W, s.b, logp.subarray(0, K)));
    for (let k = 0; k < K; k++) expect(out[k]).toBeCloseTo(expected[k], 14);
    const identity: FittedScaler = {
      method: 'matrix',
      W: new Float64Array(IDENTITY),
      b: new Float64Array(K),
      loss: 0,
      gradNorm: 0,
      iterations: 0,
      converged: true,
    };
    const same = applyScaler(identity, logp);
    for (let p = 0; p < logp.length; p++) expect(same[p]).toBeCloseTo(logp[p], 14);
    const inPlace = logp.slice();
    expect(applyScaler(s, inPlace, inPlace)).toBe(inPlace);
    expect(Array.from(inPlace)).toEqual(Array.from(out));
    expect(applyScaler(s, new Float64Array(0)).length).toBe(0);
  });
});

describe('stratifiedFolds', () => {
  it('is deterministic, depends on the seed, and balances folds without groups', () => {
    const a = stratifiedFolds(103, 5, 7);
    expect(Array.from(a)).toEqual(Array.from(stratifiedFolds(103, 5, 7)));
    expect(Array.from(a)).not.toEqual(Array.from(stratifiedFolds(103, 5, 8)));
    const sizes = new Array(5).fill(0);
    for (const f of a) sizes[f]++;
    expect(sizes.slice().sort()).toEqual([20, 20, 21, 21, 21]);
  });

  it('balances folds within every group (sparse group ids) and overall', () => {
    const rng = new Rng(3);
    const ids = [0, 7, 300, 65535];
    const groups = new Uint16Array(211).map(() => ids[rng.nextInt(ids.length)]);
    const folds = stratifiedFolds(groups.length, 5, 0, groups);
    expect(Array.from(folds)).toEqual(Array.from(stratifiedFolds(groups.length, 5, 0, groups)));
    expect(Array.from(folds)).not.toEqual(Array.from(stratifiedFolds(groups.length, 5, 1, groups)));
    const overall = new Array(5).fill(0);
    for (const g of ids) {
      const sizes = new Array(5).fill(0);
      groups.forEach((gi, i) => {
        if (gi === g) sizes[folds[i]]++;
      });
      expect(Math.max(...sizes) - Math.min(...sizes)).toBeLessThanOrEqual(1);
      expect(sizes.reduce((x, y) => x + y, 0)).toBeGreaterThan(0);
    }
    for (const f of folds) overall[f]++;
    expect(Math.max(...overall) - Math.min(...overall)).toBeLessThanOrEqual(1);
  });

  it('handles the small cases and refuses bad arguments', () => {
    expect(stratifiedFolds(0, 5, 0).length).toBe(0);
    expect(Array.from(stratifiedFolds(4, 1, 0))).toEqual([0, 0, 0, 0]);
    // Three items in five folds land in three different folds.
    expect(new Set(stratifiedFolds(3, 5, 0)).size).toBe(3);
    expect(() => stratifiedFolds(4, 0, 0)).toThrow(RangeError);
    expect(() => stratifiedFolds(4, 256, 0)).toThrow(RangeError);
    expect(() => stratifiedFolds(4, 2, 0, new Uint16Array(3))).toThrow(ScalingInputError);
  });
});

describe('crossFitScaling', () => {
  const { logp, labels } = generate(400, 111, TRUE_W, TRUE_B);
  const groups = new Uint16Array(400).map((_, i) => i % 3);

  it('gives every item the output of the scaler fitted without its fold (refitted by hand)', () => {
    const r = crossFitScaling('matrix', logp, labels, { folds: 5, seed: 9, groups });
    expect(r.inSample).toBe(false);
    expect(Array.from(r.folds)).toEqual(Array.from(stratifiedFolds(400, 5, 9, groups)));
    expect(r.scalers).toHaveLength(5);
    for (const i of [0, 123, 399]) {
      const f = r.folds[i];
      const trainLogp: number[] = [];
      const trainLabels: number[] = [];
      for (let j = 0; j < 400; j++) {
        if (r.folds[j] === f) continue;
        trainLogp.push(...logp.subarray(j * K, j * K + K));
        trainLabels.push(labels[j]);
      }
      const s = fitMatrixScaling(new Float64Array(trainLogp), new Uint8Array(trainLabels));
      expect(Array.from(s.W)).toEqual(Array.from(r.scalers[f].W));
      const row = applyScaler(s, logp.subarray(i * K, i * K + K));
      expect(Array.from(r.logp.subarray(i * K, i * K + K))).toEqual(Array.from(row));
    }
    for (let i = 0; i < 400; i++) expect(Math.abs(rowLogSumExp(r.logp, i))).toBeLessThan(1e-14);
    // Same seed, same numbers.
    const again = crossFitScaling('matrix', logp, labels, { folds: 5, seed: 9, groups });
    expect(Array.from(again.logp)).toEqual(Array.from(r.logp));
  });

  it('is optimistic in sample: the in-sample NLL is below the cross-fitted one, and the flag says so', () => {
    const inS = crossFitScaling('matrix', logp, labels, { inSample: true });
    expect(inS.inSample).toBe(true);
    expect(inS.scalers).toHaveLength(1);
    expect(Array.from(inS.folds)).toEqual(new Array(400).fill(0));
    expect(Array.from(inS.logp)).toEqual(Array.from(applyScaler(fitMatrixScaling(logp, labels), logp)));
    const out = crossFitScaling('matrix', logp, labels, {});
    expect(meanNll(inS.logp, labels)).toBeLessThan(meanNll(out.logp, labels));
    expect(meanNll(out.logp, labels)).toBeLessThan(meanNll(logp, labels));
  });

  it('passes lambda and mu through and works for every method', () => {
    for (const method of METHODS) {
      const r = crossFitScaling(method, logp, labels, { folds: 3, lambda: 0, mu: 0 });
      expect(r.scalers).toHaveLength(3);
      for (const s of r.scalers) {
        expect(s.method).toBe(method);
        expect(s.converged).toBe(true);
      }
    }
    const m = crossFitScaling('matrix', logp, labels, { folds: 2, lambda: 0, mu: 0 });
    // lambda = mu = 0 leaves the gauge of the start: column sums of W equal 1.
    for (const s of m.scalers) expect(s.W[0] + s.W[4] + s.W[8] + s.W[12]).toBeCloseTo(1, 12);
  });

  it('refuses what it cannot cross-fit', () => {
    expect(() => crossFitScaling('matrix', logp.subarray(0, K), labels.subarray(0, 1), {})).toThrow(/at least 2 items/);
    expect(() => crossFitScaling('matrix', logp, labels, { folds: 1 })).toThrow(RangeError);
    expect(() => crossFitScaling('matrix', logp, labels, { groups: new Uint16Array(5) })).toThrow(ScalingInputError);
  });
});
