/**
 * The results page's state: analysis settings, which stored runs to analyse, and the latest view from the
 * analysis worker (points first, then CIs and p-values). Every number shown is recomputed in the worker from
 * stored items whenever the settings, the selection or the stored runs change; replies to older requests are
 * dropped. Export and import also run in the worker, so no stored result crosses the main thread.
 */
import { proxy, wrap, type Remote } from 'comlink';
import { DEFAULT_ANALYSIS_SETTINGS, type AdapterInfo, type AnalysisSettings, type ItemManifest } from '../core/types';
import { resolveSettings } from '../core/analysis';
import { describeError } from '../core/errors';
import type { ExternalVariant } from '../services/import';
import type { AnalysisView } from '../core/report-views';
import type { AnalysisWorkerApi } from '../services/analysis-api';
import { DB_NAME } from '../storage/db';
import { version as appVersion, dependencies } from '../../package.json';

export type AnalysisStatus = 'idle' | 'computing' | 'resampling' | 'ready' | 'error';

/** A file picked for import, with the variant it belongs to when the file carries none (.jsonl, .csv). */
export interface PickedFile {
  file: File;
  as?: ExternalVariant;
}

/** The database the Results page reads when it is given none: the kit's own. */
export const DEFAULT_DB_NAME = DB_NAME;

export interface AnalysisStateOptions {
  /** Name of the kit's IndexedDB database (KitDb.name). */
  dbName: string;
  /** The worker API; the default is the page's shared analysis worker (workers/analysis.worker.ts). */
  worker?: Remote<AnalysisWorkerApi> | AnalysisWorkerApi;
  /** Stops the given worker; called by dispose (the shared one is not stopped: its requests are cancelled). */
  terminate?: () => void;
  /** Milliseconds between checks for newly stored results while the page is shown (0: never). */
  pollMs?: number;
  /** Milliseconds a settings change waits for the next one before recomputing. */
  debounceMs?: number;
  /** Settings and run selection to start from (e.g. those of the page the user left); default: the defaults. */
  settings?: AnalysisSettings;
  selection?: string[];
}

/**
 * Whether a CSV's header names its rows' variants (the kit's per-item CSV: `variant`/`variant_key` columns,
 * LOGITS_CSV_PROVENANCE in src/data/logits-csv.ts), so the import need not ask whose scores it holds. Reads only
 * the first few kB; the importer checks the whole file.
 */
export async function csvNamesItsVariants(file: Blob): Promise<boolean> {
  const header = (await file.slice(0, 4096).text()).replace(/^\uFEFF/, '').split('\n')[0];
  const cells = header.split(/[,;\t]/).map((c) => c.trim().replace(/^"|"$/g, '').toLowerCase());
  return cells.includes('variant') || cells.includes('variant_key');
}

/**
 * The page's analysis worker, started on first use and kept between visits of Results: a revisit then finds it
 * (and its job workers, their kernels compiled) running instead of starting them again. A page that leaves
 * cancels its requests (AnalysisWorkerApi.cancel) rather than stopping the worker.
 */
let shared: Remote<AnalysisWorkerApi> | undefined;
function sharedAnalysisWorker(): Remote<AnalysisWorkerApi> {
  return (shared ??= startAnalysisWorker().api);
}

/** Request ids, unique among the controllers of this page (they may share one worker, which keeps the latest). */
let lastRequestId = 0;

/** Starts an analysis worker (which starts its own pool of job workers). */
export function startAnalysisWorker(): { api: Remote<AnalysisWorkerApi>; terminate: () => void } {
  const worker = new Worker(new URL('../../workers/analysis.worker.ts', import.meta.url), {
    type: 'module',
    name: 'analysis',
  });
  return { api: wrap<AnalysisWorkerApi>(worker), terminate: () => worker.terminate() };
}

const errorText = (e: unknown) => describeError(e).message;

export class AnalysisState {
  /** The settings the view was (or is being) computed with. */
  settings = $state<AnalysisSettings>({ ...DEFAULT_ANALYSIS_SETTINGS });
  /** groupIds to analyse; undefined analyses every stored run (new ones included). */
  selection = $state<string[] | undefined>(undefined);
  /** The latest view (large: never made deeply reactive). */
  view = $state.raw<AnalysisView | undefined>(undefined);
  status = $state<AnalysisStatus>('idle');
  jobs = $state({ done: 0, total: 0 });
  error = $state<string | undefined>(undefined);
  /** The last import's or export's outcome, for a status line. */
  message = $state<{ kind: 'ok' | 'error'; text: string } | undefined>(undefined);
  busy = $state(false);
  /** Settings typed in but refused, by field, with the reason; the shown view then belongs to older settings. */
  fieldErrors = $state<Partial<Record<keyof AnalysisSettings, string>>>({});
  /** A settings change waits for typing to settle before it recomputes. */
  pendingChange = $state(false);

  private readonly api: Remote<AnalysisWorkerApi> | AnalysisWorkerApi;
  private readonly dbName: string;
  private readonly terminate?: () => void;
  private readonly pollMs: number;
  private readonly debounceMs: number;
  private requestSeq = 0;
  /**
   * The storeSignature the latest recompute read (the worker sends it before reading the runs); undefined until
   * it arrives, when a check for changes has nothing to compare with yet.
   */
  private signature: string | undefined = '';
  private timer: ReturnType<typeof setTimeout> | undefined;
  private poller: ReturnType<typeof setInterval> | undefined;
  private disposed = false;

  constructor(options: AnalysisStateOptions) {
    this.dbName = options.dbName;
    this.api = options.worker ?? sharedAnalysisWorker();
    this.terminate = options.worker ? options.terminate : undefined;
    this.pollMs = options.pollMs ?? 2000;
    this.debounceMs = options.debounceMs ?? 400;
    if (options.settings) this.settings = { ...options.settings };
    if (options.selection) this.selection = [...options.selection];
  }

  /** Computes now and then whenever stored results change (checked every pollMs while the page is visible). */
  start(): void {
    void this.recompute();
    if (this.pollMs > 0) {
      this.poller = setInterval(() => {
        if (typeof document === 'undefined' || document.visibilityState === 'visible') void this.checkForChanges();
      }, this.pollMs);
    }
  }

  dispose(): void {
    this.disposed = true;
    const last = this.requestSeq;
    this.requestSeq = -1;
    clearTimeout(this.timer);
    clearInterval(this.poller);
    if (this.terminate) this.terminate();
    else if (last > 0 && this.api === shared) shared.cancel(last).catch(() => undefined);
  }

  /**
   * Changes settings and recomputes: after a short pause (debounceMs, so typing a number computes once), or at
   * once when `now` (a choice made in one step: a select, a checkbox).
   */
  updateSettings(patch: Partial<AnalysisSettings>, now = false): void {
    this.settings = { ...this.settings, ...patch };
    for (const key of Object.keys(patch) as (keyof AnalysisSettings)[]) delete this.fieldErrors[key];
    this.schedule(now ? 0 : this.debounceMs);
  }

  /**
   * A typed value committed (the field's change event: Enter, leaving the field, a click on its arrows): a change
   * still waiting for typing to settle is computed now instead of after the pause. Nothing waiting (a refused
   * value, or the change already computed): nothing happens.
   */
  commit(): void {
    if (this.pendingChange && !this.disposed) this.schedule(0);
  }

  /**
   * One field as typed: a valid value updates the settings (recomputing once typing settles); an invalid one
   * (not a number, out of range) is refused at the field with the analysis's own message, and the settings and
   * the shown view stay as they were (the view is then marked stale). Returns the refusal, if any.
   */
  setField(key: keyof AnalysisSettings, value: unknown): string | undefined {
    if (typeof value === 'number' && Number.isNaN(value)) {
      this.fieldErrors = { ...this.fieldErrors, [key]: `${key}: expected a number` };
      return this.fieldErrors[key];
    }
    try {
      resolveSettings({ ...$state.snapshot(this.settings), [key]: value } as AnalysisSettings);
    } catch (e) {
      this.fieldErrors = { ...this.fieldErrors, [key]: errorText(e) };
      return this.fieldErrors[key];
    }
    const { [key]: _dropped, ...rest } = this.fieldErrors;
    this.fieldErrors = rest;
    this.updateSettings({ [key]: value } as Partial<AnalysisSettings>);
    return undefined;
  }

  /** Whether the shown view is not (or not yet) that of the settings in the fields. */
  get stale(): boolean {
    const old = this.view !== undefined && (this.status === 'error' || this.status === 'computing');
    return Object.keys(this.fieldErrors).length > 0 || this.pendingChange || old;
  }

  resetSettings(): void {
    this.settings = { ...DEFAULT_ANALYSIS_SETTINGS };
    this.fieldErrors = {};
    this.schedule(0);
  }

  /** Includes or excludes one stored run (by groupId). */
  toggleRun(id: string): void {
    const all = this.view?.runs.map((r) => r.id) ?? [];
    const current = this.selection ?? all;
    const next = current.includes(id) ? current.filter((x) => x !== id) : [...current, id];
    this.selection = all.every((x) => next.includes(x)) ? undefined : all.filter((x) => next.includes(x));
    this.schedule(0);
  }

  isSelected(id: string): boolean {
    return this.selection === undefined || this.selection.includes(id);
  }

  private schedule(ms = this.debounceMs): void {
    clearTimeout(this.timer);
    this.pendingChange = true;
    this.timer = setTimeout(() => void this.recompute(), ms);
  }

  /** Compares a cheap fingerprint of what is stored (storeSignature) with the one the shown view was read at. */
  private async checkForChanges(): Promise<void> {
    if (this.disposed || this.signature === undefined) return;
    try {
      const signature = await this.api.storeSignature(this.dbName);
      if (signature !== this.signature && !this.disposed) await this.recompute();
    } catch {
      // the next check tries again; recompute reports real errors
    }
  }

  /** Recomputes from what is stored now. */
  async recompute(): Promise<void> {
    if (this.disposed) return;
    const requestId = (this.requestSeq = ++lastRequestId);
    const current = () => requestId === this.requestSeq && !this.disposed;
    clearTimeout(this.timer);
    this.pendingChange = false;
    this.status = 'computing';
    this.error = undefined;
    this.jobs = { done: 0, total: 0 };
    this.signature = undefined;
    try {
      const settings = $state.snapshot(this.settings) as AnalysisSettings;
      const selection = this.selection ? [...this.selection] : undefined;
      const view = await this.api.analyzeStored(
        this.dbName,
        { requestId, settings, ...(selection ? { selection } : {}) },
        proxy((partial: AnalysisView) => {
          if (!current()) return;
          this.view = partial;
          this.status = 'resampling';
          this.jobs = { done: partial.jobsDone, total: partial.jobsTotal };
        }),
        proxy((done: number, total: number) => {
          if (current()) this.jobs = { done, total };
        }),
        // What was stored when the worker started reading, for checkForChanges (no round trip of its own).
        proxy((signature: string) => {
          if (current()) this.signature = signature;
        }),
      );
      if (!current()) return;
      this.view = view;
      this.status = 'ready';
    } catch (e) {
      if (!current() || (e as Error)?.name === 'AnalysisSupersededError') return;
      // Failed before reading anything (or its signature is still on its way): the next check compares with ''.
      if (this.signature === undefined) this.signature = '';
      this.status = 'error';
      this.error = errorText(e);
    }
  }

  /** Whether the shown report covers the current settings and selection with CIs (so it can be exported). */
  get reportComplete(): boolean {
    return this.status === 'ready' && this.view?.report !== undefined && !this.view.partial;
  }

  /** The results JSON of the analysed runs, with the analysis when it is complete. */
  async exportJson(
    extra: { manifest?: ItemManifest; adapter?: AdapterInfo } = {},
  ): Promise<{ fileName: string; text: string } | undefined> {
    return this.guard('export', async () => {
      const view = this.view;
      const text = await this.api.exportResults(this.dbName, {
        ...(view ? { selection: view.analysed.length > 0 ? view.analysed : undefined } : {}),
        ...(this.reportComplete && view?.report ? { report: $state.snapshot(view.report) } : {}),
        app: { name: 'calibration-collapse-kit', version: appVersion },
        webllmVersion: dependencies['@mlc-ai/web-llm'],
        ...(typeof navigator !== 'undefined' ? { userAgent: navigator.userAgent } : {}),
        ...(extra.adapter ? { adapter: $state.snapshot(extra.adapter) } : {}),
        ...(extra.manifest ? { manifest: $state.snapshot(extra.manifest) as ItemManifest } : {}),
      });
      const simulated = view?.runs.some((r) => r.simulated && view.analysed.includes(r.id)) ?? false;
      const fileName = `calibration-results-${new Date().toISOString().slice(0, 10)}${simulated ? '-SIMULATED' : ''}.json`;
      this.message = {
        kind: 'ok',
        text: `Exported ${fileName}${this.reportComplete ? ' with the analysis shown' : ' (without an analysis: it was still computing)'}.`,
      };
      return { fileName, text };
    });
  }

  /** The per-item CSV of the analysed runs. */
  async exportCsv(): Promise<{ fileName: string; text: string } | undefined> {
    return this.guard('export', async () => {
      const view = this.view;
      const text = await this.api.exportItemsCsv(
        this.dbName,
        view && view.analysed.length > 0 ? view.analysed : undefined,
      );
      const simulated = view?.runs.some((r) => r.simulated && view.analysed.includes(r.id)) ?? false;
      const fileName = `calibration-items-${new Date().toISOString().slice(0, 10)}${simulated ? '-SIMULATED' : ''}.csv`;
      this.message = { kind: 'ok', text: `Exported ${fileName}.` };
      return { fileName, text };
    });
  }

  /** How many results a stored run holds (by groupId), for the confirmation before deleting it. */
  async storedResults(id: string): Promise<number> {
    return this.api.countRun(this.dbName, id);
  }

  /** Deletes a stored run (by groupId) with all its stored results, then recomputes without it. */
  async deleteRun(id: string): Promise<boolean> {
    const done = await this.guard('delete', async () => {
      const name = this.view?.runs.find((r) => r.id === id)?.name ?? id;
      const deleted = await this.api.deleteRun(this.dbName, id);
      if (this.selection) this.selection = this.selection.filter((x) => x !== id);
      this.message = {
        kind: 'ok',
        text: `Deleted run ${name} and its ${deleted} stored result${deleted === 1 ? '' : 's'}.`,
      };
      await this.recompute();
      return true;
    });
    return done ?? false;
  }

  /** Imports files all or nothing; on success recomputes, on failure says which file and field. */
  async importFiles(files: readonly PickedFile[]): Promise<boolean> {
    const done = await this.guard('import', async () => {
      const inputs = files.map((f) => ({ file: f.file, ...(f.as ? { as: { ...f.as } } : {}) }));
      const outcome = await this.api.importFiles(this.dbName, inputs);
      const runs = outcome.summary
        .map((s) => `${s.variant}${s.simulated ? ' (SIMULATED)' : ''}: ${s.items} items`)
        .join('; ');
      this.message = {
        kind: 'ok',
        text: `Imported ${files.length} file${files.length === 1 ? '' : 's'}: ${runs}. ${outcome.resultsAdded} new results, ${outcome.resultsKept} already stored.`,
      };
      await this.recompute();
      return true;
    });
    return done ?? false;
  }

  private async guard<T>(what: 'import' | 'export' | 'delete', work: () => Promise<T>): Promise<T | undefined> {
    this.busy = true;
    try {
      return await work();
    } catch (e) {
      const prefix = { import: 'Import refused, nothing was stored', export: 'Export failed', delete: 'Delete failed' }[
        what
      ];
      this.message = { kind: 'error', text: `${prefix}: ${errorText(e)}` };
      return undefined;
    } finally {
      this.busy = false;
    }
  }
}
