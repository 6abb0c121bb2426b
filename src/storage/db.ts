/**
 * The kit's IndexedDB: variants, runs and per-item results, so a closed tab, a crashed worker or a lost GPU
 * never loses a scored item. The only importer of idb. Results are keyed by (variantKey, promptKey, itemId),
 * so an item is stored once however often it is scored; each batch is one transaction, so a failed write
 * stores nothing of its batch and leaves every earlier result as it was.
 */
import { deleteDB, openDB, type DBSchema, type IDBPDatabase, type IDBPTransaction, type StoreNames } from 'idb';
import type { StorageErrorName } from '../core/errors';
import type { AdapterInfo, EngineKind, LetterVector, ResultsItem, ScoringMethod, VariantRecord } from '../core/types';

export const DB_NAME = 'calibration-kit';
/**
 * 2 added the `analyses` store (finished analyses, a cache); 3 added the `meta` store (the store revision and
 * the analysis index, see getRevision). Every record of an older version is kept as it is.
 */
export const DB_VERSION = 3;

export type RunStatus = 'running' | 'paused' | 'done' | 'error' | 'cancelled';

/**
 * How a stored item was scored: an engine's ScoringMethod, or `imported` for scores read from an outside file
 * (lm-evaluation-harness samples, a logits CSV) whose method the kit cannot know.
 */
export type StoredMethod = ScoringMethod | 'imported';

/** One run: a variant scoring a manifest's items under one prompt. */
export interface RunRecord {
  variantKey: string;
  promptKey: string;
  /** Hash of the item manifest the run scores. */
  manifestHash: string;
  status: RunStatus;
  /** Items in the manifest. */
  itemCount: number;
  simulated: boolean;
  engine: { kind: EngineKind; version?: string; method?: StoredMethod; params?: Record<string, unknown> };
  letterTokenIds?: LetterVector;
  adapter?: AdapterInfo;
  /** ISO 8601 times. */
  startedAt: string;
  updatedAt: string;
  finishedAt?: string;
  /** The error that stopped the run, by name (see describeError). */
  error?: { name: string; message: string };
}

/**
 * One scored item as stored: the results file's per-item record (so export is a copy, see resultsItemOf) plus
 * where it belongs and how it was scored.
 */
export interface StoredResult extends ResultsItem {
  variantKey: string;
  promptKey: string;
  method: StoredMethod;
  simulated: boolean;
  /** ISO 8601 time the item was stored. */
  scoredAt: string;
}

/**
 * A finished analysis, kept so that a revisit with nothing changed shows it at once. `key` is a content hash of
 * everything the analysis read (the analysed runs' items and names, the resolved settings, the analysis
 * version; see analysisCacheKey), so any change to them looks up another key: nothing is ever stale, only
 * unused, and the oldest unused ones are dropped (ANALYSIS_CACHE_SIZE are kept).
 */
export interface StoredAnalysis {
  key: string;
  /** ISO 8601 time it was stored. */
  storedAt: string;
  /** The view the analysis produced (an AnalysisView without its request id and run list), structured-cloned. */
  view: unknown;
}

/** Finished analyses kept in the `analyses` store. */
export const ANALYSIS_CACHE_SIZE = 8;

/**
 * One entry of the analysis index: at the index's revision, the analysis request `request` (a canonical string
 * of the selection and the resolved settings, made by the analysis service) is answered by the finished analysis
 * stored under `key`, shown with the run list `runs` (which depends only on what is stored, so it holds for the
 * whole revision). Lets a revisit with nothing changed skip reading the stored results.
 */
export interface AnalysisIndexEntry {
  request: string;
  key: string;
  /** The view's run list (RunSummary[] as the service made it); checked by the service before use. */
  runs: unknown;
}

/** The index entry of a request and its finished analysis, when both are stored for the current revision. */
export interface IndexedAnalysis {
  /** The current store revision; undefined when it cannot be read (then nothing may be recorded for it). */
  revision: number | undefined;
  hit?: { entry: AnalysisIndexEntry; analysis: StoredAnalysis };
}

/** A record of the `meta` store: the revision (`revision`) or the analysis index (`analysis-index`). */
interface MetaRecord {
  key: string;
  value: unknown;
}

const REVISION_KEY = 'revision';
const ANALYSIS_INDEX_KEY = 'analysis-index';

/** The stores whose records an analysis reads: every write to them bumps the revision in its own transaction. */
type DataStore = 'variants' | 'runs' | 'results';

/** A revision as stored: 0 when there is none yet (no write since version 3), undefined for a corrupt record. */
function revisionOf(record: MetaRecord | undefined): number | undefined {
  if (record === undefined) return 0;
  const value = record.value;
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0 ? value : undefined;
}

/** The analysis index as stored, or undefined when absent or not of the expected shape (a corrupt one is a miss). */
function analysisIndexOf(
  record: MetaRecord | undefined,
): { revision: number; entries: AnalysisIndexEntry[] } | undefined {
  const value = record?.value as { revision?: unknown; entries?: unknown } | undefined;
  if (!value || typeof value !== 'object' || typeof value.revision !== 'number' || !Array.isArray(value.entries))
    return undefined;
  const entries = (value.entries as unknown[]).filter(
    (e): e is AnalysisIndexEntry =>
      typeof e === 'object' &&
      e !== null &&
      typeof (e as AnalysisIndexEntry).request === 'string' &&
      typeof (e as AnalysisIndexEntry).key === 'string',
  );
  return { revision: value.revision, entries };
}

interface KitSchema extends DBSchema {
  variants: { key: string; value: VariantRecord };
  analyses: { key: string; value: StoredAnalysis; indexes: { byStoredAt: string } };
  meta: { key: string; value: MetaRecord };
  runs: { key: [string, string, string]; value: RunRecord; indexes: { byVariant: string } };
  results: { key: [string, string, string]; value: StoredResult; indexes: { byRun: [string, string] } };
}

/** A storage failure with a distinct name (see describeError in core/errors.ts for the action shown to a person). */
export class StorageError extends Error {
  override readonly name: StorageErrorName;
  constructor(name: StorageErrorName, message: string) {
    super(message);
    this.name = name;
  }
}

/** Maps a DOMException (or anything thrown by IndexedDB) to a named StorageError. */
export function storageErrorFrom(error: unknown, context: string, opening = false): StorageError {
  if (error instanceof StorageError) return error;
  const name = (error as { name?: string } | null)?.name ?? '';
  const message = (error as { message?: string } | null)?.message ?? String(error);
  if (name === 'QuotaExceededError' || /quota/i.test(message)) {
    return new StorageError('StorageQuotaError', `${context}: the browser's storage quota is exhausted (${message}).`);
  }
  if (opening || name === 'InvalidStateError' || name === 'SecurityError') {
    return new StorageError(
      'StorageUnavailableError',
      `${context}: IndexedDB is unavailable (${name || 'Error'}: ${message}).`,
    );
  }
  return new StorageError('StorageWriteError', `${context}: ${name || 'Error'}: ${message}`);
}

/** The per-item record of a results file for a stored result (drops only the storage fields). */
export function resultsItemOf(stored: StoredResult): ResultsItem {
  const { variantKey: _v, promptKey: _p, method: _m, simulated: _s, scoredAt: _t, ...item } = stored;
  return item;
}

export interface OpenKitDbOptions {
  name?: string;
  /** For tests of upgrades; the app always opens DB_VERSION. */
  version?: number;
}

/** Opens (creating or upgrading) the kit's database. Rejects with a named StorageError. */
export async function openKitDb(options: OpenKitDbOptions = {}): Promise<KitDb> {
  const name = options.name ?? DB_NAME;
  if (typeof indexedDB === 'undefined') {
    throw new StorageError('StorageUnavailableError', 'Opening the database: this browser has no IndexedDB.');
  }
  let kit: KitDb | undefined;
  let settled = false;
  return new Promise<KitDb>((resolve, reject) => {
    openDB<KitSchema>(name, options.version ?? DB_VERSION, {
      upgrade(db, oldVersion, newVersion) {
        if (oldVersion < 1) {
          db.createObjectStore('variants', { keyPath: 'key' });
          const runs = db.createObjectStore('runs', { keyPath: ['variantKey', 'promptKey', 'manifestHash'] });
          runs.createIndex('byVariant', 'variantKey');
          const results = db.createObjectStore('results', { keyPath: ['variantKey', 'promptKey', 'itemId'] });
          results.createIndex('byRun', ['variantKey', 'promptKey']);
        }
        if (oldVersion < 2 && (newVersion ?? DB_VERSION) >= 2) {
          // A new store only: the variants, runs and results of version 1 stay untouched.
          const analyses = db.createObjectStore('analyses', { keyPath: 'key' });
          analyses.createIndex('byStoredAt', 'storedAt');
        }
        if (oldVersion < 3 && (newVersion ?? DB_VERSION) >= 3) {
          // A new store only; no revision record means revision 0 (and no analysis index yet).
          db.createObjectStore('meta', { keyPath: 'key' });
        }
      },
      blocked() {
        if (settled) return;
        settled = true;
        reject(
          new StorageError(
            'StorageBlockedError',
            'Opening the database: another tab holds an older version of it open and does not let go.',
          ),
        );
      },
      // A newer version wants to upgrade (another tab): let go so it can, and refuse further use here.
      blocking() {
        kit?.close();
      },
      terminated() {
        kit?.markClosed();
      },
    }).then(
      (db) => {
        if (settled) {
          db.close();
          return;
        }
        settled = true;
        kit = new KitDb(db);
        resolve(kit);
      },
      (e) => {
        if (settled) return;
        settled = true;
        reject(storageErrorFrom(e, 'Opening the database', true));
      },
    );
  });
}

/** Deletes a whole database (tests, and a "forget everything" button). */
export async function deleteKitDb(name = DB_NAME): Promise<void> {
  await deleteDB(name);
}

/** A read-write transaction over some data stores and (from version 3) `meta`. */
type WriteTx = IDBPTransaction<KitSchema, (DataStore | 'meta')[], 'readwrite'>;

export class KitDb {
  private closed = false;
  /** False only for a database opened at an older version (upgrade tests): it has no revision to keep. */
  private readonly hasMeta: boolean;

  constructor(private readonly db: IDBPDatabase<KitSchema>) {
    this.hasMeta = db.objectStoreNames.contains('meta');
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** The database's name (a worker opens its own connection to the same database by it). */
  get name(): string {
    return this.db.name;
  }

  /** @internal Called when the browser closed the connection. */
  markClosed(): void {
    this.closed = true;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.db.close();
  }

  private checkOpen(context: string): void {
    if (this.closed) {
      throw new StorageError(
        'StorageBlockedError',
        `${context}: the database was closed for an upgrade in another tab; reload.`,
      );
    }
  }

  private async run<T>(context: string, work: () => Promise<T>): Promise<T> {
    this.checkOpen(context);
    try {
      return await work();
    } catch (e) {
      throw storageErrorFrom(e, context);
    }
  }

  /** A read-write transaction over `stores` and `meta` (where the database has it), for bumpRevision. */
  private writeTransaction(stores: DataStore[]): WriteTx {
    const scope: (DataStore | 'meta')[] = this.hasMeta ? [...stores, 'meta'] : stores;
    return this.db.transaction(scope as StoreNames<KitSchema>[], 'readwrite') as unknown as WriteTx;
  }

  /**
   * Bumps the store revision inside `tx` and drops the analysis index, as part of a write to variants, runs or
   * results: the write and the bump commit or abort together, in this tab or any other, so an unchanged revision
   * means unchanged variants, runs and results. The index is dropped with every bump, so no index entry outlives
   * the revision it was recorded at. A corrupt revision starts again at the current time in ms, above any count
   * of writes reached in practice, so no revision seen before it is seen again.
   */
  private bumpRevision(tx: WriteTx): Promise<void> {
    if (!this.hasMeta) return Promise.resolve();
    const meta = tx.objectStore('meta');
    const bump = async () => {
      const current = revisionOf(await meta.get(REVISION_KEY));
      const next = current === undefined ? Date.now() : current + 1;
      await Promise.all([meta.put({ key: REVISION_KEY, value: next }), meta.delete(ANALYSIS_INDEX_KEY)]);
    };
    const done = bump();
    done.catch(() => {});
    return done;
  }

  /**
   * One write in one transaction with its revision bump: `work`'s requests and the bump commit together, or
   * (on any failure) none of them.
   */
  private write<T>(context: string, stores: DataStore[], work: (tx: WriteTx) => Promise<T>): Promise<T> {
    return this.run(context, async () => {
      const tx = this.writeTransaction(stores);
      const done = tx.done;
      done.catch(() => {});
      try {
        const [result] = await Promise.all([work(tx), this.bumpRevision(tx), done]);
        return result;
      } catch (e) {
        try {
          tx.abort();
        } catch {
          // already finished or aborted
        }
        throw tx.error ?? e;
      }
    });
  }

  // Store revision and analysis index -----------------------------------------------------------------

  /**
   * The store revision: a counter bumped in the same transaction as every write to variants, runs or results
   * (0 before the first such write since version 3). Undefined when the database has no revision (an older
   * version) or its record is corrupt.
   */
  async getRevision(): Promise<number | undefined> {
    if (!this.hasMeta) return undefined;
    return this.run('Reading the store revision', async () => revisionOf(await this.db.get('meta', REVISION_KEY)));
  }

  /**
   * The current revision and, when the analysis index of that revision names a finished analysis for `request`
   * that is still stored, the entry and the analysis: read in one transaction, so they belong together.
   */
  async findIndexedAnalysis(request: string): Promise<IndexedAnalysis> {
    if (!this.hasMeta) return { revision: undefined };
    return this.run('Reading the analysis index', async () => {
      const tx = this.db.transaction(['meta', 'analyses'], 'readonly');
      const meta = tx.objectStore('meta');
      const [revisionRecord, indexRecord] = await Promise.all([meta.get(REVISION_KEY), meta.get(ANALYSIS_INDEX_KEY)]);
      const revision = revisionOf(revisionRecord);
      const index = analysisIndexOf(indexRecord);
      const entry =
        revision !== undefined && index?.revision === revision
          ? index.entries.find((e) => e.request === request)
          : undefined;
      const analysis = entry ? await tx.objectStore('analyses').get(entry.key) : undefined;
      await tx.done;
      return entry && analysis ? { revision, hit: { entry, analysis } } : { revision };
    });
  }

  /**
   * Records `entry` in the analysis index of `revision`, only if that is still the current revision (checked in
   * this transaction): an entry made from reads that a later write changed is never kept. The index holds one
   * revision's entries, at most ANALYSIS_CACHE_SIZE (the oldest dropped). Returns whether it was recorded.
   */
  async putIndexedAnalysis(revision: number, entry: AnalysisIndexEntry): Promise<boolean> {
    if (!this.hasMeta) return false;
    return this.run('Storing the analysis index', async () => {
      const tx = this.db.transaction('meta', 'readwrite');
      const [revisionRecord, indexRecord] = await Promise.all([
        tx.store.get(REVISION_KEY),
        tx.store.get(ANALYSIS_INDEX_KEY),
      ]);
      if (revisionOf(revisionRecord) !== revision) {
        await tx.done;
        return false;
      }
      const index = analysisIndexOf(indexRecord);
      const kept = index?.revision === revision ? index.entries.filter((e) => e.request !== entry.request) : [];
      const entries = [...kept, entry].slice(-ANALYSIS_CACHE_SIZE);
      await tx.store.put({ key: ANALYSIS_INDEX_KEY, value: { revision, entries } });
      await tx.done;
      return true;
    });
  }

  // Finished analyses (a cache) --------------------------------------------------------------------------

  /** The finished analysis stored under `key`, if any. */
  async getAnalysis(key: string): Promise<StoredAnalysis | undefined> {
    return this.run('Reading a stored analysis', async () => this.db.get('analyses', key));
  }

  /** Stores a finished analysis and drops the oldest beyond ANALYSIS_CACHE_SIZE, in one transaction. */
  async putAnalysis(entry: StoredAnalysis): Promise<void> {
    return this.run('Storing the analysis', async () => {
      const tx = this.db.transaction('analyses', 'readwrite');
      await tx.store.put(entry);
      const keys = await tx.store.index('byStoredAt').getAllKeys();
      for (const old of keys.slice(0, Math.max(0, keys.length - ANALYSIS_CACHE_SIZE))) await tx.store.delete(old);
      await tx.done;
    });
  }

  /** Number of stored analyses (for tests and the storage panel). */
  async countAnalyses(): Promise<number> {
    return this.run('Counting stored analyses', async () => this.db.count('analyses'));
  }

  // Variants -------------------------------------------------------------------------------------------

  putVariant(variant: VariantRecord): Promise<void> {
    return this.write(`Saving variant ${variant.key}`, ['variants'], async (tx) => {
      await tx.objectStore('variants').put(variant);
    });
  }

  getVariant(key: string): Promise<VariantRecord | undefined> {
    return this.run(`Reading variant ${key}`, () => this.db.get('variants', key));
  }

  listVariants(): Promise<VariantRecord[]> {
    return this.run('Reading variants', () => this.db.getAll('variants'));
  }

  /** Deletes the variant record; its runs and results stay until deleteResults. */
  deleteVariant(key: string): Promise<void> {
    return this.write(`Deleting variant ${key}`, ['variants'], (tx) => tx.objectStore('variants').delete(key));
  }

  // Runs -----------------------------------------------------------------------------------------------

  putRun(run: RunRecord): Promise<void> {
    return this.write(`Saving run ${run.variantKey}`, ['runs'], async (tx) => {
      await tx.objectStore('runs').put(run);
    });
  }

  getRun(variantKey: string, promptKey: string, manifestHash: string): Promise<RunRecord | undefined> {
    return this.run(`Reading run ${variantKey}`, () => this.db.get('runs', [variantKey, promptKey, manifestHash]));
  }

  listRuns(variantKey?: string): Promise<RunRecord[]> {
    return this.run('Reading runs', () =>
      variantKey === undefined ? this.db.getAll('runs') : this.db.getAllFromIndex('runs', 'byVariant', variantKey),
    );
  }

  // Results --------------------------------------------------------------------------------------------

  /**
   * Stores a batch of results in one transaction: all of them, or (on any failure, e.g. quota) none of them.
   * Putting an item again replaces it; nothing is ever stored twice.
   */
  async putResults(results: readonly StoredResult[]): Promise<void> {
    if (results.length === 0) return;
    const context = `Saving ${results.length} result${results.length === 1 ? '' : 's'}`;
    this.checkOpen(context);
    const tx = this.writeTransaction(['results']);
    const done = tx.done;
    done.catch(() => {});
    const requests: Promise<unknown>[] = [this.bumpRevision(tx)];
    try {
      const store = tx.objectStore('results');
      for (const r of results) {
        const request = store.put(r);
        request.catch(() => {});
        requests.push(request);
      }
      await Promise.all([...requests, done]);
    } catch (e) {
      try {
        tx.abort();
      } catch {
        // already finished or aborted
      }
      throw storageErrorFrom(tx.error ?? e, context);
    }
  }

  /** Every stored result of (variant, prompt), in item-id order. */
  getResults(variantKey: string, promptKey: string): Promise<StoredResult[]> {
    return this.run(`Reading results of ${variantKey}`, () =>
      this.db.getAllFromIndex('results', 'byRun', [variantKey, promptKey]),
    );
  }

  /** Item ids already scored for (variant, prompt): the keys only, no values read. */
  scoredItemIds(variantKey: string, promptKey: string): Promise<Set<string>> {
    return this.run(`Reading results of ${variantKey}`, async () => {
      const keys = await this.db.getAllKeysFromIndex('results', 'byRun', [variantKey, promptKey]);
      return new Set(keys.map((k) => k[2]));
    });
  }

  countResults(variantKey: string, promptKey: string): Promise<number> {
    return this.run(`Counting results of ${variantKey}`, () =>
      this.db.countFromIndex('results', 'byRun', [variantKey, promptKey]),
    );
  }

  deleteResults(variantKey: string, promptKey: string): Promise<void> {
    return this.write(`Deleting results of ${variantKey}`, ['results'], async (tx) => {
      let cursor = await tx.objectStore('results').index('byRun').openCursor([variantKey, promptKey]);
      while (cursor) {
        await cursor.delete();
        cursor = await cursor.continue();
      }
    });
  }

  /**
   * Deletes one stored run of (variant, prompt): its run records and every stored result, in one transaction.
   * The variant record stays. Returns how many results were deleted.
   */
  deleteRunGroup(variantKey: string, promptKey: string): Promise<number> {
    return this.write(`Deleting the run of ${variantKey}`, ['runs', 'results'], async (tx) => {
      const runs = await tx.objectStore('runs').index('byVariant').getAllKeys(variantKey);
      const deleted = await this.deleteResultsIn(tx.objectStore('results'), variantKey, promptKey);
      await Promise.all(runs.filter((key) => key[1] === promptKey).map((key) => tx.objectStore('runs').delete(key)));
      return deleted;
    });
  }

  /**
   * Deletes a variant with everything stored for it: the variant record, its runs and their results, in one
   * transaction, so no result outlives its variant. Returns how many results were deleted.
   */
  deleteVariantAndResults(variantKey: string): Promise<number> {
    return this.write(`Deleting variant ${variantKey}`, ['variants', 'runs', 'results'], async (tx) => {
      const runs = tx.objectStore('runs');
      const runKeys = await runs.index('byVariant').getAllKeys(variantKey);
      const results = tx.objectStore('results');
      const resultKeys = await results.getAllKeys(IDBKeyRange.bound([variantKey], [variantKey, []]));
      await Promise.all([
        ...resultKeys.map((k) => results.delete(k)),
        ...runKeys.map((k) => runs.delete(k)),
        tx.objectStore('variants').delete(variantKey),
      ]);
      return resultKeys.length;
    });
  }

  /** How many results are stored for a variant (under every prompt). */
  countVariantResults(variantKey: string): Promise<number> {
    return this.run(`Counting results of ${variantKey}`, () =>
      this.db.count('results', IDBKeyRange.bound([variantKey], [variantKey, []])),
    );
  }

  private async deleteResultsIn(
    store: {
      getAllKeys(query: IDBKeyRange): Promise<[string, string, string][]>;
      delete(key: [string, string, string]): Promise<void>;
    },
    variantKey: string,
    promptKey: string,
  ): Promise<number> {
    const keys = await store.getAllKeys(IDBKeyRange.bound([variantKey, promptKey], [variantKey, promptKey, []]));
    await Promise.all(keys.map((key) => store.delete(key)));
    return keys.length;
  }

  // Import ---------------------------------------------------------------------------------------------

  /**
   * Stores imported records in one transaction over variants, runs and results: all of them, or (on any
   * failure, or when `check` throws) none of them. Variants and runs already stored are kept as they are;
   * for a result already stored, `check(stored, incoming)` decides: return to keep the stored one (an
   * identical re-import), throw to refuse the whole import (the error is rethrown unchanged).
   */
  async importRecords(
    records: { variants: readonly VariantRecord[]; runs: readonly RunRecord[]; results: readonly StoredResult[] },
    check: (stored: StoredResult, incoming: StoredResult) => void,
    sameItem?: (stored: StoredResult, incoming: StoredResult) => void,
  ): Promise<{ variantsAdded: number; runsAdded: number; resultsAdded: number; resultsKept: number }> {
    const context = 'Importing results';
    this.checkOpen(context);
    const tx = this.writeTransaction(['variants', 'runs', 'results']);
    const done = tx.done;
    done.catch(() => {});
    const counts = { variantsAdded: 0, runsAdded: 0, resultsAdded: 0, resultsKept: 0 };
    let refusal: unknown;
    try {
      const variants = tx.objectStore('variants');
      const runs = tx.objectStore('runs');
      const results = tx.objectStore('results');
      const [storedVariants, storedRuns, storedResults] = await Promise.all([
        Promise.all(records.variants.map((v) => variants.getKey(v.key))),
        Promise.all(records.runs.map((r) => runs.getKey([r.variantKey, r.promptKey, r.manifestHash]))),
        Promise.all(records.results.map((r) => results.get([r.variantKey, r.promptKey, r.itemId]))),
      ]);
      if (sameItem) {
        // Results of other runs with the same item id (read in this transaction, so the check and the write
        // see the same store): `sameItem` may refuse the import, e.g. for a different gold answer.
        const incomingIds = new Set(records.results.map((r) => r.itemId));
        const ownKeys = new Set(records.results.map((r) => JSON.stringify([r.variantKey, r.promptKey])));
        const keys = (await results.getAllKeys()).filter(
          (k) => incomingIds.has(k[2]) && !ownKeys.has(JSON.stringify([k[0], k[1]])),
        );
        const others = await Promise.all(keys.map((k) => results.get(k)));
        const byItem = new Map<string, StoredResult>();
        for (const o of others) if (o && !byItem.has(o.itemId)) byItem.set(o.itemId, o);
        for (const r of records.results) {
          const stored = byItem.get(r.itemId);
          if (!stored) continue;
          try {
            sameItem(stored, r);
          } catch (e) {
            refusal = e;
            throw e;
          }
        }
      }
      const writes: Promise<unknown>[] = [];
      // Every request is observed at once: an abort rejects them all, and none may go unhandled.
      const write = (request: Promise<unknown>) => {
        request.catch(() => {});
        writes.push(request);
      };
      records.variants.forEach((v, i) => {
        if (storedVariants[i] !== undefined) return;
        counts.variantsAdded++;
        write(variants.put(v));
      });
      records.runs.forEach((r, i) => {
        if (storedRuns[i] !== undefined) return;
        counts.runsAdded++;
        write(runs.put(r));
      });
      records.results.forEach((r, i) => {
        const stored = storedResults[i];
        if (stored !== undefined) {
          try {
            check(stored, r);
          } catch (e) {
            refusal = e;
            throw e;
          }
          counts.resultsKept++;
          return;
        }
        counts.resultsAdded++;
        write(results.put(r));
      });
      // Only an import that stores something changes what an analysis reads.
      if (writes.length > 0) write(this.bumpRevision(tx));
      await Promise.all([...writes, done]);
      return counts;
    } catch (e) {
      try {
        tx.abort();
      } catch {
        // already finished or aborted
      }
      if (refusal !== undefined) throw refusal;
      throw storageErrorFrom(tx.error ?? e, context);
    }
  }
}

// ---------------------------------------------------------------------------------------------------
// Persistent storage: without it the browser may evict the database (and web-llm's model cache) under
// storage pressure.
// ---------------------------------------------------------------------------------------------------

export type PersistenceState = 'persisted' | 'not-persisted' | 'unsupported';

/** Asks the browser to keep this site's data; resolves to what the browser granted. */
export async function requestPersistentStorage(
  storage: StorageManager | undefined = globalThis.navigator?.storage,
): Promise<PersistenceState> {
  if (!storage || typeof storage.persist !== 'function') return 'unsupported';
  if (typeof storage.persisted === 'function' && (await storage.persisted())) return 'persisted';
  return (await storage.persist()) ? 'persisted' : 'not-persisted';
}

/** Bytes used and available to this site, when the browser says. */
export async function estimateStorage(
  storage: StorageManager | undefined = globalThis.navigator?.storage,
): Promise<{ usage: number; quota: number } | undefined> {
  if (!storage || typeof storage.estimate !== 'function') return undefined;
  const { usage, quota } = await storage.estimate();
  return usage === undefined || quota === undefined ? undefined : { usage, quota };
}

// ---------------------------------------------------------------------------------------------------
// The item store: a second, disposable database for what the app loads rather than measures. Downloaded
// MMLU parquet files (so a second visit does not download again) and the session's choices (the loaded
// items, the manifest, the queue), so a reload finds the run it interrupted. Kept apart from the results
// database so clearing it never touches a scored item, and so its schema can change without an upgrade
// of the results.
// ---------------------------------------------------------------------------------------------------

export const ITEM_DB_NAME = 'calibration-kit-items';
export const ITEM_DB_VERSION = 1;

/** A file downloaded whole, by URL. */
export interface StoredDownload {
  url: string;
  bytes: ArrayBuffer;
  /** ISO 8601 time it was stored. */
  storedAt: string;
}

interface ItemSchema extends DBSchema {
  downloads: { key: string; value: StoredDownload };
  /** Small named values of the session (and the loaded item pool), structured-cloned as they are. */
  session: { key: string; value: { key: string; value: unknown } };
}

/** Opens the item store. Rejects with a named StorageError. */
export async function openItemDb(name = ITEM_DB_NAME): Promise<ItemDb> {
  if (typeof indexedDB === 'undefined') {
    throw new StorageError('StorageUnavailableError', 'Opening the item store: this browser has no IndexedDB.');
  }
  try {
    const db = await openDB<ItemSchema>(name, ITEM_DB_VERSION, {
      upgrade(db) {
        db.createObjectStore('downloads', { keyPath: 'url' });
        db.createObjectStore('session', { keyPath: 'key' });
      },
      blocking() {
        db.close();
      },
    });
    return new ItemDb(db);
  } catch (e) {
    throw storageErrorFrom(e, 'Opening the item store', true);
  }
}

export class ItemDb {
  constructor(private readonly db: IDBPDatabase<ItemSchema>) {}

  /** The database name (a worker opens the same store by it). */
  get name(): string {
    return this.db.name;
  }

  private async run<T>(context: string, work: () => Promise<T>): Promise<T> {
    try {
      return await work();
    } catch (e) {
      throw storageErrorFrom(e, context);
    }
  }

  getDownload(url: string): Promise<StoredDownload | undefined> {
    return this.run(`Reading the stored copy of ${url}`, () => this.db.get('downloads', url));
  }

  putDownload(url: string, bytes: ArrayBuffer, now = new Date()): Promise<void> {
    return this.run(`Storing ${url}`, async () => {
      await this.db.put('downloads', { url, bytes, storedAt: now.toISOString() });
    });
  }

  /** URLs and sizes of the stored downloads (without reading their bytes into a list first). */
  listDownloads(): Promise<{ url: string; bytes: number }[]> {
    return this.run('Reading stored downloads', async () => {
      const out: { url: string; bytes: number }[] = [];
      let cursor = await this.db.transaction('downloads').store.openCursor();
      while (cursor) {
        out.push({ url: cursor.value.url, bytes: cursor.value.bytes.byteLength });
        cursor = await cursor.continue();
      }
      return out;
    });
  }

  clearDownloads(): Promise<void> {
    return this.run('Deleting stored downloads', () => this.db.clear('downloads'));
  }

  getSession<T>(key: string): Promise<T | undefined> {
    return this.run(`Reading ${key}`, async () => (await this.db.get('session', key))?.value as T | undefined);
  }

  putSession(key: string, value: unknown): Promise<void> {
    return this.run(`Saving ${key}`, async () => {
      await this.db.put('session', { key, value });
    });
  }

  deleteSession(key: string): Promise<void> {
    return this.run(`Deleting ${key}`, () => this.db.delete('session', key));
  }

  close(): void {
    this.db.close();
  }
}
