/**
 * The analysis worker's logic, as a plain module tested in Node: stored runs in, the study's report out, with
 * the extra views the results page draws (core/report-views.ts: per-domain breakdown, confidence histograms,
 * the paired effect of scaling). Points first (scaling fitted, no resampling), then the full report with CIs and p-values, whose
 * resampling jobs run on a pool of job workers. A newer request supersedes an older one: the older one stops
 * handing out jobs and rejects with AnalysisSupersededError. Finished analyses are kept by content
 * (AnalysisCache) and indexed by store revision (AnalysisIndex), so a revisit with nothing written since reads no
 * stored result.
 */
import {
  assembleReport,
  mergeJobResults,
  ChunkQueue,
  planAnalysis,
  prepareVariant,
  resolveSettings,
  splitJobs,
  type AnalysisJob,
  type AnalysisJobResult,
  type PreparedVariant,
} from '../core/analysis';
import { ANALYSIS_VERSION, analysisCacheKey } from '../core/analysis-key';
import {
  confidenceHistograms,
  domainBreakdown,
  reportWithViews,
  scalingEffects,
  type AnalysisRequest,
  type AnalysisView,
  type RunSummary,
} from '../core/report-views';
import { runNames, variantScoresFromResults } from '../core/results-file';
import { VARIANT_ROLES, type AnalysisSettings, type VariantScores } from '../core/types';
import type { AnalysisIndexEntry, IndexedAnalysis, KitDb, StoredAnalysis } from '../storage/db';
import type { AnalysisWorkerApi, JobWorker } from './analysis-api';
import {
  buildResultsFile,
  exportResultsJson,
  groupId,
  isSimulatedGroup,
  itemsCsv,
  readStoredRuns,
  type StoredRunGroup,
  type StoredRunSource,
} from './export';
import { importFiles, type ImportInput } from './import';
import { liveTable } from './live-table';
import { probeSection, quantisationSection } from '../core/probe-analysis';
import { probeAwarePairs } from '../core/probe';

/** A newer request arrived before this one finished; its result would be stale. */
export class AnalysisSupersededError extends Error {
  override name = 'AnalysisSupersededError' as const;
}

/** Runs analysis jobs somewhere (a pool of Web Workers, worker threads, or this thread). */
export type JobRunner = (
  jobs: AnalysisJob[],
  isCurrent: () => boolean,
  onDone: () => void,
) => Promise<AnalysisJobResult[]>;

/** Where finished analyses are kept (KitDb's `analyses` store), looked up by analysisCacheKey. */
export interface AnalysisCache {
  getAnalysis(key: string): Promise<StoredAnalysis | undefined>;
  putAnalysis(entry: StoredAnalysis): Promise<void>;
}

/**
 * The store revision and the analysis index of KitDb: which finished analysis answers a request while nothing
 * is written, so a revisit finds it without reading (or hashing) a single stored result.
 */
export interface AnalysisIndex {
  findIndexedAnalysis(request: string): Promise<IndexedAnalysis>;
  putIndexedAnalysis(revision: number, entry: AnalysisIndexEntry): Promise<boolean>;
}

/**
 * Bump when the run list of a view (summaries) or anything else a view holds besides the cached analysis is made
 * differently, so an index entry recorded by an older kit is not used by this one.
 */
export const ANALYSIS_INDEX_FORMAT = 1;

/**
 * How often (ms) the resampling's progress is reported at most: often enough for a progress bar to move
 * smoothly, rarely enough that repainting it costs the resampling next to nothing.
 */
export const PROGRESS_MS = 100;

/** Views analyzeStored keeps in memory per database connection (see AnalysisService.recent). */
const RECENT_VIEWS = 4;

/**
 * The analysis index's name for a request: the analysis and index versions, the selection as a set (the
 * analysis filters the stored runs by it, so its order and repeats do not matter) and the resolved settings
 * with their keys sorted. Undefined for settings the analysis refuses (the request then takes the full path,
 * which reports them).
 */
export function indexRequestKey(request: Pick<AnalysisRequest, 'selection' | 'settings'>): string | undefined {
  let settings: AnalysisSettings;
  try {
    settings = resolveSettings(request.settings);
  } catch {
    return undefined;
  }
  const sorted = Object.entries(settings).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  const selection = request.selection ? [...new Set(request.selection)].sort() : null;
  return JSON.stringify([ANALYSIS_VERSION, ANALYSIS_INDEX_FORMAT, selection, sorted]);
}

/** The run list kept in an index entry, when it is one (anything else, e.g. a corrupt record, is a miss). */
export function storedRunSummaries(value: unknown): RunSummary[] | undefined {
  if (!Array.isArray(value)) return undefined;
  const isRow = (r: unknown): r is RunSummary => {
    if (typeof r !== 'object' || r === null) return false;
    const row = r as Record<string, unknown>;
    return (
      ['id', 'name', 'variantKey', 'variantName', 'promptKey', 'status', 'engineKind'].every(
        (k) => typeof row[k] === 'string',
      ) &&
      VARIANT_ROLES.includes(row.role as RunSummary['role']) &&
      typeof row.simulated === 'boolean' &&
      typeof row.items === 'number' &&
      (row.problem === undefined || typeof row.problem === 'string')
    );
  };
  return value.every(isRow) ? (value as RunSummary[]) : undefined;
}

/** What a cache entry holds: the finished view minus what belongs to the request or to the store's other runs. */
type CachedView = Omit<AnalysisView, 'requestId' | 'runs' | 'source'>;

/** The list of stored runs, named as the analysis names them. */
function summaries(
  groups: readonly StoredRunGroup[],
  analysed: readonly StoredRunGroup[],
  names: readonly string[],
): RunSummary[] {
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
   * Views analyzeStored answered, per database connection (a reopened database is another object) and index
   * request, with the store revision they hold for: only while that is the current revision are they used.
   */
  private readonly recent = new WeakMap<
    object,
    Map<string, { revision: number; view: CachedView; runs: RunSummary[] }>
  >();
  /**
   * The stored runs analyzeStored last read, per database connection, with the revision read before them: while
   * that is the current revision nothing was written since, so a request with new settings or another selection
   * takes them instead of reading every result again (a write between the revision and the reads only makes
   * them unused: the revision has moved on).
   */
  private readonly runsRead = new WeakMap<object, { revision: number; groups: readonly StoredRunGroup[] }>();

  /**
   * @param parallelism how many jobs runJobs runs at once: the jobs are split into chunks for that many
   *   workers (splitJobs), so none idles at the end; the numbers do not depend on it.
   */
  constructor(
    private readonly runJobs: JobRunner,
    private readonly parallelism = 1,
    /** Where variants are prepared (scalers fitted); absent: here, one after another. */
    private readonly prepareVariants?: VariantPreparer,
    /** The least time between two progress reports (ms), the last job's always sent; 0: one per job. */
    private readonly progressMs = PROGRESS_MS,
  ) {}

  /** Supersedes request `requestId` and every earlier one; a later request id is current again. */
  supersede(requestId: number): void {
    this.latest = Math.max(this.latest, requestId + 1);
  }

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
    return (await this.analyzeKeyed(groups, request, onPartial, onProgress, cache)).view;
  }

  /**
   * analyze over a database: every stored run read from `db`, with its cache of finished analyses and (where it
   * has them) its store revision and analysis index. The revision is read first and handed to `onSignature` (as
   * storeSignature). While it is unchanged a request answered before is answered again from memory (this
   * connection's recent views), else from the index when it names a kept analysis for the request at that
   * revision: either way without reading a stored result. Otherwise the runs are read (or taken as this
   * connection read them at the same revision, for a request with new settings or another selection) and
   * analysed as analyze does, and the answer is recorded in the index of the revision read before the runs were (KitDb keeps it only
   * if that is still the current revision, so a write meanwhile leaves the entry out, never wrong). Every
   * failure of the revision or the index is a miss.
   */
  async analyzeStored(
    db: RunDatabase,
    request: AnalysisRequest,
    onPartial?: (view: AnalysisView) => void,
    onProgress?: (jobsDone: number, jobsTotal: number) => void,
    onSignature?: (signature: string) => void,
  ): Promise<AnalysisView> {
    this.latest = Math.max(this.latest, request.requestId);
    const cache = db.getAnalysis && db.putAnalysis ? (db as AnalysisCache) : undefined;
    const index = cache && db.findIndexedAnalysis && db.putIndexedAnalysis ? (db as AnalysisIndex) : undefined;
    let revision = db.getRevision ? await db.getRevision().catch(() => undefined) : undefined;
    if (onSignature) {
      const signature = revision !== undefined ? revisionSignature(revision) : await runsSignature(db);
      try {
        // Not awaited: the caller's reply is not needed, and a caller that has gone is no failure here.
        Promise.resolve(onSignature(signature)).catch(() => undefined);
      } catch {
        // as above
      }
    }
    const requestKey = index && revision !== undefined ? indexRequestKey(request) : undefined;
    if (index && requestKey !== undefined) {
      const recent = this.recent.get(db)?.get(requestKey);
      if (recent && recent.revision === revision) {
        return { ...recent.view, requestId: request.requestId, runs: recent.runs, source: 'cache' };
      }
      const found = await index.findIndexedAnalysis(requestKey).catch(() => undefined);
      // A write since the first read moves the revision on: the runs are then read at the newer one.
      revision = found?.revision;
      const runs = found?.hit && storedRunSummaries(found.hit.entry.runs);
      const view = found?.hit?.analysis.view as CachedView | undefined;
      if (revision !== undefined && runs && view && typeof view === 'object') {
        this.remember(db, requestKey, { revision, view, runs });
        return { ...view, requestId: request.requestId, runs, source: 'cache' };
      }
    }
    // The runs read at this revision before (another request: new settings, another selection), else read now.
    const kept = this.runsRead.get(db);
    const groups = revision !== undefined && kept?.revision === revision ? kept.groups : await readStoredRuns(db);
    if (revision !== undefined) this.runsRead.set(db, { revision, groups });
    const { view, key } = await this.analyzeKeyed(groups, request, onPartial, onProgress, cache);
    if (index && requestKey !== undefined && revision !== undefined && key !== undefined) {
      const entry = { request: requestKey, key, runs: view.runs };
      if (await index.putIndexedAnalysis(revision, entry).catch(() => false)) {
        const { requestId: _id, runs, source: _source, ...kept } = view;
        this.remember(db, requestKey, { revision, view: kept, runs });
      }
    }
    return view;
  }

  private remember(
    db: object,
    requestKey: string,
    entry: { revision: number; view: CachedView; runs: RunSummary[] },
  ): void {
    let views = this.recent.get(db);
    if (!views) this.recent.set(db, (views = new Map()));
    for (const [k, v] of views) if (v.revision !== entry.revision || k === requestKey) views.delete(k);
    views.set(requestKey, entry);
    while (views.size > RECENT_VIEWS) views.delete(views.keys().next().value!);
  }

  /** analyze, with the cache key of the analysis (absent without a cache or when nothing is selected). */
  private async analyzeKeyed(
    groups: readonly StoredRunGroup[],
    request: AnalysisRequest,
    onPartial?: (view: AnalysisView) => void,
    onProgress?: (jobsDone: number, jobsTotal: number) => void,
    cache?: AnalysisCache,
  ): Promise<{ view: AnalysisView; key?: string }> {
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
    if (selected.length === 0) return { view: empty };
    const file = buildResultsFile(selected, { app: { name: '', version: '' } });
    const names = runNames(file);
    const variants = variantScoresFromResults(file);
    const settings = resolveSettings(request.settings);
    // With probe runs, a probe run is compared only with runs of its own prompt (probe.ts probeAwarePairs).
    const pairs = probeAwarePairs(variants);
    const key = cache ? analysisCacheKey(variants, settings, pairs) : '';
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
        return {
          view: { ...view, requestId: request.requestId, runs: runsWith(view.unanalysable), source: 'cache' },
          key,
        };
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
    const plan = planAnalysis(variants, request.settings, {
      perRun: true,
      ...(prepared ? { prepared } : {}),
      ...(pairs ? { compare: pairs } : {}),
    });
    const chunks = splitJobs(plan.jobs, this.parallelism);
    if (chunks.length > 0 && !isCurrent())
      throw new AnalysisSupersededError(`analysis request ${request.requestId} was superseded`);
    // The resampling starts first, and the points view below is computed here while the job workers run it: a
    // few tens of milliseconds (every metric, smooth ECE's bandwidth search, the probes) that would otherwise
    // hold every job back. Progress is sent once the points view is (the page shows the count with it), then at
    // most every progressMs (a count held back is sent when the interval ends, if no later one was), and at once
    // for the last job: a repaint per finished chunk would take the main thread's share of the cores from the
    // resampling.
    let done = 0;
    let shown = false;
    let sentAt = -Infinity;
    let held: ReturnType<typeof setTimeout> | undefined;
    const progress = () => {
      clearTimeout(held);
      held = undefined;
      if (!shown || !isCurrent()) return;
      const wait = done < chunks.length ? sentAt + this.progressMs - performance.now() : 0;
      if (wait > 0) {
        held = setTimeout(progress, wait);
        return;
      }
      sentAt = performance.now();
      onProgress?.(done, chunks.length);
    };
    const resampling =
      chunks.length > 0
        ? this.runJobs(chunks, isCurrent, () => {
            done++;
            progress();
          }).finally(() => clearTimeout(held))
        : undefined;
    // Awaited below, unless the request fails first: a rejection meanwhile is not unhandled.
    resampling?.catch(() => undefined);
    const reasons = new Map((plan.unanalysed ?? []).map((u) => [u.variant, u.reason]));
    const unanalysable = selected.flatMap((g, i) =>
      reasons.has(names[i]) ? [{ id: groupId(g), name: names[i], reason: reasons.get(names[i])! }] : [],
    );
    const base = {
      requestId: request.requestId,
      source: 'computed' as const,
      runs: runsWith(unanalysable),
      analysed: selected.filter((_, i) => !reasons.has(names[i])).map(groupId),
      unanalysable,
      domains: domainBreakdown(plan),
      histograms: confidenceHistograms(plan),
    };
    const identities = selected.map((g, i) => ({
      name: names[i],
      variantKey: g.variantKey,
      variantName: g.variant?.name ?? g.variantKey,
      promptKey: g.promptKey,
    }));
    const points = assembleReport(
      { ...plan, jobs: [], settings: { ...plan.settings, bootstrap: 0, permutations: 0 } },
      [],
    );
    points.settings = plan.settings;
    const partial: AnalysisView = {
      ...base,
      partial: plan.jobs.length > 0,
      report: points,
      scalingEffects: scalingEffects(points, []),
      probes: probeSection(identities, plan.prepared, plan.settings, plan.jobs.length > 0),
      quantisation: quantisationSection(points, identities),
      jobsDone: done,
      jobsTotal: chunks.length,
    };
    if (!resampling) {
      await this.store(cache, key, partial);
      return { view: partial, ...(cache ? { key } : {}) };
    }
    if (!isCurrent()) throw new AnalysisSupersededError(`analysis request ${request.requestId} was superseded`);
    onPartial?.(partial);
    shown = true;
    if (done > 0) progress();
    const chunkResults = await resampling;
    if (!isCurrent()) throw new AnalysisSupersededError(`analysis request ${request.requestId} was superseded`);
    const results = mergeJobResults(chunks, chunkResults);
    // The domain rows and histograms the partial view already has (they need the plan alone).
    const full = reportWithViews(plan, results, undefined, { domains: base.domains, histograms: base.histograms });
    const view: AnalysisView = {
      ...base,
      partial: false,
      report: full.report,
      scalingEffects: full.scalingEffects,
      probes: probeSection(identities, plan.prepared, plan.settings),
      quantisation: quantisationSection(full.report, identities),
      jobsDone: done,
      jobsTotal: chunks.length,
    };
    await this.store(cache, key, view);
    return { view, ...(cache ? { key } : {}) };
  }

  /** Keeps a finished view; a full or failing store only means the next visit computes again. */
  private async store(cache: AnalysisCache | undefined, key: string, view: AnalysisView): Promise<void> {
    if (!cache) return;
    const { requestId: _id, runs: _runs, source: _source, ...kept } = view;
    const entry: StoredAnalysis = { key, storedAt: new Date().toISOString(), view: kept satisfies CachedView };
    await cache.putAnalysis(entry).catch(() => undefined);
  }
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
 * A JobRunner over a fixed set of job workers: jobs are handed out as workers free up (ChunkQueue: a worker keeps
 * to one job's chunks, largest first otherwise), and no further job is handed out once the request is no longer current (jobs already running finish and are
 * dropped). Results do not depend on the number of workers.
 */
export function poolJobRunner(workers: readonly JobWorker[]): JobRunner {
  if (workers.length === 0) throw new Error('poolJobRunner needs at least one worker');
  return async (jobs, isCurrent, onDone) => {
    const results: AnalysisJobResult[] = [];
    const queue = new ChunkQueue(jobs);
    const drain = async (worker: JobWorker) => {
      while (queue.size > 0) {
        if (!isCurrent()) throw new AnalysisSupersededError('analysis superseded while resampling');
        results.push(await worker.run(queue.take(worker)!));
        onDone();
      }
    };
    await Promise.all(workers.slice(0, Math.max(1, Math.min(workers.length, jobs.length))).map(drain));
    return results;
  };
}

/** A database the worker reads runs from and imports into (KitDb, opened in the worker by name). */
export interface RunDatabase
  extends
    StoredRunSource,
    Pick<KitDb, 'countResults' | 'importRecords' | 'deleteRunGroup' | 'getResults'>,
    Partial<AnalysisCache>,
    Partial<AnalysisIndex>,
    Partial<Pick<KitDb, 'getRevision'>> {
  readonly isClosed: boolean;
}

/**
 * A fingerprint of what is stored (AnalysisWorkerApi.storeSignature). The store revision changes with every write
 * to variants, runs or results (KitDb): one read, not a count of every run's results. A database without a
 * readable revision is fingerprinted by its runs' keys and statuses and their item counts.
 */
export async function storeSignature(db: RunDatabase): Promise<string> {
  const revision = db.getRevision ? await db.getRevision().catch(() => undefined) : undefined;
  return revision !== undefined ? revisionSignature(revision) : runsSignature(db);
}

function revisionSignature(revision: number): string {
  return `revision ${revision}`;
}

async function runsSignature(db: RunDatabase): Promise<string> {
  const runs = (await db.listRuns()).sort((a, b) => (groupId(a) < groupId(b) ? -1 : 1));
  const counts = await Promise.all(runs.map((r) => db.countResults(r.variantKey, r.promptKey)));
  return JSON.stringify(runs.map((r, i) => [r.variantKey, r.promptKey, r.manifestHash, r.status, counts[i]]));
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
    cancel(requestId) {
      service.supersede(requestId);
    },
    async analyzeStored(dbName, request, onPartial, onProgress, onSignature) {
      return service.analyzeStored(await open(dbName), request, onPartial, onProgress, onSignature);
    },
    async storeSignature(dbName) {
      return storeSignature(await open(dbName));
    },
    async exportResults(dbName, { selection, report, ...options }) {
      const groups = await selected(dbName, selection);
      return exportResultsJson(groups, { ...options, ...(report ? { analysis: { report } } : {}) });
    },
    async liveTable(dbName, request) {
      return liveTable(await open(dbName), request);
    },
    async exportItemsCsv(dbName, selection) {
      const groups = await selected(dbName, selection);
      if (groups.length === 0) throw new Error('Nothing to export: no stored results.');
      return itemsCsv(buildResultsFile(groups, { app: { name: '', version: '' } }));
    },
    async kernelBackends() {
      return Promise.all(workers().map(async (w) => (w.backend ? await w.backend() : 'js')));
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
      const {
        variants: _v,
        runs: _r,
        results: _s,
        resultFiles: _f,
        resultPlaces: _p,
        ...outcome
      } = await importFiles(await open(dbName), inputs);
      return outcome;
    },
  };
}
