/**
 * Uncertainty for the study's metrics: percentile-bootstrap confidence intervals and paired permutation tests,
 * seeded and deterministic. Resampling runs through one weighted kernel (MetricPool) that computes every metric
 * of metrics.ts in a few passes over items pre-sorted by confidence, with no allocation per resample.
 */

import { NUM_CLASSES as K, METRICS } from './types';
import type { Interval, MetricName } from './types';
import { equalWidthBin, predictedClass, type Predictions } from './metrics';
import { Rng } from './random';
import { KernelMemory, kernelBackend, type KernelBackend, type KernelExports } from './kernel-wasm';

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
 * Largest slot count for which the JavaScript loops evaluate bootstrap resamples four at a time (measured: a gain
 * at 1,000 items, none at 14,042, where four double weight vectors leave the cache). The WebAssembly loops keep
 * four u16 lanes side by side and always take four.
 */
const BLOCK_MAX_SLOTS = 4096;
/** Numbers per entry in the packed layout: conf, correct, gap, nll, brier. */
const ENTRY_STRIDE = 5;

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
export class MetricPool {
  readonly size: number;
  readonly bins: number;
  readonly mceMinCount: number;
  /** Number of distinct slots: the length `weights` must have. */
  readonly slots: number;
  /** Which loops the fast paths run (kernel-wasm.ts); the numbers are the same either way. */
  get backend(): KernelBackend {
    return this.wasm ? 'wasm' : 'js';
  }
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
   * The fast paths' layout (evaluateSides, evaluateSwapped). Per entry of the sorted order, packed by entry:
   * conf, correct, gap, nll, brier (ENTRY_STRIDE numbers), so one resample reads memory front to back.
   */
  private readonly entryData: Float64Array;
  /** slot * 2 + side per sorted entry, and per entry of each class view (one load gives both). */
  private readonly slotSide: Int32Array;
  private readonly classSlotSide: Int32Array;
  /** Side views (for resamples that keep each side in its group): the sorted order restricted to one side. */
  private readonly sideStart: Int32Array;
  private readonly sideSlot: Int32Array;
  private readonly sideData: Float64Array;
  /** sideRunEnd[s * bins + b]: run ends of equal-width bins, as indices into the side arrays. */
  private readonly sideRunEnd: Int32Array;
  /** Per class k and side s, at k * size + sideStart[s]: slot and [y = k] - p_k, sorted by p_k. */
  private readonly sideClassSlot: Int32Array;
  private readonly sideClassGap: Float64Array;
  /** sideClassRunEnd[(k * 2 + s) * bins + b], indices into the class-k arrays. */
  private readonly sideClassRunEnd: Int32Array;
  /** Scratch for evaluateSwapped: each group's entries (indices into the sorted order) and run ends. */
  private readonly members: Int32Array;
  private readonly memberRunEnd: Int32Array;
  private readonly sums = new Float64Array(METRIC_COUNT);
  /** The WebAssembly backend (kernel-wasm.ts): copies of the fast paths' arrays in its memory; absent: JS loops. */
  private readonly wasm: WasmPool | null;
  /** Scratch of weightedSide: [last, v], read at [w > 0]. */
  private readonly lastPick = new Float64Array(2);

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
    // Class k's probability of every entry.
    const classValue = (k: number) => {
      const values = new Float64Array(size);
      for (let x = 0; x < size; x++) values[x] = prob(x, k);
      return values;
    };

    // Entries ascending by a value, ties by side and then item index: entry numbers already run in that order.
    const order = ascendingOrder(rawConf);
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
      ascendingOrder(classValue(k)).forEach((src, j) => {
        const p = prob(src, k);
        this.classSlot[k * size + j] = rawIndex[src];
        this.classSide[k * size + j] = rawSide[src];
        this.classGap[k * size + j] = (sets[rawSide[src]].labels[rawIndex[src]] === k ? 1 : 0) - p;
        runEnd[equalWidthBin(p, bins)] = j + 1;
      });
      fillRunEnds(runEnd);
    }
    this.boundaries = new Float64Array(2 * bins);

    this.entryData = new Float64Array(size * ENTRY_STRIDE);
    this.slotSide = new Int32Array(size);
    for (let r = 0; r < size; r++) {
      const o = r * ENTRY_STRIDE;
      this.entryData[o] = this.conf[r];
      this.entryData[o + 1] = this.correct[r];
      this.entryData[o + 2] = this.gap[r];
      this.entryData[o + 3] = this.nll[r];
      this.entryData[o + 4] = this.brier[r];
      this.slotSide[r] = this.slot[r] * 2 + this.side[r];
    }
    this.classSlotSide = new Int32Array(K * size);
    for (let j = 0; j < K * size; j++) this.classSlotSide[j] = this.classSlot[j] * 2 + this.classSide[j];

    const sides = sets.length;
    this.sideStart = Int32Array.from([0, sets[0].n, size]);
    this.sideSlot = new Int32Array(size);
    this.sideData = new Float64Array(size * ENTRY_STRIDE);
    this.sideRunEnd = new Int32Array(2 * bins);
    const fill = [this.sideStart[0], this.sideStart[1]];
    for (let r = 0; r < size; r++) {
      const sd = this.side[r];
      const q = fill[sd]++;
      this.sideSlot[q] = this.slot[r];
      for (let c = 0; c < ENTRY_STRIDE; c++) this.sideData[q * ENTRY_STRIDE + c] = this.entryData[r * ENTRY_STRIDE + c];
      this.sideRunEnd[sd * bins + equalWidthBin(this.conf[r], bins)] = q + 1;
    }
    this.sideClassSlot = new Int32Array(K * size);
    this.sideClassGap = new Float64Array(K * size);
    this.sideClassRunEnd = new Int32Array(K * 2 * bins);
    for (let k = 0; k < K; k++) {
      const at = [k * size + this.sideStart[0], k * size + this.sideStart[1]];
      for (let j = k * size; j < (k + 1) * size; j++) {
        const sd = this.classSide[j];
        const q = at[sd]++;
        this.sideClassSlot[q] = this.classSlot[j];
        this.sideClassGap[q] = this.classGap[j];
        const p = sets[sd].probs[this.classSlot[j] * K + k];
        this.sideClassRunEnd[(k * 2 + sd) * bins + equalWidthBin(p, bins)] = q + 1 - k * size;
      }
    }
    for (let sd = 0; sd < 2; sd++) {
      const first = sd < sides ? this.sideStart[sd] : 0;
      const runs = this.sideRunEnd.subarray(sd * bins, (sd + 1) * bins);
      if (runs[0] === 0) runs[0] = first;
      fillRunEnds(runs);
      for (let k = 0; k < K; k++) {
        const classRuns = this.sideClassRunEnd.subarray((k * 2 + sd) * bins, (k * 2 + sd + 1) * bins);
        if (classRuns[0] === 0) classRuns[0] = first;
        fillRunEnds(classRuns);
      }
    }
    this.members = new Int32Array(2 * (this.slots + 1));
    this.memberRunEnd = new Int32Array(2 * bins);
    this.wasm = wasmPool(this.slots, bins, [
      this.sideSlot,
      this.sideData,
      this.sideRunEnd,
      this.sideClassSlot,
      this.sideClassGap,
      this.sideClassRunEnd,
      this.slotSide,
      this.topRunEnd,
      this.classSlotSide,
      this.classGap,
      this.classRunEnd,
      this.entryData,
      this.members,
      this.memberRunEnd,
      this.boundaries,
    ]);
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
  /**
   * The same numbers as evaluate(weights, null, out), bit for bit, in about half the work: each side is
   * walked in its own sorted view, so an entry is visited only for its own group, and entries of weight 0 are
   * skipped (they add exact zeros). Used for bootstrap resamples, where no entry changes group.
   */
  evaluateSides(weights: Float64Array, out: Float64Array): void {
    const stored = this.wasm ? this.wasm.setWeights(0, weights) : -1;
    if (stored >= 0 && stored <= WASM_MAX_TOTAL) {
      this.wasmSide(0, stored, out, 0);
      if (this.twoSided) this.wasmSide(1, stored, out, METRIC_COUNT);
      else writeGroup(out, METRIC_COUNT, 0, 0, 0, 0, 0, 0, 0, 0);
      return;
    }
    let total = 0;
    for (let j = 0; j < this.slots; j++) total += weights[j];
    this.weightedSide(0, weights, total, out, 0);
    if (this.twoSided) this.weightedSide(1, weights, total, out, METRIC_COUNT);
    else writeGroup(out, METRIC_COUNT, 0, 0, 0, 0, 0, 0, 0, 0);
  }

  /**
   * evaluateSides for four weight vectors at once, into out[0..13], out[14..27], ...: the same numbers, with the
   * classwise views read once for all four.
   */
  evaluateSides4(w0: Float64Array, w1: Float64Array, w2: Float64Array, w3: Float64Array, out: Float64Array): void {
    const W = 2 * METRIC_COUNT;
    const sides = this.twoSided ? 2 : 1;
    const wasm = this.wasm;
    if (wasm) {
      const totals = [wasm.setWeights(0, w0), wasm.setWeights(1, w1), wasm.setWeights(2, w2), wasm.setWeights(3, w3)];
      if (totals.every((t) => t >= 0 && t <= WASM_MAX_TOTAL)) {
        this.wasmSides4(totals, sides, out);
        return;
      }
    }
    let t0 = 0,
      t1 = 0,
      t2 = 0,
      t3 = 0;
    for (let j = 0; j < this.slots; j++) t0 += w0[j];
    for (let j = 0; j < this.slots; j++) t1 += w1[j];
    for (let j = 0; j < this.slots; j++) t2 += w2[j];
    for (let j = 0; j < this.slots; j++) t3 += w3[j];
    const { sideClassSlot, sideClassGap, sideClassRunEnd, size } = this;
    const B = this.bins;
    for (let sd = 0; sd < sides; sd++) {
      const o = sd * METRIC_COUNT;
      this.weightedSide(sd, w0, t0, out, o, false);
      this.weightedSide(sd, w1, t1, out, W + o, false);
      this.weightedSide(sd, w2, t2, out, 2 * W + o, false);
      this.weightedSide(sd, w3, t3, out, 3 * W + o, false);
      let c0 = 0,
        c1 = 0,
        c2 = 0,
        c3 = 0;
      for (let k = 0; k < K; k++) {
        const base = k * size;
        let j = base + this.sideStart[sd];
        for (let b = 0; b < B; b++) {
          const runEnd = base + sideClassRunEnd[(k * 2 + sd) * B + b];
          let g0 = 0,
            g1 = 0,
            g2 = 0,
            g3 = 0;
          for (; j < runEnd; j++) {
            const s = sideClassSlot[j];
            const d = sideClassGap[j];
            g0 += w0[s] * d;
            g1 += w1[s] * d;
            g2 += w2[s] * d;
            g3 += w3[s] * d;
          }
          c0 += Math.abs(g0);
          c1 += Math.abs(g1);
          c2 += Math.abs(g2);
          c3 += Math.abs(g3);
        }
      }
      // As writeGroup: a group of total weight 0 stays all NaN.
      if (t0 !== 0) out[o + CW_ECE] = c0 / (K * t0);
      if (t1 !== 0) out[W + o + CW_ECE] = c1 / (K * t1);
      if (t2 !== 0) out[2 * W + o + CW_ECE] = c2 / (K * t2);
      if (t3 !== 0) out[3 * W + o + CW_ECE] = c3 / (K * t3);
    }
    if (!this.twoSided) {
      for (let q = 0; q < 4; q++) writeGroup(out, q * W + METRIC_COUNT, 0, 0, 0, 0, 0, 0, 0, 0);
    }
  }

  /**
   * The same numbers as evaluate(ones, flip, out), bit for bit, for a two-set pool: the entries of each group
   * are first listed in sorted order (branch-free), then each group is walked alone with unit weights, so the
   * equal-mass boundaries sit at known positions and no arithmetic is spent on the other group's entries.
   */
  evaluateSwapped(flip: Uint8Array, out: Float64Array): void {
    if (this.wasm) {
      this.wasmSwapped([flip], out);
      return;
    }
    this.swappedTopLabel(flip, out, 0);
    const { classSlotSide, classGap, classRunEnd, size } = this;
    const B = this.bins;
    let cw0 = 0,
      cw1 = 0;
    for (let k = 0; k < K; k++) {
      let j = k * size;
      for (let b = 0; b < B; b++) {
        const end = k * size + classRunEnd[k * B + b];
        let g0 = 0,
          g1 = 0;
        for (; j < end; j++) {
          const ss = classSlotSide[j];
          const w1 = (ss & 1) ^ flip[ss >> 1];
          const d = classGap[j];
          g0 += (1 - w1) * d;
          g1 += w1 * d;
        }
        cw0 += Math.abs(g0);
        cw1 += Math.abs(g1);
      }
    }
    out[CW_ECE] = cw0 / (K * this.slots);
    out[METRIC_COUNT + CW_ECE] = cw1 / (K * this.slots);
  }

  /**
   * evaluateSwapped for four permutations at once, into out[0..13], out[14..27], ...: the same numbers, with the
   * classwise views read once for all four (the sums of each permutation still run in the same order), which
   * saves memory traffic on large item sets.
   */
  evaluateSwapped4(f0: Uint8Array, f1: Uint8Array, f2: Uint8Array, f3: Uint8Array, out: Float64Array): void {
    if (this.wasm) {
      this.wasmSwapped([f0, f1, f2, f3], out);
      return;
    }
    const W = 2 * METRIC_COUNT;
    this.swappedTopLabel(f0, out, 0);
    this.swappedTopLabel(f1, out, W);
    this.swappedTopLabel(f2, out, 2 * W);
    this.swappedTopLabel(f3, out, 3 * W);
    const { classSlotSide, classGap, classRunEnd, size } = this;
    const B = this.bins;
    let c00 = 0,
      c01 = 0,
      c10 = 0,
      c11 = 0,
      c20 = 0,
      c21 = 0,
      c30 = 0,
      c31 = 0;
    for (let k = 0; k < K; k++) {
      let j = k * size;
      for (let b = 0; b < B; b++) {
        const end = k * size + classRunEnd[k * B + b];
        let a0 = 0,
          b0 = 0,
          a1 = 0,
          b1 = 0,
          a2 = 0,
          b2 = 0,
          a3 = 0,
          b3 = 0;
        for (; j < end; j++) {
          const ss = classSlotSide[j];
          const side = ss & 1;
          const s = ss >> 1;
          const d = classGap[j];
          const w0 = side ^ f0[s],
            w1 = side ^ f1[s],
            w2 = side ^ f2[s],
            w3 = side ^ f3[s];
          a0 += (1 - w0) * d;
          b0 += w0 * d;
          a1 += (1 - w1) * d;
          b1 += w1 * d;
          a2 += (1 - w2) * d;
          b2 += w2 * d;
          a3 += (1 - w3) * d;
          b3 += w3 * d;
        }
        c00 += Math.abs(a0);
        c01 += Math.abs(b0);
        c10 += Math.abs(a1);
        c11 += Math.abs(b1);
        c20 += Math.abs(a2);
        c21 += Math.abs(b2);
        c30 += Math.abs(a3);
        c31 += Math.abs(b3);
      }
    }
    const nk = K * this.slots;
    out[CW_ECE] = c00 / nk;
    out[METRIC_COUNT + CW_ECE] = c01 / nk;
    out[W + CW_ECE] = c10 / nk;
    out[W + METRIC_COUNT + CW_ECE] = c11 / nk;
    out[2 * W + CW_ECE] = c20 / nk;
    out[2 * W + METRIC_COUNT + CW_ECE] = c21 / nk;
    out[3 * W + CW_ECE] = c30 / nk;
    out[3 * W + METRIC_COUNT + CW_ECE] = c31 / nk;
  }

  /**
   * Four bootstrap resamples drawn and evaluated in the kernel: the same draws as four rows of bootstrapMetrics'
   * loop (rng.drawInts(slots, slots, counts) for each in turn; rng moves on by as much) and the same numbers as
   * evaluateSides4 on their counts. False, drawing nothing, where the JavaScript loops run, or for more slots
   * than a u16 count holds.
   */
  resample4(rng: Rng, out: Float64Array): boolean {
    const w = this.wasm;
    if (!w || this.slots > 65535) return false;
    rng.copyState(w.rngState);
    w.kernel.drawCounts4(w.ptr.rng, this.slots, w.ptr.weights);
    rng.setState(w.rngState);
    const n = this.slots; // each resample is `slots` draws
    this.wasmSides4([n, n, n, n], this.twoSided ? 2 : 1, out);
    return true;
  }

  /**
   * Four permutations drawn and evaluated in the kernel: the same swap bits as permutationExtremes draws for four
   * permutations (one rng.nextUint32 per 32 pairs, low bit first, for each in turn) and the same numbers as
   * evaluateSwapped4 on them: one block of permuteBlocks' loop, with the block's numbers, which is how the tests
   * check its draws and walks lane by lane. False, drawing nothing, on the JavaScript backend.
   */
  permute4(rng: Rng, out: Float64Array): boolean {
    const w = this.wasm;
    if (!w || !this.twoSided) return false;
    rng.copyState(w.rngState);
    w.kernel.drawFlips4(w.ptr.rng, this.slots, w.ptr.flips);
    rng.setState(w.rngState);
    this.wasmSwappedWords(4, out);
    return true;
  }

  /**
   * `blocks` blocks of four permutations drawn, evaluated and counted in the kernel (kernel.ts permutationBlocks):
   * the same draws as permute4 `blocks` times in turn (rng moves on by as much) and the same counts as
   * permutationExtremes makes of their metrics: extreme[m] gains the permutations whose |group 0 - group 1|
   * reaches threshold[m]. False, drawing nothing, on the JavaScript backend.
   */
  permuteBlocks(rng: Rng, blocks: number, threshold: Float64Array, extreme: Float64Array): boolean {
    const w = this.wasm;
    if (!w || !this.twoSided) return false;
    const { out } = w;
    const order = [ACC, ECE, MCE, ECE_EM, CW_ECE, BRIER, NLL];
    order.forEach((m, j) => {
      out[56 + j] = threshold[m];
      out[64 + j] = 0;
    });
    rng.copyState(w.rngState);
    const base = w.ptr.out;
    w.kernel.permutationBlocks(
      w.ptr.rng,
      blocks,
      this.slots,
      this.bins,
      this.mceMinCount,
      this.size,
      w.ptr.flips,
      w.ptr.masks,
      w.ptr.slotSide,
      w.ptr.topRunEnd,
      w.ptr.entryData,
      w.ptr.laneBoundaries,
      w.ptr.swapScratch,
      w.ptr.classSlotSide,
      w.ptr.classGap,
      w.ptr.classRunEnd,
      base,
      base + 56 * 8,
      base + 64 * 8,
    );
    rng.setState(w.rngState);
    order.forEach((m, j) => (extreme[m] += out[64 + j]));
    return true;
  }

  /**
   * weightedSide (classwise ECE included) on the WebAssembly backend, with the weights of lane 0 of its weight
   * scratch: the same loop, the same doubles.
   */
  private wasmSide(sd: number, n: number, out: Float64Array, o: number): void {
    const w = this.wasm!;
    const B = this.bins;
    const nb = Math.min(B, n);
    const small = n > 0 ? Math.floor(n / nb) : 0,
      extra = n > 0 ? n % nb : 0;
    w.kernel.weightedSide(
      w.ptr.sideSlot,
      w.ptr.sideData,
      w.ptr.sideRunEnd + sd * B * 4,
      w.ptr.boundaries,
      w.ptr.weights,
      this.sideStart[sd],
      B,
      nb,
      small,
      extra,
      this.mceMinCount,
      w.ptr.out,
    );
    const s = w.out;
    const correct = s[0],
      ece = s[1],
      mce = s[2],
      em = s[3],
      brier = s[4],
      nll = s[5];
    this.wasmClasswise(sd, w.ptr.weights, 1);
    const cw = s[0];
    writeGroup(out, o, n, correct, ece, mce, em, cw, brier, nll);
  }

  /** Classwise numerators of side sd for `count` weight lanes from weightsPtr, into the out scratch. */
  private wasmClasswise(sd: number, weightsPtr: number, count: number): void {
    const w = this.wasm!;
    w.kernel.classwiseSide(
      w.ptr.sideClassSlot,
      w.ptr.sideClassGap,
      w.ptr.sideClassRunEnd,
      weightsPtr,
      this.size,
      this.sideStart[sd],
      sd,
      this.bins,
      count,
      w.ptr.out,
    );
  }

  /** evaluateSides4 on the WebAssembly backend: each side's four lanes in one walk (weightedSide4). */
  private wasmSides4(totals: number[], sides: number, out: Float64Array): void {
    const w = this.wasm!;
    const W = 2 * METRIC_COUNT;
    const B = this.bins;
    // Each lane's equal-mass chunking of its total, as wasmSide passes it.
    const lanes = w.lanes;
    for (let q = 0; q < 4; q++) {
      const n = totals[q];
      const nb = Math.min(B, n);
      lanes[q] = nb;
      lanes[4 + q] = n > 0 ? Math.floor(n / nb) : 0;
      lanes[8 + q] = n > 0 ? n % nb : 0;
    }
    const s = w.out;
    for (let sd = 0; sd < sides; sd++) {
      const o = sd * METRIC_COUNT;
      w.kernel.weightedSide4(
        w.ptr.sideSlot,
        w.ptr.sideData,
        w.ptr.sideRunEnd + sd * B * 4,
        w.ptr.laneBoundaries,
        w.ptr.weights,
        w.ptr.lanes,
        this.sideStart[sd],
        B,
        this.mceMinCount,
        w.ptr.out,
      );
      // Sum k of lane q at s[k * 4 + q]: correct, ece, mce, emSum, brier, nll.
      for (let q = 0; q < 4; q++)
        writeGroup(out, q * W + o, totals[q], s[q], s[4 + q], s[8 + q], s[12 + q], 0, s[16 + q], s[20 + q]);
      this.wasmClasswise(sd, w.ptr.weights, 4);
      for (let q = 0; q < 4; q++) if (totals[q] !== 0) out[q * W + o + CW_ECE] = w.out[q] / (K * totals[q]);
    }
    if (!this.twoSided) {
      for (let q = 0; q < 4; q++) writeGroup(out, q * W + METRIC_COUNT, 0, 0, 0, 0, 0, 0, 0, 0);
    }
  }

  /** evaluateSwapped (one flip vector) or evaluateSwapped4 (four: flips.length is 1 or 4) on the WebAssembly backend. */
  private wasmSwapped(flips: Uint8Array[], out: Float64Array): void {
    if (!this.twoSided) throw new RangeError('evaluateSwapped needs a pool of two paired sets');
    const w = this.wasm!;
    const n = this.slots;
    // Interleaved for the kernel: permutation q of pair j in byte q of word j.
    const words = w.flipWords;
    if (flips.length === 4) {
      const [f0, f1, f2, f3] = flips;
      for (let j = 0; j < n; j++) words[j] = f0[j] | (f1[j] << 8) | (f2[j] << 16) | (f3[j] << 24);
    } else {
      const f0 = flips[0];
      for (let j = 0; j < n; j++) words[j] = f0[j];
    }
    this.wasmSwappedWords(flips.length, out);
  }

  /** wasmSwapped on the flips already interleaved in the kernel's memory (count: 1 or 4 permutations). */
  private wasmSwappedWords(count: number, out: Float64Array): void {
    const w = this.wasm!;
    const n = this.slots;
    const W = 2 * METRIC_COUNT;
    const s = w.out;
    if (count === 4) {
      // The four permutations' top-label sums in one walk of the entries.
      if (w.ptr.masks !== 0) w.kernel.groupMasks4(w.ptr.flips, n, w.ptr.masks);
      w.kernel.swappedTopLabel4(
        w.ptr.slotSide,
        w.ptr.topRunEnd,
        w.ptr.entryData,
        w.ptr.laneBoundaries,
        w.ptr.flips,
        w.ptr.masks,
        w.ptr.swapScratch,
        n,
        this.bins,
        this.mceMinCount,
        w.ptr.out,
      );
      // Sum k of group g of permutation q at s[k * 8 + g * 4 + q]: correct, ece, mce, emSum, brier, nll.
      for (let q = 0; q < 4; q++) {
        for (let g = 0; g < 2; g++) {
          const l = g * 4 + q;
          writeGroup(out, q * W + g * METRIC_COUNT, n, s[l], s[8 + l], s[16 + l], s[24 + l], 0, s[32 + l], s[40 + l]);
        }
      }
    } else {
      // One permutation: its groups' members listed, then walked (flips in byte 0 of each word).
      w.kernel.swappedTopLabel(
        w.ptr.slotSide,
        w.ptr.topRunEnd,
        w.ptr.members,
        w.ptr.memberRunEnd,
        w.ptr.entryData,
        w.ptr.boundaries,
        w.ptr.flips,
        n,
        this.bins,
        this.mceMinCount,
        w.ptr.out,
      );
      writeGroup(out, 0, n, s[0], s[1], s[2], s[3], 0, s[4], s[5]);
      writeGroup(out, METRIC_COUNT, n, s[6], s[7], s[8], s[9], 0, s[10], s[11]);
    }
    w.kernel.swappedClasswise(
      w.ptr.classSlotSide,
      w.ptr.classGap,
      w.ptr.classRunEnd,
      w.ptr.flips,
      w.ptr.masks,
      n,
      this.size,
      this.bins,
      count,
      w.ptr.out,
    );
    const nk = K * n;
    for (let q = 0; q < count; q++) {
      out[q * W + CW_ECE] = s[2 * q] / nk;
      out[q * W + METRIC_COUNT + CW_ECE] = s[2 * q + 1] / nk;
    }
  }

  /** Every metric but classwise ECE of both groups of one permutation, into out[o..o + 13]. */
  private swappedTopLabel(flip: Uint8Array, out: Float64Array, o: number): void {
    if (!this.twoSided) throw new RangeError('evaluateSwapped needs a pool of two paired sets');
    const B = this.bins;
    const n = this.slots;
    const { slotSide, topRunEnd, members, memberRunEnd } = this;
    const start1 = n + 1;
    let p0 = 0,
      p1 = start1,
      r = 0;
    for (let b = 0; b < B; b++) {
      const end = topRunEnd[b];
      for (; r < end; r++) {
        const ss = slotSide[r];
        const g = (ss & 1) ^ flip[ss >> 1];
        members[p0] = r;
        members[p1] = r;
        p0 += 1 - g;
        p1 += g;
      }
      memberRunEnd[b] = p0;
      memberRunEnd[B + b] = p1;
    }
    const sums = this.sums;
    this.unitGroup(0, 0, n);
    writeGroup(out, o, n, sums[0], sums[1], sums[2], sums[3], 0, sums[4], sums[5]);
    this.unitGroup(start1, B, n);
    writeGroup(out, o + METRIC_COUNT, n, sums[0], sums[1], sums[2], sums[3], 0, sums[4], sums[5]);
  }

  /** Top-label sums of one group listed in members[start..] (unit weights, n entries) into this.sums. */
  private unitGroup(start: number, runOffset: number, n: number): void {
    const B = this.bins;
    const minCount = this.mceMinCount;
    const { members, memberRunEnd, entryData: data, boundaries } = this;
    const nb = Math.min(B, n);
    const small = n > 0 ? Math.floor(n / nb) : 0,
      extra = n > 0 ? n % nb : 0;
    // Equal-mass boundaries at the chunk edges of the group's sorted sequence (numpy.array_split chunks).
    for (let c = 0; c < nb - 1; c++) {
      const end = start + (c + 1) * small + Math.min(c + 1, extra);
      boundaries[c] = (data[members[end - 1] * ENTRY_STRIDE] + data[members[end] * ENTRY_STRIDE]) / 2;
    }
    let em = 0,
      emD = 0,
      emSum = 0;
    let nll = 0,
      brier = 0,
      correct = 0,
      ece = 0,
      mce = NaN;
    let q = start;
    for (let b = 0; b < B; b++) {
      const end = memberRunEnd[runOffset + b];
      let c = 0,
        d = 0,
        a = 0;
      for (; q < end; q++) {
        const e = members[q] * ENTRY_STRIDE;
        const v = data[e];
        const dd = data[e + 2];
        c += 1;
        d += dd;
        a += data[e + 1];
        nll += data[e + 3];
        brier += data[e + 4];
        while (em < nb - 1 && v > boundaries[em]) {
          emSum += Math.abs(emD);
          emD = 0;
          em++;
        }
        emD += dd;
      }
      correct += a;
      ece += Math.abs(d);
      if (c >= minCount && !(Math.abs(d) / c <= mce)) mce = Math.abs(d) / c;
    }
    emSum += Math.abs(emD);
    const sums = this.sums;
    sums[0] = correct;
    sums[1] = ece;
    sums[2] = mce;
    sums[3] = emSum;
    sums[4] = brier;
    sums[5] = nll;
  }

  /** Every metric of side sd with the given weights (n = their sum) into out[o..o + 6]. */
  private weightedSide(
    sd: number,
    weights: Float64Array,
    n: number,
    out: Float64Array,
    o: number,
    classwise = true,
  ): void {
    const B = this.bins;
    const minCount = this.mceMinCount;
    const { sideSlot: slot, sideData: data, sideRunEnd, boundaries, lastPick } = this;
    lastPick[0] = 0;
    const nb = Math.min(B, n);
    const small = n > 0 ? Math.floor(n / nb) : 0,
      extra = n > 0 ? n % nb : 0;
    let edges = 0,
      end = small + Math.min(1, extra),
      pos = 0,
      last = 0;
    let em = 0,
      emD = 0,
      emSum = 0;
    let nll = 0,
      brier = 0,
      correct = 0,
      ece = 0,
      mce = NaN;
    let r = this.sideStart[sd];
    for (let b = 0; b < B; b++) {
      const runEnd = sideRunEnd[sd * B + b];
      let c = 0,
        d = 0,
        a = 0;
      for (; r < runEnd; r++) {
        // Entries of weight 0 go through the same arithmetic (they add exact zeros, and close no bin another entry
        // would not): a branch on a bootstrap count would mispredict about a third of the time.
        const w = weights[slot[r]];
        const e = r * ENTRY_STRIDE;
        const v = data[e];
        const dd = data[e + 2];
        c += w;
        d += w * dd;
        a += w * data[e + 1];
        nll += w * data[e + 3];
        brier += w * data[e + 4];
        // Equal-mass bins, as in evaluate: boundaries of chunk edges whose first position lies in this entry's
        // copies [pos, pos + w), then the entry joins the first bin whose boundary is >= v.
        while (edges < nb - 1 && end < pos + w) {
          boundaries[edges] = ((end - 1 >= pos ? v : last) + v) / 2;
          edges++;
          end = (edges + 1) * small + Math.min(edges + 1, extra);
        }
        while (em < edges && v > boundaries[em]) {
          emSum += Math.abs(emD);
          emD = 0;
          em++;
        }
        pos += w;
        // last = w > 0 ? v : last, without a branch: the value of the last entry of nonzero weight.
        lastPick[1] = v;
        last = lastPick[Number(w > 0)];
        lastPick[0] = last;
        emD += w * dd;
      }
      correct += a;
      ece += Math.abs(d);
      if (c >= minCount && !(Math.abs(d) / c <= mce)) mce = Math.abs(d) / c;
    }
    emSum += Math.abs(emD);

    if (!classwise) {
      writeGroup(out, o, n, correct, ece, mce, emSum, 0, brier, nll);
      return;
    }
    const { sideClassSlot, sideClassGap, sideClassRunEnd, size } = this;
    let cw = 0;
    for (let k = 0; k < K; k++) {
      const base = k * size;
      let j = base + this.sideStart[sd];
      for (let b = 0; b < B; b++) {
        const runEnd = base + sideClassRunEnd[(k * 2 + sd) * B + b];
        let g = 0;
        for (; j < runEnd; j++) g += weights[sideClassSlot[j]] * sideClassGap[j];
        cw += Math.abs(g);
      }
    }
    writeGroup(out, o, n, correct, ece, mce, emSum, cw, brier, nll);
  }
}

/** Byte offsets of a pool's arrays in its WebAssembly memory, and views of its scratch. */
interface WasmPool {
  kernel: KernelExports;
  ptr: Record<
    | (typeof WASM_ARRAYS)[number]
    | 'weights'
    | 'flips'
    | 'masks'
    | 'out'
    | 'lanes'
    | 'laneBoundaries'
    | 'swapScratch'
    | 'rng',
    number
  >;
  /** weightedSide4's lane block: nb, small, extra of each of the four lanes (then its own scratch). */
  lanes: Int32Array;
  /** A Rng's four state words, for the kernel's draw loops. */
  rngState: Int32Array;
  /**
   * Four flip vectors, interleaved: byte q of word j is permutation q's flip of pair j. And 72 doubles of results
   * (permuteBlocks: 56 of scratch, 7 thresholds at 56, 7 counts at 64).
   */
  flipWords: Uint32Array;
  out: Float64Array;
  /**
   * Copies weights into lane q of the kernel's weight scratch (four u16 lanes interleaved: lane q of slot s at
   * 4 s + q) and returns their sum; -1 (and the caller runs the JavaScript loops) when a weight is not an integer
   * in 0..65535, which the kernel stores them as. The sum is of integers, so it is exact in any order.
   */
  setWeights(q: number, weights: Float64Array): number;
}

/**
 * Most pairs for which a permutation pool keeps its entries' group masks in a table (kernel.ts groupMasks4, 32
 * bytes per pair): at workload 1's 1,000 pairs the lookups made a permutation about 6% cheaper; at 14,042 the
 * table (450 KB) made it slower than making the masks again.
 */
const MASK_TABLE_SLOTS = 4096;

/** Largest total weight the WebAssembly side walk takes (it counts positions in int32). */
const WASM_MAX_TOTAL = 2 ** 31 - 1;

/** The arrays a pool copies into its WebAssembly memory, in the order wasmPool receives them. */
const WASM_ARRAYS = [
  'sideSlot',
  'sideData',
  'sideRunEnd',
  'sideClassSlot',
  'sideClassGap',
  'sideClassRunEnd',
  'slotSide',
  'topRunEnd',
  'classSlotSide',
  'classGap',
  'classRunEnd',
  'entryData',
  'members',
  'memberRunEnd',
  'boundaries',
] as const;

/** Copies a pool's arrays (in WASM_ARRAYS order) into a new kernel memory; null on the JavaScript backend. */
function wasmPool(slots: number, bins: number, arrays: (Int32Array | Float64Array)[]): WasmPool | null {
  // Then: four u16 weight lanes per slot, four flip bytes per slot, their group masks (16 bytes per slot and
  // side, up to MASK_TABLE_SLOTS slots), 72 doubles of results, weightedSide4's lane block (240 bytes), the
  // equal-mass boundaries of up to eight lanes, swappedTopLabel4's scratch (384 bytes), a Rng's state (16 bytes).
  const laid = KernelMemory.create([
    ...arrays.map((a) => a.byteLength),
    4 * slots * 2,
    4 * slots,
    slots <= MASK_TABLE_SLOTS ? 32 * slots : 0,
    72 * 8,
    240,
    8 * bins * 8,
    384,
    16,
  ]);
  if (!laid) return null;
  const { memory, offsets } = laid;
  const ptr = {} as WasmPool['ptr'];
  arrays.forEach((a, i) => {
    ptr[WASM_ARRAYS[i]] = offsets[i];
    const view = a instanceof Int32Array ? Int32Array : Float64Array;
    new view(memory.buffer, offsets[i], a.length).set(a);
  });
  const [weights, flips, masks, out, lanes, laneBoundaries, swapScratch, rng] = offsets.slice(arrays.length);
  // 0: the kernel makes each entry's group masks where it reads them (see MASK_TABLE_SLOTS).
  ptr.masks = slots <= MASK_TABLE_SLOTS ? masks : 0;
  ptr.swapScratch = swapScratch;
  ptr.rng = rng;
  ptr.weights = weights;
  ptr.flips = flips;
  ptr.out = out;
  ptr.lanes = lanes;
  ptr.laneBoundaries = laneBoundaries;
  const weightLanes = new Uint16Array(memory.buffer, weights, 4 * slots);
  return {
    kernel: memory.exports,
    ptr,
    flipWords: new Uint32Array(memory.buffer, flips, slots),
    out: new Float64Array(memory.buffer, out, 72),
    lanes: new Int32Array(memory.buffer, lanes, 12),
    rngState: new Int32Array(memory.buffer, rng, 4),
    setWeights(q, w) {
      let total = 0;
      for (let j = 0; j < slots; j++) {
        const v = w[j];
        weightLanes[4 * j + q] = v;
        if (weightLanes[4 * j + q] !== v) return -1;
        total += v;
      }
      return total;
    },
  };
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
 * The indices of `values` ordered by value, ties by index (the order a comparator sort on (value, index) gives),
 * without a comparator: the values are sorted natively, and each index, taken in ascending order, goes to the
 * next free place among the values equal to its own (-0 and +0 count as equal, as in a comparison). Finite values.
 */
export function ascendingOrder(values: Float64Array): Int32Array {
  const n = values.length;
  const sorted = Float64Array.from(values).sort();
  const placed = new Int32Array(n);
  const order = new Int32Array(n);
  for (let x = 0; x < n; x++) {
    const v = values[x];
    let lo = 0;
    let hi = n;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (sorted[mid] < v) lo = mid + 1;
      else hi = mid;
    }
    order[lo + placed[lo]++] = x;
  }
  return order;
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

/** The finite values, ascending (a typed array's numeric sort), in one pass and one copy. */
export function finiteSorted(values: ArrayLike<number>): Float64Array {
  const finite = new Float64Array(values.length);
  let m = 0;
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (Number.isFinite(v)) finite[m++] = v;
  }
  return finite.subarray(0, m).sort();
}

/**
 * Percentile interval [q_{(1-level)/2}, q_{(1+level)/2}] of the finite values (Efron & Tibshirani 1993, the
 * percentile bootstrap interval), quantiles as quantileSorted. Resamples where a metric is undefined (NaN,
 * e.g. MCE with no bin of minCount items) are left out; all undefined gives [NaN, NaN].
 */
export function percentileInterval(values: ArrayLike<number>, level = 0.95): Interval {
  const [lo, hi] = finiteQuantiles(values, [(1 - level) / 2, (1 + level) / 2]);
  return [lo, hi];
}

/**
 * quantileSorted(finiteSorted(values), q) for each q, without sorting: the two order statistics each quantile
 * reads are found by selection (quickselect, median-of-three pivots; a range that selection does not shrink fast
 * enough is sorted instead), linear time in the usual case. The same doubles as sorting: selection finds the same
 * order statistics, up to the sign of a zero (the sort puts -0 first), and x + h (y - x) is +0 for zeros x and y
 * of either sign.
 */
export function finiteQuantiles(values: ArrayLike<number>, qs: readonly number[]): number[] {
  const kernel = selectionKernel(values.length);
  let a: Float64Array;
  let m = 0;
  if (kernel) {
    // On the WebAssembly backend the filtering and the selections run in the kernel (kernel.ts finiteFirst,
    // selectOrder: the same order statistics), fast from a thread's first interval.
    a = kernel.values.subarray(0, values.length);
    a.set(values);
    m = kernel.memory.exports.finiteFirst(0, values.length);
  } else {
    a = new Float64Array(values.length);
    for (let i = 0; i < values.length; i++) {
      const v = values[i];
      if (Number.isFinite(v)) a[m++] = v;
    }
  }
  if (m === 0) return qs.map(() => NaN);
  // The order statistics needed, ascending; each selection leaves everything after it no smaller.
  const wanted = [
    ...new Set(
      qs.flatMap((q) => {
        const lo = Math.floor((m - 1) * q);
        return [lo, Math.min(lo + 1, m - 1)];
      }),
    ),
  ].sort((x, y) => x - y);
  const at = new Map<number, number>();
  let start = 0;
  for (const k of wanted) {
    if (kernel) kernel.memory.exports.selectOrder(0, start, m, k, selectionRounds(m - start));
    else selectInPlace(a, start, m, k);
    at.set(k, a[k]);
    start = k + 1;
  }
  return qs.map((q) => {
    const h = (m - 1) * q;
    const lo = Math.floor(h);
    const x = at.get(lo)!;
    return x + (h - lo) * (at.get(Math.min(lo + 1, m - 1))! - x);
  });
}

/** Partitions selectInPlace tries on n values before it sorts what is left (so the worst case is n log n). */
const selectionRounds = (n: number) => 2 * Math.ceil(Math.log2(n + 1)) + 8;

/** finiteQuantiles' kernel memory on the WebAssembly backend (grown as needed), or null on the JavaScript one. */
let selection: { memory: KernelMemory; values: Float64Array } | null = null;
function selectionKernel(n: number): { memory: KernelMemory; values: Float64Array } | null {
  if (kernelBackend() !== 'wasm') return null;
  if (!selection || selection.values.length < n) {
    const laid = KernelMemory.create([Math.max(n, 1) * 8]);
    if (!laid) return null;
    selection = { memory: laid.memory, values: new Float64Array(laid.memory.buffer, 0, Math.max(n, 1)) };
  }
  return selection;
}

/**
 * Rearranges a[from..to) so that a[k] holds the value sorting would put there, everything before it no larger
 * and everything after it no smaller (Hoare's FIND with median-of-three pivots). After 2 log2(n) + 8 rounds the
 * remaining range is sorted instead, so the worst case stays n log n.
 */
function selectInPlace(a: Float64Array, from: number, to: number, k: number): void {
  let lo = from;
  let hi = to - 1;
  let rounds = selectionRounds(to - from);
  while (hi > lo) {
    if (rounds-- === 0 || hi - lo < 16) {
      a.subarray(lo, hi + 1).sort();
      return;
    }
    const mid = (lo + hi) >>> 1;
    // Median of a[lo], a[mid], a[hi] as the pivot.
    const x = a[lo];
    const y = a[mid];
    const z = a[hi];
    const pivot = x < y ? (y < z ? y : x < z ? z : x) : x < z ? x : y < z ? z : y;
    let i = lo;
    let j = hi;
    while (i <= j) {
      while (a[i] < pivot) i++;
      while (a[j] > pivot) j--;
      if (i <= j) {
        const t = a[i];
        a[i++] = a[j];
        a[j--] = t;
      }
    }
    // Now a[lo..j] <= pivot <= a[i..hi], and any a[j + 1..i - 1] equal the pivot.
    if (k <= j) hi = j;
    else if (k >= i) lo = i;
    else return;
  }
}

/**
 * Per-resample metrics of both groups of a pool: row r of group0/group1 (METRIC_COUNT wide, METRICS order) holds
 * the metrics of resample first + r. Each resample draws `slots` slot indices uniformly with replacement
 * (Rng(seed).nextInt(slots), in order) and weights each slot by how often it was drawn; so a single-set pool
 * gives the plain bootstrap and a paired pool the paired bootstrap (the same items for both arms). The same
 * seed and slot count give the same resamples, which is what lets paired differences be read off two single
 * pools over the same items. `first` > 0 draws and discards the first resamples, so a run of resamples can be
 * split into chunks (e.g. across threads) whose rows, concatenated, are exactly the rows of one run.
 */
export function bootstrapMetrics(
  pool: MetricPool,
  slots: number,
  resamples: number,
  seed: number,
  first = 0,
): { group0: Float64Array; group1: Float64Array } {
  const group0 = new Float64Array(resamples * METRIC_COUNT);
  const group1 = new Float64Array(resamples * METRIC_COUNT);
  const counts = new Float64Array(slots);
  const rng = new Rng(seed);
  rng.skipInts(slots, first * slots);
  const block = [counts, new Float64Array(slots), new Float64Array(slots), new Float64Array(slots)];
  const outs = new Float64Array(4 * 2 * METRIC_COUNT);
  const keep = (r: number, o: number) => {
    for (let m = 0, at = r * METRIC_COUNT; m < METRIC_COUNT; m++) {
      group0[at + m] = outs[o + m];
      group1[at + m] = outs[o + METRIC_COUNT + m];
    }
  };
  // Four resamples at a time (drawn in stream order), the rest one by one (see BLOCK_MAX_SLOTS).
  let r = 0;
  const blocked = slots <= BLOCK_MAX_SLOTS || pool.backend === 'wasm';
  for (; blocked && r + 4 <= resamples; r += 4) {
    // The WebAssembly kernel draws the four itself; otherwise they are drawn here.
    if (!pool.resample4(rng, outs)) {
      for (const c of block) {
        c.fill(0);
        rng.drawInts(slots, slots, c);
      }
      pool.evaluateSides4(block[0], block[1], block[2], block[3], outs);
    }
    for (let q = 0; q < 4; q++) keep(r + q, q * 2 * METRIC_COUNT);
  }
  for (; r < resamples; r++) {
    counts.fill(0);
    rng.drawInts(slots, slots, counts);
    pool.evaluateSides(counts, outs);
    keep(r, 0);
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
  const { observed, extreme } = permutationExtremes(pool, pairs, permutations, seed);
  return { observed, p: permutationP(observed, extreme, permutations) };
}

/**
 * The counting half of pairedPermutationTest for permutations first .. first + permutations - 1 of the seed's
 * stream: the observed differences and, per metric, how many of those permutations are at least as extreme.
 * Counts of consecutive chunks add up to the count of one run, so the test can be split across threads.
 */
export function permutationExtremes(
  pool: MetricPool,
  pairs: number,
  permutations: number,
  seed: number,
  first = 0,
): { observed: Float64Array; extreme: Float64Array } {
  const ones = new Float64Array(pairs).fill(1);
  const out = new Float64Array(2 * METRIC_COUNT);
  pool.evaluateSides(ones, out);
  const observed = new Float64Array(METRIC_COUNT);
  for (let m = 0; m < METRIC_COUNT; m++) observed[m] = out[m] - out[METRIC_COUNT + m];
  const threshold = observed.map((t) => Math.abs(t) - PERMUTATION_TIE_TOLERANCE);
  const extreme = new Float64Array(METRIC_COUNT);
  const flips = [0, 1, 2, 3].map(() => new Uint8Array(pairs));
  const outs = new Float64Array(4 * 2 * METRIC_COUNT);
  const rng = new Rng(seed);
  const words = Math.ceil(pairs / 32);
  rng.skipUint32(first * words);
  const draw = (flip: Uint8Array) => {
    for (let j = 0; j < pairs; j += 32) {
      let bits = rng.nextUint32();
      const end = Math.min(pairs, j + 32);
      for (let i = j; i < end; i++, bits >>>= 1) flip[i] = bits & 1;
    }
  };
  const count = (o: number) => {
    for (let m = 0; m < METRIC_COUNT; m++) {
      const t = outs[o + m] - outs[o + METRIC_COUNT + m];
      if (Math.abs(t) >= threshold[m]) extreme[m]++;
    }
  };
  // Four permutations at a time (drawn in stream order), the rest one by one. The WebAssembly kernel runs the
  // blocks of four whole, counting as `count` does.
  let r = 0;
  const blocks = Math.floor(permutations / 4);
  if (pool.permuteBlocks(rng, blocks, threshold, extreme)) r = 4 * blocks;
  // Otherwise (the JavaScript backend, where permute4 cannot run either) the blocks are drawn and counted here.
  for (; r + 4 <= permutations; r += 4) {
    for (const flip of flips) draw(flip);
    pool.evaluateSwapped4(flips[0], flips[1], flips[2], flips[3], outs);
    for (let q = 0; q < 4; q++) count(q * 2 * METRIC_COUNT);
  }
  for (; r < permutations; r++) {
    draw(flips[0]);
    pool.evaluateSwapped(flips[0], outs);
    count(0);
  }
  return { observed, extreme };
}

/** p = (1 + extreme) / (R + 1) per metric (NaN where the observed difference is undefined). */
export function permutationP(observed: Float64Array, extreme: Float64Array, permutations: number): Float64Array {
  const p = new Float64Array(METRIC_COUNT);
  for (let m = 0; m < METRIC_COUNT; m++) {
    p[m] = Number.isFinite(observed[m]) ? (1 + extreme[m]) / (permutations + 1) : NaN;
  }
  return p;
}

/** The metric names in kernel order, for callers that index METRIC_COUNT-wide rows. */
export const KERNEL_METRICS: readonly MetricName[] = METRICS;
