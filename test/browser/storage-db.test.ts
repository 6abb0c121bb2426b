import { afterEach, describe, expect, it } from 'vitest';
import { simulatedVariant } from '../../src/engine/variants';
import {
  ANALYSIS_CACHE_SIZE,
  DB_VERSION,
  deleteKitDb,
  estimateStorage,
  openKitDb,
  requestPersistentStorage,
  type KitDb,
  type RunRecord,
  type StoredResult,
} from '../../src/storage/db';

let counter = 0;
const opened: KitDb[] = [];
const names: string[] = [];
function dbName(): string {
  const name = `kit-test-${Date.now()}-${counter++}`;
  names.push(name);
  return name;
}
async function open(name = dbName()): Promise<KitDb> {
  const db = await openKitDb({ name });
  opened.push(db);
  return db;
}
afterEach(async () => {
  for (const db of opened.splice(0)) db.close();
  for (const name of names.splice(0)) await deleteKitDb(name);
});

const result = (itemId: string, variantKey = 'v1', promptKey = 'p1', logit = 1): StoredResult => ({
  itemId,
  label: 1,
  letterLogits: [logit, 0, 0, 0],
  promptTokens: 10,
  elapsedMs: 5,
  variantKey,
  promptKey,
  method: 'simulated',
  simulated: true,
  scoredAt: '2025-01-01T00:00:00.000Z',
});
const run = (variantKey: string, manifestHash = 'h'): RunRecord => ({
  variantKey,
  promptKey: 'p1',
  manifestHash,
  status: 'running',
  itemCount: 3,
  simulated: true,
  engine: { kind: 'simulated' },
  startedAt: 't',
  updatedAt: 't',
});

describe('KitDb on real IndexedDB', () => {
  it('keeps variants and runs', async () => {
    const db = await open();
    const v = simulatedVariant('s', 'base', {}, new Date(0));
    await db.putVariant(v);
    expect(await db.getVariant(v.key)).toEqual(v);
    expect(await db.listVariants()).toEqual([v]);
    await db.putRun(run('a'));
    await db.putRun(run('a', 'h2'));
    await db.putRun(run('b'));
    expect(await db.getRun('a', 'p1', 'h2')).toMatchObject({ manifestHash: 'h2' });
    expect((await db.listRuns('a')).length).toBe(2);
    expect((await db.listRuns()).length).toBe(3);
    await db.deleteVariant(v.key);
    expect(await db.getVariant(v.key)).toBeUndefined();
  });

  it('stores each (variant, prompt, item) once: a second put replaces the first', async () => {
    const db = await open();
    await db.putResults([result('b'), result('a'), result('c')]);
    await db.putResults([result('a', 'v1', 'p1', 9), result('a', 'v2'), result('a', 'v1', 'p2')]);
    expect(await db.countResults('v1', 'p1')).toBe(3);
    const rows = await db.getResults('v1', 'p1');
    expect(rows.map((r) => r.itemId)).toEqual(['a', 'b', 'c']);
    expect(rows[0].letterLogits).toEqual([9, 0, 0, 0]);
    expect(await db.scoredItemIds('v1', 'p1')).toEqual(new Set(['a', 'b', 'c']));
    expect(await db.scoredItemIds('v2', 'p1')).toEqual(new Set(['a']));
    await db.deleteResults('v1', 'p1');
    expect(await db.countResults('v1', 'p1')).toBe(0);
    expect(await db.countResults('v2', 'p1')).toBe(1);
    expect(await db.countResults('v1', 'p2')).toBe(1);
  });

  it('writes a batch all or nothing: a bad record stores none of its batch and keeps earlier results', async () => {
    const db = await open();
    await db.putResults([result('kept-1'), result('kept-2')]);
    const bad = { ...result('x'), itemId: undefined } as unknown as StoredResult;
    const error = await db.putResults([result('new-1'), result('new-2'), bad, result('new-3')]).catch((e) => e);
    expect(error.name).toBe('StorageWriteError');
    expect(error.message).toMatch(/^Saving 4 results: DataError/);
    expect(await db.scoredItemIds('v1', 'p1')).toEqual(new Set(['kept-1', 'kept-2']));
    await db.putResults([result('after')]);
    expect(await db.countResults('v1', 'p1')).toBe(3);
  });

  it('reports a blocked upgrade by name when another connection holds the old version open', async () => {
    const name = dbName();
    const raw = await new Promise<IDBDatabase>((resolve, reject) => {
      const r = indexedDB.open(name, 1);
      r.onsuccess = () => resolve(r.result);
      r.onerror = () => reject(r.error);
    });
    try {
      await expect(openKitDb({ name, version: 2 })).rejects.toMatchObject({ name: 'StorageBlockedError' });
    } finally {
      raw.close();
    }
  });

  it('lets go of its connection when a newer version opens elsewhere, and then refuses to write', async () => {
    const name = dbName();
    const older = await open(name);
    const newer = await openKitDb({ name, version: DB_VERSION + 1 });
    opened.push(newer);
    expect(older.isClosed).toBe(true);
    await expect(older.putRun(run('a'))).rejects.toMatchObject({ name: 'StorageBlockedError' });
    await expect(older.putResults([result('a')])).rejects.toMatchObject({ name: 'StorageBlockedError' });
  });

  it('upgrades a version 1 database keeping every variant, run and result, and adds the analyses store', async () => {
    const name = dbName();
    const v1 = await openKitDb({ name, version: 1 });
    await v1.putVariant(simulatedVariant('Kept', 'base', {}, new Date(0)));
    await v1.putRun(run('kept'));
    await v1.putResults([result('a', 'kept'), result('b', 'kept')]);
    v1.close();
    const db = await open(name);
    expect((await db.listVariants()).map((v) => v.name)).toEqual(['Kept']);
    expect((await db.listRuns()).map((r) => r.variantKey)).toEqual(['kept']);
    expect((await db.getResults('kept', 'p1')).map((r) => r.itemId)).toEqual(['a', 'b']);
    expect(await db.getAnalysis('k')).toBeUndefined();
    await db.putAnalysis({
      key: 'k',
      storedAt: '2026-01-01T00:00:00.000Z',
      view: { report: { ece: NaN, ci: [0.1, 0.2] } },
    });
    expect(await db.getAnalysis('k')).toEqual({
      key: 'k',
      storedAt: '2026-01-01T00:00:00.000Z',
      view: { report: { ece: NaN, ci: [0.1, 0.2] } },
    });
  });

  it('keeps only the most recent finished analyses', async () => {
    const db = await open();
    for (let i = 0; i < ANALYSIS_CACHE_SIZE + 3; i++) {
      await db.putAnalysis({ key: `k${i}`, storedAt: `2026-01-01T00:00:${String(i).padStart(2, '0')}.000Z`, view: i });
    }
    expect(await db.countAnalyses()).toBe(ANALYSIS_CACHE_SIZE);
    expect(await db.getAnalysis('k0')).toBeUndefined();
    expect((await db.getAnalysis(`k${ANALYSIS_CACHE_SIZE + 2}`))?.view).toBe(ANALYSIS_CACHE_SIZE + 2);
  });

  it('bumps the store revision with every write that can change what an analysis reads, and with no other', async () => {
    const db = await open();
    expect(await db.getRevision()).toBe(0);
    const revisions: number[] = [];
    const step = async (write: () => Promise<unknown>) => {
      await write();
      revisions.push((await db.getRevision())!);
    };
    const v = simulatedVariant('s', 'base', {}, new Date(0));
    await step(() => db.putVariant(v));
    await step(() => db.putRun(run('a')));
    await step(() => db.putResults([result('x', 'a'), result('y', 'a')]));
    await step(() => db.deleteResults('a', 'p1'));
    await step(() => db.putResults([result('x', 'a')]));
    await step(() => db.deleteRunGroup('a', 'p1'));
    await step(() => db.deleteVariant(v.key));
    const w = simulatedVariant('w', 'sft', {}, new Date(0));
    const records = { variants: [w], runs: [run(w.key)], results: [result('x', w.key)] };
    await step(() => db.importRecords(records, () => {}));
    await step(() => db.deleteVariantAndResults(w.key));
    expect(revisions).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9]);
    // Writes of the cache and the index, and an import that stores nothing new, change nothing an analysis reads.
    await db.importRecords(records, () => {});
    const again = (await db.getRevision())!;
    await db.importRecords(records, () => {});
    await db.putAnalysis({ key: 'k', storedAt: '2026-01-01T00:00:00.000Z', view: 1 });
    expect(await db.putIndexedAnalysis(again, { request: 'r', key: 'k', runs: [] })).toBe(true);
    expect(await db.getRevision()).toBe(again);
  });

  it('leaves the revision as it was when a write aborts', async () => {
    const db = await open();
    await db.putResults([result('kept')]);
    expect(await db.getRevision()).toBe(1);
    const bad = { ...result('x'), itemId: undefined } as unknown as StoredResult;
    await expect(db.putResults([result('new'), bad])).rejects.toMatchObject({ name: 'StorageWriteError' });
    expect(await db.getRevision()).toBe(1);
    const v = simulatedVariant('i', 'other', {}, new Date(0));
    const refusal = new Error('refused');
    const records = { variants: [v], runs: [run(v.key)], results: [result('kept'), result('z', v.key)] };
    await expect(
      db.importRecords(records, () => {
        throw refusal;
      }),
    ).rejects.toBe(refusal);
    // A record IndexedDB cannot store (a function in it) fails the import's transaction after its first writes.
    const uncloneable = { ...result('u', v.key), elapsedMs: () => 1 } as unknown as StoredResult;
    await expect(
      db.importRecords({ variants: [v], runs: [run(v.key)], results: [result('q', v.key), uncloneable] }, () => {}),
    ).rejects.toMatchObject({ name: 'StorageWriteError' });
    expect(await db.getRevision()).toBe(1);
    expect(await db.getVariant(v.key)).toBeUndefined();
    await expect(db.putRun({ ...run('a'), variantKey: undefined } as unknown as RunRecord)).rejects.toMatchObject({
      name: 'StorageWriteError',
    });
    expect(await db.getRevision()).toBe(1);
  });

  it('keeps an analysis index entry only at the current revision, drops the index with any write, and bounds it', async () => {
    const db = await open();
    await db.putResults([result('a')]);
    const revision = (await db.getRevision())!;
    const entry = { request: 'req', key: 'k', runs: [{ id: 'x' }] };
    expect(await db.putIndexedAnalysis(revision - 1, entry)).toBe(false);
    expect(await db.putIndexedAnalysis(revision, entry)).toBe(true);
    // Named, but its analysis is not stored: no hit.
    expect(await db.findIndexedAnalysis('req')).toEqual({ revision });
    const analysis = { key: 'k', storedAt: '2026-01-01T00:00:00.000Z', view: { report: { ci: [0.1, 0.2] } } };
    await db.putAnalysis(analysis);
    expect(await db.findIndexedAnalysis('req')).toEqual({ revision, hit: { entry, analysis } });
    expect(await db.findIndexedAnalysis('other')).toEqual({ revision });
    await db.putRun(run('a'));
    expect(await db.findIndexedAnalysis('req')).toEqual({ revision: revision + 1 });
    // Re-recorded at the new revision, then kept to ANALYSIS_CACHE_SIZE entries, the oldest dropped.
    for (let i = 0; i < ANALYSIS_CACHE_SIZE + 2; i++) {
      expect(await db.putIndexedAnalysis(revision + 1, { ...entry, request: `req${i}` })).toBe(true);
    }
    expect((await db.findIndexedAnalysis('req0')).hit).toBeUndefined();
    expect((await db.findIndexedAnalysis('req1')).hit).toBeUndefined();
    expect((await db.findIndexedAnalysis(`req${ANALYSIS_CACHE_SIZE + 1}`)).hit?.entry.request).toBe(
      `req${ANALYSIS_CACHE_SIZE + 1}`,
    );
  });

  it('reads a corrupt revision or index as a miss and starts the revision again above any count', async () => {
    const name = dbName();
    const db = await open(name);
    await db.putResults([result('a')]);
    await db.putAnalysis({ key: 'k', storedAt: '2026-01-01T00:00:00.000Z', view: 1 });
    expect(await db.putIndexedAnalysis(1, { request: 'req', key: 'k', runs: [] })).toBe(true);
    const raw = await new Promise<IDBDatabase>((resolve, reject) => {
      const r = indexedDB.open(name, DB_VERSION);
      r.onsuccess = () => resolve(r.result);
      r.onerror = () => reject(r.error);
    });
    const put = (value: unknown) =>
      new Promise<void>((resolve, reject) => {
        const tx = raw.transaction('meta', 'readwrite');
        tx.objectStore('meta').put(value);
        tx.oncomplete = () => resolve();
        tx.onerror = () => reject(tx.error);
      });
    try {
      await put({ key: 'analysis-index', value: { revision: 1, entries: 'nonsense' } });
      expect(await db.findIndexedAnalysis('req')).toEqual({ revision: 1 });
      await put({ key: 'analysis-index', value: { revision: 1, entries: [{ request: 'req', key: 'k', runs: [] }] } });
      expect((await db.findIndexedAnalysis('req')).hit?.entry.key).toBe('k');
      await put({ key: 'revision', value: 'one' });
      expect(await db.getRevision()).toBeUndefined();
      expect(await db.findIndexedAnalysis('req')).toEqual({ revision: undefined });
      const before = Date.now();
      await db.putResults([result('b')]);
      expect(await db.getRevision()).toBeGreaterThanOrEqual(before);
      expect((await db.findIndexedAnalysis('req')).hit).toBeUndefined();
    } finally {
      raw.close();
    }
  });

  it('upgrades a version 2 database keeping every variant, run, result and finished analysis', async () => {
    const name = dbName();
    const v2 = await openKitDb({ name, version: 2 });
    await v2.putVariant(simulatedVariant('Kept', 'base', {}, new Date(0)));
    await v2.putRun(run('kept'));
    await v2.putResults([result('a', 'kept'), result('b', 'kept')]);
    await v2.putAnalysis({ key: 'k', storedAt: '2026-01-01T00:00:00.000Z', view: { report: { ece: 0.1 } } });
    expect(await v2.getRevision()).toBeUndefined();
    v2.close();
    const db = await open(name);
    expect((await db.listVariants()).map((v) => v.name)).toEqual(['Kept']);
    expect((await db.listRuns()).map((r) => r.variantKey)).toEqual(['kept']);
    expect((await db.getResults('kept', 'p1')).map((r) => r.itemId)).toEqual(['a', 'b']);
    expect((await db.getAnalysis('k'))?.view).toEqual({ report: { ece: 0.1 } });
    expect(await db.getRevision()).toBe(0);
    expect(await db.findIndexedAnalysis('any')).toEqual({ revision: 0 });
    await db.putResults([result('c', 'kept')]);
    expect(await db.getRevision()).toBe(1);
  });

  it('asks the browser for persistent storage and reads the estimate', async () => {
    expect(['persisted', 'not-persisted', 'unsupported']).toContain(await requestPersistentStorage());
    const estimate = await estimateStorage();
    expect(estimate === undefined || (estimate.quota > 0 && estimate.usage >= 0)).toBe(true);
  });
});
