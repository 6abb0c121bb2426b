/**
 * Calibration and accuracy metrics of 4-way answer distributions, each defined once here with its formula,
 * binning convention and source. These functions are the definitions; the resampling kernel in stats.ts
 * computes the same quantities with integer weights and is tested against them.
 *
 * Conventions shared by every metric:
 * - Inputs are `Predictions`: per item the 4-way log-softmax `logp`, its exponent `probs`, and the label.
 * - prediction = first argmax of p (a tie goes to the earlier letter); confidence c = max_k p_k;
 *   correct a = [prediction == label].
 * - Equal-width binning with B bins uses the right-closed bins (b/B, (b+1)/B], b = 0..B-1, the first bin also
 *   holding 0 (Guo et al. 2017). A value exactly on an edge b/B belongs to the bin that ends there, as in
 *   verified_calibration (Kumar et al. 2019, `get_bin` = `bisect_left` over the upper edges). netcal bins with
 *   numpy histograms instead, which put an edge value in the bin that starts there; the two agree off the edges.
 * - n = 0 gives NaN for every metric.
 */

import { NUM_CLASSES as K } from './types';
import { exp, log } from './detmath';
import type { ReliabilityBin } from './types';

/** Scores of n items in the shape every metric takes. Arrays are row-major n x 4. */
export interface Predictions {
  n: number;
  /** 4-way log-softmax per item (each row's logsumexp is 0). */
  logp: Float64Array;
  /** exp(logp) per item (rows sum to 1). */
  probs: Float64Array;
  /** Gold index 0..3 per item. */
  labels: Uint8Array;
}

/** Numerically stable 4-way log-softmax of one row of raw scores, written into out at offset. */
export function logSoftmaxRow(z: ArrayLike<number>, zOffset: number, out: Float64Array, outOffset: number): void {
  let m = -Infinity;
  for (let k = 0; k < K; k++) m = Math.max(m, z[zOffset + k]);
  let s = 0;
  for (let k = 0; k < K; k++) s += exp(z[zOffset + k] - m);
  const lse = m + log(s);
  for (let k = 0; k < K; k++) out[outOffset + k] = z[zOffset + k] - lse;
}

/**
 * Builds Predictions from raw letter scores (n x 4, any per-item additive constant) and labels. Scores must be
 * finite; that is checked at the data boundary, not here.
 */
export function predictionsFromLogits(logits: ArrayLike<number>, labels: Uint8Array): Predictions {
  const n = labels.length;
  if (logits.length !== n * K) throw new RangeError(`expected ${n * K} logits for ${n} items, got ${logits.length}`);
  const logp = new Float64Array(n * K);
  for (let i = 0; i < n; i++) logSoftmaxRow(logits, i * K, logp, i * K);
  const probs = new Float64Array(n * K);
  for (let j = 0; j < n * K; j++) probs[j] = exp(logp[j]);
  return { n, logp, probs, labels };
}

/**
 * Builds Predictions from probabilities (n x 4, rows summing to 1), keeping them exactly as given; used by tests
 * that place a confidence exactly on a bin edge.
 */
export function predictionsFromProbabilities(probs: ArrayLike<number>, labels: Uint8Array): Predictions {
  const n = labels.length;
  if (probs.length !== n * K)
    throw new RangeError(`expected ${n * K} probabilities for ${n} items, got ${probs.length}`);
  const p = Float64Array.from(probs);
  const logp = new Float64Array(n * K);
  for (let j = 0; j < n * K; j++) logp[j] = log(p[j]);
  return { n, logp, probs: p, labels };
}

/** The items at the given indices, in that order, as new Predictions. */
export function selectPredictions(pred: Predictions, rows: readonly number[]): Predictions {
  const logp = new Float64Array(rows.length * K);
  const probs = new Float64Array(rows.length * K);
  const labels = new Uint8Array(rows.length);
  rows.forEach((i, j) => {
    logp.set(pred.logp.subarray(i * K, i * K + K), j * K);
    probs.set(pred.probs.subarray(i * K, i * K + K), j * K);
    labels[j] = pred.labels[i];
  });
  return { n: rows.length, logp, probs, labels };
}

/** Index of the first maximum of row i (ties go to the earlier letter). */
export function predictedClass(probs: Float64Array, i: number): number {
  let best = 0;
  for (let k = 1; k < K; k++) if (probs[i * K + k] > probs[i * K + best]) best = k;
  return best;
}

/** Top-label confidence c_i = max_k p_ik and correctness a_i = [argmax == y_i] for every item. */
export function topLabel(pred: Predictions): { confidence: Float64Array; correct: Uint8Array } {
  const confidence = new Float64Array(pred.n);
  const correct = new Uint8Array(pred.n);
  for (let i = 0; i < pred.n; i++) {
    const k = predictedClass(pred.probs, i);
    confidence[i] = pred.probs[i * K + k];
    correct[i] = k === pred.labels[i] ? 1 : 0;
  }
  return { confidence, correct };
}

/** One item's 4-way answer distribution from its raw letter scores, as the metrics see it. */
export interface LetterDistribution {
  /** p_k = exp(z_k - logsumexp(z)): bit for bit the row predictionsFromLogits builds. */
  probs: [number, number, number, number];
  /** First argmax of p (a tie goes to the earlier letter), as predictedClass. */
  prediction: number;
  /** Top-label confidence max_k p_k. */
  confidence: number;
}

/**
 * softmax and top label of one item's raw scores (any additive constant), computed exactly as
 * predictionsFromLogits and topLabel compute them, so an exported probability or a live count equals the
 * analysis's own. The one softmax outside the batch functions: every layer that shows a probability calls it.
 */
export function letterDistribution(z: ArrayLike<number>): LetterDistribution {
  const logp = new Float64Array(K);
  logSoftmaxRow(z, 0, logp, 0);
  const probs = new Float64Array(K);
  for (let k = 0; k < K; k++) probs[k] = exp(logp[k]);
  const prediction = predictedClass(probs, 0);
  return { probs: [probs[0], probs[1], probs[2], probs[3]], prediction, confidence: probs[prediction] };
}

/**
 * The equal-width bin of a value in [0, 1]: bins (b/B, (b+1)/B], the first also holding 0. The edge test is
 * made against the edges as computed (b/B in floating point), so a value equal to an edge stays in the bin
 * that ends at it, whatever rounding c*B suffers.
 */
export function equalWidthBin(value: number, bins: number): number {
  if (!(value > 0)) return 0;
  let b = Math.ceil(value * bins) - 1;
  if (b < 0) b = 0;
  if (b > bins - 1) b = bins - 1;
  if (b > 0 && value <= b / bins) b--;
  else if (b < bins - 1 && value > (b + 1) / bins) b++;
  return b;
}

function checkBins(bins: number): void {
  if (!Number.isInteger(bins) || bins < 1) throw new RangeError(`bins must be a positive integer, got ${bins}`);
}

/** Accuracy = (1/n) sum_i [argmax_k p_ik == y_i], ties to the earlier letter. */
export function accuracy(pred: Predictions): number {
  if (pred.n === 0) return NaN;
  let s = 0;
  for (let i = 0; i < pred.n; i++) if (predictedClass(pred.probs, i) === pred.labels[i]) s++;
  return s / pred.n;
}

/**
 * Negative log-likelihood (mean cross-entropy, nats) = (1/n) sum_i -log p_{i,y_i}
 * = (1/n) sum_i (logsumexp(z_i) - z_{i,y_i}) for raw scores z.
 */
export function negativeLogLikelihood(pred: Predictions): number {
  if (pred.n === 0) return NaN;
  let s = 0;
  for (let i = 0; i < pred.n; i++) s -= pred.logp[i * K + pred.labels[i]];
  return s / pred.n;
}

/**
 * Multiclass Brier score (Brier 1950) = (1/n) sum_i sum_k (p_ik - [y_i = k])^2, in [0, 2].
 */
export function brierScore(pred: Predictions): number {
  if (pred.n === 0) return NaN;
  let s = 0;
  for (let i = 0; i < pred.n; i++) {
    for (let k = 0; k < K; k++) {
      const d = pred.probs[i * K + k] - (pred.labels[i] === k ? 1 : 0);
      s += d * d;
    }
  }
  return s / pred.n;
}

/**
 * Reliability-diagram data: for each of B equal-width bins (b/B, (b+1)/B] (first bin also holds 0) of the
 * top-label confidence, the item count, the mean confidence conf_b and the accuracy acc_b (NaN when empty).
 */
export function reliabilityDiagram(pred: Predictions, bins = 15): ReliabilityBin[] {
  checkBins(bins);
  const { confidence, correct } = topLabel(pred);
  const count = new Float64Array(bins);
  const sumConf = new Float64Array(bins);
  const sumAcc = new Float64Array(bins);
  for (let i = 0; i < pred.n; i++) {
    const b = equalWidthBin(confidence[i], bins);
    count[b]++;
    sumConf[b] += confidence[i];
    sumAcc[b] += correct[i];
  }
  return Array.from({ length: bins }, (_, b) => ({
    lo: b / bins,
    hi: (b + 1) / bins,
    count: count[b],
    confidence: count[b] > 0 ? sumConf[b] / count[b] : NaN,
    accuracy: count[b] > 0 ? sumAcc[b] / count[b] : NaN,
  }));
}

/**
 * Expected calibration error, top-label, equal-width bins (Guo et al. 2017, "On Calibration of Modern Neural
 * Networks", eq. 3; Naeini et al. 2015):
 *   ECE = sum_b (n_b / n) |acc_b - conf_b|
 * over B bins (b/B, (b+1)/B] of the confidence c = max_k p_k, the first bin also holding 0; empty bins add 0.
 * Default B = 15 as in Guo et al.
 */
export function expectedCalibrationError(pred: Predictions, bins = 15): number {
  if (pred.n === 0) return NaN;
  let s = 0;
  for (const bin of reliabilityDiagram(pred, bins)) {
    if (bin.count > 0) s += (bin.count / pred.n) * Math.abs(bin.accuracy - bin.confidence);
  }
  return s;
}

/**
 * Maximum calibration error (Naeini et al. 2015; Guo et al. 2017, eq. 5), top-label, the same bins as ECE:
 *   MCE = max over bins b with n_b >= minCount of |acc_b - conf_b|.
 * Returns the value, the count of the bin attaining it (the lowest such bin on a tie) and its index; NaN and
 * count 0 when no bin has minCount items. Default minCount = 1 (every non-empty bin).
 */
export function maximumCalibrationError(
  pred: Predictions,
  bins = 15,
  minCount = 1,
): { value: number; count: number; bin: number } {
  let best = { value: NaN, count: 0, bin: -1 };
  if (pred.n === 0) return best;
  const threshold = Math.max(1, minCount);
  reliabilityDiagram(pred, bins).forEach((bin, b) => {
    if (bin.count < threshold) return;
    const gap = Math.abs(bin.accuracy - bin.confidence);
    if (best.bin < 0 || gap > best.value) best = { value: gap, count: bin.count, bin: b };
  });
  return best;
}

/**
 * Boundaries of B equal-mass bins over sorted values, as Kumar et al. 2019 ("Verified Uncertainty Calibration",
 * NeurIPS; their `get_equal_bins`) build them: split the sorted values into B chunks as numpy.array_split does
 * (the first n mod B chunks one longer), put a boundary at the midpoint between the last value of each chunk and
 * the first of the next, and end with 1. B is lowered to n when n < B. A value v belongs to the first bin whose
 * boundary is >= v (right-closed bins), so tied values that straddle a chunk edge all fall in the lower bin.
 */
export function equalMassBoundaries(sortedValues: ArrayLike<number>, bins = 15): number[] {
  checkBins(bins);
  const n = sortedValues.length;
  const B = Math.min(bins, n);
  const boundaries: number[] = [];
  const small = Math.floor(n / B);
  const extra = n % B;
  let end = 0;
  for (let i = 0; i < B - 1; i++) {
    end += small + (i < extra ? 1 : 0);
    boundaries.push((sortedValues[end - 1] + sortedValues[end]) / 2);
  }
  boundaries.push(1);
  return boundaries;
}

/** Item count, summed confidence and summed correctness of each equal-mass bin (see equalMassBoundaries). */
function equalMassBinSums(pred: Predictions, bins: number): { count: number; sumConf: number; sumAcc: number }[] {
  const { confidence, correct } = topLabel(pred);
  const order = Array.from({ length: pred.n }, (_, i) => i).sort((a, b) => confidence[a] - confidence[b] || a - b);
  const boundaries = equalMassBoundaries(
    order.map((i) => confidence[i]),
    bins,
  );
  const sums = boundaries.map(() => ({ count: 0, sumConf: 0, sumAcc: 0 }));
  let j = 0;
  for (const i of order) {
    while (j < boundaries.length - 1 && confidence[i] > boundaries[j]) j++;
    sums[j].count++;
    sums[j].sumConf += confidence[i];
    sums[j].sumAcc += correct[i];
  }
  return sums;
}

/**
 * Adaptive (equal-mass) ECE, top-label (Kumar et al. 2019; Nguyen & O'Connor 2015):
 *   ECE_em = sum_b (n_b / n) |acc_b - conf_b|
 * over the equal-mass bins of equalMassBoundaries (B = 15 by default, fewer when n < B). Empty bins (from tied
 * confidences) add 0.
 */
export function adaptiveCalibrationError(pred: Predictions, bins = 15): number {
  if (pred.n === 0) return NaN;
  let s = 0;
  for (const { count, sumConf, sumAcc } of equalMassBinSums(pred, bins)) {
    if (count > 0) s += (count / pred.n) * Math.abs(sumAcc / count - sumConf / count);
  }
  return s;
}

/**
 * Classwise ECE (Kull et al. 2019, "Beyond temperature scaling", eq. for classwise-ECE):
 *   cwECE = (1/K) sum_k sum_b (n_bk / n) |freq_bk - conf_bk|
 * where for class k the items are binned by p_k into B equal-width bins (b/B, (b+1)/B] (first bin also holds 0),
 * conf_bk is the mean p_k in the bin and freq_bk the fraction of its items whose label is k.
 */
export function classwiseCalibrationError(pred: Predictions, bins = 15): number {
  checkBins(bins);
  if (pred.n === 0) return NaN;
  let total = 0;
  const count = new Float64Array(bins);
  const sumP = new Float64Array(bins);
  const sumY = new Float64Array(bins);
  for (let k = 0; k < K; k++) {
    count.fill(0);
    sumP.fill(0);
    sumY.fill(0);
    for (let i = 0; i < pred.n; i++) {
      const p = pred.probs[i * K + k];
      const b = equalWidthBin(p, bins);
      count[b]++;
      sumP[b] += p;
      sumY[b] += pred.labels[i] === k ? 1 : 0;
    }
    for (let b = 0; b < bins; b++) {
      if (count[b] > 0) total += (count[b] / pred.n) * Math.abs(sumY[b] / count[b] - sumP[b] / count[b]);
    }
  }
  return total / K;
}

/**
 * Debiased L2 calibration error, top-label (Kumar et al. 2019, "Verified Uncertainty Calibration", sec. 5):
 *   CE^2 = sum_b (n_b / n) [ (conf_b - acc_b)^2 - acc_b (1 - acc_b) / (n_b - 1) ],   CE = sqrt(max(CE^2, 0))
 * over the equal-mass bins of equalMassBoundaries; a bin with fewer than 2 items adds 0. The subtracted term
 * removes the upward bias of the plug-in estimate, so a perfectly calibrated model scores near 0.
 */
export function debiasedL2CalibrationError(pred: Predictions, bins = 15): number {
  if (pred.n === 0) return NaN;
  let squared = 0;
  for (const { count, sumConf, sumAcc } of equalMassBinSums(pred, bins)) {
    if (count < 2) continue;
    const acc = sumAcc / count;
    const gap = sumConf / count - acc;
    squared += (count / pred.n) * (gap * gap - (acc * (1 - acc)) / (count - 1));
  }
  return Math.sqrt(Math.max(squared, 0));
}
