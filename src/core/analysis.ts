/**
 * The study's analysis from scored items to the report the app shows, the CLI prints and --json writes:
 * per variant every metric before and after post-hoc scaling with percentile-bootstrap CIs, and paired
 * comparisons (bootstrap CI of the difference and permutation p) between variants on their shared items.
 */

import {
  DEFAULT_ANALYSIS_SETTINGS,
  INTERVAL_METHODS,
  METRICS,
  NUM_CLASSES as K,
  SCALING_METHODS,
  type AnalysisReport,
  type AnalysisSettings,
  type Comparison,
  type Interval,
  type MetricName,
  type Stage,
  type StageMetrics,
  type VariantReport,
  type VariantRole,
  type VariantScores,
} from './types';
import {
  accuracy,
  adaptiveCalibrationError,
  brierScore,
  classwiseCalibrationError,
  expectedCalibrationError,
  maximumCalibrationError,
  negativeLogLikelihood,
  predictionsFromLogits,
  reliabilityDiagram,
  selectPredictions,
  type Predictions,
} from './metrics';
import { crossFitScaling, type CrossFitResult } from './scaling';
import {
  METRIC_COUNT,
  MetricPool,
  bootstrapMetrics,
  metricColumn,
  pairedPermutationTest,
  permutationExtremes,
  permutationP,
} from './stats';
import { Rng, deriveSeed } from './random';
import { bootstrapInterval } from './intervals';
import { SMOOTH_BLOCK, SmoothEcePool, smoothCalibrationError } from './smooth-ece';
import { kernelBackend } from './kernel-wasm';
import { withDefaults } from './defaults';

/** Bad settings or inconsistent inputs to the analysis; the message says what to change. */
export class AnalysisError extends Error {
  override name = 'AnalysisError';
}

/** Fills in defaults and checks every setting; throws AnalysisError naming the setting and what it accepts. */
export function resolveSettings(partial: Partial<AnalysisSettings> = {}): AnalysisSettings {
  const s: AnalysisSettings = withDefaults(DEFAULT_ANALYSIS_SETTINGS, partial);
  const integer = (name: keyof AnalysisSettings, min: number, max = Number.MAX_SAFE_INTEGER) => {
    const v = s[name] as number;
    if (!Number.isInteger(v) || v < min || v > max) {
      throw new AnalysisError(`${name} must be an integer from ${min} to ${max}, got ${v}`);
    }
  };
  integer('bins', 1, 255);
  integer('mceMinCount', 1);
  integer('folds', 2, 255);
  integer('bootstrap', 0, 1_000_000);
  integer('permutations', 0, 1_000_000);
  integer('seed', 0, 4294967295);
  if (!SCALING_METHODS.includes(s.scaling)) {
    throw new AnalysisError(`scaling must be one of ${SCALING_METHODS.join(', ')}, got ${String(s.scaling)}`);
  }
  for (const name of ['lambda', 'mu'] as const) {
    if (!(Number.isFinite(s[name]) && s[name] >= 0))
      throw new AnalysisError(`${name} must be a finite number >= 0, got ${s[name]}`);
  }
  if (!(s.confidence > 0 && s.confidence < 1)) {
    throw new AnalysisError(`confidence must be strictly between 0 and 1, got ${s.confidence}`);
  }
  if (typeof s.inSample !== 'boolean')
    throw new AnalysisError(`inSample must be true or false, got ${String(s.inSample)}`);
  if (!INTERVAL_METHODS.includes(s.interval)) {
    throw new AnalysisError(`interval must be one of ${INTERVAL_METHODS.join(', ')}, got ${String(s.interval)}`);
  }
  return s;
}

/** A variant's items in canonical order (by item id) with both stages' predictions. */
export interface PreparedVariant {
  name: string;
  role?: VariantRole;
  simulated: boolean;
  /** Item ids, sorted by UTF-16 code units, so every machine orders them alike. */
  ids: string[];
  uncalibrated: Predictions;
  /** Cross-fitted (or in-sample) calibrated predictions; absent when scaling = none. */
  scaled?: Predictions;
  crossFit?: CrossFitResult;
  /** Mean letter mass over items that report one. */
  letterMass?: number;
  /** Domain index per item (domain, else subject, else one group) and the names. */
  groups: Uint16Array;
  groupNames: string[];
  /**
   * Smooth ECE and its bandwidth per stage (smoothCalibrationError), found here so that the bandwidth search runs
   * where the variant is prepared (on a job thread, in parallel) rather than while the plan is made.
   */
  smooth: { uncalibrated: SmoothValue; scaled?: SmoothValue };
}

/** A stage's smooth ECE and the bandwidth it was found at. */
export interface SmoothValue {
  value: number;
  sigma: number;
}

/**
 * Orders a variant's items, checks them (non-empty, unique ids, labels 0..3, finite logits) and fits the
 * scaler. Folds use settings.seed and the canonical order, so variants with the same items share folds.
 */
export function prepareVariant(v: VariantScores, settings: AnalysisSettings): PreparedVariant {
  if (v.items.length === 0) throw new AnalysisError(`variant ${v.name} has no items`);
  const items = [...v.items].sort((a, b) => (a.itemId < b.itemId ? -1 : a.itemId > b.itemId ? 1 : 0));
  const n = items.length;
  const logits = new Float64Array(n * K);
  const labels = new Uint8Array(n);
  const groupNames = [...new Set(items.map((it) => it.domain ?? it.subject ?? ''))].sort();
  const groupIndex = new Map(groupNames.map((g, i) => [g, i]));
  const groups = new Uint16Array(n);
  let massSum = 0;
  let massCount = 0;
  items.forEach((it, i) => {
    if (i > 0 && it.itemId === items[i - 1].itemId) {
      throw new AnalysisError(`variant ${v.name} has item ${it.itemId} more than once`);
    }
    if (!(Number.isInteger(it.label) && it.label >= 0 && it.label < K)) {
      throw new AnalysisError(`variant ${v.name}, item ${it.itemId}: label must be 0..3, got ${it.label}`);
    }
    labels[i] = it.label;
    for (let k = 0; k < K; k++) {
      const z = it.letterLogits[k];
      if (!Number.isFinite(z))
        throw new AnalysisError(`variant ${v.name}, item ${it.itemId}: logit ${k} is ${z}, expected a finite number`);
      logits[i * K + k] = z;
    }
    groups[i] = groupIndex.get(it.domain ?? it.subject ?? '')!;
    if (it.letterMass !== undefined) {
      massSum += it.letterMass;
      massCount++;
    }
  });
  const uncalibrated = predictionsFromLogits(logits, labels);
  const prepared: PreparedVariant = {
    name: v.name,
    role: v.role,
    simulated: v.simulated,
    ids: items.map((it) => it.itemId),
    uncalibrated,
    letterMass: massCount > 0 ? massSum / massCount : undefined,
    groups,
    groupNames,
    smooth: { uncalibrated: smoothOf(uncalibrated) },
  };
  if (settings.scaling !== 'none') {
    if (!settings.inSample && n < settings.folds) {
      throw new AnalysisError(`variant ${v.name} has ${n} items, fewer than the ${settings.folds} cross-fitting folds`);
    }
    const crossFit = crossFitScaling(settings.scaling, uncalibrated.logp, labels, {
      folds: settings.folds,
      seed: settings.seed,
      groups: groupNames.length > 1 ? groups : null,
      inSample: settings.inSample,
      lambda: settings.lambda,
      mu: settings.mu,
    });
    prepared.crossFit = crossFit;
    prepared.scaled = predictionsFromLogits(crossFit.logp, labels);
    prepared.smooth.scaled = smoothOf(prepared.scaled);
  }
  return prepared;
}

/** Per-resample (and, for BCa, leave-one-out) values of one stage, from a plan's job results. */
export interface StageResamples {
  /** Rows of METRIC_COUNT (METRICS order), one per resample. */
  table: Float64Array;
  /** Rows of METRIC_COUNT, one per left-out item (BCa only). */
  jackknife?: Float64Array;
  /** Smooth ECE per resample (at the point estimate's bandwidth), and per left-out item (BCa only). */
  smooth?: Float64Array;
  smoothJackknife?: Float64Array;
}

/** Point estimates of every metric (metrics.ts definitions) and, given the resamples, their CIs. */
export function stageMetrics(
  pred: Predictions,
  settings: AnalysisSettings,
  resamples?: Float64Array | StageResamples,
  letterMass?: number,
): StageMetrics {
  const mce = maximumCalibrationError(pred, settings.bins, settings.mceMinCount);
  const values: Record<MetricName, number> = {
    accuracy: accuracy(pred),
    ece: expectedCalibrationError(pred, settings.bins),
    mce: mce.value,
    ece_adaptive: adaptiveCalibrationError(pred, settings.bins),
    classwise_ece: classwiseCalibrationError(pred, settings.bins),
    brier: brierScore(pred),
    nll: negativeLogLikelihood(pred),
  };
  const smooth = smoothOf(pred);
  const stage: StageMetrics = {
    ...values,
    smooth_ece: smooth.value,
    smooth_ece_bandwidth: smooth.sigma,
    mce_bin_count: mce.count,
    reliability: reliabilityDiagram(pred, settings.bins),
  };
  const r = resamples instanceof Float64Array ? { table: resamples } : resamples;
  if (r) {
    const estimates = Float64Array.from(METRICS, (m) => values[m]);
    const ci: NonNullable<StageMetrics['ci']> = intervals(settings, r.table, estimates, r.jackknife);
    if (r.smooth)
      ci.smooth_ece = bootstrapInterval(
        settings.interval,
        r.smooth,
        smooth.value,
        settings.confidence,
        r.smoothJackknife,
      );
    stage.ci = ci;
  }
  if (letterMass !== undefined) stage.letter_mass = letterMass;
  return stage;
}

/**
 * CIs of every metric by settings.interval from a resample table (minus another, for paired differences), the
 * point estimates and, for BCa, the leave-one-out tables.
 */
function intervals(
  settings: AnalysisSettings,
  table: Float64Array,
  estimates: ArrayLike<number>,
  jackknife?: Float64Array,
  minus?: Float64Array,
  minusJackknife?: Float64Array,
): Record<MetricName, Interval> {
  return Object.fromEntries(
    METRICS.map((m, j) => [
      m,
      bootstrapInterval(
        settings.interval,
        metricColumn(table, j, minus),
        estimates[j],
        settings.confidence,
        jackknife ? metricColumn(jackknife, j, minusJackknife) : undefined,
      ),
    ]),
  ) as Record<MetricName, Interval>;
}

/** Options beyond the settings: which pairs to compare (default: every pair, in input order). */
export interface AnalysisOptions {
  compare?: [string, string][];
  /**
   * Per-run analysis (the app's): a variant that cannot be analysed (e.g. fewer items than folds) is listed in
   * report.unanalysed with the reason instead of stopping the analysis, and a pair that cannot be compared (no
   * shared items, or a gold answer that differs between them) is listed in report.uncompared. Without it (the
   * CLI's default) either stops the analysis with an AnalysisError.
   */
  perRun?: boolean;
  /**
   * The variants already prepared by prepareVariant with the same settings, in the same order (e.g. on worker
   * threads, one variant each): the plan is the same as when planAnalysis prepares them itself.
   */
  prepared?: readonly PreparedVariant[];
}

/**
 * One unit of resampling work: plain data (typed arrays), so it can be posted to a worker thread or Web Worker
 * and run there by runAnalysisJob. Its result depends only on the job, never on where or when it runs.
 */
export interface AnalysisJob {
  /**
   * `bootstrap` resamples items (one set, or two paired sets); `permutation` runs the paired test; `jackknife`
   * leaves out one slot at a time (for BCa); `smooth-bootstrap` and `smooth-jackknife` do the same for smooth ECE
   * in their own pass (same resample draws as `bootstrap`, at the bandwidths in `sigmas`).
   */
  kind: 'bootstrap' | 'permutation' | 'jackknife' | 'smooth-bootstrap' | 'smooth-jackknife';
  /** Identifies the job in the plan. */
  key: string;
  sets: Predictions[];
  /** Resamples or permutations. */
  count: number;
  seed: number;
  bins: number;
  mceMinCount: number;
  /** Smooth jobs: the kernel bandwidth of each set (its point estimate's, see smoothCalibrationError). */
  sigmas?: number[];
  /**
   * Set on a chunk of a larger job (splitJobs): resamples or permutations first .. first + count - 1 of job
   * `of`'s stream, which has `whole` in all. A permutation chunk's result holds extreme counts, not p.
   */
  chunk?: { of: string; first: number; whole: number };
}

/**
 * bootstrap: per-resample metric tables of both groups; permutation: observed difference and p per metric
 * (for a chunk: observed difference and the count of permutations at least as extreme, per metric);
 * jackknife: per left-out slot metric tables; smooth jobs: one smooth ECE per resample (or left-out slot) per set.
 */
export interface AnalysisJobResult {
  key: string;
  group0: Float64Array;
  group1: Float64Array;
}

/**
 * The pools of the last few jobs run here, with the predictions each was built from. Chunks of one job (splitJobs)
 * come to a thread one after another, each with its own copy of the same sets: the pool, a function of the sets
 * and the bin settings alone, is built once for them instead of once per chunk (5-40 ms for 2,000 entries). Found
 * by content, so a later analysis on other data never meets a stale pool.
 */
const recentPools: { sets: readonly Predictions[]; key: string; pool: MetricPool | SmoothEcePool }[] = [];
const POOLS_KEPT = 4;

function cachedPool<P extends MetricPool | SmoothEcePool>(
  sets: readonly Predictions[],
  key: string,
  build: () => P,
): P {
  const at = recentPools.findIndex((e) => e.key === key && samePredictions(e.sets, sets));
  if (at >= 0) {
    const [entry] = recentPools.splice(at, 1);
    recentPools.unshift(entry);
    return entry.pool as P;
  }
  const pool = build();
  recentPools.unshift({ sets, key, pool });
  recentPools.length = Math.min(recentPools.length, POOLS_KEPT);
  return pool;
}

function samePredictions(a: readonly Predictions[], b: readonly Predictions[]): boolean {
  const same = (x: ArrayLike<number>, y: ArrayLike<number>) => {
    if (x === y) return true;
    if (x.length !== y.length) return false;
    for (let i = 0; i < x.length; i++) if (!Object.is(x[i], y[i])) return false;
    return true;
  };
  return (
    a.length === b.length &&
    a.every(
      (p, s) => p.n === b[s].n && same(p.labels, b[s].labels) && same(p.logp, b[s].logp) && same(p.probs, b[s].probs),
    )
  );
}

function metricPoolOf(job: AnalysisJob): MetricPool {
  return cachedPool(
    job.sets,
    `metric ${job.bins} ${job.mceMinCount} ${kernelBackend()}`,
    () => new MetricPool(job.sets, job.bins, job.mceMinCount),
  );
}

/** Runs one job; pure and deterministic. */
export function runAnalysisJob(job: AnalysisJob): AnalysisJobResult {
  if (job.kind === 'jackknife') return runJackknife(job);
  if (job.kind === 'smooth-bootstrap' || job.kind === 'smooth-jackknife') return runSmooth(job);
  const pool = metricPoolOf(job);
  const first = job.chunk?.first ?? 0;
  if (job.kind === 'bootstrap') {
    const { group0, group1 } = bootstrapMetrics(pool, pool.slots, job.count, job.seed, first);
    return { key: job.key, group0, group1 };
  }
  if (job.chunk) {
    const { observed, extreme } = permutationExtremes(pool, pool.slots, job.count, job.seed, first);
    return { key: job.key, group0: observed, group1: extreme };
  }
  const { observed, p } = pairedPermutationTest(pool, pool.slots, job.count, job.seed);
  return { key: job.key, group0: observed, group1: p };
}

/** Leave-one-out metric tables: row i holds both groups' metrics without slot i (Efron 1987's jackknife). */
function runJackknife(job: AnalysisJob): AnalysisJobResult {
  const pool = metricPoolOf(job);
  const n = pool.slots;
  const weights = new Float64Array(n).fill(1);
  const out = new Float64Array(2 * METRIC_COUNT);
  const group0 = new Float64Array(n * METRIC_COUNT);
  const group1 = new Float64Array(n * METRIC_COUNT);
  for (let i = 0; i < n; i++) {
    weights[i] = 0;
    pool.evaluate(weights, null, out);
    weights[i] = 1;
    group0.set(out.subarray(0, METRIC_COUNT), i * METRIC_COUNT);
    group1.set(out.subarray(METRIC_COUNT), i * METRIC_COUNT);
  }
  return { key: job.key, group0, group1 };
}

/**
 * Smooth ECE of each set per resample, or per left-out item. The resamples are drawn exactly as bootstrapMetrics
 * documents its draws (Rng(seed).nextInt(slots), slots per resample, in order), so resample r holds the same items
 * as row r of the bootstrap tables and paired differences stay paired.
 */
function runSmooth(job: AnalysisJob): AnalysisJobResult {
  const pools = job.sets.map((pred, s) =>
    cachedPool([pred], `smooth ${job.sigmas![s]} ${kernelBackend()}`, () => new SmoothEcePool(pred, job.sigmas![s])),
  );
  const n = job.sets[0].n;
  const rows = job.kind === 'smooth-bootstrap' ? job.count : n;
  const groups = [new Float64Array(rows), new Float64Array(job.sets.length > 1 ? rows : 0)];
  // The JavaScript draws' weightings, made only when the kernel does not draw (drawBlock).
  let block: Float64Array[] | undefined;
  const values = new Float64Array(SMOOTH_BLOCK);
  const rng = new Rng(job.seed);
  // A chunk (splitJobs) of a smooth bootstrap starts at resample chunk.first: replay the earlier draws.
  if (job.kind === 'smooth-bootstrap') rng.skipInts(n, (job.chunk?.first ?? 0) * n);
  // SMOOTH_BLOCK rows at a time, drawn in stream order.
  for (let r0 = 0; r0 < rows; r0 += SMOOTH_BLOCK) {
    const count = Math.min(SMOOTH_BLOCK, rows - r0);
    // Drawn in the first pool's kernel where it can (the same draws), and evaluated there and by the others.
    const drawn = job.kind === 'smooth-bootstrap' ? pools[0].drawBlock(rng, count, values) : null;
    if (drawn) {
      groups[0].set(values.subarray(0, count), r0);
      for (let s = 1; s < pools.length; s++) {
        pools[s].evaluateBlock(drawn, values);
        groups[s].set(values.subarray(0, count), r0);
      }
      continue;
    }
    block ??= Array.from({ length: SMOOTH_BLOCK }, () => new Float64Array(n));
    const weightings = block.slice(0, count);
    weightings.forEach((weights, q) => {
      if (job.kind === 'smooth-bootstrap') {
        weights.fill(0);
        rng.drawInts(n, n, weights);
      } else {
        weights.fill(1);
        weights[r0 + q] = 0;
      }
    });
    pools.forEach((pool, s) => {
      pool.evaluateBlock(weightings, values);
      groups[s].set(values.subarray(0, weightings.length), r0);
    });
  }
  return { key: job.key, group0: groups[0], group1: groups[1] };
}

/**
 * Smooth ECE's CI uses the first min(bootstrap, 2000) resamples (the same draws as the other metrics' first
 * rows): one smooth ECE costs about as much as all seven binned metrics of a resample together, and 2,000
 * resamples are the usual count for a 95% interval (Efron & Tibshirani 1993, sec. 19.3).
 */
export const SMOOTH_ECE_MAX_RESAMPLES = 2000;

/** Smooth ECE point estimates, computed once per prediction set (planning and both reports reuse them). */
const smoothCache = new WeakMap<Predictions, SmoothValue>();
function smoothOf(pred: Predictions): SmoothValue {
  let v = smoothCache.get(pred);
  if (!v) smoothCache.set(pred, (v = smoothCalibrationError(pred)));
  return v;
}

/**
 * Relative time of one entry in one resample, by kind of job (from `npm run bench`'s parts on 1,000 and 14,042
 * items): a permutation walks its entries in fewer passes than a bootstrap resample, and a smooth ECE resample
 * costs several binned ones. Integers, so that chunk costs add up exactly.
 */
const UNIT_COST: Record<AnalysisJob['kind'], number> = {
  bootstrap: 10,
  permutation: 7,
  jackknife: 10,
  'smooth-bootstrap': 40,
  'smooth-jackknife': 40,
};

/** Work of a job (resamples x entries, weighted by UNIT_COST): what splitJobs balances. */
export function jobCost(job: AnalysisJob): number {
  return UNIT_COST[job.kind] * job.count * job.sets.reduce((t, p) => t + p.n, 0);
}

/** Fewest resamples or permutations in a chunk: below this, per-chunk set-up would cost more than it balances. */
const MIN_CHUNK = 50;
/** The same for smooth ECE, whose pools take longer to set up (the kernel's discretisation). */
const MIN_SMOOTH_CHUNK = 250;

/**
 * Splits jobs into chunks for `workers` parallel workers so that none idles at the end: a bootstrap job is split
 * only when it alone is more than a worker's fair share (a later bootstrap chunk must replay the earlier
 * chunks' random draws), a smooth ECE bootstrap into pieces of about 1/8 of a share (its replay is cheap next to
 * a smooth ECE), a permutation test into pieces of about 1/16 (skipping its stream is nearly free), so the last
 * chunks handed out are small. Chunks come largest first, the order a pool should hand them out in. With one
 * worker the jobs are returned as they are. mergeJobResults turns the chunks' results back into the jobs'
 * results, identical to running the jobs whole: the split changes where the work runs, never the numbers.
 */
export function splitJobs(jobs: readonly AnalysisJob[], workers: number): AnalysisJob[] {
  if (workers <= 1 || jobs.length === 0) return [...jobs];
  const fair = jobs.reduce((t, j) => t + jobCost(j), 0) / workers;
  const chunks: AnalysisJob[] = [];
  for (const job of jobs) {
    // Jackknife jobs run whole (their rows are left-out items, not resamples of a stream).
    const target = job.kind === 'bootstrap' ? fair : job.kind === 'permutation' ? fair / 16 : fair / 8;
    const least = job.kind === 'smooth-bootstrap' ? MIN_SMOOTH_CHUNK : MIN_CHUNK;
    const splittable = job.kind === 'bootstrap' || job.kind === 'permutation' || job.kind === 'smooth-bootstrap';
    const pieces = splittable
      ? Math.max(1, Math.min(Math.ceil(jobCost(job) / target), Math.floor(job.count / least)))
      : 1;
    if (pieces === 1) {
      chunks.push(job);
      continue;
    }
    for (let c = 0; c < pieces; c++) {
      const first = Math.floor((c * job.count) / pieces);
      const end = Math.floor(((c + 1) * job.count) / pieces);
      const chunk = { of: job.key, first, whole: job.count };
      chunks.push({ ...job, key: `${job.key}#${first}`, count: end - first, chunk });
    }
  }
  return chunks.sort((x, y) => jobCost(y) - jobCost(x));
}

/** The job a chunk came from (splitJobs): its own key when it is a whole job. */
const chunkOf = (job: AnalysisJob): string => job.chunk?.of ?? job.key;

/**
 * Chunks waiting for workers, handed out so that each job's chunks mostly run on one worker, one after another:
 * a worker gets the next chunk of the job it ran last when one is waiting (that job's pools are still built there:
 * runAnalysisJob keeps the last few), else the largest chunk of a job no other worker is on, else the largest.
 * Two workers share a job only at the end. Chunks added as `urgent` (e.g. a variant's own jobs, whose results
 * complete part of the report) all go out before the others. Where a chunk runs never changes a result.
 */
export class ChunkQueue {
  private readonly waiting: { job: AnalysisJob; urgent: boolean }[] = [];
  /** The job each worker runs or ran last. */
  private readonly on = new Map<unknown, string>();

  constructor(chunks: readonly AnalysisJob[] = []) {
    this.add(chunks);
  }

  get size(): number {
    return this.waiting.length;
  }

  /** Adds chunks (kept urgent first, then largest first, as splitJobs orders them). */
  add(chunks: readonly AnalysisJob[], urgent = false): void {
    this.waiting.push(...chunks.map((job) => ({ job, urgent })));
    this.waiting.sort((x, y) => Number(y.urgent) - Number(x.urgent) || jobCost(y.job) - jobCost(x.job));
  }

  /** The next chunk for `worker` (any value that identifies it), or undefined when none waits. */
  take(worker: unknown): AnalysisJob | undefined {
    if (this.waiting.length === 0) return undefined;
    // Only among the chunks of the first kind waiting (urgent or not).
    const urgent = this.waiting[0].urgent;
    const last = this.on.get(worker);
    const find = (ok: (job: AnalysisJob) => boolean) => this.waiting.findIndex((c) => c.urgent === urgent && ok(c.job));
    let at = last === undefined ? -1 : find((job) => chunkOf(job) === last);
    if (at < 0) {
      const busy = new Set([...this.on].filter(([w]) => w !== worker).map(([, job]) => job));
      at = Math.max(
        0,
        find((job) => !busy.has(chunkOf(job))),
      );
    }
    const [{ job }] = this.waiting.splice(at, 1);
    this.on.set(worker, chunkOf(job));
    return job;
  }
}

/** The whole jobs' results from their chunks' results (in any order), as runAnalysisJob gives them unsplit. */
export function mergeJobResults(
  chunks: readonly AnalysisJob[],
  results: readonly AnalysisJobResult[],
): AnalysisJobResult[] {
  const byKey = new Map(results.map((r) => [r.key, r]));
  const parts = new Map<string, { job: AnalysisJob; result: AnalysisJobResult }[]>();
  const merged: AnalysisJobResult[] = [];
  for (const job of chunks) {
    const result = byKey.get(job.key);
    if (!result) throw new AnalysisError(`analysis job ${job.key} has no result`);
    if (!job.chunk) {
      merged.push(result);
      continue;
    }
    const list = parts.get(job.chunk.of) ?? [];
    list.push({ job, result });
    parts.set(job.chunk.of, list);
  }
  for (const [key, list] of parts) {
    list.sort((x, y) => x.job.chunk!.first - y.job.chunk!.first);
    const { kind, chunk } = list[0].job;
    if (kind === 'bootstrap' || kind === 'smooth-bootstrap') {
      // Rows of METRIC_COUNT (bootstrap) or of one smooth ECE (group1 empty for a one-stage variant).
      const width = kind === 'bootstrap' ? METRIC_COUNT : 1;
      const group0 = new Float64Array(chunk!.whole * width);
      const group1 = new Float64Array(list[0].result.group1.length === 0 ? 0 : chunk!.whole * width);
      for (const { job, result } of list) {
        group0.set(result.group0, job.chunk!.first * width);
        group1.set(result.group1, job.chunk!.first * width);
      }
      merged.push({ key, group0, group1 });
    } else {
      const extreme = new Float64Array(METRIC_COUNT);
      for (const { result } of list) result.group1.forEach((e, m) => (extreme[m] += e));
      const observed = list[0].result.group0;
      merged.push({ key, group0: observed, group1: permutationP(observed, extreme, chunk!.whole) });
    }
  }
  return merged;
}

/** Everything the report needs besides the jobs' results. */
export interface AnalysisPlan {
  settings: AnalysisSettings;
  prepared: PreparedVariant[];
  pairs: PlannedPair[];
  /** perRun only: variants left out, with the reason (in input order). */
  unanalysed?: { variant: string; reason: string }[];
  /** perRun only: requested pairs that could not be compared, with the reason. */
  uncompared?: { a: string; b: string; reason: string }[];
  /** Independent jobs, largest first (a good order for a pool of workers). */
  jobs: AnalysisJob[];
}

interface PlannedPair {
  a: string;
  b: string;
  n: number;
  unmatched: { onlyA: number; onlyB: number };
  stages: Stage[];
  /** Paired predictions on the shared items, per stage, for point differences. */
  sets: Partial<Record<Stage, [Predictions, Predictions]>>;
  /** True when both variants have exactly the same items: their single-variant resamples are already paired. */
  sameItems: boolean;
}

const bootstrapKey = (variant: string) => `bootstrap:${variant}`;
const pairKey = (kind: string, a: string, b: string, stage: Stage) => `${kind}:${a}:${b}:${stage}`;

/**
 * Prepares every variant (ordering, checks, cross-fitted scaling) and lists the resampling jobs. Resampling, all
 * seeded from settings.seed:
 * - Single-variant CIs: settings.bootstrap percentile-bootstrap resamples of the variant's items, re-binning in
 *   each; the resamples depend only on the seed and the item count, so two variants with the same items see the
 *   same resampled items and their per-resample difference is the paired bootstrap of the difference.
 * - After scaling, CIs and tests resample the cross-fitted calibrated logits: the scaler is not refitted per
 *   resample (report.variants.*.scaling.resampling says so).
 * - Comparisons run on the items both variants scored, paired by item id; ids only one side has are counted in
 *   `unmatched`. Gold labels must agree on shared items.
 */
export function planAnalysis(
  variants: VariantScores[],
  partial: Partial<AnalysisSettings> = {},
  options: AnalysisOptions = {},
): AnalysisPlan {
  const settings = resolveSettings(partial);
  if (variants.length === 0) throw new AnalysisError('no variants to analyse');
  const names = new Set<string>();
  for (const v of variants) {
    if (names.has(v.name)) throw new AnalysisError(`two variants are named ${v.name}; names must be unique`);
    names.add(v.name);
  }
  const requested = options.compare ?? allPairs(variants.map((v) => v.name));
  for (const [a, b] of requested) {
    for (const name of [a, b])
      if (!names.has(name))
        throw new AnalysisError(`--compare names ${name}, which is not a variant (have: ${[...names].join(', ')})`);
    if (a === b) throw new AnalysisError(`cannot compare ${a} with itself`);
  }

  const given = options.prepared;
  if (given && (given.length !== variants.length || given.some((p, i) => p.name !== variants[i].name))) {
    throw new AnalysisError('prepared variants do not match the variants to analyse');
  }
  const unanalysed: { variant: string; reason: string }[] = [];
  const prepared: PreparedVariant[] = given ? [...given] : [];
  // Variants prepared elsewhere (a thread) bring their smooth ECE along; their predictions are copies, new here.
  for (const p of prepared) {
    smoothCache.set(p.uncalibrated, p.smooth.uncalibrated);
    if (p.scaled && p.smooth.scaled) smoothCache.set(p.scaled, p.smooth.scaled);
  }
  for (const v of given ? [] : variants) {
    if (!options.perRun) {
      prepared.push(prepareVariant(v, settings));
      continue;
    }
    try {
      prepared.push(prepareVariant(v, settings));
    } catch (e) {
      unanalysed.push({ variant: v.name, reason: reasonOf(e) });
    }
  }
  const byName = new Map(prepared.map((p) => [p.name, p]));
  const common = { bins: settings.bins, mceMinCount: settings.mceMinCount };
  const bootSeed = deriveSeed(settings.seed, 'bootstrap');
  const jobs: AnalysisJob[] = [];
  if (settings.bootstrap > 0) {
    // Both stages of a variant in one pool (group 0 uncalibrated, group 1 scaled): the same resampled items
    // for both, in one pass per resample.
    for (const p of prepared) {
      const sets = stagesOf(p).map((stage) => stageOf(p, stage));
      jobs.push({
        kind: 'bootstrap',
        key: bootstrapKey(p.name),
        sets,
        count: settings.bootstrap,
        seed: bootSeed,
        ...common,
      });
      const sigmas = sets.map((pred) => smoothOf(pred).sigma);
      const smoothCount = Math.min(settings.bootstrap, SMOOTH_ECE_MAX_RESAMPLES);
      jobs.push({
        kind: 'smooth-bootstrap',
        key: `smooth:${bootstrapKey(p.name)}`,
        sets,
        sigmas,
        count: smoothCount,
        seed: bootSeed,
        ...common,
      });
      if (settings.interval === 'bca') {
        jobs.push({
          kind: 'jackknife',
          key: `jackknife:${bootstrapKey(p.name)}`,
          sets,
          count: p.ids.length,
          seed: 0,
          ...common,
        });
        jobs.push({
          kind: 'smooth-jackknife',
          key: `smooth-jackknife:${bootstrapKey(p.name)}`,
          sets,
          sigmas,
          count: p.ids.length,
          seed: 0,
          ...common,
        });
      }
    }
  }
  const pairs: PlannedPair[] = [];
  const uncompared: { a: string; b: string; reason: string }[] = [];
  for (const [nameA, nameB] of requested) {
    const a = byName.get(nameA);
    const b = byName.get(nameB);
    if (!a || !b) {
      uncompared.push({ a: nameA, b: nameB, reason: `${a ? nameB : nameA} could not be analysed` });
      continue;
    }
    if (!options.perRun) {
      pairs.push(planPair(a, b));
      continue;
    }
    try {
      pairs.push(planPair(a, b));
    } catch (e) {
      uncompared.push({ a: nameA, b: nameB, reason: reasonOf(e) });
    }
  }
  for (const pair of pairs) {
    for (const stage of pair.stages) {
      const sets = pair.sets[stage]!;
      if (settings.bootstrap > 0 && !pair.sameItems) {
        jobs.push({
          kind: 'bootstrap',
          key: pairKey('bootstrap', pair.a, pair.b, stage),
          sets,
          count: settings.bootstrap,
          seed: bootSeed,
          ...common,
        });
        if (settings.interval === 'bca') {
          jobs.push({
            kind: 'jackknife',
            key: `jackknife:${pairKey('bootstrap', pair.a, pair.b, stage)}`,
            sets,
            count: pair.n,
            seed: 0,
            ...common,
          });
        }
      }
      if (settings.permutations > 0) {
        const seed = deriveSeed(settings.seed, 'permutation', pair.a, pair.b, stage);
        jobs.push({
          kind: 'permutation',
          key: pairKey('permutation', pair.a, pair.b, stage),
          sets,
          count: settings.permutations,
          seed,
          ...common,
        });
      }
    }
  }
  const cost = (j: AnalysisJob) => j.count * j.sets.reduce((t, p) => t + p.n, 0);
  jobs.sort((x, y) => cost(y) - cost(x));
  return { settings, prepared, pairs, jobs, ...(options.perRun ? { unanalysed, uncompared } : {}) };
}

function reasonOf(e: unknown): string {
  if (e instanceof AnalysisError) return e.message;
  return `${(e as Error)?.name ?? 'Error'}: ${(e as Error)?.message ?? String(e)}`;
}

function stagesOf(p: PreparedVariant): Stage[] {
  return p.scaled ? ['uncalibrated', 'scaled'] : ['uncalibrated'];
}

function stageOf(p: PreparedVariant, stage: Stage): Predictions {
  return stage === 'scaled' ? p.scaled! : p.uncalibrated;
}

function allPairs(names: string[]): [string, string][] {
  const pairs: [string, string][] = [];
  for (let i = 0; i < names.length; i++) for (let j = i + 1; j < names.length; j++) pairs.push([names[i], names[j]]);
  return pairs;
}

function planPair(a: PreparedVariant, b: PreparedVariant): PlannedPair {
  // Shared items by id (both id lists are sorted).
  const rowsA: number[] = [];
  const rowsB: number[] = [];
  for (let i = 0, j = 0; i < a.ids.length && j < b.ids.length;) {
    if (a.ids[i] === b.ids[j]) {
      if (a.uncalibrated.labels[i] !== b.uncalibrated.labels[j]) {
        throw new AnalysisError(
          `item ${a.ids[i]} has gold answer ${'ABCD'[a.uncalibrated.labels[i]]} in ${a.name} but ${'ABCD'[b.uncalibrated.labels[j]]} in ${b.name}`,
        );
      }
      rowsA.push(i++);
      rowsB.push(j++);
    } else if (a.ids[i] < b.ids[j]) i++;
    else j++;
  }
  const n = rowsA.length;
  if (n === 0)
    throw new AnalysisError(`no shared items: ${a.name} and ${b.name} share no item ids, so they cannot be compared`);
  const unmatched = { onlyA: a.ids.length - n, onlyB: b.ids.length - n };
  const sameItems = unmatched.onlyA === 0 && unmatched.onlyB === 0;
  const stages: Stage[] = a.scaled && b.scaled ? ['uncalibrated', 'scaled'] : ['uncalibrated'];
  const sets: PlannedPair['sets'] = {};
  for (const stage of stages) {
    const pa = stageOf(a, stage);
    const pb = stageOf(b, stage);
    sets[stage] = sameItems ? [pa, pb] : [selectPredictions(pa, rowsA), selectPredictions(pb, rowsB)];
  }
  return { a: a.name, b: b.name, n, unmatched, stages, sets, sameItems };
}

/**
 * Per-resample metrics (rows of METRIC_COUNT, METRICS order) of one variant at one stage, from a plan's job
 * results; undefined without bootstrap. Both stages share the resampled items, so after - before per row is the
 * paired bootstrap of what scaling changed.
 */
export function resampleTable(
  results: readonly AnalysisJobResult[],
  variant: string,
  stage: Stage,
): Float64Array | undefined {
  const job = results.find((r) => r.key === bootstrapKey(variant));
  return stage === 'scaled' ? job?.group1 : job?.group0;
}

/** Leave-one-out metric tables (rows of METRIC_COUNT, one per item in canonical order) of one stage; BCa only. */
export function jackknifeTable(
  results: readonly AnalysisJobResult[],
  variant: string,
  stage: Stage,
): Float64Array | undefined {
  const job = results.find((r) => r.key === `jackknife:${bootstrapKey(variant)}`);
  return stage === 'scaled' ? job?.group1 : job?.group0;
}

/** Everything resampled for one stage of one variant. */
export function stageResamples(
  results: readonly AnalysisJobResult[],
  variant: string,
  stage: Stage,
): StageResamples | undefined {
  const table = resampleTable(results, variant, stage);
  if (!table) return undefined;
  const pick = (key: string) => {
    const job = results.find((r) => r.key === key);
    return stage === 'scaled' ? job?.group1 : job?.group0;
  };
  const out: StageResamples = { table };
  const jackknife = jackknifeTable(results, variant, stage);
  if (jackknife) out.jackknife = jackknife;
  const smooth = pick(`smooth:${bootstrapKey(variant)}`);
  if (smooth) out.smooth = smooth;
  const smoothJackknife = pick(`smooth-jackknife:${bootstrapKey(variant)}`);
  if (smoothJackknife) out.smoothJackknife = smoothJackknife;
  return out;
}

/**
 * One variant's part of the report, from the results of its own jobs (its bootstrap, smooth ECE and, for BCa,
 * jackknife jobs; other results are ignored): what assembleReport puts under report.variants[p.name]. A caller
 * that has those results before the rest may compute it early and hand it to assembleReport.
 */
export function variantReport(
  p: PreparedVariant,
  settings: AnalysisSettings,
  results: readonly AnalysisJobResult[],
): VariantReport {
  const report: VariantReport = {
    n: p.ids.length,
    simulated: p.simulated,
    uncalibrated: stageMetrics(p.uncalibrated, settings, stageResamples(results, p.name, 'uncalibrated'), p.letterMass),
    scaling: {
      method: settings.scaling,
      folds: settings.inSample ? 1 : settings.folds,
      lambda: settings.lambda,
      mu: settings.mu,
      in_sample: settings.inSample,
      resampling: 'fixed-calibrated-logits',
    },
  };
  if (p.role) report.role = p.role;
  if (p.scaled) {
    const scaled = stageMetrics(p.scaled, settings, stageResamples(results, p.name, 'scaled'));
    report.scaled = scaled;
    report.ece_reduction_pct = (100 * (report.uncalibrated.ece - scaled.ece)) / report.uncalibrated.ece;
    report.accuracy_change_pts = 100 * (scaled.accuracy - report.uncalibrated.accuracy);
  }
  return report;
}

/**
 * Builds the report from a plan and its jobs' results (in any order). `ready`: variant reports already computed
 * by variantReport from the same plan's results, by variant name (the others are computed here).
 */
export function assembleReport(
  plan: AnalysisPlan,
  results: AnalysisJobResult[],
  ready?: ReadonlyMap<string, VariantReport>,
): AnalysisReport {
  const { settings } = plan;
  const byKey = new Map(results.map((r) => [r.key, r]));
  const missing = plan.jobs.filter((j) => !byKey.has(j.key));
  if (missing.length > 0)
    throw new AnalysisError(`analysis jobs without results: ${missing.map((j) => j.key).join(', ')}`);
  const stageTable = (variant: string, stage: Stage) => resampleTable(results, variant, stage);
  const stageJackknife = (variant: string, stage: Stage) => jackknifeTable(results, variant, stage);
  const report: AnalysisReport = { settings, variants: {}, comparisons: [] };
  // Only when something was left out, so a complete per-run report equals the CLI's.
  if (plan.unanalysed?.length) report.unanalysed = plan.unanalysed.map((u) => ({ ...u }));
  if (plan.uncompared?.length) report.uncompared = plan.uncompared.map((u) => ({ ...u }));

  for (const p of plan.prepared) report.variants[p.name] = ready?.get(p.name) ?? variantReport(p, settings, results);

  for (const pair of plan.pairs) {
    for (const stage of pair.stages) {
      let ci: Record<MetricName, Interval> | undefined;
      const test = byKey.get(pairKey('permutation', pair.a, pair.b, stage));
      const observed = test?.group0 ?? pointDifference(pair.sets[stage]!, settings);
      if (settings.bootstrap > 0) {
        if (pair.sameItems) {
          // Same items, same seed: the single-variant resamples (and leave-one-out rows) are already paired.
          ci = intervals(
            settings,
            stageTable(pair.a, stage)!,
            observed,
            stageJackknife(pair.a, stage),
            stageTable(pair.b, stage),
            stageJackknife(pair.b, stage),
          );
        } else {
          const paired = byKey.get(pairKey('bootstrap', pair.a, pair.b, stage))!;
          const jack = byKey.get(`jackknife:${pairKey('bootstrap', pair.a, pair.b, stage)}`);
          ci = intervals(settings, paired.group0, observed, jack?.group0, paired.group1, jack?.group1);
        }
      }
      METRICS.forEach((metric, j) => {
        const c: Comparison = {
          a: pair.a,
          b: pair.b,
          metric,
          stage,
          diff: observed[j],
          n: pair.n,
          unmatched: pair.unmatched,
        };
        if (ci) c.ci = ci[metric];
        if (test) c.p = test.group1[j];
        report.comparisons.push(c);
      });
    }
  }
  return report;
}

function pointDifference(sets: Predictions[], settings: AnalysisSettings): Float64Array {
  const pool = new MetricPool(sets, settings.bins, settings.mceMinCount);
  const out = new Float64Array(2 * METRIC_COUNT);
  pool.evaluate(new Float64Array(pool.slots).fill(1), null, out);
  return Float64Array.from({ length: METRIC_COUNT }, (_, j) => out[j] - out[METRIC_COUNT + j]);
}

/**
 * Runs the whole analysis on this thread. Deterministic: the same variants (in any item order) and settings
 * give the same report on every machine; see planAnalysis for what is resampled and how.
 */
export function analyzeVariants(
  variants: VariantScores[],
  partial: Partial<AnalysisSettings> = {},
  options: AnalysisOptions = {},
): AnalysisReport {
  const plan = planAnalysis(variants, partial, options);
  return assembleReport(plan, plan.jobs.map(runAnalysisJob));
}

/**
 * The same analysis with the jobs handed to `runJobs` (e.g. a pool of worker threads or Web Workers that call
 * runAnalysisJob). The report is identical to analyzeVariants' whatever runs the jobs.
 */
export async function analyzeVariantsWith(
  runJobs: (jobs: AnalysisJob[]) => Promise<AnalysisJobResult[]>,
  variants: VariantScores[],
  partial: Partial<AnalysisSettings> = {},
  options: AnalysisOptions = {},
): Promise<AnalysisReport> {
  const plan = planAnalysis(variants, partial, options);
  return assembleReport(plan, await runJobs(plan.jobs));
}
