/**
 * The objectives the scalers minimise: mean NLL of softmax(W z + b) plus penalties, with analytic gradient and
 * Hessian for each parameterisation, and the gauge directions the solver projects out (scaling.ts). The matrix
 * objective, the costly one, runs in the WebAssembly kernel where it can (src/wasm/scaling.ts: the same doubles).
 */
import type { FittedScalingMethod } from './scaling-model';
import { NUM_CLASSES as K } from './types';
import { exp, log } from './detmath';
import { KernelMemory, kernelBackend } from './kernel-wasm';

/** Number of free parameters of each method's objective (layouts: see scalingObjective). */
export function parameterCount(method: FittedScalingMethod): number {
  return method === 'temperature' ? 1 : method === 'vector' ? 2 * K : K * K + K;
}

/** The starting point of every fit: the identity map (T = 1, a = 1, W = I, b = 0). */
export function identityParameters(method: FittedScalingMethod): Float64Array {
  const theta = new Float64Array(parameterCount(method));
  if (method === 'temperature') theta[0] = 1;
  else if (method === 'vector') theta.fill(1, 0, K);
  else for (let k = 0; k < K; k++) theta[k * K + k] = 1;
  return theta;
}

/**
 * The objective a scaler minimises, with its analytic gradient and Hessian (exported for tests and
 * diagnostics). With s = W z + b and q = softmax(s), the per-item NLL is logsumexp(s) - s_y, whose
 * gradient in s is r = q - e_y and whose Hessian in s is A = diag(q) - q q^T; the chain rule through the
 * affine map gives the parameter derivatives (Guo et al. 2017 fit the same objective).
 *
 * Parameter layouts:
 *   temperature  theta = [beta], W = beta I (beta = 1/T); no penalty.
 *   vector       theta = [a_0..a_{K-1}, b_0..b_{K-1}]; penalty mu/K sum_k b_k^2 (a is not penalised).
 *   matrix       theta = [W row-major (K*K), b (K)]; ODIR penalty (Off-Diagonal and Intercept Regularisation, Kull et al. 2019)
 *                lambda/(K(K-1)) sum_{i != j} W_ij^2 + mu/K sum_j b_j^2.
 * Returns the mean NLL plus penalty; writes the gradient into `grad` and the full row-major Hessian into
 * `hess` when they are given. Inputs are trusted here (the fit functions check them).
 */
export function scalingObjective(
  method: FittedScalingMethod,
  theta: Float64Array,
  logp: Float64Array,
  labels: Uint8Array,
  penalties: { lambda: number; mu: number },
  grad?: Float64Array | null,
  hess?: Float64Array | null,
): number {
  const n = labels.length;
  const g = grad ?? null;
  const h = hess ?? null;
  if (method === 'temperature') return temperatureObjective(theta, logp, labels, n, g, h);
  if (method === 'vector') return vectorObjective(theta, logp, labels, n, penalties.mu, g, h);
  if (kernelBackend() === 'wasm') {
    const loss = matrixObjectiveKernel(theta, logp, labels, n, penalties.lambda, penalties.mu, g, h);
    if (loss !== null) return loss;
  }
  return matrixObjective(theta, logp, labels, n, penalties.lambda, penalties.mu, g, h);
}

// Scratch rows shared by the objectives: no allocation per item or per call.
export const sRow = new Float64Array(K);
const qRow = new Float64Array(K);

/** Writes q = softmax(s) into qRow and returns logsumexp(s) (max-shifted; exact for any finite s). */
export function softmaxInPlace(): number {
  let m = sRow[0];
  for (let k = 1; k < K; k++) if (sRow[k] > m) m = sRow[k];
  let sum = 0;
  for (let k = 0; k < K; k++) {
    const e = exp(sRow[k] - m);
    qRow[k] = e;
    sum += e;
  }
  for (let k = 0; k < K; k++) qRow[k] /= sum;
  return m + log(sum);
}

function temperatureObjective(
  theta: Float64Array,
  logp: Float64Array,
  labels: Uint8Array,
  n: number,
  grad: Float64Array | null,
  hess: Float64Array | null,
): number {
  const beta = theta[0];
  let nll = 0;
  let g = 0;
  let h = 0;
  for (let i = 0; i < n; i++) {
    const o = i * K;
    for (let k = 0; k < K; k++) sRow[k] = beta * logp[o + k];
    const lse = softmaxInPlace();
    const y = labels[i];
    nll += lse - sRow[y];
    if (grad || hess) {
      // d/dbeta = E_q[z] - z_y;  d2/dbeta2 = Var_q[z] = E_q[z^2] - E_q[z]^2.
      let ez = 0;
      let ez2 = 0;
      for (let k = 0; k < K; k++) {
        const z = logp[o + k];
        ez += qRow[k] * z;
        ez2 += qRow[k] * z * z;
      }
      g += ez - logp[o + y];
      h += ez2 - ez * ez;
    }
  }
  if (grad) grad[0] = g / n;
  if (hess) hess[0] = Math.max(0, h / n);
  return nll / n;
}

function vectorObjective(
  theta: Float64Array,
  logp: Float64Array,
  labels: Uint8Array,
  n: number,
  mu: number,
  grad: Float64Array | null,
  hess: Float64Array | null,
): number {
  const P = 2 * K;
  if (grad) grad.fill(0);
  if (hess) hess.fill(0);
  let nll = 0;
  for (let i = 0; i < n; i++) {
    const o = i * K;
    for (let k = 0; k < K; k++) sRow[k] = theta[k] * logp[o + k] + theta[K + k];
    const lse = softmaxInPlace();
    const y = labels[i];
    nll += lse - sRow[y];
    if (grad) {
      for (let k = 0; k < K; k++) {
        const r = qRow[k] - (k === y ? 1 : 0);
        grad[k] += r * logp[o + k];
        grad[K + k] += r;
      }
    }
    if (hess) {
      // d s_k / d a_k = z_k, d s_k / d b_k = 1; block (k, k2) is A_{k k2} x_k x_k2^T with x_k = (z_k, 1).
      for (let k = 0; k < K; k++) {
        const zk = logp[o + k];
        for (let k2 = k; k2 < K; k2++) {
          const a = (k === k2 ? qRow[k] : 0) - qRow[k] * qRow[k2];
          const zk2 = logp[o + k2];
          hess[k * P + k2] += a * zk * zk2;
          hess[k * P + K + k2] += a * zk;
          hess[(K + k) * P + k2] += a * zk2;
          hess[(K + k) * P + K + k2] += a;
        }
      }
    }
  }
  const cb = mu / K;
  let penalty = 0;
  for (let k = 0; k < K; k++) penalty += cb * theta[K + k] * theta[K + k];
  if (grad) {
    for (let p = 0; p < P; p++) grad[p] /= n;
    for (let k = 0; k < K; k++) grad[K + k] += 2 * cb * theta[K + k];
  }
  if (hess) {
    // Only blocks k <= k2 were accumulated: scale them, then mirror into k > k2.
    for (let k = 0; k < K; k++) {
      for (let k2 = k; k2 < K; k2++) {
        for (const [u, u2] of VECTOR_BLOCK) {
          const row = u * K + k;
          const col = u2 * K + k2;
          const v = hess[row * P + col] / n;
          hess[row * P + col] = v;
          if (k2 !== k) hess[col * P + row] = v;
        }
      }
    }
    for (let k = 0; k < K; k++) hess[(K + k) * P + K + k] += 2 * cb;
  }
  return nll / n + penalty;
}
/** (a-or-b, a-or-b) pairs of a vector-scaling Hessian block: 0 = a_k, 1 = b_k. */
const VECTOR_BLOCK: readonly [number, number][] = [
  [0, 0],
  [0, 1],
  [1, 0],
  [1, 1],
];

/** E = K + 1 inputs per class row of the matrix map: x = (z_0..z_{K-1}, 1). */
const E = K + 1;
/** Parameter index of (class k, input j): W_kj for j < K, b_k for j = K. */
const MATRIX_INDEX = (() => {
  const idx = new Int32Array(K * E);
  for (let k = 0; k < K; k++) {
    for (let j = 0; j < K; j++) idx[k * E + j] = k * K + j;
    idx[k * E + K] = K * K + k;
  }
  return idx;
})();
const xRow = new Float64Array(E);
/** Entries in the upper triangle of the E x E matrix x x^T. */
const XX = (E * (E + 1)) / 2;
const xxRow = new Float64Array(XX);
/** Per (k <= k2) class pair, the running sum of A_{k k2} x x^T (upper triangle). */
const hessAcc = new Float64Array(((K * (K + 1)) / 2) * XX);

/**
 * The matrix objective's definition, and its JavaScript backend; src/wasm/scaling.ts is a port of it that returns
 * the same doubles (test/unit/scaling-wasm.test.ts).
 */
function matrixObjective(
  theta: Float64Array,
  logp: Float64Array,
  labels: Uint8Array,
  n: number,
  lambda: number,
  mu: number,
  grad: Float64Array | null,
  hess: Float64Array | null,
): number {
  const P = K * K + K;
  if (grad) grad.fill(0);
  if (hess) hessAcc.fill(0);
  let nll = 0;
  xRow[K] = 1;
  for (let i = 0; i < n; i++) {
    const o = i * K;
    for (let j = 0; j < K; j++) xRow[j] = logp[o + j];
    for (let k = 0; k < K; k++) {
      let s = theta[K * K + k];
      for (let j = 0; j < K; j++) s += theta[k * K + j] * xRow[j];
      sRow[k] = s;
    }
    const lse = softmaxInPlace();
    const y = labels[i];
    nll += lse - sRow[y];
    if (grad) {
      for (let k = 0; k < K; k++) {
        const r = qRow[k] - (k === y ? 1 : 0);
        for (let j = 0; j < K; j++) grad[k * K + j] += r * xRow[j];
        grad[K * K + k] += r;
      }
    }
    if (hess) {
      // Block (k, k2) of the Hessian is A_{k k2} x x^T: accumulate the upper triangle of x x^T once per
      // item and weight it by each of the K(K+1)/2 distinct A_{k k2}; expanded into hess after the loop.
      let m = 0;
      for (let j = 0; j < E; j++) for (let j2 = j; j2 < E; j2++) xxRow[m++] = xRow[j] * xRow[j2];
      let base = 0;
      for (let k = 0; k < K; k++) {
        for (let k2 = k; k2 < K; k2++, base += XX) {
          const a = (k === k2 ? qRow[k] : 0) - qRow[k] * qRow[k2];
          for (let t = 0; t < XX; t++) hessAcc[base + t] += a * xxRow[t];
        }
      }
    }
  }
  const cw = lambda / (K * (K - 1));
  const cb = mu / K;
  let penalty = 0;
  for (let i = 0; i < K; i++) {
    for (let j = 0; j < K; j++) if (i !== j) penalty += cw * theta[i * K + j] * theta[i * K + j];
    penalty += cb * theta[K * K + i] * theta[K * K + i];
  }
  if (grad) {
    for (let p = 0; p < P; p++) grad[p] /= n;
    for (let i = 0; i < K; i++) {
      for (let j = 0; j < K; j++) if (i !== j) grad[i * K + j] += 2 * cw * theta[i * K + j];
      grad[K * K + i] += 2 * cb * theta[K * K + i];
    }
  }
  if (hess) {
    let base = 0;
    for (let k = 0; k < K; k++) {
      for (let k2 = k; k2 < K; k2++, base += XX) {
        let t = 0;
        for (let j = 0; j < E; j++) {
          for (let j2 = j; j2 < E; j2++, t++) {
            const v = hessAcc[base + t] / n;
            // Entry (k, j; k2, j2) and, by symmetry of x x^T, (k, j2; k2, j); then their transposes.
            const r1 = MATRIX_INDEX[k * E + j];
            const c1 = MATRIX_INDEX[k2 * E + j2];
            const r2 = MATRIX_INDEX[k * E + j2];
            const c2 = MATRIX_INDEX[k2 * E + j];
            hess[r1 * P + c1] = v;
            hess[c1 * P + r1] = v;
            hess[r2 * P + c2] = v;
            hess[c2 * P + r2] = v;
          }
        }
      }
    }
    for (let i = 0; i < K; i++) {
      for (let j = 0; j < K; j++) if (i !== j) hess[(i * K + j) * P + i * K + j] += 2 * cw;
      hess[(K * K + i) * P + K * K + i] += 2 * cb;
    }
  }
  return nll / n + penalty;
}

/** Doubles of working space the kernel's matrixObjective uses (src/wasm/scaling.ts). */
const MATRIX_SCRATCH_DOUBLES = 189;

/** The WebAssembly backend's memory for the matrix objective: its inputs, outputs and scratch, grown as needed. */
let objectiveMemory: {
  memory: KernelMemory;
  capacity: number;
  theta: Float64Array;
  grad: Float64Array;
  hess: Float64Array;
  logp: Float64Array;
  labels: Uint8Array;
  offsets: number[];
} | null = null;

/**
 * matrixObjective on the WebAssembly backend (src/wasm/scaling.ts matrixObjective: the same doubles, without the
 * JIT's warm-up on every new thread), or null when the kernel's memory cannot be made. The memory fills whole
 * 64 KiB pages with item rows, so the folds of a cross-fit and the fit on all items share one.
 */
function matrixObjectiveKernel(
  theta: Float64Array,
  logp: Float64Array,
  labels: Uint8Array,
  n: number,
  lambda: number,
  mu: number,
  grad: Float64Array | null,
  hess: Float64Array | null,
): number | null {
  const P = K * K + K;
  if (!(objectiveMemory && objectiveMemory.capacity >= n)) {
    const fixed = (2 * P + P * P + MATRIX_SCRATCH_DOUBLES) * 8;
    const pages = Math.ceil((fixed + n * (K * 8 + 1) + 8) / 65536);
    const capacity = Math.floor((pages * 65536 - fixed - 8) / (K * 8 + 1));
    const laid = KernelMemory.create([P * 8, P * 8, P * P * 8, MATRIX_SCRATCH_DOUBLES * 8, capacity * K * 8, capacity]);
    if (!laid) return null;
    const { buffer } = laid.memory;
    const at = laid.offsets;
    objectiveMemory = {
      memory: laid.memory,
      capacity,
      theta: new Float64Array(buffer, at[0], P),
      grad: new Float64Array(buffer, at[1], P),
      hess: new Float64Array(buffer, at[2], P * P),
      logp: new Float64Array(buffer, at[4], capacity * K),
      labels: new Uint8Array(buffer, at[5], capacity),
      offsets: at,
    };
  }
  const m = objectiveMemory;
  m.theta.set(theta.subarray(0, P));
  m.logp.set(logp.subarray(0, n * K));
  m.labels.set(labels.subarray(0, n));
  const at = m.offsets;
  const loss = m.memory.exports.matrixObjective(
    at[0],
    at[4],
    at[5],
    n,
    lambda,
    mu,
    grad !== null,
    hess !== null,
    at[1],
    at[2],
    at[3],
  );
  if (grad) {
    // Entries past P are 0, as matrixObjective's grad.fill(0) leaves them.
    grad.set(m.grad);
    grad.fill(0, P);
  }
  if (hess) hess.set(m.hess);
  return loss;
}

/**
 * Orthonormal directions along which the objective is exactly flat, so its Hessian is singular there.
 * softmax(s + c 1) = softmax(s), so with mu = 0 the bias may shift by c 1 (vector and matrix), and with
 * lambda = 0 the matrix may shift by 1 v^T (every class score gains v . z; W's diagonal is never penalised,
 * so only lambda > 0 pins this). The solver keeps every step orthogonal to these directions: the fit then
 * stays in the gauge of its starting point, i.e. the returned W has column sums 1 and b sums to 0 whenever
 * the corresponding penalty is zero.
 */
export function gaugeDirections(method: FittedScalingMethod, lambda: number, mu: number): Float64Array[] {
  const P = parameterCount(method);
  const dirs: Float64Array[] = [];
  const unit = 1 / Math.sqrt(K);
  if (method === 'vector' && mu === 0) {
    const d = new Float64Array(P);
    for (let k = 0; k < K; k++) d[K + k] = unit;
    dirs.push(d);
  }
  if (method === 'matrix') {
    if (lambda === 0) {
      for (let j = 0; j < K; j++) {
        const d = new Float64Array(P);
        for (let k = 0; k < K; k++) d[k * K + j] = unit;
        dirs.push(d);
      }
    }
    if (mu === 0) {
      const d = new Float64Array(P);
      for (let k = 0; k < K; k++) d[K * K + k] = unit;
      dirs.push(d);
    }
  }
  return dirs;
}
