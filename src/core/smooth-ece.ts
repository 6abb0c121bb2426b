/**
 * Smooth ECE (Błasiok & Nakkiran 2023, "Smooth ECE: Principled Reliability Diagrams via Kernel Smoothing"),
 * top-label, exactly as their reference implementation `relplot` (github:apple/ml-calibration, metrics.py
 * `smECE`, kernels.py `ReflectedGaussianKernel`) computes it, and its resampling at a fixed bandwidth. It has no
 * bins to get noisier in a resample, but like every estimate of a distance it is still biased upward near perfect
 * calibration, and so is its bootstrap: a percentile interval can still lie above it (the table marks that).
 */

import { exp } from './detmath';
import { KernelMemory, kernelBackend, type KernelExports } from './kernel-wasm';
import { topLabel, type Predictions } from './metrics';
import type { Rng } from './random';

/**
 * relplot's discretisation at bandwidth sigma:
 * - E = max(round(10 / sigma), 200) evaluation points t_k = k / (E - 1);
 * - a grid of G = floor(max(2000, round(20 / sigma)) / 2) + 1 nodes j / (G - 1); each item's value v at f goes to
 *   nodes b = clip(floor(f (G - 1)), 0, G - 2) and b + 1 with weights 1 - frac and frac (frac = f (G - 1) - b);
 * - the grid is convolved with the Gaussian density kernel k(d) = exp(-(d / (G - 1))^2 / (2 sigma^2)) /
 *   (sqrt(2 pi) sigma) over offsets |d| <= (G - 1) / 2, reflecting at both ends (node -m reads node m, node
 *   G - 1 + m reads node G - 1 - m);
 * - the smoothed grid is linearly interpolated to each t_k.
 */
interface Discretisation {
  sigma: number;
  evalPoints: number;
  gridNodes: number;
  /** Per evaluation point k: the first node and the weights of nodes first.. (reflection folded in). */
  first: Int32Array;
  length: Int32Array;
  offsets: Int32Array;
  weights: Float64Array;
  /** Per node: its summed weight over every evaluation point, so the total density is one dot product. */
  columnSums: Float64Array;
  /** nodeReach's answer, once asked. */
  reach?: { first: Int32Array; end: Int32Array };
}

/** Offsets beyond this many sigmas add exp(-40.5) < 3e-18 of the peak: below double precision, so left out. */
const TRUNCATE_SIGMAS = 9;

/**
 * Recently used discretisations, for the resampling pools: a thread runs many chunks of the same few jobs, each
 * at its set's bandwidth (a bandwidth search builds none: smoothEceDirect). A few MB each at most; the oldest is
 * dropped beyond DISCRETISATIONS_KEPT.
 */
const discretisations = new Map<string, Discretisation>();
const DISCRETISATIONS_KEPT = 12;

/** Keyed by backend too: each backend builds its own (the same doubles, which the tests compare). */
function discretise(sigma: number): Discretisation {
  const key = `${kernelBackend()} ${sigma}`;
  let disc = discretisations.get(key);
  if (disc) {
    discretisations.delete(key);
  } else {
    disc = buildDiscretisation(sigma);
    if (discretisations.size >= DISCRETISATIONS_KEPT) discretisations.delete(discretisations.keys().next().value!);
  }
  discretisations.set(key, disc);
  return disc;
}

/**
 * The kernel-weight table a resampling pool at bandwidth sigma reads (built on the current backend, or taken from
 * this thread's recent ones), with nodeReach's answer: for tests and diagnostics.
 */
export function smoothDiscretisation(sigma: number): Readonly<Required<Discretisation>> {
  const disc = discretise(sigma);
  nodeReach(disc);
  return disc as Required<Discretisation>;
}

/**
 * Per grid node j: the first evaluation point whose row reads it and one past the last (E and 0 when none does),
 * computed once per discretisation.
 */
function nodeReach(disc: Discretisation): { first: Int32Array; end: Int32Array } {
  if (disc.reach) return disc.reach;
  const { evalPoints: E, gridNodes: G, first, length } = disc;
  const reach = { first: new Int32Array(G).fill(E), end: new Int32Array(G) };
  for (let k = 0; k < E; k++) {
    for (let j = first[k]; j < first[k] + length[k]; j++) {
      if (k < reach.first[j]) reach.first[j] = k;
      reach.end[j] = k + 1;
    }
  }
  disc.reach = reach;
  return reach;
}

/** relplot's grid sizes at bandwidth sigma (see Discretisation) and the kernel k(d) for offsets d = 0..radius. */
interface Grid {
  evalPoints: number;
  gridNodes: number;
  radius: number;
  kernel: Float64Array;
}

function gridOf(sigma: number): Grid {
  const evalPoints = Math.max(Math.round(10 / sigma), 200);
  const G = Math.floor(Math.max(2000, Math.round(20 / sigma)) / 2) + 1;
  const half = (G - 1) / 2;
  const radius = Math.min(half, Math.ceil(TRUNCATE_SIGMAS * sigma * (G - 1)));
  const kernel = new Float64Array(radius + 1);
  const norm = Math.sqrt(2 * Math.PI) * sigma;
  for (let d = 0; d <= radius; d++) {
    const x = d / (G - 1);
    kernel[d] = exp(-(x * x) / (2 * sigma * sigma)) / norm;
  }
  return { evalPoints, gridNodes: G, radius, kernel };
}

/**
 * Evaluation point k of a grid: span[0] = the node it interpolates from, span[1]..span[2] = the nodes its row
 * touches (offsets -radius..radius around that node and the next, reflected at 0, an offset d < -node, and at
 * G - 1). Returns the share r of the next node (the first has 1 - r).
 */
function rowOf(grid: Grid, k: number, span: Int32Array): number {
  const { evalPoints: E, gridNodes: G, radius } = grid;
  const last = G - 1;
  const t = k / (E - 1);
  let at = Math.floor(t * (G - 1));
  if (at < 0) at = 0;
  if (at > G - 2) at = G - 2;
  const r = (t - at / (G - 1)) * (G - 1);
  let lo = G;
  let hi = -1;
  for (let q = 0; q < 2; q++) {
    if ((q === 0 ? 1 - r : r) === 0) continue;
    const node = at + q;
    if (-node - 1 >= -radius) {
      lo = Math.min(lo, 1);
      hi = Math.max(hi, radius - node);
    }
    const inStart = Math.max(-radius, -node);
    const inEnd = Math.min(radius, last - node);
    if (inEnd >= inStart) {
      lo = Math.min(lo, node + inStart);
      hi = Math.max(hi, node + inEnd);
    }
    const rightStart = Math.max(-radius, last - node + 1);
    if (radius >= rightStart) {
      lo = Math.min(lo, 2 * last - node - radius);
      hi = Math.max(hi, last - 1);
    }
  }
  if (hi < lo) lo = hi = 0;
  span[0] = at;
  span[1] = lo;
  span[2] = hi;
  return r;
}

function buildDiscretisation(sigma: number): Discretisation {
  const grid = gridOf(sigma);
  const { evalPoints, gridNodes: G } = grid;
  const span = new Int32Array(3);
  // Point k reads node ind[k] with share 1 - residual[k] and node ind[k] + 1 with share residual[k].
  const ind = new Int32Array(evalPoints);
  const residual = new Float64Array(evalPoints);
  const first = new Int32Array(evalPoints);
  const length = new Int32Array(evalPoints);
  const offsets = new Int32Array(evalPoints);
  // Pass 1: the nodes each point's row touches, so that pass 2 writes every row in place.
  let total = 0;
  for (let k = 0; k < evalPoints; k++) {
    residual[k] = rowOf(grid, k, span);
    ind[k] = span[0];
    first[k] = span[1];
    length[k] = span[2] - span[1] + 1;
    offsets[k] = total;
    total += length[k];
  }
  const rows = { sigma, evalPoints, gridNodes: G, first, length, offsets };
  const built = tableInKernel(grid, ind, residual, rows, total);
  if (built) return built;
  // Pass 2: row k's weight of node m at weights[offsets[k] + m - first[k]].
  const weights = new Float64Array(total);
  const columnSums = new Float64Array(G);
  for (let k = 0; k < evalPoints; k++) {
    rowWeights(grid, ind[k], residual[k], first[k], first[k] + length[k] - 1, weights, offsets[k]);
    for (let j = 0; j < length[k]; j++) columnSums[first[k] + j] += weights[offsets[k] + j];
  }
  return { ...rows, weights, columnSums };
}

/**
 * buildDiscretisation's pass 2 and nodeReach on the WebAssembly backend (kernel.ts smoothTable: the same doubles):
 * a pool's table is built once per bandwidth and thread, where JavaScript would still be cold. Null on the
 * JavaScript backend.
 */
function tableInKernel(
  grid: Grid,
  ind: Int32Array,
  residual: Float64Array,
  rows: Omit<Discretisation, 'weights' | 'columnSums' | 'reach'>,
  total: number,
): Discretisation | null {
  const { evalPoints: E, gridNodes: G, first, length, offsets } = rows;
  const laid = KernelMemory.create([
    grid.kernel.byteLength,
    ind.byteLength,
    residual.byteLength,
    first.byteLength,
    length.byteLength,
    offsets.byteLength,
    total * 8,
    G * 8,
    G * 4,
    G * 4,
  ]);
  if (!laid) return null;
  const { memory, offsets: ptr } = laid;
  const { buffer } = memory;
  new Float64Array(buffer, ptr[0], grid.kernel.length).set(grid.kernel);
  new Int32Array(buffer, ptr[1], E).set(ind);
  new Float64Array(buffer, ptr[2], E).set(residual);
  new Int32Array(buffer, ptr[3], E).set(first);
  new Int32Array(buffer, ptr[4], E).set(length);
  new Int32Array(buffer, ptr[5], E).set(offsets);
  memory.exports.smoothTable(
    ptr[0],
    grid.radius,
    E,
    G,
    ptr[1],
    ptr[2],
    ptr[3],
    ptr[4],
    ptr[5],
    ptr[6],
    ptr[7],
    ptr[8],
    ptr[9],
  );
  // Views of that memory, which nothing writes to again (a pool copies the table into its own).
  return {
    ...rows,
    weights: new Float64Array(buffer, ptr[6], total),
    columnSums: new Float64Array(buffer, ptr[7], G),
    reach: { first: new Int32Array(buffer, ptr[8], G), end: new Int32Array(buffer, ptr[9], G) },
  };
}

/**
 * W_km of the row interpolating from node `at` (share 1 - r) and at + 1 (share r), for m = lo..hi, into
 * out[o + m - lo]. Each is the sum, onto +0, of node at's terms share * k(|d|) for the offsets d that land on m
 * (reflected at 0, an offset d < -node landing on -(node + d); inside; reflected at G - 1, landing on
 * 2 (G - 1) - node - d: their offsets ascend in that order), then node at + 1's. Nodes far from both ends read
 * only the inside offsets m - at and m - at - 1, each within the radius or absent (absent adds +0).
 */
function rowWeights(grid: Grid, at: number, r: number, lo: number, hi: number, out: Float64Array, o: number): void {
  const { radius, kernel } = grid;
  const last = grid.gridNodes - 1;
  // Nodes lo..edgeLo - 1 and edgeHi + 1..hi may read a reflected offset.
  const edgeLo = Math.min(Math.max(lo, radius - at + 1), hi + 1);
  const edgeHi = Math.max(Math.min(hi, 2 * last - at - 2 - radius), edgeLo - 1);
  const s0 = 1 - r;
  for (let m = lo; m < edgeLo; m++) out[o + m - lo] = rowWeight(grid, at, r, m);
  for (let m = edgeLo; m <= edgeHi; m++) {
    const d0 = m - at;
    const d1 = d0 - 1;
    out[o + m - lo] =
      (d0 >= -radius && d0 <= radius ? s0 * kernel[d0 < 0 ? -d0 : d0] : 0) +
      (d1 >= -radius && d1 <= radius ? r * kernel[d1 < 0 ? -d1 : d1] : 0);
  }
  for (let m = edgeHi + 1; m <= hi; m++) out[o + m - lo] = rowWeight(grid, at, r, m);
}

/** relplot's `eps` added to the smoothed density before dividing (BaseKernelMixin.smooth). */
const DENSITY_EPS = 0.0001;

/**
 * Grid values of one weighted item set: residual[j] = sum of w (f - y) and mass[j] = sum of w spread to node j.
 * Returns the nodes any item reached, [first, last] ([G, -1] for none): the others hold +0.
 */
function spreadToGrid(
  conf: Float64Array,
  residual: Float64Array,
  weights: ArrayLike<number> | null,
  G: number,
  outR: Float64Array,
  outMass: Float64Array,
): [number, number] {
  outR.fill(0);
  outMass.fill(0);
  let first = G;
  let last = -1;
  for (let i = 0; i < conf.length; i++) {
    const w = weights === null ? 1 : weights[i];
    if (w === 0) continue;
    const x = conf[i] * (G - 1);
    let b = Math.floor(x);
    if (b < 0) b = 0;
    if (b > G - 2) b = G - 2;
    const frac = x - b;
    outR[b] += (1 - frac) * w * residual[i];
    outR[b + 1] += frac * w * residual[i];
    outMass[b] += (1 - frac) * w;
    outMass[b + 1] += frac * w;
    if (b < first) first = b;
    if (b + 1 > last) last = b + 1;
  }
  return [first, last];
}

/**
 * smECE_sigma = sum_k |rs_k| dens_k / sum_k dens_k with rs_k = num_k / dens_k, where num_k and dens_k - eps are
 * the kernel smooths of the residuals f - y and of the unit weights at t_k (relplot `smooth_ece`); since
 * |rs_k| dens_k = |num_k|, this is sum_k |num_k| / sum_k dens_k.
 *
 * Row k's weights W_kj are computed as they are used (rowWeights, as buildDiscretisation computes them) rather
 * than read from a Discretisation: a bandwidth search evaluates each bandwidth once. Every sum here runs in the
 * order SmoothEcePool's grid path reads the built weights in, so the two give the same doubles.
 */
function smoothEceDirect(
  grid: Grid,
  gridR: Float64Array,
  gridMass: Float64Array,
  [nodeLo, nodeHi]: [number, number],
): number {
  const { evalPoints: E, gridNodes: G } = grid;
  const span = new Int32Array(3);
  const row = new Float64Array(G);
  const columnSums = new Float64Array(G);
  let numerator = 0;
  for (let k = 0; k < E; k++) {
    const r = rowOf(grid, k, span);
    // Only nodes nodeLo..nodeHi hold anything: the rest would add +0 to every sum, which changes none.
    const lo = Math.max(span[1], nodeLo);
    const hi = Math.min(span[2], nodeHi);
    rowWeights(grid, span[0], r, lo, hi, row, 0);
    let num = 0;
    for (let m = lo; m <= hi; m++) {
      num += row[m - lo] * gridR[m];
      columnSums[m] += row[m - lo];
    }
    numerator += Math.abs(num);
  }
  // sum_k dens_k = sum_k (sum_j W_kj mass_j + eps) = sum_j mass_j colsum_j + E eps.
  let density = E * DENSITY_EPS;
  for (let j = nodeLo; j <= nodeHi; j++) density += gridMass[j] * columnSums[j];
  return numerator / density;
}

/** rowWeights' W_km for one node m, every term of both nodes added as there. */
function rowWeight(grid: Grid, at: number, r: number, m: number): number {
  const { radius, kernel } = grid;
  const last = grid.gridNodes - 1;
  let w = 0;
  for (let q = 0; q < 2; q++) {
    const share = q === 0 ? 1 - r : r;
    if (share === 0) continue;
    const node = at + q;
    if (m >= 1 && m + node <= radius) w += share * kernel[m + node];
    const d = m - node;
    if (d >= -radius && d <= radius) w += share * kernel[d < 0 ? -d : d];
    if (m <= last - 1 && 2 * last - node - m <= radius) w += share * kernel[2 * last - node - m];
  }
  return w;
}

/** The WebAssembly backend's memory for smoothEceAt (kernel, grid, mass, column sums), grown as needed. */
let directMemory: { memory: KernelMemory; doubles: number } | null = null;

/**
 * smECE_sigma of a weighted item set: spreadToGrid, then smoothEceDirect, on the WebAssembly backend in its
 * kernel (src/wasm/kernel.ts smoothDirect: the same doubles, without the JIT's warm-up on every new thread).
 */
function smoothEceAt(
  grid: Grid,
  conf: Float64Array,
  residual: Float64Array,
  weights: ArrayLike<number> | null,
): number {
  const G = grid.gridNodes;
  const K = grid.kernel.length;
  const doubles = K + 3 * G;
  if (kernelBackend() === 'wasm' && !(directMemory && directMemory.doubles >= doubles)) {
    const laid = KernelMemory.create([doubles * 8]);
    directMemory = laid && { memory: laid.memory, doubles };
  }
  if (kernelBackend() !== 'wasm' || !directMemory) {
    const gridR = new Float64Array(G);
    const gridMass = new Float64Array(G);
    return smoothEceDirect(grid, gridR, gridMass, spreadToGrid(conf, residual, weights, G, gridR, gridMass));
  }
  const { memory } = directMemory;
  new Float64Array(memory.buffer, 0, K).set(grid.kernel);
  const gridR = new Float64Array(memory.buffer, K * 8, G);
  const gridMass = new Float64Array(memory.buffer, (K + G) * 8, G);
  const [nodeLo, nodeHi] = spreadToGrid(conf, residual, weights, G, gridR, gridMass);
  return memory.exports.smoothDirect(
    0,
    grid.radius,
    grid.evalPoints,
    G,
    K * 8,
    (K + G) * 8,
    (K + 2 * G) * 8,
    nodeLo,
    nodeHi,
  );
}

/** Top-label confidences and residuals f - y of a prediction set (relplot `multiclass_logits_to_confidences`). */
function residuals(pred: Predictions): { conf: Float64Array; residual: Float64Array } {
  const { confidence, correct } = topLabel(pred);
  const residual = new Float64Array(pred.n);
  for (let i = 0; i < pred.n; i++) residual[i] = confidence[i] - correct[i];
  return { conf: confidence, residual };
}

/**
 * Smooth ECE at a fixed bandwidth sigma (relplot `smECE_sigma`), top-label: f = max_k p_k, y = [argmax = label].
 * `weights` (one per item, e.g. bootstrap counts) repeats items; default 1 each. NaN for n = 0.
 */
export function smoothCalibrationErrorAt(
  pred: Predictions,
  sigma: number,
  weights: ArrayLike<number> | null = null,
): number {
  if (pred.n === 0) return NaN;
  if (!(sigma > 0 && sigma <= 1)) throw new RangeError(`sigma must be in (0, 1], got ${sigma}`);
  const { conf, residual } = residuals(pred);
  return smoothEceAt(gridOf(sigma), conf, residual, weights);
}

/**
 * Smooth ECE with relplot's choice of bandwidth (`smECE`): the fixed point sigma = smECE_sigma found by
 * `search_param`: sigma = 1 when 1 < smECE_1; else ten bisection steps on [0, 1] keeping `hi` where
 * sigma >= smECE_sigma (and sigma >= 0.001) and `lo` where sigma < smECE_sigma (or sigma < 0.001), returning
 * smECE at the final `hi`. Returns the value and the bandwidth. NaN (and sigma NaN) for n = 0.
 *
 * Top-label, as the study's ECE: f = max_k p_k, y = [argmax = label]. Differs from relplot only in exp (this
 * kit's detmath, for identical results on every machine) and in leaving out kernel terms below 3e-18 of the peak.
 */
export function smoothCalibrationError(pred: Predictions): { value: number; sigma: number } {
  if (pred.n === 0) return { value: NaN, sigma: NaN };
  const { conf, residual } = residuals(pred);
  const cache = new Map<number, number>();
  const at = (sigma: number) => {
    let v = cache.get(sigma);
    if (v === undefined) {
      v = smoothEceAt(gridOf(sigma), conf, residual, null);
      cache.set(sigma, v);
    }
    return v;
  };
  const eps = 0.001;
  const check = (alpha: number) => alpha < eps || alpha < at(alpha);
  let sigma = 1;
  if (!check(1)) {
    let start = 1;
    let end = 0;
    for (let i = 0; i < 10; i++) {
      const mid = (start + end) / 2;
      if (check(mid)) end = mid;
      else start = mid;
    }
    sigma = start;
  }
  return { value: at(sigma), sigma };
}

/** Resamples evaluated together by SmoothEcePool.evaluateBlock: the kernel's weights are read once for all of them. */
export const SMOOTH_BLOCK = 8;

/**
 * Smooth ECE of many weighted versions of one prediction set at one bandwidth, e.g. bootstrap resamples: the
 * bandwidth is chosen once on the full data (smoothCalibrationError) and held fixed in the resamples, as the
 * scaler is. Allocates only at construction.
 *
 * Everything is linear in the item weights, so two exact ways compute it; the pool takes the cheaper one for its
 * size: through relplot's grid (cost: evaluation points x kernel width, whatever n), or item by item through each
 * item's precomputed contribution to every evaluation point (cost: items x points within the kernel's reach;
 * cheaper for a few hundred items). They agree to rounding. On the grid path, evaluateBlock computes up to
 * SMOOTH_BLOCK weightings in one pass (each one's sums in the same order as alone, so the same doubles).
 */
export class SmoothEcePool {
  private readonly disc: Discretisation;
  private readonly conf: Float64Array;
  private readonly residual: Float64Array;
  /** Grid path: each item's left node and its share 1 - frac and frac (relplot smooth_round_to_grid). */
  private readonly node: Int32Array;
  private readonly frac: Float64Array;
  /** Grid path scratch of the JavaScript loops, made on their first use: node j of weighting q at [j * SMOOTH_BLOCK + q]. */
  private grid?: { residual: Float64Array; mass: Float64Array };
  /** Item path: contribution of item i to point k at [i * E + k], nonzero for k in [kFirst[i], kEnd[i]). */
  private readonly contribution?: Float64Array;
  private readonly kFirst?: Int32Array;
  private readonly kEnd?: Int32Array;
  /** Item path: sum over k of item i's contribution (its share of the total density). */
  private readonly itemMass?: Float64Array;
  private readonly num?: Float64Array;
  private readonly single = new Float64Array(1);
  /** Grid path on the WebAssembly backend: evaluateBlock runs there whole (kernel.ts smoothBlock). */
  private wasm: {
    kernel: KernelExports;
    ptr: number[];
    weights: Float64Array;
    out: Float64Array;
    rngState: Int32Array;
  } | null = null;

  constructor(
    pred: Predictions,
    readonly sigma: number,
  ) {
    this.disc = discretise(sigma);
    ({ conf: this.conf, residual: this.residual } = residuals(pred));
    const { evalPoints: E, gridNodes: G, first, length, offsets, weights } = this.disc;
    const n = this.conf.length;
    // Items at each grid node, with their linear-interpolation share (relplot smooth_round_to_grid).
    this.node = new Int32Array(n);
    this.frac = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      const x = this.conf[i] * (G - 1);
      let b = Math.floor(x);
      if (b < 0) b = 0;
      if (b > G - 2) b = G - 2;
      this.node[i] = b;
      this.frac[i] = x - b;
    }
    let gridCost = 0;
    for (let k = 0; k < E; k++) gridCost += length[k];
    // The grid path is cheaper (or the item table too big).
    if (n * E > 4_000_000 || n * E * 0.2 > gridCost) {
      this.useWasm();
      return;
    }
    const { node, frac } = this;
    // The item path's cost: item i reaches the points that read either of its nodes.
    const reach = nodeReach(this.disc);
    let itemCost = 0;
    for (let i = 0; i < n; i++) {
      const b = node[i];
      itemCost += Math.max(0, Math.max(reach.end[b], reach.end[b + 1]) - Math.min(reach.first[b], reach.first[b + 1]));
    }
    // Measured: a term of the blocked grid pass costs about 0.6 of an item-path term (which skips weight 0).
    if (1.6 * itemCost >= gridCost) {
      this.useWasm();
      return;
    }
    const nodeStart = new Int32Array(G + 1);
    for (let i = 0; i < n; i++) {
      nodeStart[node[i] + 1]++;
      nodeStart[node[i] + 2]++;
    }
    for (let j = 0; j < G; j++) nodeStart[j + 1] += nodeStart[j];
    const fill = nodeStart.slice(0, G);
    const nodeItem = new Int32Array(2 * n);
    const nodeShare = new Float64Array(2 * n);
    for (let i = 0; i < n; i++) {
      nodeItem[fill[node[i]]] = i;
      nodeShare[fill[node[i]]++] = 1 - frac[i];
      nodeItem[fill[node[i] + 1]] = i;
      nodeShare[fill[node[i] + 1]++] = frac[i];
    }
    const contribution = new Float64Array(n * E);
    const kFirst = new Int32Array(n).fill(E);
    const kEnd = new Int32Array(n);
    for (let k = 0; k < E; k++) {
      const o = offsets[k] - first[k];
      for (let j = first[k]; j < first[k] + length[k]; j++) {
        const w = weights[o + j];
        for (let e = nodeStart[j]; e < nodeStart[j + 1]; e++) {
          const i = nodeItem[e];
          contribution[i * E + k] += nodeShare[e] * w;
          if (k < kFirst[i]) kFirst[i] = k;
          if (k + 1 > kEnd[i]) kEnd[i] = k + 1;
        }
      }
    }
    const itemMass = new Float64Array(n);
    for (let i = 0; i < n; i++) for (let k = kFirst[i]; k < kEnd[i]; k++) itemMass[i] += contribution[i * E + k];
    this.contribution = contribution;
    this.kFirst = kFirst;
    this.kEnd = kEnd;
    this.itemMass = itemMass;
    this.num = new Float64Array(E);
  }

  /**
   * On the WebAssembly backend, copies the kernel's weights and the items' nodes, shares and residuals into its
   * memory: evaluateBlock then runs there whole (kernel.ts smoothBlock).
   */
  private useWasm(): void {
    const { weights, first, length, offsets, columnSums, gridNodes: G } = this.disc;
    const n = this.conf.length;
    const laid = KernelMemory.create([
      weights.byteLength,
      first.byteLength,
      length.byteLength,
      offsets.byteLength,
      columnSums.byteLength,
      this.node.byteLength,
      this.frac.byteLength,
      this.residual.byteLength,
      G * SMOOTH_BLOCK * 8,
      G * SMOOTH_BLOCK * 8,
      n * SMOOTH_BLOCK * 8,
      16 * 8,
      16,
    ]);
    if (!laid) return;
    const { memory, offsets: ptr } = laid;
    const { buffer } = memory;
    new Float64Array(buffer, ptr[0], weights.length).set(weights);
    new Int32Array(buffer, ptr[1], first.length).set(first);
    new Int32Array(buffer, ptr[2], length.length).set(length);
    new Int32Array(buffer, ptr[3], offsets.length).set(offsets);
    new Float64Array(buffer, ptr[4], G).set(columnSums);
    new Int32Array(buffer, ptr[5], n).set(this.node);
    new Float64Array(buffer, ptr[6], n).set(this.frac);
    new Float64Array(buffer, ptr[7], n).set(this.residual);
    this.wasm = {
      kernel: memory.exports,
      ptr,
      weights: new Float64Array(buffer, ptr[10], n * SMOOTH_BLOCK),
      out: new Float64Array(buffer, ptr[11] + SMOOTH_BLOCK * 8, SMOOTH_BLOCK),
      rngState: new Int32Array(buffer, ptr[12], 4),
    };
  }

  /** smECE_sigma with item i counted weights[i] times (NaN when every weight is 0). */
  evaluate(weights: ArrayLike<number>): number {
    this.evaluateBlock([weights], this.single);
    return this.single[0];
  }

  /**
   * out[q] = evaluate(weightings[q]) for up to SMOOTH_BLOCK weightings, bit for bit, in one pass over the
   * kernel's weights on the grid path.
   */
  evaluateBlock(weightings: readonly ArrayLike<number>[], out: Float64Array): void {
    const count = weightings.length;
    if (count > SMOOTH_BLOCK) throw new RangeError(`evaluateBlock takes at most ${SMOOTH_BLOCK} weightings`);
    if (this.contribution) {
      for (let q = 0; q < count; q++) out[q] = this.itemPath(weightings[q]);
      return;
    }
    if (this.wasm) {
      this.wasmBlock(weightings, out);
      return;
    }
    const { conf, residual, node, frac } = this;
    const { evalPoints: E, gridNodes: G, columnSums } = this.disc;
    const L = SMOOTH_BLOCK;
    this.grid ??= { residual: new Float64Array(G * L), mass: new Float64Array(G * L) };
    const { residual: gridR, mass: gridMass } = this.grid;
    gridR.fill(0);
    gridMass.fill(0);
    // spreadToGrid per weighting, into lane q of the interleaved grid (the same sums, in item order).
    for (let q = 0; q < count; q++) {
      const weights = weightings[q];
      for (let i = 0; i < conf.length; i++) {
        const w = weights[i];
        if (w === 0) continue;
        const f = frac[i];
        const at = node[i] * L + q;
        gridR[at] += (1 - f) * w * residual[i];
        gridR[at + L] += f * w * residual[i];
        gridMass[at] += (1 - f) * w;
        gridMass[at + L] += f * w;
      }
    }
    // smoothEceDirect's kernel pass for all lanes at once: each weight is read once, each lane sums in node order.
    const numerators = this.numerators(gridR);
    for (let q = 0; q < count; q++) {
      const weights = weightings[q];
      let total = 0;
      for (let i = 0; i < conf.length; i++) total += weights[i];
      if (total === 0) {
        out[q] = NaN;
        continue;
      }
      let density = E * DENSITY_EPS;
      for (let j = 0; j < G; j++) density += gridMass[j * L + q] * columnSums[j];
      out[q] = numerators[q] / density;
    }
  }

  /** The kernel pass of evaluateBlock in JavaScript: numerator of each lane. */
  private numerators(gridR: Float64Array): number[] {
    const { evalPoints: E, first, length, offsets, weights: kernel } = this.disc;
    const L = SMOOTH_BLOCK;
    let s0 = 0,
      s1 = 0,
      s2 = 0,
      s3 = 0,
      s4 = 0,
      s5 = 0,
      s6 = 0,
      s7 = 0;
    for (let k = 0; k < E; k++) {
      let a0 = 0,
        a1 = 0,
        a2 = 0,
        a3 = 0,
        a4 = 0,
        a5 = 0,
        a6 = 0,
        a7 = 0;
      const o = offsets[k] - first[k];
      const end = first[k] + length[k];
      for (let j = first[k]; j < end; j++) {
        const c = kernel[o + j];
        const p = j * L;
        a0 += c * gridR[p];
        a1 += c * gridR[p + 1];
        a2 += c * gridR[p + 2];
        a3 += c * gridR[p + 3];
        a4 += c * gridR[p + 4];
        a5 += c * gridR[p + 5];
        a6 += c * gridR[p + 6];
        a7 += c * gridR[p + 7];
      }
      s0 += Math.abs(a0);
      s1 += Math.abs(a1);
      s2 += Math.abs(a2);
      s3 += Math.abs(a3);
      s4 += Math.abs(a4);
      s5 += Math.abs(a5);
      s6 += Math.abs(a6);
      s7 += Math.abs(a7);
    }
    return [s0, s1, s2, s3, s4, s5, s6, s7];
  }

  /**
   * Bootstrap resamples drawn and evaluated in the kernel (WebAssembly grid path only): `count` (<= SMOOTH_BLOCK)
   * resamples, each n draws of rng.nextInt(n) in stream order as item weights (kernel.ts drawWeights: the same
   * draws as `weights.fill(0); rng.drawInts(n, n, weights)`, and rng continues after them), their smooth ECE into
   * out, and the weightings themselves (views of this pool's memory, valid until its next evaluation), so that
   * other pools can evaluate the same resamples. Null, drawing nothing, on any other path.
   */
  drawBlock(rng: Rng, count: number, out: Float64Array): Float64Array[] | null {
    const w = this.wasm;
    if (!w) return null;
    if (count > SMOOTH_BLOCK) throw new RangeError(`drawBlock takes at most ${SMOOTH_BLOCK} resamples`);
    const n = this.conf.length;
    rng.copyState(w.rngState);
    w.kernel.drawWeights(w.ptr[12], n, count, w.ptr[10]);
    rng.setState(w.rngState);
    this.kernelBlock(count, out);
    return Array.from({ length: count }, (_, q) => w.weights.subarray(q * n, (q + 1) * n));
  }

  /** evaluateBlock on the WebAssembly backend (src/wasm/kernel.ts smoothBlock): the same doubles. */
  private wasmBlock(weightings: readonly ArrayLike<number>[], out: Float64Array): void {
    const n = this.conf.length;
    const { weights } = this.wasm!;
    weightings.forEach((w, q) => weights.set(w, q * n));
    this.kernelBlock(weightings.length, out);
  }

  /** smoothBlock on the `count` weightings already in this pool's memory. */
  private kernelBlock(count: number, out: Float64Array): void {
    const { kernel, ptr, out: values } = this.wasm!;
    const n = this.conf.length;
    const { gridNodes, evalPoints } = this.disc;
    const [kernelPtr, firstPtr, lengthPtr, offsetsPtr, colsumPtr, nodePtr, fracPtr, residualPtr] = ptr;
    kernel.smoothBlock(
      nodePtr,
      fracPtr,
      residualPtr,
      ptr[10],
      n,
      count,
      gridNodes,
      ptr[8],
      ptr[9],
      colsumPtr,
      kernelPtr,
      firstPtr,
      lengthPtr,
      offsetsPtr,
      evalPoints,
      ptr[11],
    );
    for (let q = 0; q < count; q++) out[q] = values[q];
  }

  private itemPath(weights: ArrayLike<number>): number {
    let total = 0;
    for (let i = 0; i < this.conf.length; i++) total += weights[i];
    if (total === 0) return NaN;
    const { contribution, kFirst, kEnd, itemMass, residual } = this;
    const num = this.num!;
    const E = this.disc.evalPoints;
    num.fill(0);
    let density = E * DENSITY_EPS;
    for (let i = 0; i < this.conf.length; i++) {
      const w = weights[i];
      if (w === 0) continue;
      density += w * itemMass![i];
      const wr = w * residual[i];
      const row = i * E;
      for (let k = kFirst![i]; k < kEnd![i]; k++) num[k] += wr * contribution![row + k];
    }
    let numerator = 0;
    for (let k = 0; k < E; k++) numerator += Math.abs(num[k]);
    return numerator / density;
  }
}
