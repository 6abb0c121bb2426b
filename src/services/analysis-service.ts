/**
 * The analysis worker's logic, as a plain module tested in Node: stored runs in, the study's report out, with
 * the extra views the results page draws (per-domain breakdown, confidence histograms, the paired effect of
 * scaling). Points first (scaling fitted, no resampling), then the full report with CIs and p-values, whose
 * resampling jobs run on a pool of job workers. A newer request supersedes an older one: the older one stops
 * handing out jobs and rejects with AnalysisSupersededError.
 */
import {
  assembleReport,
  mergeJobResults,
  planAnalysis,
  jackknifeTable,
  prepareVariant,
  resampleTable,
  resolveSettings,
  splitJobs,
  type AnalysisJob,
  type AnalysisJobResult,
  type AnalysisPlan,
  type PreparedVariant,
} from '../core/analysis';
import {
  accuracy,
  equalWidthBin,
  expectedCalibrationError,
  maximumCalibrationError,
  selectPredictions,
  topLabel,
  type Predictions,
} from '../core/metrics';
import { analysisCacheKey } from '../core/analysis-key';
import { runNames, variantScoresFromResults } from '../core/results-file';
import { metricColumn } from '../core/stats';
import { bootstrapInterval } from '../core/intervals';
import {
  METRICS,
  type AnalysisReport,
  type AnalysisSettings,
  type Interval,
  type Stage,
  type VariantRole,
  type VariantScores,
} from '../core/types';
import {
  buildResultsFile,
  exportResultsJson,
  groupId,
  isSimulatedGroup,
  itemsCsv,
  readStoredRuns,
  type ExportOptions,
  type StoredRunGroup,
  type StoredRunSource,
} from './export';
import { importFiles, type ExternalVariant, type ImportInput, type ImportOutcome } from './import';
import type { KitDb, StoredAnalysis } from '../storage/db';

/** A newer request arrived before this one finished; its result would be stale. */
export class AnalysisSupersededError extends Error {
  override name = 'AnalysisSupersededError' as const;
}

/** Runs analysis jobs somewhere (a pool of Web Workers, worker threads, or this thread). */
export type JobRunner = (jobs: AnalysisJob[], isCurrent: () => boolean, onDone: () => void) => Promise<AnalysisJobResult[]>;

/** One stored (variant, prompt) as the page lists it. */
export interface RunSummary {
  /** groupId: variant key and prompt key. */
  id: string;
  /** Its name in the analysis (runNames over the analysed runs; over all runs for unselected ones). */
  name: string;
  variantKey: string;
  variantName: string;
  promptKey: string;
  role: VariantRole;
  simulated: boolean;
  items: number;
  /** Status of the latest run record (`imported` runs are `done`). */
  status: string;
  engineKind: string;
  /** Why this run is not in the analysis (it was selected but could not be analysed); the others still are. */
  problem?: string;
}

/** Calibration of one variant on one domain (or subject, when items carry no domain), at one stage. */
export interface DomainRow {
  variant: string;
  domain: string;
  stage: Stage;
  n: number;
  accuracy: number;
  ece: number;
  mce: number;
  /** Mean top-label confidence. */
  confidence: number;
}

/** Top-label confidences of one variant at one stage, in the report's equal-width bins, split by correctness. */
export interface ConfidenceHistogram {
  variant: string;
  stage: Stage;
  bins: { lo: number; hi: number; correct: number; wrong: number }[];
}

/**
 * What scaling did to one variant, as paired differences after - before on the same resampled items (both
 * stages' bootstrap resamples use the same seed and item order, so they are paired).
 */
export interface ScalingEffect {
  variant: string;
  /** ECE after - ECE before (negative: scaling reduced ECE). */
  eceChange: number;
  eceChangeCi?: Interval;
  /** 100 (ECE after - ECE before) / ECE before: the ECE change in % (the study's "cuts ECE by 40-64%"). */
  eceChangePct: number;
  /** Its CI in %: the relative change computed on each resample (the same resampled items for both stages). */
  eceChangePctCi?: Interval;
  /** Accuracy after - before, in points. */
  accuracyChangePts: number;
  accuracyChangePtsCi?: Interval;
}

export interface AnalysisRequest {
  requestId: number;
  settings: Partial<AnalysisSettings>;
  /** groupIds to analyse; absent means every stored run. */
  selection?: string[];
}

export interface AnalysisView {
  requestId: number;
  /** True for the points-first view: no CIs and no p-values yet. */
  partial: boolean;
  /** Every stored run, analysed or not. */
  runs: RunSummary[];
  /** groupIds analysed, in analysis order (selected runs that could be analysed). */
  analysed: string[];
  /** Selected runs that could not be analysed, with the reason (also on their RunSummary as `problem`). */
  unanalysable: { id: string; name: string; reason: string }[];
  /** Absent when nothing is stored or selected. */
  report?: AnalysisReport;
  domains: DomainRow[];
  histograms: ConfidenceHistogram[];
  scalingEffects: ScalingEffect[];
  /** Resampling jobs finished and planned. */
  jobsDone: number;
  jobsTotal: number;
  /** `cache`: a finished analysis of exactly these runs and settings, read back from storage; else computed now. */
  source: 'computed' | 'cache';
}

/** Where finished analyses are kept (KitDb's `analyses` store), looked up by analysisCacheKey. */
export interface AnalysisCache {
  getAnalysis(key: string): Promise<StoredAnalysis | undefined>;
  putAnalysis(entry: StoredAnalysis): Promise<void>;
}

/** What a cache entry holds: the finished view minus what belongs to the request or to the store's other runs. */
type CachedView = Omit<AnalysisView, 'requestId' | 'runs' | 'source'>;

function stages(p: PreparedVariant): [Stage, Predictions][] {
  return p.scaled ? [['uncalibrated', p.uncalibrated], ['scaled', p.scaled]] : [['uncalibrated', p.uncalibrated]];
}

/** Per-domain accuracy, ECE, MCE and mean confidence (metrics.ts definitions, the report's bins). */
export function domainBreakdown(plan: AnalysisPlan): DomainRow[] {
  const out: DomainRow[] = [];
  for (const p of plan.prepared) {
    const rows = p.groupNames.map(() => [] as number[]);
    p.groups.forEach((g, i) => rows[g].push(i));
    for (const [stage, pred] of stages(p)) {
      p.groupNames.forEach((domain, g) => {
        const sub = selectPredictions(pred, rows[g]);
        const { confidence } = topLabel(sub);
        out.push({
          variant: p.name,
          domain: domain === '' ? '(none)' : domain,
          stage,
          n: sub.n,
          accuracy: accuracy(sub),
          ece: expectedCalibrationError(sub, plan.settings.bins),
          mce: maximumCalibrationError(sub, plan.settings.bins, plan.settings.mceMinCount).value,
          confidence: confidence.reduce((s, c) => s + c, 0) / sub.n,
        });
      });
    }
  }
  return out;
}

/** Confidence histograms in the report's bins: (lo, hi], the first also holds 0, as metrics.ts bins them. */
export function confidenceHistograms(plan: AnalysisPlan): ConfidenceHistogram[] {
  const B = plan.settings.bins;
  const out: ConfidenceHistogram[] = [];
  for (const p of plan.prepared) {
    for (const [stage, pred] of stages(p)) {
      const bins = Array.from({ length: B }, (_, b) => ({ lo: b / B, hi: (b + 1) / B, correct: 0, wrong: 0 }));
      const { confidence, correct } = topLabel(pred);
      for (let i = 0; i < pred.n; i++) {
        const b = equalWidthBin(confidence[i], B);
        if (correct[i]) bins[b].correct++;
        else bins[b].wrong++;
      }
      out.push({ variant: p.name, stage, bins });
    }
  }
  return out;
}

const ECE = METRICS.indexOf('ece');
const ACC = METRICS.indexOf('accuracy');

/** ECE and accuracy change from scaling, with paired bootstrap CIs when the resample tables are there. */
export function scalingEffects(report: AnalysisReport, results: readonly AnalysisJobResult[]): ScalingEffect[] {
  const out: ScalingEffect[] = [];
  for (const [name, v] of Object.entries(report.variants)) {
    if (!v.scaled) continue;
    const effect: ScalingEffect = {
      variant: name,
      eceChange: v.scaled.ece - v.uncalibrated.ece,
      eceChangePct: (100 * (v.scaled.ece - v.uncalibrated.ece)) / v.uncalibrated.ece,
      accuracyChangePts: 100 * (v.scaled.accuracy - v.uncalibrated.accuracy),
    };
    const before = resampleTable(results, name, 'uncalibrated');
    const after = resampleTable(results, name, 'scaled');
    if (before && after) {
      const { confidence: level, interval: method = 'percentile' } = report.settings;
      const jb = jackknifeTable(results, name, 'uncalibrated');
      const ja = jackknifeTable(results, name, 'scaled');
      const relative = (table: Float64Array, base: Float64Array) => {
        const beforeEce = metricColumn(base, ECE);
        return metricColumn(table, ECE, base).map((d, r) => (100 * d) / beforeEce[r]);
      };
      const ci = (values: Float64Array, estimate: number, jack?: Float64Array) => bootstrapInterval(method, values, estimate, level, jack);
      effect.eceChangeCi = ci(metricColumn(after, ECE, before), effect.eceChange, ja && jb ? metricColumn(ja, ECE, jb) : undefined);
      effect.eceChangePctCi = ci(relative(after, before), effect.eceChangePct, ja && jb ? relative(ja, jb) : undefined);
      const [lo, hi] = ci(metricColumn(after, ACC, before), effect.accuracyChangePts / 100, ja && jb ? metricColumn(ja, ACC, jb) : undefined);
      effect.accuracyChangePtsCi = [100 * lo, 100 * hi];
    }
    out.push(effect);
  }
  return out;
}

/** The list of stored runs, named as the analysis names them. */
function summaries(groups: readonly StoredRunGroup[], analysed: readonly StoredRunGroup[], names: readonly string[]): RunSummary[] {
  if (groups.length === 0) return [];
  const nameOf = new Map(analysed.map((g, i) => [groupId(g), names[i]]));
  const allNames = runNames(buildResultsFile(groups, { app: { name: '', version: '' } }));
  return groups.map((g, i) => {
    const latest = g.runs.at(-1);
    return {
      id: groupId(g),
      name: nameOf.get(groupId(g)) ?? allNames[i],
      variantKey: g.variantKey,
      variantName: g.variant?.name ?? g.variantKey,
      promptKey: g.promptKey,
      role: g.variant?.role ?? 'other',
      simulated: isSimulatedGroup(g),
      items: g.results.length,
      status: latest?.status ?? 'done',
      engineKind: latest?.engine.kind ?? 'imported',
    };
  });
}

/**
 * The analysis of stored runs, exactly as the CLI computes it on the exported file: the runs become variants
 * through the results file (variantScoresFromResults, names from runNames) and every pair is compared in the
 * groups' order (GRPO, SFT, base, other: see compareGroups), the earlier minus the later.
 */
export class AnalysisService {
  private latest = 0;

  /**
   * @param parallelism how many jobs runJobs runs at once: the jobs are split into chunks for that many
   *   workers (splitJobs), so none idles at the end; the numbers do not depend on it.
   */
  constructor(
    private readonly runJobs: JobRunner,
    private readonly parallelism = 1,
    /** Where variants are prepared (scalers fitted); absent: here, one after another. */
    private readonly prepareVariants?: VariantPreparer,
  ) {}

  /**
   * With a cache, a finished analysis of the same runs and settings is returned from it (source `cache`, no
   * partial view, no resampling), and a newly finished one is stored in it; a failing cache is only a miss.
   */
  async analyze(
    groups: readonly StoredRunGroup[],
    request: AnalysisRequest,
    onPartial?: (view: AnalysisView) => void,
    onProgress?: (jobsDone: number, jobsTotal: number) => void,
    cache?: AnalysisCache,
  ): Promise<AnalysisView> {
    this.latest = Math.max(this.latest, request.requestId);
    const isCurrent = () => this.latest === request.requestId;
    const selected = request.selection ? groups.filter((g) => request.selection!.includes(groupId(g))) : [...groups];
    const empty: AnalysisView = {
      requestId: request.requestId,
      partial: false,
      runs: summaries(groups, [], []),
      analysed: [],
      unanalysable: [],
      domains: [],
      histograms: [],
      scalingEffects: [],
      jobsDone: 0,
      jobsTotal: 0,
      source: 'computed',
    };
    if (selected.length === 0) return empty;
    const file = buildResultsFile(selected, { app: { name: '', version: '' } });
    const names = runNames(file);
    const variants = variantScoresFromResults(file);
    const settings = resolveSettings(request.settings);
    const key = cache ? analysisCacheKey(variants, settings) : '';
    /** The runs' rows, each that cannot be analysed with its reason. */
    const runsWith = (unanalysable: readonly { id: string; reason: string }[]) =>
      summaries(groups, selected, names).map((r) => {
        const problem = unanalysable.find((u) => u.id === r.id)?.reason;
        return problem === undefined ? r : { ...r, problem };
      });
    if (cache) {
      const hit = await cache.getAnalysis(key).catch(() => undefined);
      if (hit) {
        const view = hit.view as CachedView;
        return { ...view, requestId: request.requestId, runs: runsWith(view.unanalysable), source: 'cache' };
      }
    }
    let prepared: PreparedVariant[] | undefined;
    if (this.prepareVariants) {
      // A variant that cannot be prepared rejects the parallel preparation; planAnalysis then prepares here,
      // run by run, and names the one that fails.
      try {
        prepared = await this.prepareVariants(variants, settings);
      } catch {
        prepared = undefined;
      }
      if (!isCurrent()) throw new AnalysisSupersededError(`analysis request ${request.requestId} was superseded`);
    }
    // Per run: a run that cannot be analysed is named with the reason, and every other run is still analysed.
    const plan = planAnalysis(variants, request.settings, { perRun: true, ...(prepared ? { prepared } : {}) });
    const reasons = new Map((plan.unanalysed ?? []).map((u) => [u.variant, u.reason]));
    const unanalysable = selected.flatMap((g, i) => (reasons.has(names[i]) ? [{ id: groupId(g), name: names[i], reason: reasons.get(names[i])! }] : []));
    const base = {
      requestId: request.requestId,
      source: 'computed' as const,
      runs: runsWith(unanalysable),
      analysed: selected.filter((_, i) => !reasons.has(names[i])).map(groupId),
      unanalysable,
      domains: domainBreakdown(plan),
      histograms: confidenceHistograms(plan),
    };
    const points = assembleReport({ ...plan, jobs: [], settings: { ...plan.settings, bootstrap: 0, permutations: 0 } }, []);
    points.settings = plan.settings;
    const chunks = splitJobs(plan.jobs, this.parallelism);
    const partial: AnalysisView = {
      ...base,
      partial: plan.jobs.length > 0,
      report: points,
      scalingEffects: scalingEffects(points, []),
      jobsDone: 0,
      jobsTotal: chunks.length,
    };
    if (plan.jobs.length === 0) {
      await this.store(cache, key, partial);
      return partial;
    }
    if (!isCurrent()) throw new AnalysisSupersededError(`analysis request ${request.requestId} was superseded`);
    onPartial?.(partial);
    let done = 0;
    const chunkResults = await this.runJobs(chunks, isCurrent, () => {
      done++;
      if (isCurrent()) onProgress?.(done, chunks.length);
    });
    if (!isCurrent()) throw new AnalysisSupersededError(`analysis request ${request.requestId} was superseded`);
    const results = mergeJobResults(chunks, chunkResults);
    const report = assembleReport(plan, results);
    const view: AnalysisView = {
      ...base,
      partial: false,
      report,
      scalingEffects: scalingEffects(report, results),
      jobsDone: done,
      jobsTotal: chunks.length,
    };
    await this.store(cache, key, view);
    return view;
  }

  /** Keeps a finished view; a full or failing store only means the next visit computes again. */
  private async store(cache: AnalysisCache | undefined, key: string, view: AnalysisView): Promise<void> {
    if (!cache) return;
    const { requestId: _id, runs: _runs, source: _source, ...kept } = view;
    const entry: StoredAnalysis = { key, storedAt: new Date().toISOString(), view: kept satisfies CachedView };
    await cache.putAnalysis(entry).catch(() => undefined);
  }
}

/** Something that runs one job: a Web Worker's comlink proxy, or a function on this thread in tests. */
export interface JobWorker {
  run(job: AnalysisJob): Promise<AnalysisJobResult>;
  /** prepareVariant there (order, check, cross-fit the scaler), so variants are prepared in parallel. */
  prepare?(variant: VariantScores, settings: AnalysisSettings): Promise<PreparedVariant>;
}

/** Prepares variants somewhere (e.g. one per job worker at a time), in input order; rejects with the first error. */
export type VariantPreparer = (variants: VariantScores[], settings: AnalysisSettings) => Promise<PreparedVariant[]>;

/** A VariantPreparer over job workers that can prepare: variants handed out as workers free up. */
export function poolPreparer(workers: readonly JobWorker[]): VariantPreparer {
  return async (variants, settings) => {
    const prepared: PreparedVariant[] = new Array(variants.length);
    const errors: unknown[] = new Array(variants.length);
    let next = 0;
    const drain = async (worker: JobWorker) => {
      while (next < variants.length) {
        const i = next++;
        try {
          prepared[i] = await worker.prepare!(variants[i], settings);
        } catch (e) {
          errors[i] = e ?? new Error('preparing a variant failed');
        }
      }
    };
    await Promise.all(workers.slice(0, Math.max(1, Math.min(workers.length, variants.length))).map(drain));
    const first = errors.find((e) => e !== undefined);
    if (first !== undefined) throw first;
    return prepared;
  };
}

/**
 * A JobRunner over a fixed set of job workers: jobs are handed out largest first as workers free up, and no
 * further job is handed out once the request is no longer current (jobs already running finish and are
 * dropped). Results do not depend on the number of workers.
 */
export function poolJobRunner(workers: readonly JobWorker[]): JobRunner {
  if (workers.length === 0) throw new Error('poolJobRunner needs at least one worker');
  return async (jobs, isCurrent, onDone) => {
    const results: AnalysisJobResult[] = [];
    let next = 0;
    const drain = async (worker: JobWorker) => {
      while (next < jobs.length) {
        if (!isCurrent()) throw new AnalysisSupersededError('analysis superseded while resampling');
        const job = jobs[next++];
        results.push(await worker.run(job));
        onDone();
      }
    };
    await Promise.all(workers.slice(0, Math.max(1, Math.min(workers.length, jobs.length))).map(drain));
    return results;
  };
}

/** The analysis worker's API (comlink): both sides import this type. */
export interface AnalysisWorkerApi {
  /**
   * Reads every stored run from the database `dbName` (in the worker, so no result crosses the main thread) and
   * analyses the selected ones. `onPartial` gets the points-first view; `onProgress` counts resampling jobs.
   * Rejects with AnalysisSupersededError when a newer request arrived, AnalysisError for bad settings or
   * inconsistent inputs (e.g. one item with two gold answers), or a StorageError.
   */
  analyzeStored(
    dbName: string,
    request: AnalysisRequest,
    onPartial?: (view: AnalysisView) => void,
    onProgress?: (jobsDone: number, jobsTotal: number) => void,
  ): Promise<AnalysisView>;
  /** A fingerprint of what is stored (every run's key and status, every group's item count): changes when a result is stored. */
  storeSignature(dbName: string): Promise<string>;
  /** The results JSON of the selected runs (all when absent), with the report when it covers exactly them. */
  exportResults(dbName: string, options: Omit<ExportOptions, 'analysis' | 'createdAt'> & { selection?: string[]; report?: AnalysisReport }): Promise<string>;
  /** Deletes one stored run (by groupId) with all its stored results; returns how many results were deleted. */
  deleteRun(dbName: string, id: string): Promise<number>;
  /** How many results a stored run (by groupId) holds, for the confirmation before deleting it. */
  countRun(dbName: string, id: string): Promise<number>;
  /** The per-item CSV of the selected runs (all when absent). */
  exportItemsCsv(dbName: string, selection?: string[]): Promise<string>;
  /**
   * Imports files all or nothing (see importFiles); returns what was imported, without the records. The files
   * cross as Blobs and are read here, so a large file is neither read nor copied on the page's main thread.
   */
  importFiles(dbName: string, inputs: PickedImport[]): Promise<Omit<ImportOutcome, 'variants' | 'runs' | 'results' | 'resultFiles' | 'resultPlaces'>>;
}

/**
 * A file picked for import (a File, or any Blob with a name; or, from tests and scripts, its text), with the
 * variant it belongs to when it carries none.
 */
export interface PickedImport {
  file: (Blob & { name: string }) | { name: string; text: string };
  as?: ExternalVariant;
}

/** A database the worker reads runs from and imports into (KitDb, opened in the worker by name). */
export interface RunDatabase
  extends StoredRunSource, Pick<KitDb, 'countResults' | 'importRecords' | 'deleteRunGroup'>, Partial<AnalysisCache> {
  readonly isClosed: boolean;
}

/**
 * The analysis worker's API over a lazily started pool of `poolSize` job workers (each runs runAnalysisJob)
 * and a database opened by name on first use (and again if the browser closed it).
 */
export function createAnalysisWorkerApi(options: {
  spawnJobWorker: () => JobWorker;
  poolSize: number;
  openDatabase: (name: string) => Promise<RunDatabase>;
}): AnalysisWorkerApi {
  let pool: JobWorker[] | undefined;
  const workers = () => (pool ??= Array.from({ length: Math.max(1, options.poolSize) }, options.spawnJobWorker));
  const runner: JobRunner = (jobs, isCurrent, onDone) => poolJobRunner(workers())(jobs, isCurrent, onDone);
  // Job workers that can prepare variants do (in parallel); otherwise the coordinator prepares them in order.
  const preparer: VariantPreparer = async (variants, settings) => {
    const able = workers().filter((w) => w.prepare);
    if (able.length === 0) return variants.map((v) => prepareVariant(v, settings));
    return poolPreparer(able)(variants, settings);
  };
  const service = new AnalysisService(runner, Math.max(1, options.poolSize), preparer);
  const databases = new Map<string, Promise<RunDatabase>>();
  const open = async (name: string) => {
    let db = databases.get(name);
    if (!db || (await db.catch(() => undefined))?.isClosed !== false) {
      db = options.openDatabase(name);
      databases.set(name, db);
    }
    return db;
  };
  const selected = async (dbName: string, selection?: string[]) => {
    const groups = await readStoredRuns(await open(dbName));
    return selection ? groups.filter((g) => selection.includes(groupId(g))) : groups;
  };
  return {
    async analyzeStored(dbName, request, onPartial, onProgress) {
      const db = await open(dbName);
      const groups = await readStoredRuns(db);
      const cache = db.getAnalysis && db.putAnalysis ? (db as AnalysisCache) : undefined;
      return service.analyze(groups, request, onPartial, onProgress, cache);
    },
    async storeSignature(dbName) {
      const db = await open(dbName);
      const runs = (await db.listRuns()).sort((a, b) => (groupId(a) < groupId(b) ? -1 : 1));
      const counts = await Promise.all(runs.map((r) => db.countResults(r.variantKey, r.promptKey)));
      return JSON.stringify(runs.map((r, i) => [r.variantKey, r.promptKey, r.manifestHash, r.status, counts[i]]));
    },
    async exportResults(dbName, { selection, report, ...options }) {
      const groups = await selected(dbName, selection);
      return exportResultsJson(groups, { ...options, ...(report ? { analysis: { report } } : {}) });
    },
    async exportItemsCsv(dbName, selection) {
      const groups = await selected(dbName, selection);
      if (groups.length === 0) throw new Error('Nothing to export: no stored results.');
      return itemsCsv(buildResultsFile(groups, { app: { name: '', version: '' } }));
    },
    async deleteRun(dbName, id) {
      const [variantKey, promptKey] = JSON.parse(id) as [string, string];
      return (await open(dbName)).deleteRunGroup(variantKey, promptKey);
    },
    async countRun(dbName, id) {
      const [variantKey, promptKey] = JSON.parse(id) as [string, string];
      return (await open(dbName)).countResults(variantKey, promptKey);
    },
    async importFiles(dbName, picked) {
      const inputs: ImportInput[] = await Promise.all(
        picked.map(async ({ file, as }) => ({
          file: { name: file.name, text: typeof file.text === 'string' ? file.text : await file.text() },
          ...(as ? { as } : {}),
        })),
      );
      const { variants: _v, runs: _r, results: _s, resultFiles: _f, resultPlaces: _p, ...outcome } = await importFiles(await open(dbName), inputs);
      return outcome;
    },
  };
}
