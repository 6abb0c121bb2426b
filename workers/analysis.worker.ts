/** The analysis off the main thread: reads stored runs, plans, and hands resampling jobs to a pool of job workers. */
import { expose, wrap } from 'comlink';
import { createAnalysisWorkerApi } from '../src/services/analysis-service';
import type { AnalysisWorkerApi, JobWorker } from '../src/services/analysis-api';
import { openKitDb } from '../src/storage/db';

const api: AnalysisWorkerApi = createAnalysisWorkerApi({
  spawnJobWorker: () =>
    wrap<Required<JobWorker>>(
      new Worker(new URL('./analysis-job.worker.ts', import.meta.url), { type: 'module', name: 'analysis-job' }),
    ),
  // Every core: the jobs are split so that all workers finish together; the coordinator itself mostly waits.
  poolSize: Math.max(1, navigator.hardwareConcurrency || 2),
  openDatabase: (name) => openKitDb({ name }),
});
expose(api);
