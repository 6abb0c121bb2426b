/**
 * Runs analysis jobs on a pool of Node worker threads (the CLI's and the bench's executor). Each job's result
 * depends only on the job, so the report equals the single-thread one whatever the thread count.
 */
import { Worker } from 'node:worker_threads';
import os from 'node:os';
import type { AnalysisJob, AnalysisJobResult } from '../../src/core/analysis';

/** Cores this process may use (at least 1). */
export function availableThreads(): number {
  return Math.max(1, typeof os.availableParallelism === 'function' ? os.availableParallelism() : os.cpus().length);
}

// The scripts run through tsx; a worker thread registers tsx's loader itself before importing the TypeScript
// entry (on Node 20 a worker's --import hooks do not apply to its own entry module).
const bootstrap = `import(${JSON.stringify(import.meta.resolve('tsx/esm/api'))})
  .then((tsx) => { tsx.register(); return import(${JSON.stringify(new URL('./analysis-thread.ts', import.meta.url).href)}); })`;

/** A job runner for analyzeVariantsWith: `threads` workers, jobs handed out largest first as workers free up. */
export function threadJobRunner(threads = availableThreads()): (jobs: AnalysisJob[]) => Promise<AnalysisJobResult[]> {
  return async (jobs) => {
    if (jobs.length === 0) return [];
    const count = Math.min(threads, jobs.length);
    const workers = Array.from({ length: count }, () => new Worker(bootstrap, { eval: true }));
    const results: AnalysisJobResult[] = [];
    let next = 0;
    try {
      await Promise.all(
        workers.map(
          (worker) =>
            new Promise<void>((resolve, reject) => {
              const feed = () => {
                if (next >= jobs.length) return resolve();
                worker.postMessage(jobs[next++]);
              };
              worker.on('message', (result: AnalysisJobResult) => {
                results.push(result);
                feed();
              });
              worker.on('error', reject);
              worker.on('exit', (code) => {
                if (code !== 0) reject(new Error(`analysis worker thread exited with code ${code}`));
              });
              feed();
            }),
        ),
      );
    } finally {
      await Promise.all(workers.map((w) => w.terminate()));
    }
    return results;
  };
}
