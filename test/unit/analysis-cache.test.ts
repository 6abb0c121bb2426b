/** The analysis service's cache of finished analyses: hit on a revisit, miss on any change, never fatal. */
import { describe, expect, it } from 'vitest';
import { resolveSettings, runAnalysisJob, type AnalysisJob } from '../../src/core/analysis';
import { analysisCacheKey } from '../../src/core/analysis-key';
import {
  AnalysisService,
  createAnalysisWorkerApi,
  poolJobRunner,
  type AnalysisCache,
} from '../../src/services/analysis-service';
import type { JobWorker } from '../../src/services/analysis-api';
import type { StoredAnalysis } from '../../src/storage/db';
import { itemIds, MemoryRunStore, simulatedGroup, studyGroups } from '../support/stored-runs';
import type { StoredRunGroup } from '../../src/services/export';

const settings = { bootstrap: 60, permutations: 59, seed: 2 };

/** A cache in memory (structured-cloned, as IndexedDB stores it) that counts reads and writes. */
function memoryCache(): AnalysisCache & { entries: Map<string, StoredAnalysis>; puts: number } {
  const entries = new Map<string, StoredAnalysis>();
  return {
    entries,
    puts: 0,
    async getAnalysis(key) {
      const hit = entries.get(key);
      return hit ? structuredClone(hit) : undefined;
    },
    async putAnalysis(entry) {
      this.puts++;
      entries.set(entry.key, structuredClone(entry));
    },
  };
}

function countingService() {
  const jobs: AnalysisJob[] = [];
  const worker: JobWorker = {
    run: async (job) => {
      jobs.push(job);
      return runAnalysisJob(job);
    },
  };
  return { service: new AnalysisService(poolJobRunner([worker, worker]), 2), jobs };
}

describe('cached analyses', () => {
  it('serve a revisit with nothing changed from the cache, the same view without resampling', async () => {
    const groups = studyGroups(40);
    const cache = memoryCache();
    const { service, jobs } = countingService();
    const first = await service.analyze(groups, { requestId: 1, settings }, undefined, undefined, cache);
    expect(first.source).toBe('computed');
    expect(cache.puts).toBe(1);
    const ran = jobs.length;
    expect(ran).toBeGreaterThan(0);
    const partials: unknown[] = [];
    const again = await service.analyze(groups, { requestId: 2, settings }, (p) => partials.push(p), undefined, cache);
    expect(again.source).toBe('cache');
    expect(jobs.length).toBe(ran);
    expect(partials).toEqual([]);
    const { requestId: _a, source: _s, ...rest } = again;
    const { requestId: _b, source: _t, ...expected } = first;
    expect(rest).toEqual(expected);
    expect(again.requestId).toBe(2);
  }, 30_000);

  it('miss when a setting, the selection or a stored item changes, or a run is added', async () => {
    const groups = studyGroups(30);
    const cache = memoryCache();
    const { service } = countingService();
    await service.analyze(groups, { requestId: 1, settings }, undefined, undefined, cache);
    const changedSetting = await service.analyze(
      groups,
      { requestId: 2, settings: { ...settings, bins: 10 } },
      undefined,
      undefined,
      cache,
    );
    expect(changedSetting.source).toBe('computed');
    const fewer = await service.analyze(groups.slice(0, 2), { requestId: 3, settings }, undefined, undefined, cache);
    expect(fewer.source).toBe('computed');
    const edited: StoredRunGroup[] = groups.map((g, i) =>
      i === 0 ? { ...g, results: g.results.map((r, j) => (j === 0 ? { ...r, letterLogits: [9, 0, 0, 0] } : r)) } : g,
    );
    expect((await service.analyze(edited, { requestId: 4, settings }, undefined, undefined, cache)).source).toBe(
      'computed',
    );
    const added = [...groups, simulatedGroup('other', 'other', { accuracy: 0.5, seed: 9 }, itemIds(30))];
    expect((await service.analyze(added, { requestId: 5, settings }, undefined, undefined, cache)).source).toBe(
      'computed',
    );
    // And each of those is now a hit in its turn.
    expect((await service.analyze(added, { requestId: 6, settings }, undefined, undefined, cache)).source).toBe(
      'cache',
    );
    expect((await service.analyze(groups, { requestId: 7, settings }, undefined, undefined, cache)).source).toBe(
      'cache',
    );
  }, 30_000);

  it('treat a failing cache as a miss', async () => {
    const broken: AnalysisCache = {
      getAnalysis: () => Promise.reject(new Error('quota')),
      putAnalysis: () => Promise.reject(new Error('quota')),
    };
    const view = await countingService().service.analyze(
      studyGroups(20),
      { requestId: 1, settings },
      undefined,
      undefined,
      broken,
    );
    expect(view.source).toBe('computed');
    expect(view.partial).toBe(false);
  });

  it('are kept in the database the worker API reads runs from', async () => {
    const cache = memoryCache();
    const store = Object.assign(MemoryRunStore.of(studyGroups(20)), { isClosed: false }, cache);
    const local: JobWorker = { run: async (job) => runAnalysisJob(job) };
    const api = createAnalysisWorkerApi({ spawnJobWorker: () => local, poolSize: 2, openDatabase: async () => store });
    expect((await api.analyzeStored('db', { requestId: 1, settings })).source).toBe('computed');
    expect((await api.analyzeStored('db', { requestId: 2, settings })).source).toBe('cache');
    expect(cache.entries.size).toBe(1);
  });
});

describe('analysisCacheKey', () => {
  it('does not depend on the order items were stored in, and changes with every input', () => {
    const v = {
      name: 'a',
      simulated: true,
      items: [
        { itemId: 'x', label: 0, letterLogits: [1, 0, 0, 0] as [number, number, number, number] },
        { itemId: 'y', label: 1, letterLogits: [0, 1, 0, 0] as [number, number, number, number] },
      ],
    };
    const s = resolveSettings({});
    const key = analysisCacheKey([v], s);
    expect(key).toMatch(/^[0-9a-f]{64}$/);
    expect(analysisCacheKey([{ ...v, items: [...v.items].reverse() }], s)).toBe(key);
    expect(analysisCacheKey([{ ...v, name: 'b' }], s)).not.toBe(key);
    expect(analysisCacheKey([{ ...v, simulated: false }], s)).not.toBe(key);
    expect(analysisCacheKey([v], resolveSettings({ seed: 1 }))).not.toBe(key);
    expect(analysisCacheKey([{ ...v, items: [v.items[0], { ...v.items[1], label: 2 }] }], s)).not.toBe(key);
  });
});
