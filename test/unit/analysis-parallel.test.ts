/** The app's analysis on several job workers: the same view whatever the worker count, variants prepared there. */
import { describe, expect, it } from 'vitest';
import { prepareVariant, runAnalysisJob } from '../../src/core/analysis';
import { kernelBackend } from '../../src/core/kernel-wasm';
import {
  AnalysisService,
  createAnalysisWorkerApi,
  poolJobRunner,
  poolPreparer,
} from '../../src/services/analysis-service';
import type { JobWorker } from '../../src/services/analysis-api';
import { itemIds, MemoryRunStore, simulatedGroup, studyGroups } from '../support/stored-runs';

const settings = { bootstrap: 100, permutations: 199, seed: 4 };
const worker = (): Required<JobWorker> & { prepared: number; jobs: number } => ({
  prepared: 0,
  jobs: 0,
  async run(job) {
    this.jobs++;
    return runAnalysisJob(job);
  },
  async prepare(variant, s) {
    this.prepared++;
    return prepareVariant(variant, s);
  },
  async backend() {
    return kernelBackend();
  },
});

describe('analysis on several job workers', () => {
  it('gives the same view for 1, 2 and 3 workers, with the jobs split and the variants prepared on them', async () => {
    const groups = studyGroups(30);
    const { requestId: _r, ...single } = await new AnalysisService(poolJobRunner([worker()])).analyze(groups, {
      requestId: 1,
      settings,
    });
    for (const count of [2, 3]) {
      const workers = Array.from({ length: count }, worker);
      const service = new AnalysisService(poolJobRunner(workers), count, poolPreparer(workers));
      const progress: [number, number][] = [];
      const view = await service.analyze(groups, { requestId: 2, settings }, undefined, (done, total) =>
        progress.push([done, total]),
      );
      const { requestId: _s, jobsDone: _d, jobsTotal: _t, ...rest } = view;
      const { jobsDone: _d1, jobsTotal: _t1, ...expected } = single;
      expect(rest).toEqual(expected);
      expect(view.jobsTotal).toBeGreaterThan(single.jobsTotal); // split into chunks
      expect(progress.at(-1)).toEqual([view.jobsTotal, view.jobsTotal]);
      expect(workers.reduce((t, w) => t + w.prepared, 0)).toBe(3);
      expect(workers.every((w) => w.jobs > 0)).toBe(true);
    }
  }, 30_000);

  it('names a variant that cannot be prepared on its run and still analyses every other run', async () => {
    const few = simulatedGroup('few', 'other', { accuracy: 0.6, seed: 4 }, itemIds(3, 'x'));
    const workers = [worker(), worker()];
    const service = new AnalysisService(poolJobRunner(workers), 2, poolPreparer(workers));
    const view = await service.analyze([...studyGroups(20), few], { requestId: 1, settings });
    expect(view.unanalysable).toEqual([
      expect.objectContaining({
        name: expect.stringContaining('few'),
        reason: expect.stringMatching(/has 3 items, fewer than the 5 cross-fitting folds/),
      }),
    ]);
    expect(view.analysed).toHaveLength(3);
    expect(Object.keys(view.report!.variants)).toHaveLength(3);
  });

  it('prepares on the job workers of the worker API', async () => {
    const workers = [worker(), worker()];
    let next = 0;
    const store = Object.assign(MemoryRunStore.of(studyGroups(20)), { isClosed: false });
    const api = createAnalysisWorkerApi({
      spawnJobWorker: () => workers[next++],
      poolSize: 2,
      openDatabase: async () => store,
    });
    const view = await api.analyzeStored('db', { requestId: 1, settings });
    expect(view.partial).toBe(false);
    expect(workers[0].prepared + workers[1].prepared).toBe(3);
    // Each job worker says which kernel it runs; one that cannot say counts as the JavaScript loops.
    expect(await api.kernelBackends()).toEqual(['wasm', 'wasm']);
    const silent = createAnalysisWorkerApi({
      spawnJobWorker: () => ({ run: async (job) => runAnalysisJob(job) }),
      poolSize: 3,
      openDatabase: async () => store,
    });
    expect(await silent.kernelBackends()).toEqual(['js', 'js', 'js']);
  });
});
