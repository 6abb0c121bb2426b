/**
 * Runs analysis jobs on a pool of Node worker threads (the CLI's and the bench's executor). Each job's result
 * depends only on the job, so the report equals the single-thread one whatever the thread count.
 */
import { Worker } from 'node:worker_threads';
import { fileURLToPath } from 'node:url';
import os from 'node:os';
import { buildSync } from 'esbuild';
import { mergeJobResults, splitJobs, type AnalysisJob, type AnalysisJobResult } from '../../src/core/analysis';

/** Cores this process may use (at least 1). */
export function availableThreads(): number {
  return Math.max(1, typeof os.availableParallelism === 'function' ? os.availableParallelism() : os.cpus().length);
}

// The scripts run through tsx, but a worker thread that registers tsx itself takes a second or more to start
// (loading tsx and its esbuild service, then transforming every module). Instead the thread's code is bundled
// once per process into one CommonJS script (esbuild, a few tens of ms) that each thread evaluates directly.
let threadCode: string | undefined;
function analysisThreadCode(): string {
  threadCode ??= buildSync({
    entryPoints: [fileURLToPath(new URL('./analysis-thread.ts', import.meta.url))],
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: 'node20',
    write: false,
    logLevel: 'silent',
  }).outputFiles[0].text;
  return threadCode;
}

/**
 * A job runner for analyzeVariantsWith: `threads` workers; the jobs are split into chunks (splitJobs) handed out
 * largest first as workers free up, and the chunks' results merged back, so every thread works to the end.
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
  /** Runs jobs as threadJobRunner does (split, largest first, merged); one call at a time. */
  run(jobs: AnalysisJob[]): Promise<AnalysisJobResult[]>;
  close(): Promise<void>;
}

export function startThreadPool(threads = availableThreads()): ThreadPool {
  const workers = Array.from({ length: Math.max(1, threads) }, () => new Worker(analysisThreadCode(), { eval: true }));
  return {
    async run(whole) {
      const jobs = splitJobs(whole, workers.length);
      return mergeJobResults(jobs, await runOnThreads(jobs, workers));
    },
    async close() {
      await Promise.all(workers.map((w) => w.terminate()));
    },
  };
}

async function runOnThreads(jobs: AnalysisJob[], pool: Worker[]): Promise<AnalysisJobResult[]> {
  if (jobs.length === 0) return [];
  const workers = pool.slice(0, Math.min(pool.length, jobs.length));
  const results: AnalysisJobResult[] = [];
  let next = 0;
  const listeners: (() => void)[] = [];
  try {
    await Promise.all(
      workers.map(
        (worker) =>
          new Promise<void>((resolve, reject) => {
            const feed = () => {
              if (next >= jobs.length) return resolve();
              worker.postMessage(jobs[next++]);
            };
            const onMessage = (result: AnalysisJobResult) => {
              results.push(result);
              feed();
            };
            const onExit = (code: number) => reject(new Error(`analysis worker thread exited with code ${code}`));
            worker.on('message', onMessage);
            worker.on('error', reject);
            worker.on('exit', onExit);
            listeners.push(() => {
              worker.off('message', onMessage);
              worker.off('error', reject);
              worker.off('exit', onExit);
            });
            feed();
          }),
      ),
    );
  } finally {
    for (const off of listeners) off();
  }
  return results;
}
