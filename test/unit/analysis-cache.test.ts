/**
 * The analysis service's cache of finished analyses and its index by store revision: hit on a revisit (without
 * reading a stored result while nothing was written), miss on any change, never fatal.
 */
import { describe, expect, it } from 'vitest';
import { resolveSettings, runAnalysisJob, type AnalysisJob } from '../../src/core/analysis';
import { analysisCacheKey } from '../../src/core/analysis-key';
import {
  AnalysisService,
  createAnalysisWorkerApi,
  indexRequestKey,
  poolJobRunner,
  storedRunSummaries,
  type AnalysisCache,
} from '../../src/services/analysis-service';
import type { JobWorker } from '../../src/services/analysis-api';
import type { AnalysisView } from '../../src/core/report-views';
import type { AnalysisIndexEntry, IndexedAnalysis, StoredAnalysis } from '../../src/storage/db';
import { itemIds, MemoryRunStore, simulatedGroup, studyGroups } from '../support/stored-runs';
import { groupId, type StoredRunGroup } from '../../src/services/export';

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

/**
 * A store with KitDb's revision and analysis index, in memory: every write bumps the revision and drops the
 * index (as KitDb does in the write's own transaction), an index entry is recorded only at the current revision,
 * and reads of stored results are counted.
 */
class RevisionedStore extends MemoryRunStore {
  isClosed = false;
  revision = 0;
  resultReads = 0;
  index: { revision: number; entries: AnalysisIndexEntry[] } | undefined;
  analyses = new Map<string, StoredAnalysis>();
  /** Runs once, inside the next read of stored results (a write by another tab while the worker reads). */
  duringRead: (() => void) | undefined;

  static withGroups(groups: readonly StoredRunGroup[]): RevisionedStore {
    const store = new RevisionedStore();
    const filled = MemoryRunStore.of(groups);
    store.variants = filled.variants;
    store.runs = filled.runs;
    store.results = filled.results;
    return store;
  }

  bump(): void {
    this.revision++;
    this.index = undefined;
  }
  override async getResults(variantKey: string, promptKey: string) {
    this.resultReads++;
    const write = this.duringRead;
    this.duringRead = undefined;
    write?.();
    return super.getResults(variantKey, promptKey);
  }
  override async deleteRunGroup(variantKey: string, promptKey: string) {
    const deleted = await super.deleteRunGroup(variantKey, promptKey);
    this.bump();
    return deleted;
  }
  override async importRecords(...args: Parameters<MemoryRunStore['importRecords']>) {
    const counts = await super.importRecords(...args);
    this.bump();
    return counts;
  }
  async getRevision(): Promise<number | undefined> {
    return this.revision;
  }
  async findIndexedAnalysis(request: string): Promise<IndexedAnalysis> {
    const entry =
      this.index?.revision === this.revision ? this.index.entries.find((e) => e.request === request) : undefined;
    const analysis = entry && this.analyses.get(entry.key);
    return entry && analysis
      ? { revision: this.revision, hit: { entry: structuredClone(entry), analysis: structuredClone(analysis) } }
      : { revision: this.revision };
  }
  async putIndexedAnalysis(revision: number, entry: AnalysisIndexEntry): Promise<boolean> {
    if (revision !== this.revision) return false;
    const kept = this.index?.revision === revision ? this.index.entries.filter((e) => e.request !== entry.request) : [];
    this.index = { revision, entries: [...kept, structuredClone(entry)] };
    return true;
  }
  async getAnalysis(key: string) {
    const hit = this.analyses.get(key);
    return hit ? structuredClone(hit) : undefined;
  }
  async putAnalysis(entry: StoredAnalysis) {
    this.analyses.set(entry.key, structuredClone(entry));
  }
}

/** A view without what belongs to its request (id) or says where it came from. */
const content = ({ requestId: _id, source: _source, ...rest }: AnalysisView) => rest;

function workerApi(store: RevisionedStore) {
  const local: JobWorker = { run: async (job) => runAnalysisJob(job) };
  return createAnalysisWorkerApi({ spawnJobWorker: () => local, poolSize: 2, openDatabase: async () => store });
}

describe('the analysis index: a revisit with nothing changed reads no stored result', () => {
  it('serves a revisit at the same revision without reading results, from memory and from the stored index', async () => {
    const store = RevisionedStore.withGroups(studyGroups(30));
    const api = workerApi(store);
    const first = await api.analyzeStored('db', { requestId: 1, settings });
    expect(first.source).toBe('computed');
    expect(store.resultReads).toBe(3);
    expect(store.index?.entries).toHaveLength(1);
    const again = await api.analyzeStored('db', { requestId: 2, settings });
    expect(again.source).toBe('cache');
    expect(again.requestId).toBe(2);
    expect(content(again)).toEqual(content(first));
    expect(store.resultReads).toBe(3);
    // A new worker (nothing in memory): the stored index names the kept analysis.
    const fresh = await workerApi(store).analyzeStored('db', { requestId: 3, settings });
    expect(fresh.source).toBe('cache');
    expect(content(fresh)).toEqual(content(first));
    expect(store.resultReads).toBe(3);
  }, 30_000);

  it('reads the runs again after any write: the same content is found by its key, a changed one is computed', async () => {
    const groups = studyGroups(30);
    const store = RevisionedStore.withGroups(groups);
    const api = workerApi(store);
    const first = await api.analyzeStored('db', { requestId: 1, settings });
    store.bump(); // a write that changes nothing an analysis reads (e.g. a variant stored again)
    const same = await api.analyzeStored('db', { requestId: 2, settings });
    expect(store.resultReads).toBe(6);
    expect(same.source).toBe('cache');
    expect(content(same)).toEqual(content(first));
    expect(await api.deleteRun('db', groupId(groups[0]))).toBe(30);
    const fewer = await api.analyzeStored('db', { requestId: 3, settings });
    expect(store.resultReads).toBe(8);
    expect(fewer.source).toBe('computed');
    expect(fewer.runs.map((r) => r.id).sort()).toEqual(groups.slice(1).map(groupId).sort());
    // ...and that in its turn is a revisit served without reading.
    expect((await api.analyzeStored('db', { requestId: 4, settings })).source).toBe('cache');
    expect(store.resultReads).toBe(8);
  }, 30_000);

  it('misses for another selection or other settings, and is not fooled by the selection order', async () => {
    const groups = studyGroups(30);
    const store = RevisionedStore.withGroups(groups);
    const api = workerApi(store);
    const two = [groupId(groups[1]), groupId(groups[0])];
    await api.analyzeStored('db', { requestId: 1, settings });
    const reads = store.resultReads;
    const subset = await api.analyzeStored('db', { requestId: 2, settings, selection: two });
    // Computed, from the runs read at this revision before: nothing was written since.
    expect(subset.source).toBe('computed');
    expect(store.resultReads).toBe(reads);
    expect([...subset.analysed].sort()).toEqual([...two].sort());
    const other = await api.analyzeStored('db', { requestId: 3, settings: { ...settings, bins: 11 } });
    expect(other.source).toBe('computed');
    expect(other.report!.settings.bins).toBe(11);
    const afterMisses = store.resultReads;
    const reordered = await api.analyzeStored('db', { requestId: 4, settings, selection: [...two].reverse() });
    expect(store.resultReads).toBe(afterMisses);
    expect(content(reordered)).toEqual(content(subset));
    // Settings spelled differently but resolving alike are the same request.
    const spelled = await api.analyzeStored('db', {
      requestId: 5,
      settings: { ...settings, bins: resolveSettings({}).bins },
    });
    expect(spelled.source).toBe('cache');
    expect(store.resultReads).toBe(afterMisses);
  }, 30_000);

  it('computes a new request from the runs read at the same revision, and reads them again after a write', async () => {
    const groups = studyGroups(30);
    const store = RevisionedStore.withGroups(groups);
    const api = workerApi(store);
    await api.analyzeStored('db', { requestId: 1, settings });
    expect(store.resultReads).toBe(3);
    const eleven = await api.analyzeStored('db', { requestId: 2, settings: { ...settings, bins: 11 } });
    expect(eleven.source).toBe('computed');
    expect(store.resultReads).toBe(3);
    // The same as a worker that reads the runs itself.
    const fresh = await workerApi(RevisionedStore.withGroups(groups)).analyzeStored('db', {
      requestId: 1,
      settings: { ...settings, bins: 11 },
    });
    expect(content(eleven)).toEqual(content(fresh));
    expect(await api.deleteRun('db', groupId(groups[0]))).toBe(30);
    const twelve = await api.analyzeStored('db', { requestId: 3, settings: { ...settings, bins: 12 } });
    expect(store.resultReads).toBe(5);
    expect(twelve.runs.map((r) => r.id).sort()).toEqual(groups.slice(1).map(groupId).sort());
  }, 30_000);

  it('keeps no entry made from reads that a write overtook, so the next visit shows the write', async () => {
    const groups = studyGroups(30);
    const store = RevisionedStore.withGroups(groups.slice(0, 2));
    const api = workerApi(store);
    // While the worker reads the runs, another tab stores a third run (and bumps the revision).
    store.duringRead = () => {
      const added = MemoryRunStore.of([groups[2]]);
      for (const [k, v] of added.variants) store.variants.set(k, v);
      for (const [k, v] of added.runs) store.runs.set(k, v);
      for (const [k, v] of added.results) store.results.set(k, v);
      store.bump();
    };
    await api.analyzeStored('db', { requestId: 1, settings });
    expect(store.index).toBeUndefined();
    const next = await api.analyzeStored('db', { requestId: 2, settings });
    expect(next.runs.map((r) => r.id).sort()).toEqual(groups.map(groupId).sort());
    expect(Object.keys(next.report!.variants)).toHaveLength(3);
  }, 30_000);

  it('treats an unreadable revision, a failing index and a corrupt entry as misses, and still answers', async () => {
    const store = RevisionedStore.withGroups(studyGroups(20));
    const api = workerApi(store);
    const first = await api.analyzeStored('db', { requestId: 1, settings });
    const entry = store.index!.entries[0];
    for (const [i, corrupt] of [
      { ...entry, runs: 'not a list' },
      { ...entry, runs: [{ id: 1 }] },
      { ...entry, key: 'no such analysis' },
    ].entries()) {
      const fresh = workerApi(store); // nothing in memory
      store.index = { revision: store.revision, entries: [corrupt as AnalysisIndexEntry] };
      const reads = store.resultReads;
      const view = await fresh.analyzeStored('db', { requestId: 2 + i, settings });
      expect(store.resultReads, `corrupt entry ${i}`).toBe(reads + 3);
      expect(content(view)).toEqual(content(first));
    }
    const failing = Object.assign(RevisionedStore.withGroups(studyGroups(20)), {
      findIndexedAnalysis: () => Promise.reject(new Error('broken')),
      putIndexedAnalysis: () => Promise.reject(new Error('broken')),
    });
    expect(content(await workerApi(failing).analyzeStored('db', { requestId: 9, settings }))).toEqual(content(first));
    const unreadable = Object.assign(RevisionedStore.withGroups(studyGroups(20)), {
      getRevision: async () => undefined,
    });
    const without = workerApi(unreadable);
    await without.analyzeStored('db', { requestId: 10, settings });
    await without.analyzeStored('db', { requestId: 11, settings });
    // Nothing recorded for a revision it could not read: every visit reads the runs (their analysis still comes from the cache).
    expect(unreadable.index).toBeUndefined();
    expect(unreadable.resultReads).toBe(6);
  }, 30_000);

  it('sends the store signature before reading any run, also when the analysis then fails', async () => {
    const store = RevisionedStore.withGroups(studyGroups(20));
    const api = workerApi(store);
    const log: string[] = [];
    store.duringRead = () => log.push('read');
    await api.analyzeStored('db', { requestId: 1, settings }, undefined, undefined, (s) => log.push(s));
    expect(log).toEqual(['revision 0', 'read']);
    expect(await api.storeSignature('db')).toBe('revision 0');
    const signatures: string[] = [];
    await expect(
      api.analyzeStored('db', { requestId: 2, settings: { bins: 0 } }, undefined, undefined, (s) => signatures.push(s)),
    ).rejects.toThrow(/bins/);
    expect(signatures).toEqual(['revision 0']);
  }, 30_000);
});

describe('indexRequestKey and storedRunSummaries', () => {
  it('name a request by its selection as a set and its resolved settings; refuse what is not a run list', () => {
    const key = indexRequestKey({ settings: {}, selection: ['b', 'a', 'a'] });
    expect(key).toBe(indexRequestKey({ settings: resolveSettings({}), selection: ['a', 'b'] }));
    expect(key).not.toBe(indexRequestKey({ settings: {} }));
    expect(key).not.toBe(indexRequestKey({ settings: { seed: 99 }, selection: ['a', 'b'] }));
    expect(indexRequestKey({ settings: { bins: -1 } })).toBeUndefined();
    const row = {
      id: 'x',
      name: 'x',
      variantKey: 'v',
      variantName: 'v',
      promptKey: 'p',
      role: 'base',
      simulated: false,
      items: 3,
      status: 'done',
      engineKind: 'imported',
    };
    expect(storedRunSummaries([row, { ...row, problem: 'why' }])).toHaveLength(2);
    for (const bad of [undefined, {}, [{ ...row, role: 'boss' }], [{ ...row, items: '3' }], [{ ...row, problem: 1 }]])
      expect(storedRunSummaries(bad)).toBeUndefined();
  });
});
