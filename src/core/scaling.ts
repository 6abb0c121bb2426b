/**
 * Post-hoc scaling of the 4-way letter log-probabilities: temperature, vector and matrix scaling fitted by
 * minimising the NLL (Guo et al. 2017), matrix scaling with the ODIR regulariser (Kull et al. 2019), and
 * seeded, domain-stratified K-fold cross-fitting so every item's calibrated probabilities come from a scaler
 * that never saw it.
 *
 * All three scalers are one affine map of the log-softmax z (the normalised letter logits) followed by a
 * softmax, q = softmax(W z + b):
 *   temperature  W = I / T, b = 0                      (1 parameter, beta = 1/T)
 *   vector       W = diag(a), b free                    (2K parameters)
 *   matrix       W, b free                              (K^2 + K parameters; 20 for K = 4)
 * and each is fitted by minimising the mean negative log-likelihood (plus penalties) with a damped Newton
 * method whose gradient and Hessian are analytic (see `scalingObjective`). Guo, Pleiss, Sun & Weinberger
 * 2017, "On Calibration of Modern Neural Networks" (ICML), section 4.2; Kull, Perello-Nieto, Kängsepp,
 * Silva Filho, Song & Flach 2019, "Beyond temperature scaling: Obtaining well-calibrated multiclass
 * probabilities with Dirichlet calibration" (NeurIPS), which defines the ODIR penalty.
 */
import { DEFAULT_ANALYSIS_SETTINGS, NUM_CLASSES as K, type ScalingMethod } from './types';
import { Rng, deriveSeed } from './random';
import { choleskyFactor, choleskySolve, dot } from './linalg';
import { exp, log } from './detmath';
import { withDefaults } from './defaults';

/** The scaling methods that fit something ('none' is handled by the caller, which skips scaling). */
export type FittedScalingMethod = Exclude<ScalingMethod, 'none'>;

/** A fitted scaler: the affine map W z + b of the log-softmax z, and how the fit ended. */
export interface FittedScaler {
  method: FittedScalingMethod;
  /**
   * K*K row-major weight matrix W of the affine map W z + b applied to the log-softmax z
   * (temperature: W = I/T; vector: W = diag(a)).
   */
  W: Float64Array;
  /** Bias b, length K (zeros for temperature). */
  b: Float64Array;
  /** T for method 'temperature'; Infinity when the optimum is the uniform prediction (see fitTemperatureScaling). */
  temperature?: number;
  /** Final objective: mean NLL plus penalties. */
  loss: number;
  /**
   * 2-norm of the objective's gradient at the returned parameters (for temperature at the bound T = Infinity,
   * the projected gradient, which is 0 there).
   */
  gradNorm: number;
  /** Newton steps taken (accepted line-search steps). */
  iterations: number;
  /**
   * True at a proven minimum: gradNorm < tolerance and a negligible Newton decrement (see minimiseNewton),
   * or, for temperature, the bound optimum T = Infinity. False when the iteration limit was reached or the
   * loss has no minimiser (separable data): the parameters are then finite but arbitrary in scale.
   */
  converged: boolean;
}

/** Fitting options; every field defaults to DEFAULT_SCALING_OPTIONS. */
export interface ScalingOptions {
  /** ODIR weight on the off-diagonal entries of W (matrix scaling only). */
  lambda?: number;
  /** Weight on the bias b (matrix and vector scaling). */
  mu?: number;
  /** Newton steps before giving up (the result then says converged: false). */
  maxIterations?: number;
  /** Stop when the gradient 2-norm of the objective falls below this. */
  tolerance?: number;
}

/** Defaults of every fit. lambda and mu are the study's (DEFAULT_ANALYSIS_SETTINGS). */
export const DEFAULT_SCALING_OPTIONS: Readonly<Required<ScalingOptions>> = Object.freeze({
  lambda: DEFAULT_ANALYSIS_SETTINGS.lambda,
  mu: DEFAULT_ANALYSIS_SETTINGS.mu,
  maxIterations: 100,
  tolerance: 1e-8,
});

/** Input a scaler cannot use (wrong lengths, a label outside 0..K-1, a non-finite log-probability, no items). */
export class ScalingInputError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ScalingInputError';
  }
}

// ---------------------------------------------------------------------------------------------------
// Objectives
// ---------------------------------------------------------------------------------------------------

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
  return matrixObjective(theta, logp, labels, n, penalties.lambda, penalties.mu, g, h);
}

// Scratch rows shared by the objectives: no allocation per item or per call.
const sRow = new Float64Array(K);
const qRow = new Float64Array(K);

/** Writes q = softmax(s) into qRow and returns logsumexp(s) (max-shifted; exact for any finite s). */
function softmaxInPlace(): number {
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

/**
 * Orthonormal directions along which the objective is exactly flat, so its Hessian is singular there.
 * softmax(s + c 1) = softmax(s), so with mu = 0 the bias may shift by c 1 (vector and matrix), and with
 * lambda = 0 the matrix may shift by 1 v^T (every class score gains v . z; W's diagonal is never penalised,
 * so only lambda > 0 pins this). The solver keeps every step orthogonal to these directions: the fit then
 * stays in the gauge of its starting point, i.e. the returned W has column sums 1 and b sums to 0 whenever
 * the corresponding penalty is zero.
 */
function gaugeDirections(method: FittedScalingMethod, lambda: number, mu: number): Float64Array[] {
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

// ---------------------------------------------------------------------------------------------------
// Damped Newton solver
// ---------------------------------------------------------------------------------------------------

type Evaluate = (theta: Float64Array, grad: Float64Array | null, hess: Float64Array | null) => number;

interface SolveResult {
  loss: number;
  gradNorm: number;
  iterations: number;
  converged: boolean;
}

/** Armijo sufficient-decrease constant (Nocedal & Wright 2006, Numerical Optimization, eq. 3.4). */
const ARMIJO_C = 1e-4;
/** Step halvings before a search direction is abandoned. */
const MAX_BACKTRACKS = 40;
/**
 * A point with gradient below tolerance counts as converged when the Newton decrement g^T H^-1 g is at most
 * this fraction of the objective (at a proper minimum it is ~ |g|^2 / curvature, many orders smaller).
 */
const DECREMENT_RTOL = 1e-6;
/** Newton steps still taken after the gradient fell below tolerance, before declaring no minimum. */
const MAX_EXTRA_STEPS = 3;
/** Relative Levenberg-Marquardt damping tried first, as a fraction of the Hessian's largest diagonal entry. */
const INITIAL_DAMPING = 1e-12;

/**
 * Minimises a convex objective from `theta` (updated in place) by Newton's method with Levenberg-Marquardt
 * damping and a backtracking line search (Nocedal & Wright 2006, ch. 3 and 10.3).
 *
 * Each step solves (H + gamma N N^T + delta I) p = -g by Cholesky. N holds the exact flat directions of
 * the objective (gaugeDirections), given curvature gamma = max diag(H) so the system is nonsingular, and p is
 * then projected orthogonal to N (the gauge fix). delta starts at 1e-12 max diag(H) and grows 100-fold until
 * the factorisation succeeds, which covers the remaining, data-made singularities (n = 1, separable data
 * with no penalty) where the Newton step lives in the Hessian's range anyway. The step is capped at
 * 10 max(1, |theta|) so an almost flat direction cannot throw theta to overflow; a trial point is accepted
 * on Armijo decrease, or, when the loss differs only by rounding (1e-12 relative), on a smaller gradient
 * norm, which lets the quadratic final steps reach a 1e-8 gradient. Non-finite trial losses are rejected,
 * so theta, the loss and the gradient stay finite.
 *
 * Convergence: gradient 2-norm below `tolerance` and a Newton decrement g^T H^-1 g below 1e-6 of the
 * objective. The second test tells a minimum from an infimum at infinity: on separable data without an
 * effective penalty (n = 1, every label the argmax, every label one class with W's unpenalised diagonal)
 * the loss decays geometrically along a direction whose curvature vanishes with it, so the gradient falls
 * below any tolerance at finite, large parameters while Newton still predicts halving the loss. The solver
 * then takes up to 3 more steps and returns the last point with converged = false. It never throws on data
 * and stops at maxIterations with converged = false.
 */
function minimiseNewton(
  theta: Float64Array,
  evaluate: Evaluate,
  gauge: Float64Array[],
  maxIterations: number,
  tolerance: number,
): SolveResult {
  const P = theta.length;
  let grad = new Float64Array(P);
  let trialGrad = new Float64Array(P);
  const hess = new Float64Array(P * P);
  const trial = new Float64Array(P);
  const system = new Float64Array(P * P);
  const step = new Float64Array(P);

  let loss = evaluate(theta, grad, null);
  let gradNorm = Math.sqrt(dot(grad, grad));
  let iterations = 0;
  let converged = false;
  let extraSteps = 0;
  for (;;) {
    const small = gradNorm < tolerance;
    if (!small && iterations >= maxIterations) break;
    evaluate(theta, null, hess);
    newtonStep(hess, grad, gauge, system, step, P);
    if (small) {
      // A small gradient is a minimum only if Newton predicts no material further decrease: on separable
      // data the gradient and the curvature vanish together and the Newton decrement g^T H^-1 g stays a
      // fixed fraction of the loss, however small both become.
      const decrement = -dot(grad, step);
      if (decrement <= DECREMENT_RTOL * Math.abs(loss)) {
        converged = true;
        break;
      }
      if (extraSteps >= MAX_EXTRA_STEPS || iterations >= maxIterations) break;
      extraSteps++;
    }
    const thetaNorm = Math.sqrt(dot(theta, theta));
    const stepNorm = Math.sqrt(dot(step, step));
    const maxStep = 10 * Math.max(1, thetaNorm);
    if (stepNorm > maxStep) for (let p = 0; p < P; p++) step[p] *= maxStep / stepNorm;
    const slope = dot(grad, step);

    let accepted = false;
    let t = 1;
    for (let attempt = 0; attempt <= MAX_BACKTRACKS; attempt++, t *= 0.5) {
      for (let p = 0; p < P; p++) trial[p] = theta[p] + t * step[p];
      const trialLoss = evaluate(trial, trialGrad, null);
      if (!Number.isFinite(trialLoss)) continue;
      const trialGradNorm = Math.sqrt(dot(trialGrad, trialGrad));
      const armijo = trialLoss <= loss + ARMIJO_C * t * slope;
      const withinRounding = trialLoss <= loss + 1e-12 * Math.max(1, Math.abs(loss));
      if (!armijo && !(withinRounding && trialGradNorm < gradNorm)) continue;
      theta.set(trial);
      loss = trialLoss;
      gradNorm = trialGradNorm;
      [grad, trialGrad] = [trialGrad, grad];
      accepted = true;
      break;
    }
    if (!accepted) break;
    iterations++;
  }
  return { loss, gradNorm, iterations, converged };
}

/** Writes the damped, gauge-fixed Newton direction into `step` (a descent direction whenever g != 0). */
function newtonStep(
  hess: Float64Array,
  grad: Float64Array,
  gauge: Float64Array[],
  system: Float64Array,
  step: Float64Array,
  P: number,
): void {
  let scale = 0;
  for (let p = 0; p < P; p++) scale = Math.max(scale, hess[p * P + p]);
  if (!(scale > 0) || !Number.isFinite(scale)) scale = 1;
  let factored = false;
  for (let delta = INITIAL_DAMPING * scale; delta <= 1e12 * scale; delta *= 100) {
    system.set(hess);
    for (const d of gauge) {
      for (let i = 0; i < P; i++) {
        if (d[i] === 0) continue;
        for (let j = 0; j < P; j++) system[i * P + j] += scale * d[i] * d[j];
      }
    }
    for (let p = 0; p < P; p++) system[p * P + p] += delta;
    if (choleskyFactor(system, P)) {
      factored = true;
      break;
    }
  }
  for (let p = 0; p < P; p++) step[p] = -grad[p];
  if (factored) choleskySolve(system, P, step);
  projectOut(step, gauge);
  if (!(dot(step, grad) < 0) || !step.every(Number.isFinite)) {
    // Steepest descent: reachable only when rounding spoils the factorisation.
    for (let p = 0; p < P; p++) step[p] = -grad[p];
    projectOut(step, gauge);
  }
}

function projectOut(v: Float64Array, gauge: Float64Array[]): void {
  for (const d of gauge) {
    const c = dot(v, d);
    for (let i = 0; i < v.length; i++) v[i] -= c * d[i];
  }
}

// ---------------------------------------------------------------------------------------------------
// Fitting
// ---------------------------------------------------------------------------------------------------

/** Checks the shared inputs of every fit; returns n. */
function checkInputs(logp: Float64Array, labels: Uint8Array, what: string): number {
  const n = labels.length;
  if (n === 0) throw new ScalingInputError(`${what}: no items to fit on`);
  if (logp.length !== n * K) {
    throw new ScalingInputError(
      `${what}: expected ${n * K} log-probabilities (${n} items x ${K} classes), got ${logp.length}`,
    );
  }
  for (let i = 0; i < n; i++) {
    if (labels[i] >= K) throw new ScalingInputError(`${what}: item ${i} has label ${labels[i]}, expected 0..${K - 1}`);
  }
  checkFinite(logp, what);
  return n;
}

/**
 * Refuses non-finite log-probabilities. The log-softmax of finite logits is finite, so a -Infinity (a letter
 * given probability exactly 0) or NaN means the input was not produced the documented way, and W z + b
 * would turn it into NaN (0 * -Infinity) rather than a probability.
 */
function checkFinite(logp: Float64Array, what: string): void {
  for (let p = 0; p < logp.length; p++) {
    if (!Number.isFinite(logp[p])) {
      const item = Math.floor(p / K);
      throw new ScalingInputError(
        `${what}: item ${item}, class ${p % K}: log-probability is ${logp[p]}, expected a finite number`,
      );
    }
  }
}

function resolveOptions(opts: ScalingOptions | undefined): Required<ScalingOptions> {
  const o = withDefaults<Required<ScalingOptions>>(DEFAULT_SCALING_OPTIONS, opts);
  if (!(Number.isFinite(o.lambda) && o.lambda >= 0)) throw new RangeError(`lambda must be a finite number >= 0, got ${o.lambda}`);
  if (!(Number.isFinite(o.mu) && o.mu >= 0)) throw new RangeError(`mu must be a finite number >= 0, got ${o.mu}`);
  if (!(Number.isInteger(o.maxIterations) && o.maxIterations >= 0)) {
    throw new RangeError(`maxIterations must be an integer >= 0, got ${o.maxIterations}`);
  }
  if (!(Number.isFinite(o.tolerance) && o.tolerance > 0)) throw new RangeError(`tolerance must be > 0, got ${o.tolerance}`);
  return o;
}

/** Builds the FittedScaler (W, b) that parameters `theta` of `method` stand for. */
function scalerFromParameters(
  method: FittedScalingMethod,
  theta: Float64Array,
  fit: SolveResult,
): FittedScaler {
  const W = new Float64Array(K * K);
  const b = new Float64Array(K);
  if (method === 'temperature') {
    for (let k = 0; k < K; k++) W[k * K + k] = theta[0];
    return { method, W, b, temperature: theta[0] > 0 ? 1 / theta[0] : Infinity, ...fit };
  }
  if (method === 'vector') {
    for (let k = 0; k < K; k++) {
      W[k * K + k] = theta[k];
      b[k] = theta[K + k];
    }
    return { method, W, b, ...fit };
  }
  W.set(theta.subarray(0, K * K));
  b.set(theta.subarray(K * K));
  return { method, W, b, ...fit };
}

/**
 * Temperature scaling (Guo et al. 2017, section 4.2): q = softmax(z / T), T > 0 minimising the
 * mean NLL, no penalty. Fitted over beta = 1/T, in which the NLL is convex (s = beta z is linear in beta),
 * by damped Newton from beta = 1. The constraint T > 0 is beta >= 0: when the NLL's slope at beta = 0,
 * mean_i (mean_k z_ik - z_iy), is >= 0, the model ranks the gold letter below average and the constrained
 * optimum is beta = 0, i.e. T = Infinity and the uniform prediction; the result then has W = 0,
 * temperature = Infinity, projected gradient 0 and converged = true.
 */
export function fitTemperatureScaling(logp: Float64Array, labels: Uint8Array, opts?: ScalingOptions): FittedScaler {
  checkInputs(logp, labels, 'temperature scaling');
  const o = resolveOptions(opts);
  const penalties = { lambda: 0, mu: 0 };
  const evaluate: Evaluate = (theta, g, h) => scalingObjective('temperature', theta, logp, labels, penalties, g, h);
  const theta = new Float64Array(1);
  const g0 = new Float64Array(1);
  const lossAtZero = evaluate(theta, g0, null);
  if (g0[0] >= 0) {
    return scalerFromParameters('temperature', theta, { loss: lossAtZero, gradNorm: 0, iterations: 0, converged: true });
  }
  theta[0] = 1;
  const fit = minimiseNewton(theta, evaluate, [], o.maxIterations, o.tolerance);
  if (!(theta[0] > 0)) {
    // Only reachable when the iteration limit stops a step that overshot below zero.
    theta[0] = 0;
    const g = new Float64Array(1);
    fit.loss = evaluate(theta, g, null);
    fit.gradNorm = Math.abs(g[0]);
    fit.converged = false;
  }
  return scalerFromParameters('temperature', theta, fit);
}

/**
 * Vector scaling (Guo et al. 2017, section 4.2): q = softmax(a * z + b), a and b per class, minimising
 * mean NLL + mu/K sum_k b_k^2 from a = 1, b = 0. The penalty on b is ODIR's bias term (Kull et al. 2019);
 * a is not penalised and lambda is not used. With mu = 0 the bias is defined only up to b + c 1; the solver
 * keeps sum_k b_k = 0 (see gaugeDirections).
 */
export function fitVectorScaling(logp: Float64Array, labels: Uint8Array, opts?: ScalingOptions): FittedScaler {
  checkInputs(logp, labels, 'vector scaling');
  const o = resolveOptions(opts);
  const penalties = { lambda: 0, mu: o.mu };
  const theta = identityParameters('vector');
  const fit = minimiseNewton(
    theta,
    (t, g, h) => scalingObjective('vector', t, logp, labels, penalties, g, h),
    gaugeDirections('vector', 0, o.mu),
    o.maxIterations,
    o.tolerance,
  );
  return scalerFromParameters('vector', theta, fit);
}

/**
 * Matrix scaling (Guo et al. 2017, section 4.2) with the ODIR regulariser (Kull et al. 2019):
 * q = softmax(W z + b) minimising
 *   mean NLL + lambda/(K(K-1)) sum_{i != j} W_ij^2 + mu/K sum_j b_j^2,
 * from W = I, b = 0; defaults lambda = mu = 0.01. With lambda = mu = 0 the Hessian is singular (the softmax
 * ignores W + 1 v^T and b + c 1); the solver then returns the optimum whose W has column sums 1 and whose b
 * sums to 0 (see gaugeDirections and minimiseNewton).
 */
export function fitMatrixScaling(logp: Float64Array, labels: Uint8Array, opts?: ScalingOptions): FittedScaler {
  checkInputs(logp, labels, 'matrix scaling');
  const o = resolveOptions(opts);
  const penalties = { lambda: o.lambda, mu: o.mu };
  const theta = identityParameters('matrix');
  const fit = minimiseNewton(
    theta,
    (t, g, h) => scalingObjective('matrix', t, logp, labels, penalties, g, h),
    gaugeDirections('matrix', o.lambda, o.mu),
    o.maxIterations,
    o.tolerance,
  );
  return scalerFromParameters('matrix', theta, fit);
}

/** Fits the named scaler. 'none' is not accepted: the analysis skips scaling for it. */
export function fitScaler(
  method: FittedScalingMethod,
  logp: Float64Array,
  labels: Uint8Array,
  opts?: ScalingOptions,
): FittedScaler {
  switch (method) {
    case 'temperature':
      return fitTemperatureScaling(logp, labels, opts);
    case 'vector':
      return fitVectorScaling(logp, labels, opts);
    case 'matrix':
      return fitMatrixScaling(logp, labels, opts);
    default:
      throw new RangeError(`fitScaler: unknown scaling method '${String(method)}' (expected temperature, vector or matrix)`);
  }
}

/** Writes the 4-way log-softmax of W z + b for row `i` of `logp` into `out` (in place is allowed). */
function applyRow(s: FittedScaler, logp: Float64Array, i: number, out: Float64Array): void {
  const o = i * K;
  for (let k = 0; k < K; k++) {
    let v = s.b[k];
    for (let j = 0; j < K; j++) v += s.W[k * K + j] * logp[o + j];
    sRow[k] = v;
  }
  const lse = softmaxInPlace();
  for (let k = 0; k < K; k++) out[o + k] = sRow[k] - lse;
}

/**
 * Returns the 4-way log-softmax of W z + b for every row (writes into out when given; out may be logp
 * itself). Refuses non-finite inputs like the fits do.
 */
export function applyScaler(s: FittedScaler, logp: Float64Array, out?: Float64Array): Float64Array {
  if (logp.length % K !== 0) throw new ScalingInputError(`applyScaler: ${logp.length} values is not a whole number of ${K}-class rows`);
  const result = out ?? new Float64Array(logp.length);
  if (result.length !== logp.length) {
    throw new ScalingInputError(`applyScaler: out has length ${result.length}, expected ${logp.length}`);
  }
  checkFinite(logp, 'applyScaler');
  const n = logp.length / K;
  for (let i = 0; i < n; i++) applyRow(s, logp, i, result);
  return result;
}

// ---------------------------------------------------------------------------------------------------
// Cross-fitting
// ---------------------------------------------------------------------------------------------------

/**
 * Fold index (0..folds-1) per item: seeded, stratified by group when groups are given (each group's items
 * are shuffled with the seeded Rng and dealt round-robin into folds), deterministic on every machine.
 * Groups are taken in increasing group index, items within a group in index order before the shuffle, and
 * the dealing continues across groups (a group starts at the fold after the one the previous group ended
 * on), so fold sizes differ by at most 1 both within every group and overall. The stream is
 * `new Rng(deriveSeed(seed, 'folds'))`, independent of the bootstrap's and permutation test's streams.
 */
export function stratifiedFolds(n: number, folds: number, seed: number, groups?: Uint16Array | null): Uint8Array {
  if (!(Number.isInteger(n) && n >= 0)) throw new RangeError(`stratifiedFolds: n must be an integer >= 0, got ${n}`);
  if (!(Number.isInteger(folds) && folds >= 1 && folds <= 255)) {
    throw new RangeError(`stratifiedFolds: folds must be an integer in 1..255, got ${folds}`);
  }
  if (groups && groups.length !== n) {
    throw new ScalingInputError(`stratifiedFolds: ${groups.length} group indices for ${n} items`);
  }
  const rng = new Rng(deriveSeed(seed, 'folds'));
  const out = new Uint8Array(n);
  const order = new Int32Array(n);
  if (!groups) {
    for (let i = 0; i < n; i++) order[i] = i;
    rng.shuffle(order);
    for (let r = 0; r < n; r++) out[order[r]] = r % folds;
    return out;
  }
  let maxGroup = 0;
  for (let i = 0; i < n; i++) if (groups[i] > maxGroup) maxGroup = groups[i];
  const start = new Int32Array(maxGroup + 2);
  for (let i = 0; i < n; i++) start[groups[i] + 1]++;
  for (let g = 0; g <= maxGroup; g++) start[g + 1] += start[g];
  const fill = start.slice(0, maxGroup + 1);
  for (let i = 0; i < n; i++) order[fill[groups[i]]++] = i;
  let deal = 0;
  for (let g = 0; g <= maxGroup; g++) {
    const members = order.subarray(start[g], start[g + 1]);
    rng.shuffle(members);
    for (let r = 0; r < members.length; r++) out[members[r]] = deal++ % folds;
  }
  return out;
}

/** Options of crossFitScaling; defaults: 5 folds, seed 0, no groups, out-of-sample, DEFAULT_SCALING_OPTIONS. */
export interface CrossFitOptions extends ScalingOptions {
  folds?: number;
  seed?: number;
  groups?: Uint16Array | null;
  inSample?: boolean;
}

/** Calibrated log-probabilities and how they were obtained. */
export interface CrossFitResult {
  /** n*K row-major 4-way log-softmax after scaling. */
  logp: Float64Array;
  /** Fold of each item; its row of `logp` comes from scalers[fold]. All 0 when inSample. */
  folds: Uint8Array;
  /** scalers[f] was fitted on every item outside fold f (inSample: one scaler fitted on all items). */
  scalers: FittedScaler[];
  /** True when the scaler saw the items it was applied to (optimistic; always labelled as such). */
  inSample: boolean;
}

/**
 * K-fold cross-fitting: every item's calibrated log-probabilities come from a scaler fitted on the other
 * folds (folds from stratifiedFolds, stratified by `groups` when given). inSample: true fits once on all
 * items and applies to all (and the result says so). Each fold's training set keeps the items' index order.
 */
export function crossFitScaling(
  method: FittedScalingMethod,
  logp: Float64Array,
  labels: Uint8Array,
  opts: CrossFitOptions = {},
): CrossFitResult {
  const n = checkInputs(logp, labels, `cross-fitted ${method} scaling`);
  const folds = opts.folds ?? DEFAULT_ANALYSIS_SETTINGS.folds;
  const seed = opts.seed ?? DEFAULT_ANALYSIS_SETTINGS.seed;
  const fitOpts: ScalingOptions = {
    lambda: opts.lambda,
    mu: opts.mu,
    maxIterations: opts.maxIterations,
    tolerance: opts.tolerance,
  };
  if (opts.inSample) {
    if (opts.groups && opts.groups.length !== n) {
      throw new ScalingInputError(`crossFitScaling: ${opts.groups.length} group indices for ${n} items`);
    }
    const scaler = fitScaler(method, logp, labels, fitOpts);
    return { logp: applyScaler(scaler, logp), folds: new Uint8Array(n), scalers: [scaler], inSample: true };
  }
  if (!(Number.isInteger(folds) && folds >= 2)) {
    throw new RangeError(`crossFitScaling: folds must be an integer >= 2 (or use inSample), got ${folds}`);
  }
  if (n < 2) throw new ScalingInputError(`crossFitScaling: cross-fitting needs at least 2 items, got ${n}`);
  const foldOf = stratifiedFolds(n, folds, seed, opts.groups);
  const out = new Float64Array(n * K);
  const trainLogp = new Float64Array(n * K);
  const trainLabels = new Uint8Array(n);
  const scalers: FittedScaler[] = [];
  for (let f = 0; f < folds; f++) {
    let m = 0;
    for (let i = 0; i < n; i++) {
      if (foldOf[i] === f) continue;
      for (let k = 0; k < K; k++) trainLogp[m * K + k] = logp[i * K + k];
      trainLabels[m++] = labels[i];
    }
    const scaler = fitScaler(method, trainLogp.subarray(0, m * K), trainLabels.subarray(0, m), fitOpts);
    scalers.push(scaler);
    for (let i = 0; i < n; i++) if (foldOf[i] === f) applyRow(scaler, logp, i, out);
  }
  return { logp: out, folds: foldOf, scalers, inSample: false };
}
