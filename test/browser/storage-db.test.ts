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

  it('asks the browser for persistent storage and reads the estimate', async () => {
    expect(['persisted', 'not-persisted', 'unsupported']).toContain(await requestPersistentStorage());
    const estimate = await estimateStorage();
    expect(estimate === undefined || (estimate.quota > 0 && estimate.usage >= 0)).toBe(true);
  });
});
