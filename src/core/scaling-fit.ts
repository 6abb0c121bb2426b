/** Fitting a scaler to log-probabilities and labels, and applying it (scaling.ts gives the maps and sources). */
import {
  DEFAULT_SCALING_OPTIONS,
  ScalingInputError,
  type FittedScaler,
  type FittedScalingMethod,
  type ScalingOptions,
} from './scaling-model';
import { gaugeDirections, identityParameters, scalingObjective, softmaxInPlace, sRow } from './scaling-objectives';
import { minimiseNewton, type Evaluate, type SolveResult } from './scaling-newton';
import { NUM_CLASSES as K } from './types';
import { withDefaults } from './defaults';

/** Checks the shared inputs of every fit; returns n. */
export function checkInputs(logp: Float64Array, labels: Uint8Array, what: string): number {
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
  if (!(Number.isFinite(o.lambda) && o.lambda >= 0))
    throw new RangeError(`lambda must be a finite number >= 0, got ${o.lambda}`);
  if (!(Number.isFinite(o.mu) && o.mu >= 0)) throw new RangeError(`mu must be a finite number >= 0, got ${o.mu}`);
  if (!(Number.isInteger(o.maxIterations) && o.maxIterations >= 0)) {
    throw new RangeError(`maxIterations must be an integer >= 0, got ${o.maxIterations}`);
  }
  if (!(Number.isFinite(o.tolerance) && o.tolerance > 0))
    throw new RangeError(`tolerance must be > 0, got ${o.tolerance}`);
  return o;
}

/** Builds the FittedScaler (W, b) that parameters `theta` of `method` stand for. */
function scalerFromParameters(method: FittedScalingMethod, theta: Float64Array, fit: SolveResult): FittedScaler {
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
    return scalerFromParameters('temperature', theta, {
      loss: lossAtZero,
      gradNorm: 0,
      iterations: 0,
      converged: true,
    });
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
      throw new RangeError(
        `fitScaler: unknown scaling method '${String(method)}' (expected temperature, vector or matrix)`,
      );
  }
}

/** Writes the 4-way log-softmax of W z + b for row `i` of `logp` into `out` (in place is allowed). */
export function applyRow(s: FittedScaler, logp: Float64Array, i: number, out: Float64Array): void {
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
  if (logp.length % K !== 0)
    throw new ScalingInputError(`applyScaler: ${logp.length} values is not a whole number of ${K}-class rows`);
  const result = out ?? new Float64Array(logp.length);
  if (result.length !== logp.length) {
    throw new ScalingInputError(`applyScaler: out has length ${result.length}, expected ${logp.length}`);
  }
  checkFinite(logp, 'applyScaler');
  const n = logp.length / K;
  for (let i = 0; i < n; i++) applyRow(s, logp, i, result);
  return result;
}
