/** The scalers' shared records: the fitted map, the fitting options and their defaults, the input error (scaling.ts). */
import { DEFAULT_ANALYSIS_SETTINGS, type ScalingMethod } from './types';

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
