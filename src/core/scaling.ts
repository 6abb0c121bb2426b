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
 *
 * The parts: scaling-model.ts (the fitted map, options, input error), scaling-objectives.ts (NLL and penalties
 * with gradient and Hessian), scaling-newton.ts (the damped Newton solver), scaling-fit.ts (fitting and
 * applying), scaling-crossfit.ts (stratified folds and cross-fitting). This file is their public face.
 */
export {
  DEFAULT_SCALING_OPTIONS,
  ScalingInputError,
  type FittedScaler,
  type FittedScalingMethod,
  type ScalingOptions,
} from './scaling-model';
export { identityParameters, parameterCount, scalingObjective } from './scaling-objectives';
export { applyScaler, fitMatrixScaling, fitScaler, fitTemperatureScaling, fitVectorScaling } from './scaling-fit';
export { crossFitScaling, stratifiedFolds, type CrossFitOptions, type CrossFitResult } from './scaling-crossfit';
