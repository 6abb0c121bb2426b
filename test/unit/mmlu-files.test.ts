import { readFileSync, readdirSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { drawSample, itemContentHash, mergeIntoPool, selectFromPool } from '../../src/core/mmlu';
import type { MmluItem } from '../../src/core/types';
import {
  ITEMS_PER_CHUNK,
  SESSION_POOL,
  createItemsService,
  parseMmluFiles,
  storeIntoPool,
  type StoredPool,
} from '../../src/services/mmlu-files';
import { parseMmluCsvFiles } from '../../src/data/mmlu-csv';
import type { ItemDb } from '../../src/storage/db';

// What the items worker runs: picked files' bytes to items, and the merged pool it stores.
const fixtures = resolve(import.meta.dirname, '../fixtures/mmlu/data');
const csvFiles = readdirSync(fixtures, { recursive: true, encoding: 'utf8' })
  .filter((f) => f.endsWith('.csv'))
  .sort()
  .map((f) => ({ name: `data/${f}`, text: readFileSync(resolve(fixtures, f), 'utf8') }));
const asInput = (f: { name: string; text: string }) => ({
  name: f.name,
  bytes: new TextEncoder().encode(f.text).buffer as ArrayBuffer,
});

const item = (id: string, question: string): MmluItem => {
  const [subject, split, row] = id.split('/');
  return {
    id,
    subject,
    split: split as MmluItem['split'],
    row: Number(row),
    question,
    choices: ['a', 'b', 'c', 'd'],
    answer: 1,
  };
};

describe('parseMmluFiles', () => {
  it('gives the items the CSV parser gives for the same texts, and counts every file read', async () => {
    expect(csvFiles.length).toBeGreaterThan(1);
    const done: number[] = [];
    const items = await parseMmluFiles(
      [...csvFiles.map(asInput), { name: 'notes.txt', bytes: new ArrayBuffer(3) }],
      (n) => done.push(n),
    );
    expect(items).toEqual(parseMmluCsvFiles(csvFiles));
    expect(done).toEqual(csvFiles.map((_, i) => i + 1));
  });
});

describe('mergeIntoPool', () => {
  it('adds new ids, lets an added item replace the pooled one, and orders by id (code units)', () => {
    const pool = [item('b/test/2', 'old'), item('a/test/10', 'x')];
    const merged = mergeIntoPool(pool, [item('b/test/2', 'new'), item('a/test/9', 'y')]);
    expect(merged.map((i) => i.id)).toEqual(['a/test/10', 'a/test/9', 'b/test/2']);
    expect(merged.find((i) => i.id === 'b/test/2')?.question).toBe('new');
    expect(mergeIntoPool([], [])).toEqual([]);
  });
});

/** An item store holding only its session records, counting how often it is opened. */
function memoryStore(session = new Map<string, unknown>()) {
  const opened: string[] = [];
  const store = {
    getSession: async (key: string) => structuredClone(session.get(key)),
    putSession: async (key: string, value: unknown) => void session.set(key, structuredClone(value)),
    close: () => {},
  } as unknown as ItemDb;
  return { session, opened, open: async (name: string) => (opened.push(name), store), store };
}

describe('storeIntoPool', () => {
  it('merges into what is stored, writes the pool with its new description and returns it', async () => {
    const { session, store } = memoryStore(
      new Map([
        [SESSION_POOL, { items: [item('a/test/1', 'q')], source: { kind: 'files', description: '1 CSV file' } }],
      ]),
    );
    const merged = await storeIntoPool(store, [item('a/dev/0', 'd')], {
      kind: 'files',
      description: '1 CSV file + 1 CSV file',
    });
    const stored = session.get(SESSION_POOL) as StoredPool;
    expect(stored.items.map((i) => i.id)).toEqual(['a/dev/0', 'a/test/1']);
    expect(merged).toEqual(stored.items);
    expect(stored.source.description).toBe('1 CSV file + 1 CSV file');
  });
});

describe('createItemsService (the items worker)', () => {
  const source = { kind: 'files', description: 'the fixture CSVs' } as const;
  const many = Array.from({ length: ITEMS_PER_CHUNK + 5 }, (_, r) => item(`high_school_physics/test/${r}`, `q${r}`));

  it('hands back the merged pool in chunks when it stores, and the parsed items alone when it does not', async () => {
    const { session, open } = memoryStore(new Map([[SESSION_POOL, { items: many, source }]]));
    const service = createItemsService(open);
    const chunks: number[] = [];
    const received: MmluItem[] = [];
    await service.parseFiles(
      csvFiles.map(asInput),
      { itemDbName: 'items', source, poolVersion: 1 },
      undefined,
      async (c) => {
        chunks.push(c.length);
        received.push(...c);
      },
    );
    const parsed = parseMmluCsvFiles(csvFiles);
    expect(received).toEqual(mergeIntoPool(many, parsed));
    expect(received).toEqual((session.get(SESSION_POOL) as StoredPool).items);
    expect(chunks[0]).toBe(ITEMS_PER_CHUNK);
    expect(chunks.reduce((a, b) => a + b)).toBe(many.length + parsed.length);

    const alone: MmluItem[] = [];
    await service.parseFiles(csvFiles.map(asInput), undefined, undefined, async (c) => void alone.push(...c));
    expect(alone).toEqual(parsed);
  });

  it('draws on the pool it stored under the same version, and reads the store again for another', async () => {
    const { session, opened, open } = memoryStore();
    const service = createItemsService(open);
    await service.parseFiles(
      csvFiles.map(asInput),
      { itemDbName: 'items', source, poolVersion: 7 },
      undefined,
      async () => {},
    );
    expect(opened).toEqual(['items']);
    const domains = [{ name: 'science', subjects: ['anatomy', 'college_physics'] }];
    const options = { domains, perDomain: 2, seed: 3 };
    const pool = (session.get(SESSION_POOL) as StoredPool).items;
    const drawn = await service.select('items', 7, { kind: 'draw', options });
    expect(drawn).toEqual({ manifest: drawSample(pool, options).manifest });
    expect(opened).toEqual(['items']);

    // The page stored a different pool itself (version 8): the worker reads it rather than drawing on the old one.
    session.set(SESSION_POOL, { items: many, source });
    const redrawn = await service.select('items', 8, { kind: 'draw', options });
    expect(opened).toEqual(['items', 'items']);
    expect(redrawn).toEqual({ error: 'domain "science" has 0 test items loaded; cannot draw 2 without replacement' });
    expect(await service.select('items', 7, { kind: 'draw', options })).toEqual(
      selectFromPool(many, { kind: 'draw', options }),
    );
  });
});

describe('selectFromPool', () => {
  const pool = Array.from({ length: 6 }, (_, r) => item(`high_school_physics/test/${r}`, `q${r}`));
  const domains = [{ name: 'physics', subjects: ['high_school_physics'] }];

  it('draws what drawSample draws, resolves a manifest whose items are all there, and names those that are not', () => {
    const { manifest } = drawSample(pool, { domains, perDomain: 3, seed: 1 });
    expect(selectFromPool(pool, { kind: 'draw', options: { domains, perDomain: 3, seed: 1 } })).toEqual({ manifest });
    expect(selectFromPool(pool, { kind: 'manifest', manifest })).toEqual({ manifest });
    const missing = manifest.items[0].id;
    const changed = { ...pool.find((i) => i.id === manifest.items[1].id)!, question: 'edited' };
    const other = mergeIntoPool(
      pool.filter((i) => i.id !== missing),
      [changed],
    );
    expect(selectFromPool(other, { kind: 'manifest', manifest })).toEqual({
      manifest,
      problem: `manifest items 1 missing (${missing}); 1 changed (${changed.id})`,
    });
  });

  it('says why a sample cannot be drawn instead of throwing', () => {
    expect(selectFromPool(pool, { kind: 'draw', options: { domains, perDomain: 7 } })).toEqual({
      error: 'domain "physics" has 6 test items loaded; cannot draw 7 without replacement',
    });
  });
});

describe('itemContentHash', () => {
  it('is the same for the same record asked twice and for an equal copy (the cache is per record)', () => {
    const a = item('a/test/1', 'q');
    const first = itemContentHash(a);
    expect(itemContentHash(a)).toBe(first);
    expect(itemContentHash({ ...a })).toBe(first);
    expect(itemContentHash({ ...a, question: 'q?' })).not.toBe(first);
  });
});
