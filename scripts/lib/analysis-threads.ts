/**
 * Runs analysis jobs on a pool of Node worker threads (the CLI's and the bench's executor). Each job's result
 * depends only on the job, so the report equals the single-thread one whatever the thread count.
 */
import { Worker } from 'node:worker_threads';
import { fileURLToPath } from 'node:url';
import { mkdirSync, readdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { sha256 } from '@noble/hashes/sha2.js';
import { bytesToHex, utf8ToBytes } from '@noble/hashes/utils.js';
import os from 'node:os';
import { createRequire } from 'node:module';
import {
  assembleReport,
  mergeJobResults,
  planAnalysis,
  resolveSettings,
  splitJobs,
  variantReport,
  ChunkQueue,
  type AnalysisJob,
  type AnalysisPlan,
  type AnalysisJobResult,
  type AnalysisOptions,
  type PreparedVariant,
} from '../../src/core/analysis';
import {
  confidenceHistograms,
  domainBreakdown,
  reportWithViews,
  scalingEffect,
  type ReportViewsSoFar,
  type ReportWithViews,
  type ScalingEffect,
} from '../../src/core/report-views';
import type { AnalysisReport, AnalysisSettings, VariantReport, VariantScores } from '../../src/core/types';

/** A message to a thread: prepare one variant (order, check, fit the scaler) with these settings. */
export interface PrepareRequest {
  prepare: VariantScores;
  settings: AnalysisSettings;
}

/** Cores this process may use (at least 1). */
export function availableThreads(): number {
  return Math.max(1, typeof os.availableParallelism === 'function' ? os.availableParallelism() : os.cpus().length);
}

// The scripts run through tsx, but a worker thread that registers tsx itself takes a second or more to start
// (loading tsx and its esbuild service, then transforming every module). Instead the thread's code is bundled
// into one CommonJS script (esbuild) that each thread evaluates directly. The bundle is kept in
// node_modules/.cache, keyed by the size and mtime of every file it can contain (src/core, scripts/lib, the
// lockfile), so most runs skip esbuild's start (~0.1 s) too.
let threadCode: string | undefined;
/** The repository root, set by scripts/analyze.mjs when this module runs from its bundle (elsewhere, not defined). */
declare const __KIT_ROOT__: string | undefined;
function analysisThreadCode(): string {
  if (threadCode !== undefined) return threadCode;
  const root = typeof __KIT_ROOT__ === 'string' ? __KIT_ROOT__ : fileURLToPath(new URL('../..', import.meta.url));
  const sources = [join(root, 'src/core'), join(root, 'scripts/lib')].flatMap((dir) =>
    readdirSync(dir)
      .filter((f) => f.endsWith('.ts'))
      .map((f) => join(dir, f)),
  );
  const stamp = [...sources, join(root, 'package-lock.json')]
    .map((f) => {
      const st = statSync(f, { throwIfNoEntry: false });
      return `${f}:${st?.size}:${st?.mtimeMs}`;
    })
    .join('|');
  const hash = bytesToHex(sha256(utf8ToBytes(stamp))).slice(0, 16);
  const cached = join(root, 'node_modules/.cache/calibration-kit', `analysis-thread-${hash}.cjs`);
  try {
    threadCode = readFileSync(cached, 'utf8');
    return threadCode;
  } catch {
    // not built yet for these sources
  }
  // esbuild is loaded only here, on a cache miss: importing it costs a CLI run about 0.1 s.
  const { buildSync } = createRequire(import.meta.url)('esbuild') as typeof import('esbuild');
  threadCode = buildSync({
    entryPoints: [join(root, 'scripts/lib/analysis-thread.ts')],
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: 'node20',
    write: false,
    logLevel: 'silent',
  }).outputFiles[0].text;
  try {
    mkdirSync(dirname(cached), { recursive: true });
    const tmp = `${cached}.${process.pid}.tmp`;
    writeFileSync(tmp, threadCode);
    renameSync(tmp, cached);
  } catch {
    // a read-only checkout: bundle again next time
  }
  return threadCode;
}

/**
 * A job runner for analyzeVariantsWith: `threads` workers; the jobs are split into chunks (splitJobs) handed out
 * as workers free up (ChunkQueue), and the chunks' results merged back, so every thread works to the end.
 */
export function threadJobRunner(threads = availableThreads()): (jobs: AnalysisJob[]) => Promise<AnalysisJobResult[]> {
  return async (whole) => {
    const pool = startThreadPool(threads);
    try {
      return await pool.run(whole);
    } finally {
      await pool.close();
    }
  };
}

/** Worker threads started ahead of their work, so they boot while the caller reads inputs and plans. */
export interface ThreadPool {
  /** Runs jobs as threadJobRunner does (split, handed out by a ChunkQueue, merged); one call at a time. */
  run(jobs: AnalysisJob[]): Promise<AnalysisJobResult[]>;
  /**
   * prepareVariant for each variant (one per thread at a time), planAnalysis, and the plan's jobs as run runs
   * them, with no thread idle in between: a variant's own jobs (its bootstrap and smooth ECE resamples) are
   * handed out as soon as it is prepared (before any pair's), while other threads still prepare theirs, and the
   * pairs' jobs once every variant is. Once a variant's own jobs are done, its part of the report is computed
   * here while the threads go on (`ready`, for assembleReport). The plan and the merged results are those of
   * preparing, planning and running one after another. Rejects with the first failing variant's error in input
   * order (name kept: a thread sends it back by name), with the plan's refusal, or with a job's error.
   */
  analyze(variants: VariantScores[], settings: AnalysisSettings, options: AnalysisOptions): Promise<PipelineResult>;
  close(): Promise<void>;
}

/**
 * The whole analysis on a pool: the variants are prepared (scalers cross-fitted) in parallel, one per thread,
 * and the resampling jobs run split across the threads, each as soon as what it needs is prepared
 * (ThreadPool.analyze). The report equals analyzeVariants' on one thread.
 */
export async function analyzeOnThreads(
  pool: ThreadPool,
  variants: VariantScores[],
  partial: Partial<AnalysisSettings> = {},
  options: AnalysisOptions = {},
): Promise<AnalysisReport> {
  const { plan, results, ready } = await planAndRun(pool, variants, partial, options);
  return assembleReport(plan, results, ready);
}

/**
 * analyzeOnThreads with the views the results page shows beside the report (reportWithViews), and the prepared
 * variants and resolved settings (the probe section reuses their scalers).
 */
export async function analyzeWithViewsOnThreads(
  pool: ThreadPool,
  variants: VariantScores[],
  partial: Partial<AnalysisSettings> = {},
  options: AnalysisOptions = {},
): Promise<{ views: ReportWithViews; prepared: PreparedVariant[]; settings: AnalysisSettings }> {
  const { plan, results, ready, views, settings } = await planAndRun(pool, variants, partial, options);
  return { views: reportWithViews(plan, results, ready, views), prepared: plan.prepared, settings };
}

async function planAndRun(
  pool: ThreadPool,
  variants: VariantScores[],
  partial: Partial<AnalysisSettings>,
  options: AnalysisOptions,
) {
  const settings = resolveSettings(partial);
  return { settings, ...(await pool.analyze(variants, settings, options)) };
}

export function startThreadPool(threads = availableThreads()): ThreadPool {
  const workers = Array.from({ length: Math.max(1, threads) }, () => {
    const worker = new Worker(analysisThreadCode(), { eval: true });
    // A run rejects on a thread's first error; a second thread failing on the same bad input after that run has
    // ended must not become an uncaught 'error' event.
    worker.on('error', () => undefined);
    return worker;
  });
  return {
    async run(whole) {
      const jobs = splitJobs(whole, workers.length);
      const queue = new ChunkQueue(jobs);
      const results: AnalysisJobResult[] = [];
      let failed = false;
      await Promise.all(
        workers.map(async (worker) => {
          let job: AnalysisJob | undefined;
          while (!failed && (job = queue.take(worker))) {
            try {
              results.push(await reply<AnalysisJobResult>(worker, job));
            } catch (e) {
              failed = true;
              throw e;
            }
          }
        }),
      );
      return mergeJobResults(jobs, results);
    },
    analyze(variants, settings, options) {
      return pipeline(workers, variants, settings, options);
    },
    async close() {
      await Promise.all(workers.map((w) => w.terminate()));
    },
  };
}

async function pipeline(
  workers: Worker[],
  variants: VariantScores[],
  settings: AnalysisSettings,
  options: AnalysisOptions,
): Promise<PipelineResult> {
  const prepared: PreparedVariant[] = new Array(variants.length);
  const errors: unknown[] = new Array(variants.length);
  let nextPrepare = 0;
  let preparing = 0;
  let plan: AnalysisPlan | undefined;
  let jobError: { error: unknown } | undefined;
  // Chunks waiting (ChunkQueue); every chunk handed out (for the merge); the jobs they came from.
  const queue = new ChunkQueue();
  const chunks: AnalysisJob[] = [];
  const queued = new Set<string>();
  const results: AnalysisJobResult[] = [];
  let waiting: (() => void)[] = [];
  const wake = () => {
    const all = waiting;
    waiting = [];
    for (const resolve of all) resolve();
  };
  const failed = () => jobError !== undefined || errors.some((e) => e !== undefined);
  // Each variant's own chunks still running or waiting, and their results: once all are in, its part of the
  // report is computed here (variantReport) while the threads go on with the pairs' tests.
  const owner = new Map<string, number>();
  const own: { chunks: AnalysisJob[]; results: AnalysisJobResult[] }[] = variants.map(() => ({
    chunks: [],
    results: [],
  }));
  const ready = new Map<string, VariantReport>();
  const effects = new Map<string, ScalingEffect>();
  const views: ReportViewsSoFar = { effects };
  const early = new Set<ReturnType<typeof setImmediate>>();
  /** Runs `work` here after the callbacks that hand out the next chunks, so no thread waits for it. */
  const meanwhile = (work: () => void) => {
    const handle = setImmediate(() => {
      early.delete(handle);
      try {
        work();
      } catch {
        // reportWithViews computes it again, and reports the error there
      }
    });
    early.add(handle);
  };
  const arrived = (result: AnalysisJobResult) => {
    const i = owner.get(result.key);
    if (i === undefined) return;
    const mine = own[i];
    mine.results.push(result);
    if (mine.results.length < mine.chunks.length) return;
    meanwhile(() => {
      const { name } = prepared[i];
      const merged = mergeJobResults(mine.chunks, mine.results);
      const report = variantReport(prepared[i], settings, merged);
      ready.set(name, report);
      const effect = scalingEffect(name, report, settings, merged);
      if (effect) effects.set(name, effect);
    });
  };
  const enqueue = (jobs: AnalysisJob[], split = splitJobs(jobs, workers.length), urgent = false) => {
    for (const job of jobs) queued.add(job.key);
    chunks.push(...split);
    queue.add(split, urgent);
    wake();
  };
  const prepareDone = () => {
    preparing--;
    if (nextPrepare >= variants.length && preparing === 0 && !failed()) {
      try {
        const planned = (plan = planAnalysis(variants, settings, { ...options, prepared }));
        enqueue(plan.jobs.filter((job) => !queued.has(job.key)));
        meanwhile(() => {
          views.domains = domainBreakdown(planned);
          views.histograms = confidenceHistograms(planned);
        });
      } catch (error) {
        jobError = { error }; // e.g. two variants of one name: after preparing, as planAnalysis alone would say
      }
    }
    wake();
  };
  if (variants.length === 0) planAnalysis(variants, settings, options); // throws: nothing to analyse
  await Promise.all(
    workers.map(async (worker) => {
      for (;;) {
        if (failed() && preparing === 0) return;
        if (nextPrepare < variants.length && !failed()) {
          const i = nextPrepare++;
          preparing++;
          try {
            prepared[i] = await prepareOn(worker, { prepare: variants[i], settings });
          } catch (e) {
            errors[i] = e ?? new Error('preparing a variant failed');
            prepareDone();
            if (!replied.has(e as Error)) return; // the thread itself died: give it nothing more
            continue;
          }
          // This variant's own jobs, as the whole plan will list them (they depend on it alone). With pairs to
          // come, whole: the pairs' finely split permutation tests are what keeps every thread busy to the end.
          if (!failed()) {
            const jobs = planAnalysis([variants[i]], settings, { prepared: [prepared[i]], compare: [] }).jobs;
            const split = variants.length > 1 ? jobs : splitJobs(jobs, workers.length);
            own[i].chunks = split;
            for (const chunk of split) owner.set(chunk.key, i);
            enqueue(jobs, split, true);
          }
          prepareDone();
          continue;
        }
        const job = failed() ? undefined : queue.take(worker);
        if (job) {
          try {
            const result = await reply<AnalysisJobResult>(worker, job);
            results.push(result);
            arrived(result);
          } catch (error) {
            jobError ??= { error };
            wake();
            return;
          }
          continue;
        }
        if (plan || (nextPrepare >= variants.length && preparing === 0)) return;
        await new Promise<void>((resolve) => waiting.push(resolve));
      }
    }),
  );
  for (const handle of early) clearImmediate(handle); // not computed yet: reportWithViews will
  if (jobError) throw jobError.error;
  // The first failing variant in input order, as on one thread.
  const first = errors.find((e) => e !== undefined);
  if (first !== undefined) throw first;
  return { plan: plan!, results: mergeJobResults(chunks, results), ready, views };
}

/**
 * What ThreadPool.analyze gives: the plan, the merged results and what was computed here while the other jobs
 * ran: the variant reports (variantReport; for assembleReport's `ready`) and views (for reportWithViews).
 */
export interface PipelineResult {
  plan: AnalysisPlan;
  results: AnalysisJobResult[];
  ready: ReadonlyMap<string, VariantReport>;
  views: ReportViewsSoFar;
}

/** Posts one message to a thread: its reply, or the thread's error (or exit). */
function reply<T>(worker: Worker, message: AnalysisJob | PrepareRequest): Promise<T> {
  return new Promise((resolve, reject) => {
    const done = () => {
      worker.off('message', onMessage);
      worker.off('error', onError);
      worker.off('exit', onExit);
    };
    const onMessage = (answer: T) => {
      done();
      resolve(answer);
    };
    const onError = (e: Error) => {
      done();
      reject(e);
    };
    const onExit = (code: number) => {
      done();
      reject(new Error(`analysis worker thread exited with code ${code}`));
    };
    worker.on('message', onMessage);
    worker.on('error', onError);
    worker.on('exit', onExit);
    worker.postMessage(message);
  });
}

/** Errors a thread sent back as a reply (it lives on), as opposed to a thread that died. */
const replied = new WeakSet<Error>();

async function prepareOn(worker: Worker, request: PrepareRequest): Promise<PreparedVariant> {
  const answer = await reply<{ prepared?: PreparedVariant; error?: { name: string; message: string } }>(
    worker,
    request,
  );
  if (answer.prepared) return answer.prepared;
  const error = new Error(answer.error?.message ?? 'preparing a variant failed');
  error.name = answer.error?.name ?? 'Error';
  replied.add(error);
  throw error;
}
