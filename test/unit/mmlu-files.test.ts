import { readFileSync, readdirSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { itemContentHash, mergeIntoPool } from '../../src/core/mmlu';
import type { MmluItem } from '../../src/core/types';
import { SESSION_POOL, parseMmluFiles, storeIntoPool, type StoredPool } from '../../src/services/mmlu-files';
import { parseMmluCsvFiles } from '../../src/data/mmlu-csv';
import type { ItemDb } from '../../src/storage/db';

// What the items worker runs: picked files' bytes to items, and the merged pool it stores.
const fixtures = resolve(import.meta.dirname, '../fixtures/mmlu/data');
const csvFiles = readdirSync(fixtures, { recursive: true, encoding: 'utf8' })
  .filter((f) => f.endsWith('.csv'))
  .sort()
  .map((f) => ({ name: `data/${f}`, text: readFileSync(resolve(fixtures, f), 'utf8') }));
const asInput = (f: { name: string; text: string }) => ({ name: f.name, bytes: new TextEncoder().encode(f.text).buffer as ArrayBuffer });

const item = (id: string, question: string): MmluItem => {
  const [subject, split, row] = id.split('/');
  return { id, subject, split: split as MmluItem['split'], row: Number(row), question, choices: ['a', 'b', 'c', 'd'], answer: 1 };
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

describe('storeIntoPool', () => {
  it('merges into what is stored and writes the pool with its new description', async () => {
    const session = new Map<string, unknown>([[SESSION_POOL, { items: [item('a/test/1', 'q')], source: { kind: 'files', description: '1 CSV file' } }]]);
    const store = {
      getSession: async (key: string) => session.get(key),
      putSession: async (key: string, value: unknown) => void session.set(key, value),
    } as unknown as ItemDb;
    await storeIntoPool(store, [item('a/dev/0', 'd')], { kind: 'files', description: '1 CSV file + 1 CSV file' });
    const stored = session.get(SESSION_POOL) as StoredPool;
    expect(stored.items.map((i) => i.id)).toEqual(['a/dev/0', 'a/test/1']);
    expect(stored.source.description).toBe('1 CSV file + 1 CSV file');
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
