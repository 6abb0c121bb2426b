/**
 * The items a run scores: MMLU loaded from dropped files or Hugging Face (downloads kept in the item store,
 * so a second visit does not download again), the seeded sample drawn from it or an imported manifest,
 * counts per domain and subject, and browsing. The loaded items and the manifest are kept in the item store
 * so a reload finds them again.
 */
import { proxy, transfer, wrap } from 'comlink';
import {
  DEFAULT_PER_DOMAIN,
  DEFAULT_PRESET,
  DEFAULT_SEED,
  DOMAIN_PRESETS,
  mergeIntoPool,
  presetDomains,
  selectFromPool,
  type PoolSelection,
  type SampledItem,
  type SelectionOutcome,
} from '../core/mmlu';
import { parseItemManifest, serializeItemManifest } from '../core/manifest-file';
import { fewshotItems, fewshotPool, renderPrompt } from '../core/prompts';
import type { ItemManifest, MmluItem, PromptSpec } from '../core/types';
import type { HfLoadProgress } from '../data/hf-parquet';
import {
  SESSION_POOL,
  type ItemsWorkerApi,
  type MmluFileInput,
  type PoolSource,
  type StoredPool,
} from '../services/mmlu-files';

export type { PoolSource } from '../services/mmlu-files';
import type { ItemDb } from '../storage/db';

export interface LoadActivity {
  label: string;
  filesDone: number;
  files: number;
  /** Bytes of the current download. */
  loaded?: number;
  total?: number;
}

/** Sample settings a person chooses. */
export interface SampleSettings {
  preset: string;
  /** Names of the preset's domains to sample (all by default). */
  domains: string[];
  perDomain: number;
  seed: number;
}

const SESSION_SETTINGS = 'items.settings';
const SESSION_MANIFEST = 'items.manifest';

/** A file the person picked or dropped (a File, or any Blob with a name). */
export interface PickedFile extends Blob {
  name: string;
  /** Folder path when a whole folder was picked (`data/test/anatomy_test.csv`). */
  webkitRelativePath?: string;
}

/**
 * The items worker as the page uses it: parse picked files (storing the merged pool when given a target) and
 * draw or resolve on the stored pool. By default one worker for the page's life (workers/items.worker.ts).
 */
export type ItemsBackend = ItemsWorkerApi;

/** Lets the page paint and handle input before the next piece of work. */
const nextTask = () => new Promise<void>((resolve) => setTimeout(resolve, 0));

function itemsWorker(): ItemsBackend {
  let api: ReturnType<typeof wrap<ItemsWorkerApi>> | undefined;
  const remote = () =>
    (api ??= wrap<ItemsWorkerApi>(
      new Worker(new URL('../../workers/items.worker.ts', import.meta.url), { type: 'module', name: 'items' }),
    ));
  return {
    parseFiles: (files, target, onFileRead, onItems) =>
      remote().parseFiles(
        transfer(
          files,
          files.map((f) => f.bytes),
        ),
        target,
        onFileRead && proxy(onFileRead),
        proxy(onItems),
      ),
    select: (itemDbName, poolVersion, selection) => remote().select(itemDbName, poolVersion, selection),
  };
}

function defaultSettings(): SampleSettings {
  return {
    preset: DEFAULT_PRESET,
    domains: presetDomains(DEFAULT_PRESET).map((d) => d.name),
    perDomain: DEFAULT_PER_DOMAIN,
    seed: DEFAULT_SEED,
  };
}

export class ItemsState {
  /** Every loaded item (all splits), canonical order. Large: never proxied. */
  pool = $state.raw<MmluItem[]>([]);
  poolSource = $state.raw<PoolSource | undefined>(undefined);
  activity = $state.raw<LoadActivity | undefined>(undefined);
  /** The last loading or sampling problem, a sentence naming the file or the domain. */
  error = $state<string | undefined>(undefined);
  settings = $state<SampleSettings>(defaultSettings());
  manifest = $state.raw<ItemManifest | undefined>(undefined);
  /** How the manifest came about: drawn here, or imported from a file (its name). */
  manifestOrigin = $state.raw<{ kind: 'drawn' } | { kind: 'imported'; fileName: string } | undefined>(undefined);
  /** The manifest's items, resolved against the pool (empty until every item is found unchanged). */
  sampled = $state.raw<SampledItem[]>([]);
  /** Why the manifest's items are not all available (missing or changed ids). */
  manifestProblem = $state<string | undefined>(undefined);

  /** Changes with every change of the pool; the items worker keeps the pool it read under this number. */
  private poolVersion = 0;
  /** Counts draws and resolutions, so only the latest one's outcome is taken. */
  private selecting = 0;
  /** The pool's items by id, for mapping the worker's manifests back to them (rebuilt when the pool changes). */
  private byId: { pool: readonly MmluItem[]; items: Map<string, MmluItem> } | undefined;

  constructor(
    private readonly store: () => ItemDb | undefined,
    private readonly backend: ItemsBackend = itemsWorker(),
  ) {}

  /** Test items loaded per domain of the chosen preset: what the sample can draw from. */
  get poolCounts(): { domain: string; available: number }[] {
    const domains = presetDomains(this.settings.preset);
    const bySubject = new Map<string, number>();
    for (const item of this.pool)
      if (item.split === 'test') bySubject.set(item.subject, (bySubject.get(item.subject) ?? 0) + 1);
    return domains.map((d) => ({
      domain: d.name,
      available: d.subjects.reduce((n, s) => n + (bySubject.get(s) ?? 0), 0),
    }));
  }

  /** Items of the sample per domain and, within it, per subject. */
  get sampleCounts(): { domain: string; count: number; subjects: { subject: string; count: number }[] }[] {
    const out = new Map<string, Map<string, number>>();
    for (const { domain, item } of this.sampled) {
      let subjects = out.get(domain);
      if (!subjects) out.set(domain, (subjects = new Map()));
      subjects.set(item.subject, (subjects.get(item.subject) ?? 0) + 1);
    }
    return [...out].map(([domain, subjects]) => ({
      domain,
      count: [...subjects.values()].reduce((a, b) => a + b, 0),
      subjects: [...subjects].map(([subject, count]) => ({ subject, count })),
    }));
  }

  get ready(): boolean {
    return this.manifest !== undefined && this.sampled.length === this.manifest.items.length && this.sampled.length > 0;
  }

  /** Restores the loaded items, settings and manifest of the last visit. */
  async restore(): Promise<void> {
    const store = this.store();
    if (!store) return;
    const [pool, settings, manifest] = await Promise.all([
      store.getSession<StoredPool>(SESSION_POOL),
      store.getSession<SampleSettings>(SESSION_SETTINGS),
      store.getSession<{ manifest: ItemManifest; origin: ItemsState['manifestOrigin'] }>(SESSION_MANIFEST),
    ]);
    if (settings && Object.hasOwn(DOMAIN_PRESETS, settings.preset)) this.settings = settings;
    if (pool) {
      this.poolVersion++;
      this.pool = pool.items;
      this.poolSource = pool.source;
    }
    if (manifest) await this.useManifest(manifest.manifest, manifest.origin);
  }

  /** Reads dropped or picked MMLU files (CSV or parquet, whole folders too) and adds their items. */
  async loadFiles(files: readonly PickedFile[]): Promise<void> {
    this.error = undefined;
    const csv = files.filter((f) => f.name.toLowerCase().endsWith('.csv'));
    const parquet = files.filter((f) => f.name.toLowerCase().endsWith('.parquet'));
    if (csv.length + parquet.length === 0) {
      this.error = 'None of the chosen files is an MMLU CSV (<subject>_<split>.csv) or parquet file.';
      return;
    }
    const total = csv.length + parquet.length;
    this.activity = { label: 'Reading files', filesDone: 0, files: total };
    try {
      // One file at a time: each read comes back in a short task of its own, where reading all at once resolves
      // them together in one long one.
      const read: MmluFileInput[] = [];
      for (const f of [...csv, ...parquet])
        read.push({ name: f.webkitRelativePath || f.name, bytes: await f.arrayBuffer() });
      const kinds = [
        csv.length ? `${csv.length} CSV file${csv.length === 1 ? '' : 's'}` : '',
        parquet.length ? `${parquet.length} parquet file${parquet.length === 1 ? '' : 's'}` : '',
      ]
        .filter(Boolean)
        .join(' and ');
      const source = this.sourceAfter({ kind: 'files', description: kinds });
      const store = this.store();
      // With an item store the worker merges the items into the stored pool, stores it and hands back the merged
      // pool; without one it hands back the parsed items and this page merges them.
      const received: MmluItem[] = [];
      const poolVersion = ++this.poolVersion;
      await this.backend.parseFiles(
        read,
        store ? { itemDbName: store.name, source, poolVersion } : undefined,
        (done) => {
          this.activity = { label: 'Reading files', filesDone: done, files: total };
        },
        async (chunk) => void received.push(...chunk),
      );
      await this.addToPool(received, source, { merged: store !== undefined, poolVersion });
    } catch (e) {
      this.error = (e as Error).message;
    } finally {
      this.activity = undefined;
    }
  }

  /**
   * Downloads `cais/mmlu` from Hugging Face: the test split of every subject of the preset and the dev split
   * (the few-shot examples). Each file is stored whole in the item store, so a second visit reads it from
   * there instead of downloading again.
   */
  async loadFromHuggingFace(fetchImpl: typeof fetch = globalThis.fetch.bind(globalThis)): Promise<void> {
    const store = this.store();
    this.error = undefined;
    const subjects = [...new Set(presetDomains(this.settings.preset).flatMap((d) => d.subjects))].sort();
    let fromStore = 0;
    const cachingFetch = async (url: string, init?: { signal?: AbortSignal }): Promise<Response> => {
      const stored = await store?.getDownload(url).catch(() => undefined);
      if (stored) {
        fromStore++;
        return new Response(stored.bytes, { headers: { 'content-length': String(stored.bytes.byteLength) } });
      }
      const response = await fetchImpl(url, init);
      if (!response.ok || !response.body || !store) return response;
      const [forReader, forStore] = response.body.tee();
      void new Response(forStore)
        .arrayBuffer()
        .then((bytes) => store.putDownload(url, bytes))
        .catch(() => {});
      return new Response(forReader, {
        status: response.status,
        statusText: response.statusText,
        headers: response.headers,
      });
    };
    this.activity = { label: 'Downloading cais/mmlu from Hugging Face', filesDone: 0, files: subjects.length * 2 };
    try {
      const { loadMmluFromHf } = await import('../data/hf-parquet');
      const items = await loadMmluFromHf(subjects, ['test', 'dev'], {
        fetch: cachingFetch,
        onProgress: (p: HfLoadProgress) => {
          this.activity = {
            label: 'Downloading cais/mmlu from Hugging Face',
            filesDone: p.filesDone,
            files: p.files,
            loaded: p.loaded,
            total: p.total,
          };
        },
      });
      await this.addToPool(
        items,
        this.sourceAfter({
          kind: 'hf',
          description: `cais/mmlu from Hugging Face (${subjects.length * 2} files, ${fromStore} read from this browser's stored copy)`,
        }),
      );
    } catch (e) {
      this.error = (e as Error).message;
    } finally {
      this.activity = undefined;
    }
  }

  /** The pool's description once `added` joins it: files picked in several goes (data/test, then data/dev) add up. */
  private sourceAfter(added: PoolSource): PoolSource {
    const earlier =
      this.poolSource?.kind === 'files' && added.kind === 'files' ? `${this.poolSource.description} + ` : '';
    return { kind: added.kind, description: earlier + added.description };
  }

  /**
   * Takes the new pool: `items` merged into it here and stored, or (`merged`) the pool the items worker already
   * merged and stored. Then redraws the sample, or re-resolves an imported manifest, on it.
   */
  private async addToPool(
    items: MmluItem[],
    source: PoolSource,
    { merged = false, poolVersion = 0 } = {},
  ): Promise<void> {
    const pool = merged ? items : mergeIntoPool(this.pool, items);
    this.poolVersion = merged ? poolVersion : this.poolVersion + 1;
    this.pool = pool;
    this.poolSource = source;
    if (!merged)
      await this.store()
        ?.putSession(SESSION_POOL, { items: pool, source } satisfies StoredPool)
        .catch(() => {});
    // The page shows the loaded pool before the sample is drawn, in a task of its own.
    await nextTask();
    if (this.manifestOrigin?.kind === 'imported' && this.manifest)
      await this.useManifest(this.manifest, this.manifestOrigin);
    else await this.draw();
  }

  /** Forgets the loaded items and the sample. */
  async clearPool(): Promise<void> {
    this.pool = [];
    this.poolSource = undefined;
    this.manifest = undefined;
    this.manifestOrigin = undefined;
    this.sampled = [];
    this.manifestProblem = undefined;
    this.selecting++;
    this.poolVersion++;
    await this.store()
      ?.deleteSession(SESSION_POOL)
      .catch(() => {});
    await this.store()
      ?.deleteSession(SESSION_MANIFEST)
      .catch(() => {});
  }

  setPreset(preset: string): void {
    this.settings = { ...this.settings, preset, domains: presetDomains(preset).map((d) => d.name) };
    void this.draw();
  }

  toggleDomain(name: string, on: boolean): void {
    const order = presetDomains(this.settings.preset).map((d) => d.name);
    const chosen = new Set(this.settings.domains);
    if (on) chosen.add(name);
    else chosen.delete(name);
    this.settings = { ...this.settings, domains: order.filter((d) => chosen.has(d)) };
    void this.draw();
  }

  setPerDomain(n: number): void {
    this.settings = { ...this.settings, perDomain: n };
    void this.draw();
  }

  setSeed(seed: number): void {
    this.settings = { ...this.settings, seed };
    void this.draw();
  }

  /**
   * Draws the sample with the current settings (the study's algorithm in core/mmlu.ts), in the items worker.
   * With every domain of the preset chosen the manifest names the preset; with a subset it records the domains
   * as `custom`. Settings changed again before the draw finishes make its outcome be dropped.
   */
  async draw(): Promise<void> {
    void this.store()
      ?.putSession(SESSION_SETTINGS, $state.snapshot(this.settings))
      .catch(() => {});
    if (this.pool.length === 0) return;
    const { preset, domains, perDomain, seed } = this.settings;
    const all = presetDomains(preset);
    if (domains.length === 0) {
      this.selecting++;
      return this.noSample('The sample cannot be drawn: choose at least one domain.');
    }
    const subset = domains.length === all.length ? undefined : all.filter((d) => domains.includes(d.name));
    const outcome = await this.select({
      kind: 'draw',
      options: { preset, domains: subset, perDomain, seed, split: 'test' },
    });
    if (!outcome) return;
    if ('error' in outcome) return this.noSample(`The sample cannot be drawn: ${outcome.error}.`);
    this.error = undefined;
    this.setManifest(outcome.manifest, { kind: 'drawn' }, this.sampledOf(outcome.manifest));
  }

  private noSample(error: string): void {
    this.error = error;
    this.manifest = undefined;
    this.sampled = [];
  }

  /**
   * The outcome of a draw or resolution, from the items worker when there is an item store (the worker reads
   * the pool the page stored there), else computed here; undefined when a later one was asked for meanwhile.
   */
  private async select(selection: PoolSelection): Promise<SelectionOutcome | undefined> {
    const ticket = ++this.selecting;
    const store = this.store();
    let outcome: SelectionOutcome;
    try {
      outcome = store
        ? await this.backend.select(store.name, this.poolVersion, selection)
        : selectFromPool(this.pool, selection);
    } catch (e) {
      outcome = { error: (e as Error).message };
    }
    if (ticket !== this.selecting) return undefined;
    // The worker's pool is the stored one; if it misses an item this page holds, this page decides on its own pool.
    if ('manifest' in outcome && !outcome.problem && !outcome.manifest.items.every((e) => this.itemById(e.id))) {
      outcome = selectFromPool(this.pool, selection);
    }
    return outcome;
  }

  private itemById(id: string): MmluItem | undefined {
    if (this.byId?.pool !== this.pool) this.byId = { pool: this.pool, items: new Map(this.pool.map((i) => [i.id, i])) };
    return this.byId.items.get(id);
  }

  /** The manifest's items as this page's records (every id is in the pool: select checked it). */
  private sampledOf(manifest: ItemManifest): SampledItem[] {
    return manifest.items.map((e) => ({ domain: e.domain, item: this.itemById(e.id)! }));
  }

  /** Reads a manifest file; it replaces the drawn sample when it parses (the pool must hold its items). */
  async importManifest(file: { name: string; text(): Promise<string> }): Promise<void> {
    try {
      const manifest = parseItemManifest(await file.text(), file.name);
      this.error = undefined;
      await this.useManifest(manifest, { kind: 'imported', fileName: file.name });
    } catch (e) {
      this.error = (e as Error).message;
    }
  }

  /** Takes a manifest (imported, or restored from the last visit) with the items of the pool it names. */
  private async useManifest(manifest: ItemManifest, origin: ItemsState['manifestOrigin']): Promise<void> {
    const outcome = await this.select({ kind: 'manifest', manifest });
    if (!outcome) return;
    if ('error' in outcome) {
      this.error = outcome.error;
      return;
    }
    const problem = outcome.problem && `${outcome.problem}: load the MMLU files that hold them.`;
    this.setManifest(manifest, origin, problem ? [] : this.sampledOf(manifest), problem);
  }

  private setManifest(
    manifest: ItemManifest,
    origin: ItemsState['manifestOrigin'],
    sampled: SampledItem[],
    problem?: string,
  ): void {
    this.manifest = manifest;
    this.manifestOrigin = origin;
    this.sampled = sampled;
    this.manifestProblem = problem;
    void this.store()
      ?.putSession(SESSION_MANIFEST, { manifest, origin })
      .catch(() => {});
  }

  /** An item's prompt text under a spec (with its subject's first k dev items), or why it cannot be built. */
  promptText(item: MmluItem, spec: PromptSpec): string {
    try {
      const shots = fewshotItems(
        fewshotPool(this.pool.filter((i) => i.split === 'dev' && i.subject === item.subject)),
        item.subject,
        spec.kshot,
      );
      return renderPrompt(item, shots, spec);
    } catch (e) {
      return `(${(e as Error).message})`;
    }
  }

  /** The manifest as a file to download. */
  manifestFile(): { name: string; text: string } | undefined {
    if (!this.manifest) return undefined;
    return {
      name: `mmlu-manifest-${this.manifest.hash.slice(0, 12)}.json`,
      text: serializeItemManifest(this.manifest),
    };
  }
}
