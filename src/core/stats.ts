/**
 * Uncertainty for the study's metrics: percentile-bootstrap confidence intervals and paired permutation tests,
 * seeded and deterministic. Resampling runs through one weighted kernel (MetricPool) that computes every metric
 * of metrics.ts in a few passes over items pre-sorted by confidence, with no allocation per resample.
 */

import { NUM_CLASSES as K, METRICS } from './types';
import type { Interval, MetricName } from './types';
import { equalWidthBin, predictedClass, type Predictions } from './metrics';
import { Rng } from './random';

/** Number of metrics the kernel computes, in the order of types.ts METRICS. */
export const METRIC_COUNT = METRICS.length;
const ACC = METRICS.indexOf('accuracy');
const ECE = METRICS.indexOf('ece');
const MCE = METRICS.indexOf('mce');
const ECE_EM = METRICS.indexOf('ece_adaptive');
const CW_ECE = METRICS.indexOf('classwise_ece');
const BRIER = METRICS.indexOf('brier');
const NLL = METRICS.indexOf('nll');

/**
 * Items of one or two prediction sets, sorted by top-label confidence, with everything the metrics need per
 * item precomputed. Each entry has a `slot` (the index of its weight) and a `side` (0 or 1). `evaluate` computes
 * all seven metrics for two groups at once: an entry counts `weights[slot]` times in group `side ^ flip[slot]`.
 *
 * - One prediction set, weights = bootstrap counts: the metrics of one resample (group 0).
 * - Two paired sets (side 0 = a, side 1 = b, slot = pair index), unit weights, flip = swap bits: the metrics of
 *   both arms of one permutation; with bootstrap counts and no flip: both arms of one paired resample.
 *
 * With integer weights, the result equals metrics.ts on the data set in which each item is repeated `weight`
 * times (equal-mass bins included: they are built on the repeated, sorted values).
 */
export class MetricPool {
  readonly size: number;
  readonly bins: number;
  readonly mceMinCount: number;
  private readonly conf: Float64Array;
  private readonly correct: Float64Array;
  private readonly nll: Float64Array;
  private readonly brier: Float64Array;
  private readonly topBin: Uint8Array;
  private readonly classBin: Uint8Array;
  private readonly classP: Float64Array;
  private readonly label: Uint8Array;
  private readonly slot: Int32Array;
  private readonly side: Uint8Array;
  // Scratch, reused by every evaluate call: [group][bin] and [group][class][bin].
  private readonly binCount: Float64Array;
  private readonly binConf: Float64Array;
  private readonly binAcc: Float64Array;
  private readonly cwCount: Float64Array;
  private readonly cwP: Float64Array;
  private readonly cwY: Float64Array;
  private readonly boundaries: Float64Array;
  private readonly sums = new Float64Array(8);

  /**
   * @param sets one or two prediction sets; with two, item i of set 0 is paired with item i of set 1 and both get
   *   slot i (so they must have the same n); with one, item i gets slot i.
   */
  constructor(sets: Predictions[], bins = 15, mceMinCount = 1) {
    if (sets.length < 1 || sets.length > 2) throw new RangeError('MetricPool takes one or two prediction sets');
    if (!Number.isInteger(bins) || bins < 1 || bins > 255) throw new RangeError(`bins must be an integer in 1..255, got ${bins}`);
    if (sets.length === 2 && sets[0].n !== sets[1].n) throw new RangeError('paired prediction sets must have the same n');
    this.bins = bins;
    this.mceMinCount = Math.max(1, mceMinCount);
    const size = sets.reduce((s, p) => s + p.n, 0);
    this.size = size;
    const rawConf = new Float64Array(size);
    const rawSide = new Uint8Array(size);
    const rawIndex = new Int32Array(size);
    let r = 0;
    sets.forEach((pred, side) => {
      for (let i = 0; i < pred.n; i++, r++) {
        rawConf[r] = pred.probs[i * K + predictedClass(pred.probs, i)];
        rawSide[r] = side;
        rawIndex[r] = i;
      }
    });
    const order = Array.from({ length: size }, (_, j) => j).sort(
      (x, y) => rawConf[x] - rawConf[y] || rawSide[x] - rawSide[y] || rawIndex[x] - rawIndex[y],
    );
    this.conf = new Float64Array(size);
    this.correct = new Float64Array(size);
    this.nll = new Float64Array(size);
    this.brier = new Float64Array(size);
    this.topBin = new Uint8Array(size);
    this.classBin = new Uint8Array(size * K);
    this.classP = new Float64Array(size * K);
    this.label = new Uint8Array(size);
    this.slot = new Int32Array(size);
    this.side = new Uint8Array(size);
    order.forEach((src, dst) => {
      const pred = sets[rawSide[src]];
      const i = rawIndex[src];
      const y = pred.labels[i];
      const c = rawConf[src];
      this.conf[dst] = c;
      this.correct[dst] = predictedClass(pred.probs, i) === y ? 1 : 0;
      this.nll[dst] = -pred.logp[i * K + y];
      let brier = 0;
      for (let k = 0; k < K; k++) {
        const p = pred.probs[i * K + k];
        const d = p - (k === y ? 1 : 0);
        brier += d * d;
        this.classP[dst * K + k] = p;
        this.classBin[dst * K + k] = equalWidthBin(p, bins);
      }
      this.brier[dst] = brier;
      this.topBin[dst] = equalWidthBin(c, bins);
      this.label[dst] = y;
      this.slot[dst] = i;
      this.side[dst] = rawSide[src];
    });
    this.binCount = new Float64Array(2 * bins);
    this.binConf = new Float64Array(2 * bins);
    this.binAcc = new Float64Array(2 * bins);
    this.cwCount = new Float64Array(2 * K * bins);
    this.cwP = new Float64Array(2 * K * bins);
    this.cwY = new Float64Array(2 * K * bins);
    this.boundaries = new Float64Array(2 * bins);
  }

  /**
   * Computes the seven metrics (METRICS order) of group 0 into out[0..6] and of group 1 into out[7..13].
   * weights[slot] is how often an entry counts (0 leaves it out); flip[slot] = 1 moves it to the other group.
   * A group with total weight 0 gets NaN. Allocates nothing: it runs once per resample.
   */
  evaluate(weights: Float64Array, flip: Uint8Array | null, out: Float64Array): void {
    const B = this.bins;
    const size = this.size;
    const { conf, correct, nll, brier, topBin, classBin, classP, label, slot, side } = this;
    const { binCount, binConf, binAcc, cwCount, cwP, cwY, boundaries } = this;
    binCount.fill(0);
    binConf.fill(0);
    binAcc.fill(0);
    cwCount.fill(0);
    cwP.fill(0);
    cwY.fill(0);
    // Per group g: sums[4g] = n, [4g+1] = correct, [4g+2] = nll, [4g+3] = brier (indexed, not branched on g,
    // because permutation groups are random and a branch on them mispredicts half the time).
    const sums = this.sums;
    sums.fill(0);

    // Pass 1: additive metrics, equal-width bins, classwise bins.
    for (let r = 0; r < size; r++) {
      const s = slot[r];
      const w = weights[s];
      if (w === 0) continue;
      const g = flip === null ? side[r] : side[r] ^ flip[s];
      const a = correct[r];
      const j = g << 2;
      sums[j] += w;
      sums[j + 1] += w * a;
      sums[j + 2] += w * nll[r];
      sums[j + 3] += w * brier[r];
      const b = g * B + topBin[r];
      binCount[b] += w;
      binConf[b] += w * conf[r];
      binAcc[b] += w * a;
      const base = g * K * B;
      const rk = r * K;
      for (let k = 0; k < K; k++) {
        const cb = base + k * B + classBin[rk + k];
        cwCount[cb] += w;
        cwP[cb] += w * classP[rk + k];
      }
      const y = label[r];
      cwY[base + y * B + classBin[rk + y]] += w;
    }

    const n0 = sums[0];
    const n1 = sums[4];
    for (let g = 0; g < 2; g++) {
      const o = g * METRIC_COUNT;
      const n = sums[g << 2];
      if (n === 0) {
        for (let m = 0; m < METRIC_COUNT; m++) out[o + m] = NaN;
        continue;
      }
      out[o + ACC] = sums[(g << 2) + 1] / n;
      out[o + NLL] = sums[(g << 2) + 2] / n;
      out[o + BRIER] = sums[(g << 2) + 3] / n;
      let ece = 0;
      let mce = NaN;
      for (let b = g * B; b < (g + 1) * B; b++) {
        const c = binCount[b];
        if (c === 0) continue;
        const gap = Math.abs(binAcc[b] / c - binConf[b] / c);
        ece += (c / n) * gap;
        if (c >= this.mceMinCount && !(gap <= mce)) mce = gap;
      }
      out[o + ECE] = ece;
      out[o + MCE] = mce;
      let cw = 0;
      for (let j = g * K * B; j < (g + 1) * K * B; j++) {
        const c = cwCount[j];
        if (c > 0) cw += (c / n) * Math.abs(cwY[j] / c - cwP[j] / c);
      }
      out[o + CW_ECE] = cw / K;
    }

    // Equal-mass ECE (see metrics.ts equalMassBoundaries) on the weighted, sorted confidences.
    // Chunk c of a group ends (exclusive) at end(c) = (c + 1) * floor(n / nb) + min(c + 1, n mod nb) in the
    // repeated sorted sequence, as numpy.array_split. Pass 2 finds each chunk edge's boundary value.
    const nb0 = Math.min(B, n0), nb1 = Math.min(B, n1);
    const small0 = n0 > 0 ? Math.floor(n0 / nb0) : 0, extra0 = n0 > 0 ? n0 % nb0 : 0;
    const small1 = n1 > 0 ? Math.floor(n1 / nb1) : 0, extra1 = n1 > 0 ? n1 % nb1 : 0;
    let chunk0 = 0, chunk1 = 0, pos0 = 0, pos1 = 0, last0 = NaN, last1 = NaN;
    let end0 = small0 + Math.min(1, extra0), end1 = small1 + Math.min(1, extra1);
    if (n0 > 0) boundaries[nb0 - 1] = 1;
    if (n1 > 0) boundaries[B + nb1 - 1] = 1;
    for (let r = 0; r < size; r++) {
      const s = slot[r];
      const w = weights[s];
      if (w === 0) continue;
      const v = conf[r];
      // Every chunk edge whose first position lies inside this entry's copies [pos, pos + w) gets its
      // boundary: the midpoint of the values at positions end - 1 and end.
      if ((flip === null ? side[r] : side[r] ^ flip[s]) === 0) {
        while (chunk0 < nb0 - 1 && end0 < pos0 + w) {
          boundaries[chunk0] = ((end0 - 1 >= pos0 ? v : last0) + v) / 2;
          chunk0++;
          end0 = (chunk0 + 1) * small0 + Math.min(chunk0 + 1, extra0);
        }
        pos0 += w;
        last0 = v;
      } else {
        while (chunk1 < nb1 - 1 && end1 < pos1 + w) {
          boundaries[B + chunk1] = ((end1 - 1 >= pos1 ? v : last1) + v) / 2;
          chunk1++;
          end1 = (chunk1 + 1) * small1 + Math.min(chunk1 + 1, extra1);
        }
        pos1 += w;
        last1 = v;
      }
    }

    // Pass 3: assign entries to right-closed equal-mass bins and accumulate |acc_b - conf_b| n_b / n.
    let bin0 = 0, bin1 = 0, c0 = 0, c1 = 0, sc0 = 0, sc1 = 0, sa0 = 0, sa1 = 0, e0 = 0, e1 = 0;
    for (let r = 0; r < size; r++) {
      const s = slot[r];
      const w = weights[s];
      if (w === 0) continue;
      const v = conf[r];
      if ((flip === null ? side[r] : side[r] ^ flip[s]) === 0) {
        while (bin0 < nb0 - 1 && v > boundaries[bin0]) {
          if (c0 > 0) e0 += c0 * Math.abs(sa0 / c0 - sc0 / c0);
          c0 = sc0 = sa0 = 0;
          bin0++;
        }
        c0 += w; sc0 += w * v; sa0 += w * correct[r];
      } else {
        while (bin1 < nb1 - 1 && v > boundaries[B + bin1]) {
          if (c1 > 0) e1 += c1 * Math.abs(sa1 / c1 - sc1 / c1);
          c1 = sc1 = sa1 = 0;
          bin1++;
        }
        c1 += w; sc1 += w * v; sa1 += w * correct[r];
      }
    }
    if (c0 > 0) e0 += c0 * Math.abs(sa0 / c0 - sc0 / c0);
    if (c1 > 0) e1 += c1 * Math.abs(sa1 / c1 - sc1 / c1);
    if (n0 > 0) out[ECE_EM] = e0 / n0;
    if (n1 > 0) out[METRIC_COUNT + ECE_EM] = e1 / n1;
  }
}

/**
 * Quantile of ascending sorted values by linear interpolation between order statistics (Hyndman & Fan 1996
 * type 7, numpy's default): h = (m - 1) q, value = x[floor h] + (h - floor h)(x[floor h + 1] - x[floor h]).
 */
export function quantileSorted(sorted: ArrayLike<number>, q: number): number {
  const m = sorted.length;
  if (m === 0) return NaN;
  const h = (m - 1) * q;
  const lo = Math.floor(h);
  const hi = Math.min(lo + 1, m - 1);
  return sorted[lo] + (h - lo) * (sorted[hi] - sorted[lo]);
}

/**
 * Percentile interval [q_{(1-level)/2}, q_{(1+level)/2}] of the finite values (Efron & Tibshirani 1993, the
 * percentile bootstrap interval), quantiles as quantileSorted. Resamples where a metric is undefined (NaN,
 * e.g. MCE with no bin of minCount items) are left out; all undefined gives [NaN, NaN].
 */
export function percentileInterval(values: ArrayLike<number>, level = 0.95): Interval {
  const finite = Float64Array.from(Array.prototype.filter.call(values, Number.isFinite) as number[]).sort();
  return [quantileSorted(finite, (1 - level) / 2), quantileSorted(finite, (1 + level) / 2)];
}

/**
 * Per-resample metrics of both groups of a pool: row r of group0/group1 (METRIC_COUNT wide, METRICS order) holds
 * the metrics of resample r. Each resample draws `slots` slot indices uniformly with replacement
 * (Rng(seed).nextInt(slots), in order) and weights each slot by how often it was drawn; so a single-set pool
 * gives the plain bootstrap and a paired pool the paired bootstrap (the same items for both arms). The same
 * seed and slot count give the same resamples, which is what lets paired differences be read off two single
 * pools over the same items.
 */
export function bootstrapMetrics(
  pool: MetricPool,
  slots: number,
  resamples: number,
  seed: number,
): { group0: Float64Array; group1: Float64Array } {
  const group0 = new Float64Array(resamples * METRIC_COUNT);
  const group1 = new Float64Array(resamples * METRIC_COUNT);
  const counts = new Float64Array(slots);
  const out = new Float64Array(2 * METRIC_COUNT);
  const rng = new Rng(seed);
  for (let r = 0; r < resamples; r++) {
    counts.fill(0);
    for (let j = 0; j < slots; j++) counts[rng.nextInt(slots)]++;
    pool.evaluate(counts, null, out);
    group0.set(out.subarray(0, METRIC_COUNT), r * METRIC_COUNT);
    group1.set(out.subarray(METRIC_COUNT), r * METRIC_COUNT);
  }
  return { group0, group1 };
}

/** Column m (a metric) of a per-resample table, or the difference of two tables' columns. */
export function metricColumn(table: Float64Array, m: number, minus?: Float64Array): Float64Array {
  const rows = table.length / METRIC_COUNT;
  const col = new Float64Array(rows);
  for (let r = 0; r < rows; r++) {
    col[r] = table[r * METRIC_COUNT + m] - (minus ? minus[r * METRIC_COUNT + m] : 0);
  }
  return col;
}

/** Absolute tolerance under which |T_r| and |T_obs| count as equal (rounding of sums, not a real difference). */
export const PERMUTATION_TIE_TOLERANCE = 1e-12;

/**
 * Paired permutation test of metric(a) - metric(b) for every metric at once, on a pool of two paired sets
 * (side 0 = a, side 1 = b, slot = pair). Under the null the two variants' outputs for an item are exchangeable:
 * each permutation swaps each pair with probability 1/2 (one bit of Rng(seed) per pair), recomputes both
 * metrics (equal-mass bins are rebuilt), and T_r = metric(a') - metric(b'). Two-sided
 *   p = (1 + #{r : |T_r| >= |T_obs| - tol}) / (R + 1)
 * (Phipson & Smyth 2010: the +1 keeps p away from an impossible 0), tol = PERMUTATION_TIE_TOLERANCE.
 */
export function pairedPermutationTest(
  pool: MetricPool,
  pairs: number,
  permutations: number,
  seed: number,
): { observed: Float64Array; p: Float64Array } {
  const ones = new Float64Array(pairs).fill(1);
  const out = new Float64Array(2 * METRIC_COUNT);
  pool.evaluate(ones, null, out);
  const observed = new Float64Array(METRIC_COUNT);
  for (let m = 0; m < METRIC_COUNT; m++) observed[m] = out[m] - out[METRIC_COUNT + m];
  const extreme = new Float64Array(METRIC_COUNT);
  const flip = new Uint8Array(pairs);
  const rng = new Rng(seed);
  for (let r = 0; r < permutations; r++) {
    for (let j = 0; j < pairs; j += 32) {
      let bits = rng.nextUint32();
      const end = Math.min(pairs, j + 32);
      for (let i = j; i < end; i++, bits >>>= 1) flip[i] = bits & 1;
    }
    pool.evaluate(ones, flip, out);
    for (let m = 0; m < METRIC_COUNT; m++) {
      const t = out[m] - out[METRIC_COUNT + m];
      if (Math.abs(t) >= Math.abs(observed[m]) - PERMUTATION_TIE_TOLERANCE) extreme[m]++;
    }
  }
  const p = new Float64Array(METRIC_COUNT);
  for (let m = 0; m < METRIC_COUNT; m++) {
    p[m] = Number.isFinite(observed[m]) ? (1 + extreme[m]) / (permutations + 1) : NaN;
  }
  return { observed, p };
}

/** The metric names in kernel order, for callers that index METRIC_COUNT-wide rows. */
export const KERNEL_METRICS: readonly MetricName[] = METRICS;
