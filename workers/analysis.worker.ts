/** The analysis off the main thread: reads stored runs, plans, and hands resampling jobs to a pool of job workers. */
import { expose, wrap } from 'comlink';
import { createAnalysisWorkerApi, type AnalysisWorkerApi, type JobWorker } from '../src/state/analysis-service';
import { openKitDb } from '../src/storage/db';

const api: AnalysisWorkerApi = createAnalysisWorkerApi({
  spawnJobWorker: () =>
    wrap<JobWorker>(new Worker(new URL('./analysis-job.worker.ts', import.meta.url), { type: 'module', name: 'analysis-job' })),
  // Leave a core for the page; the coordinator itself mostly waits.
  poolSize: Math.min(4, Math.max(1, (navigator.hardwareConcurrency || 2) - 1)),
  openDatabase: (name) => openKitDb({ name }),
});
expose(api);
