/**
 * MMLU items from picked or dropped files, CSV or parquet by file name: what the items worker runs, so reading
 * and parsing the 171 CSVs of a whole `data/` folder (8 MB) never blocks the page. The page reads each file's
 * bytes (asynchronously) and transfers them: cloning File objects instead costs a long synchronous task.
 */
import { mergeIntoPool } from '../core/mmlu';
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
}

/** The items worker's API (workers/items.worker.ts); both sides import it. */
export interface ItemsWorkerApi {
  /**
   * Every item of the files, CSVs in canonical order then parquet files in the given order, handed to `onItems`
   * in chunks of ITEMS_PER_CHUNK (each awaited, so they arrive in order). With a target, the
   * stored pool merged with them (mergeIntoPool) is written to the item store too, so the page never
   * structured-clones 15,000 items into IndexedDB on its main thread.
   */
  parseFiles(
    files: readonly MmluFileInput[],
    target: PoolTarget | undefined,
    onFileRead: ((done: number) => void) | undefined,
    onItems: (chunk: MmluItem[]) => Promise<void>,
  ): Promise<void>;
}

/**
 * Items per message back to the page: structured-cloning all 15,858 items of MMLU in one message costs the
 * page a task of some 50 ms; in chunks each message is a short task of its own.
 */
export const ITEMS_PER_CHUNK = 2000;

/** Merges `items` into the stored pool and stores the result with its new description. */
export async function storeIntoPool(store: ItemDb, items: readonly MmluItem[], source: PoolSource): Promise<void> {
  const stored = await store.getSession<StoredPool>(SESSION_POOL);
  await store.putSession(SESSION_POOL, { items: mergeIntoPool(stored?.items ?? [], items), source } satisfies StoredPool);
}

const isCsv = (name: string) => name.toLowerCase().endsWith('.csv');
const isParquet = (name: string) => name.toLowerCase().endsWith('.parquet');

export async function parseMmluFiles(files: readonly MmluFileInput[], onFileRead?: (done: number) => void): Promise<MmluItem[]> {
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
