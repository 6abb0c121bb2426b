/** Seeded, domain-stratified K-fold cross-fitting: every item calibrated by a scaler fitted without it. */
import { ScalingInputError, type FittedScaler, type FittedScalingMethod, type ScalingOptions } from './scaling-model';
import { applyRow, applyScaler, checkInputs, fitScaler } from './scaling-fit';
import { DEFAULT_ANALYSIS_SETTINGS, NUM_CLASSES as K } from './types';
import { Rng, deriveSeed } from './random';

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
