/**
 * MMLU items from picked or dropped files, CSV or parquet by file name: what the items worker runs, so reading
 * and parsing the 171 CSVs of a whole `data/` folder (8 MB) never blocks the page. The page reads each file's
 * bytes (asynchronously) and transfers them: cloning File objects instead costs a long synchronous task.
 */
import { mergeIntoPool, selectFromPool, type PoolSelection, type SelectionOutcome } from '../core/mmlu';
import type { MmluItem } from '../core/types';
import type { ItemDb } from '../storage/db';
import { parseMmluParquet } from '../data/hf-parquet';
import { parseMmluCsvFiles } from '../data/mmlu-csv';

/** One picked file: its name (the folder path when a folder was picked) and its bytes. */
export interface MmluFileInput {
  name: string;
  bytes: ArrayBuffer;
}

/** Where the loaded items came from, for the page and for messages. */
export interface PoolSource {
  kind: 'files' | 'hf';
  /** e.g. `57 CSV files` or `cais/mmlu from Hugging Face (114 files, 114 from the stored copy)`. */
  description: string;
}

/** The item store's record of the loaded pool (session key `items.pool`). */
export const SESSION_POOL = 'items.pool';
export interface StoredPool {
  items: MmluItem[];
  source: PoolSource;
}

/** Where the items worker keeps the merged pool: the item store by name, and the pool's new description. */
export interface PoolTarget {
  itemDbName: string;
  source: PoolSource;
  /** The page's number for the pool this makes (see ItemsWorkerApi.select). */
  poolVersion: number;
}

/** The items worker's API (workers/items.worker.ts, made by createItemsService); both sides import it. */
export interface ItemsWorkerApi {
  /**
   * Every item of the files, CSVs in canonical order then parquet files in the given order, handed to `onItems`
   * in chunks of ITEMS_PER_CHUNK (each awaited, so they arrive in order). With a target, the stored pool is
   * merged with them (mergeIntoPool) and written to the item store, and `onItems` receives the merged pool
   * instead: the page never structured-clones 15,000 items into IndexedDB, nor sorts them, on its main thread.
   */
  parseFiles(
    files: readonly MmluFileInput[],
    target: PoolTarget | undefined,
    onFileRead: ((done: number) => void) | undefined,
    onItems: (chunk: MmluItem[]) => Promise<void>,
  ): Promise<void>;
  /**
   * Draws a sample from, or resolves a manifest against, the pool stored in the named item store (selectFromPool):
   * hashing the sample's items is tens of ms of work the page should not do. `poolVersion` is the page's number
   * for its current pool, which it changes whenever the pool changes: the worker keeps the pool it last stored
   * or read under that number, and reads the store again for any other.
   */
  select(itemDbName: string, poolVersion: number, selection: PoolSelection): Promise<SelectionOutcome>;
}

/**
 * Items per message back to the page: structured-cloning all 15,858 items of MMLU in one message costs the
 * page a task of well over 100 ms of CPU; 2,000 per message took 25-33 ms each; 1,000 keeps each well under.
 */
export const ITEMS_PER_CHUNK = 1000;

/** Merges `items` into the stored pool, stores the result with its new description, and returns the merged pool. */
export async function storeIntoPool(
  store: ItemDb,
  items: readonly MmluItem[],
  source: PoolSource,
): Promise<MmluItem[]> {
  const stored = await store.getSession<StoredPool>(SESSION_POOL);
  const merged = mergeIntoPool(stored?.items ?? [], items);
  await store.putSession(SESSION_POOL, { items: merged, source } satisfies StoredPool);
  return merged;
}

/**
 * The items worker's logic. It keeps the pool it last stored or read (by item store name), so redrawing the
 * sample on every settings change does not read 15,000 items back from IndexedDB each time.
 */
export function createItemsService(openStore: (name: string) => Promise<ItemDb>): ItemsWorkerApi {
  let kept: { dbName: string; version: number; items: readonly MmluItem[] } | undefined;
  const withStore = async <T>(name: string, use: (store: ItemDb) => Promise<T>): Promise<T> => {
    const store = await openStore(name);
    try {
      return await use(store);
    } finally {
      store.close();
    }
  };
  return {
    async parseFiles(files, target, onFileRead, onItems) {
      let items = await parseMmluFiles(files, onFileRead);
      if (target) {
        items = await withStore(target.itemDbName, (store) => storeIntoPool(store, items, target.source));
        kept = { dbName: target.itemDbName, version: target.poolVersion, items };
      }
      for (let i = 0; i < items.length; i += ITEMS_PER_CHUNK) await onItems(items.slice(i, i + ITEMS_PER_CHUNK));
    },
    async select(itemDbName, poolVersion, selection) {
      if (kept?.dbName !== itemDbName || kept.version !== poolVersion) {
        const stored = await withStore(itemDbName, (store) => store.getSession<StoredPool>(SESSION_POOL));
        kept = { dbName: itemDbName, version: poolVersion, items: stored?.items ?? [] };
      }
      return selectFromPool(kept.items, selection);
    },
  };
}

const isCsv = (name: string) => name.toLowerCase().endsWith('.csv');
const isParquet = (name: string) => name.toLowerCase().endsWith('.parquet');

export async function parseMmluFiles(
  files: readonly MmluFileInput[],
  onFileRead?: (done: number) => void,
): Promise<MmluItem[]> {
  let done = 0;
  const utf8 = new TextDecoder();
  const texts = [];
  for (const f of files.filter((f) => isCsv(f.name))) {
    texts.push({ name: f.name, text: utf8.decode(f.bytes) });
    onFileRead?.(++done);
  }
  const items = parseMmluCsvFiles(texts);
  for (const f of files.filter((f) => isParquet(f.name))) {
    items.push(...(await parseMmluParquet(f.bytes, { fileName: f.name })));
    onFileRead?.(++done);
  }
  return items;
}
