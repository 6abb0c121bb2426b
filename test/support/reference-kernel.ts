/**
 * The resampling kernel as it was before it was made faster (issue 10), kept verbatim as the bit-identity
 * reference: src/core/stats.ts must give exactly these numbers. Not used by the app or the CLI.
 */

import { NUM_CLASSES as K, METRICS } from '../../src/core/types';
import type { Interval } from '../../src/core/types';
import { equalWidthBin, predictedClass, type Predictions } from '../../src/core/metrics';
import { Rng } from '../../src/core/random';
import type { AnalysisJob, AnalysisJobResult } from '../../src/core/analysis';

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
 *
 * Why it is fast: sorted by confidence, each equal-width bin is a contiguous run of entries, so its sums stay
 * in registers; a bin adds |sum(w a) - sum(w c)| / n to ECE (= n_b/n |acc_b - conf_b|), so no per-bin division
 * is needed. Classwise ECE gets one such sorted view per class. Equal-mass bins are found in the same pass as
 * the equal-width ones. Groups are selected by arithmetic (w1 = w g, w0 = w - w1), not by branches, because
 * permutation groups are random and a branch on them would mispredict half the time.
 */
export class ReferencePool {
  readonly size: number;
  readonly bins: number;
  readonly mceMinCount: number;
  /** Number of distinct slots: the length `weights` must have. */
  readonly slots: number;
  private readonly twoSided: boolean;
  private readonly conf: Float64Array;
  private readonly correct: Float64Array;
  /** correct - confidence: a bin's ECE term is |sum of w (a - c)| / n. */
  private readonly gap: Float64Array;
  private readonly nll: Float64Array;
  private readonly brier: Float64Array;
  private readonly slot: Int32Array;
  private readonly side: Uint8Array;
  /** topRunEnd[b]: one past the last entry whose confidence falls in equal-width bin b. */
  private readonly topRunEnd: Int32Array;
  /** Per class k, entries sorted by p_k: slot, side, p_k, [label = k]; runs of equal-width bins of p_k. */
  private readonly classSlot: Int32Array;
  private readonly classSide: Uint8Array;
  /** [label = k] - p_k: a classwise bin's term is |sum of w ([y = k] - p_k)| / n. */
  private readonly classGap: Float64Array;
  private readonly classRunEnd: Int32Array;
  /** Scratch: equal-mass boundaries of both groups. */
  private readonly boundaries: Float64Array;

  /**
   * @param sets one or two prediction sets; with two, item i of set 0 is paired with item i of set 1 and both get
   *   slot i (so they must have the same n); with one, item i gets slot i.
   */
  constructor(sets: Predictions[], bins = 15, mceMinCount = 1) {
    if (sets.length < 1 || sets.length > 2) throw new RangeError('MetricPool takes one or two prediction sets');
    if (!Number.isInteger(bins) || bins < 1 || bins > 255)
      throw new RangeError(`bins must be an integer in 1..255, got ${bins}`);
    if (sets.length === 2 && sets[0].n !== sets[1].n)
      throw new RangeError('paired prediction sets must have the same n');
    this.bins = bins;
    this.mceMinCount = Math.max(1, mceMinCount);
    this.twoSided = sets.length === 2;
    this.slots = sets[0].n;
    const size = sets.reduce((t, p) => t + p.n, 0);
    this.size = size;
    // Flat views of the entries before sorting: entry e is item index[e] of set side[e].
    const rawSide = new Uint8Array(size);
    const rawIndex = new Int32Array(size);
    const rawConf = new Float64Array(size);
    let e = 0;
    sets.forEach((pred, sd) => {
      for (let i = 0; i < pred.n; i++, e++) {
        rawSide[e] = sd;
        rawIndex[e] = i;
        rawConf[e] = pred.probs[i * K + predictedClass(pred.probs, i)];
      }
    });
    const prob = (x: number, k: number) => sets[rawSide[x]].probs[rawIndex[x] * K + k];
    const byValue = (value: (x: number) => number) =>
      Int32Array.from({ length: size }, (_, j) => j).sort(
        (x, y) => value(x) - value(y) || rawSide[x] - rawSide[y] || rawIndex[x] - rawIndex[y],
      );

    const order = byValue((x) => rawConf[x]);
    this.conf = new Float64Array(size);
    this.correct = new Float64Array(size);
    this.gap = new Float64Array(size);
    this.nll = new Float64Array(size);
    this.brier = new Float64Array(size);
    this.slot = new Int32Array(size);
    this.side = new Uint8Array(size);
    this.topRunEnd = new Int32Array(bins);
    order.forEach((src, dst) => {
      const pred = sets[rawSide[src]];
      const i = rawIndex[src];
      const y = pred.labels[i];
      let brier = 0;
      for (let k = 0; k < K; k++) {
        const d = pred.probs[i * K + k] - (k === y ? 1 : 0);
        brier += d * d;
      }
      this.conf[dst] = rawConf[src];
      this.correct[dst] = predictedClass(pred.probs, i) === y ? 1 : 0;
      this.gap[dst] = this.correct[dst] - rawConf[src];
      this.nll[dst] = -pred.logp[i * K + y];
      this.brier[dst] = brier;
      this.slot[dst] = i;
      this.side[dst] = rawSide[src];
      this.topRunEnd[equalWidthBin(rawConf[src], bins)] = dst + 1;
    });
    fillRunEnds(this.topRunEnd);

    this.classSlot = new Int32Array(K * size);
    this.classSide = new Uint8Array(K * size);
    this.classGap = new Float64Array(K * size);
    this.classRunEnd = new Int32Array(K * bins);
    for (let k = 0; k < K; k++) {
      const runEnd = this.classRunEnd.subarray(k * bins, (k + 1) * bins);
      byValue((x) => prob(x, k)).forEach((src, j) => {
        const p = prob(src, k);
        this.classSlot[k * size + j] = rawIndex[src];
        this.classSide[k * size + j] = rawSide[src];
        this.classGap[k * size + j] = (sets[rawSide[src]].labels[rawIndex[src]] === k ? 1 : 0) - p;
        runEnd[equalWidthBin(p, bins)] = j + 1;
      });
      fillRunEnds(runEnd);
    }
    this.boundaries = new Float64Array(2 * bins);
  }

  /**
   * Computes the seven metrics (METRICS order) of group 0 into out[0..6] and of group 1 into out[7..13].
   * weights[slot] is how often an entry counts (0 leaves it out); flip[slot] = 1 moves it to the other group.
   * A group with total weight 0 gets NaN. Allocates nothing: it runs once per resample.
   */
  evaluate(weights: Float64Array, flip: Uint8Array | null, out: Float64Array): void {
    const B = this.bins;
    const minCount = this.mceMinCount;
    const { conf, correct, gap, nll, brier, slot, side, topRunEnd, boundaries } = this;

    // Each slot puts its weight once in each group of a two-sided pool, once in group 0 otherwise.
    let total = 0;
    for (let j = 0; j < this.slots; j++) total += weights[j];
    const n0 = total;
    const n1 = this.twoSided ? total : 0;

    // Equal-mass chunking of each group, as numpy.array_split: chunk c ends (exclusive) at
    // (c + 1) * small + min(c + 1, extra) in the group's repeated, sorted sequence.
    const nb0 = Math.min(B, n0),
      nb1 = Math.min(B, n1);
    const small0 = n0 > 0 ? Math.floor(n0 / nb0) : 0,
      extra0 = n0 > 0 ? n0 % nb0 : 0;
    const small1 = n1 > 0 ? Math.floor(n1 / nb1) : 0,
      extra1 = n1 > 0 ? n1 % nb1 : 0;
    let edges0 = 0,
      edges1 = 0; // chunk edges whose boundary is known
    let end0 = small0 + Math.min(1, extra0),
      end1 = small1 + Math.min(1, extra1);
    let pos0 = 0,
      pos1 = 0,
      last0 = 0,
      last1 = 0;
    let em0 = 0,
      em1 = 0; // current equal-mass bin
    let emD0 = 0,
      emD1 = 0; // sum of w (a - c) in the current equal-mass bin
    let emSum0 = 0,
      emSum1 = 0; // sum over closed equal-mass bins of |sum w (a - c)|

    let nll0 = 0,
      nll1 = 0,
      brier0 = 0,
      brier1 = 0,
      correct0 = 0,
      correct1 = 0;
    let ece0 = 0,
      ece1 = 0,
      mce0 = NaN,
      mce1 = NaN;
    let r = 0;
    for (let b = 0; b < B; b++) {
      const end = topRunEnd[b];
      let c0 = 0,
        d0 = 0,
        a0 = 0,
        c1 = 0,
        d1 = 0,
        a1 = 0;
      for (; r < end; r++) {
        const s = slot[r];
        const w = weights[s];
        const w1 = flip === null ? w * side[r] : w * (side[r] ^ flip[s]);
        const w0 = w - w1;
        const v = conf[r];
        const a = correct[r];
        const d = gap[r];
        c0 += w0;
        d0 += w0 * d;
        a0 += w0 * a;
        c1 += w1;
        d1 += w1 * d;
        a1 += w1 * a;
        nll0 += w0 * nll[r];
        nll1 += w1 * nll[r];
        brier0 += w0 * brier[r];
        brier1 += w1 * brier[r];

        // Equal-mass bins. First, every chunk edge whose first position lies in this entry's copies
        // [pos, pos + w) gets its boundary (the midpoint of the values at positions end - 1 and end); then the
        // entry joins the first bin whose boundary is >= v (right-closed). Only boundaries already known are
        // consulted: the entry's own chunk has boundary >= v whether known or not.
        while (edges0 < nb0 - 1 && end0 < pos0 + w0) {
          boundaries[edges0] = ((end0 - 1 >= pos0 ? v : last0) + v) / 2;
          edges0++;
          end0 = (edges0 + 1) * small0 + Math.min(edges0 + 1, extra0);
        }
        while (em0 < edges0 && v > boundaries[em0]) {
          emSum0 += Math.abs(emD0);
          emD0 = 0;
          em0++;
        }
        pos0 += w0;
        if (w0 > 0) last0 = v;
        emD0 += w0 * d;

        while (edges1 < nb1 - 1 && end1 < pos1 + w1) {
          boundaries[B + edges1] = ((end1 - 1 >= pos1 ? v : last1) + v) / 2;
          edges1++;
          end1 = (edges1 + 1) * small1 + Math.min(edges1 + 1, extra1);
        }
        while (em1 < edges1 && v > boundaries[B + em1]) {
          emSum1 += Math.abs(emD1);
          emD1 = 0;
          em1++;
        }
        pos1 += w1;
        if (w1 > 0) last1 = v;
        emD1 += w1 * d;
      }
      correct0 += a0;
      correct1 += a1;
      ece0 += Math.abs(d0);
      ece1 += Math.abs(d1);
      if (c0 >= minCount && !(Math.abs(d0) / c0 <= mce0)) mce0 = Math.abs(d0) / c0;
      if (c1 >= minCount && !(Math.abs(d1) / c1 <= mce1)) mce1 = Math.abs(d1) / c1;
    }
    emSum0 += Math.abs(emD0);
    emSum1 += Math.abs(emD1);

    // Classwise ECE: per class, runs of equal-width bins of p_k in that class's sorted view.
    const { classSlot, classSide, classGap, classRunEnd } = this;
    let cw0 = 0,
      cw1 = 0;
    for (let k = 0; k < K; k++) {
      let j = k * this.size;
      for (let b = 0; b < B; b++) {
        const end = k * this.size + classRunEnd[k * B + b];
        let g0 = 0,
          g1 = 0;
        for (; j < end; j++) {
          const s = classSlot[j];
          const w = weights[s];
          const w1 = flip === null ? w * classSide[j] : w * (classSide[j] ^ flip[s]);
          const d = classGap[j];
          g0 += (w - w1) * d;
          g1 += w1 * d;
        }
        cw0 += Math.abs(g0);
        cw1 += Math.abs(g1);
      }
    }

    writeGroup(out, 0, n0, correct0, ece0, mce0, emSum0, cw0, brier0, nll0);
    writeGroup(out, METRIC_COUNT, n1, correct1, ece1, mce1, emSum1, cw1, brier1, nll1);
  }
}

/** Turns "last entry index + 1 seen in bin b" (0 for empty bins) into cumulative run ends. */
function fillRunEnds(runEnd: Int32Array): void {
  for (let b = 1; b < runEnd.length; b++) if (runEnd[b] < runEnd[b - 1]) runEnd[b] = runEnd[b - 1];
}

function writeGroup(
  out: Float64Array,
  o: number,
  n: number,
  correct: number,
  ece: number,
  mce: number,
  em: number,
  cw: number,
  brier: number,
  nll: number,
): void {
  if (n === 0) {
    for (let m = 0; m < METRIC_COUNT; m++) out[o + m] = NaN;
    return;
  }
  out[o + ACC] = correct / n;
  out[o + ECE] = ece / n;
  out[o + MCE] = mce;
  out[o + ECE_EM] = em / n;
  out[o + CW_ECE] = cw / (K * n);
  out[o + BRIER] = brier / n;
  out[o + NLL] = nll / n;
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
  pool: ReferencePool,
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
  pool: ReferencePool,
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

/** runAnalysisJob as it was: one job on the reference kernel (a whole job; chunked jobs are merged first). */
export function referenceRunJob(job: AnalysisJob): AnalysisJobResult {
  const pool = new ReferencePool(job.sets, job.bins, job.mceMinCount);
  if (job.kind === 'bootstrap') {
    const { group0, group1 } = bootstrapMetrics(pool, pool.slots, job.count, job.seed);
    return { key: job.key, group0, group1 };
  }
  const { observed, p } = pairedPermutationTest(pool, pool.slots, job.count, job.seed);
  return { key: job.key, group0: observed, group1: p };
}
