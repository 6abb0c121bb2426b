/** The damped Newton solver every scaler is fitted with: Armijo backtracking, a Cholesky step, gauge projection. */
import { choleskyFactor, choleskySolve, dot } from './linalg';

export type Evaluate = (theta: Float64Array, grad: Float64Array | null, hess: Float64Array | null) => number;

export interface SolveResult {
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
export function minimiseNewton(
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
