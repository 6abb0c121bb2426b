/**
 * The protocol between the page and the analysis worker, and between the analysis worker and its job workers
 * (comlink): both sides of each import these types, so the compiler catches a change on one side only.
 */
import type { AnalysisJob, AnalysisJobResult, PreparedVariant } from '../core/analysis';
import type { KernelBackend } from '../core/kernel-wasm';
import type { AnalysisRequest, AnalysisView } from '../core/report-views';
import type { AnalysisReport, AnalysisSettings, VariantScores } from '../core/types';
import type { ExportOptions } from './export';
import type { ExternalVariant, ImportOutcome } from './import';
import type { LiveTable, LiveTableRequest } from './live-table';

/** Something that runs one job: a Web Worker's comlink proxy, or a function on this thread in tests. */
export interface JobWorker {
  run(job: AnalysisJob): Promise<AnalysisJobResult>;
  /** prepareVariant there (order, check, cross-fit the scaler), so variants are prepared in parallel. */
  prepare?(variant: VariantScores, settings: AnalysisSettings): Promise<PreparedVariant>;
  /** Which loops the worker's resampling kernel runs (kernel-wasm.ts): 'js' where WebAssembly cannot compile. */
  backend?(): Promise<KernelBackend>;
}

/** The analysis worker's API (comlink): both sides import this type. */
export interface AnalysisWorkerApi {
  /**
   * Reads every stored run from the database `dbName` (in the worker, so no result crosses the main thread) and
   * analyses the selected ones. `onPartial` gets the points-first view; `onProgress` counts resampling jobs;
   * `onSignature` gets the storeSignature read before anything the analysis reads (so a write after it changes
   * the signature), even when the analysis then fails: the page needs no round trip of its own for it.
   * Rejects with AnalysisSupersededError when a newer request arrived, AnalysisError for bad settings or
   * inconsistent inputs (e.g. one item with two gold answers), or a StorageError.
   */
  analyzeStored(
    dbName: string,
    request: AnalysisRequest,
    onPartial?: (view: AnalysisView) => void,
    onProgress?: (jobsDone: number, jobsTotal: number) => void,
    onSignature?: (signature: string) => void,
  ): Promise<AnalysisView>;
  /**
   * Supersedes request `requestId` and every earlier one (a results page that closed): they reject with
   * AnalysisSupersededError at their next step and hand out no more jobs.
   */
  cancel(requestId: number): void;
  /**
   * A fingerprint of what is stored: the store revision (KitDb.getRevision, bumped by every write to variants,
   * runs or results), or where there is none every run's key and status and every group's item count. Changes
   * when a result is stored.
   */
  storeSignature(dbName: string): Promise<string>;
  /** The results JSON of the selected runs (all when absent), with the report when it covers exactly them. */
  exportResults(
    dbName: string,
    options: Omit<ExportOptions, 'analysis' | 'createdAt'> & { selection?: string[]; report?: AnalysisReport },
  ): Promise<string>;
  /** Deletes one stored run (by groupId) with all its stored results; returns how many results were deleted. */
  deleteRun(dbName: string, id: string): Promise<number>;
  /** How many results a stored run (by groupId) holds, for the confirmation before deleting it. */
  countRun(dbName: string, id: string): Promise<number>;
  /** The run panel's live table of the queue (liveTable), read here so stored results stay off the main thread. */
  liveTable(dbName: string, request: LiveTableRequest): Promise<LiveTable>;
  /** The per-item CSV of the selected runs (all when absent). */
  exportItemsCsv(dbName: string, selection?: string[]): Promise<string>;
  /** The kernel backend of each job worker of the pool (starting it if need be); 'js' for one that cannot say. */
  kernelBackends(): Promise<KernelBackend[]>;
  /**
   * Imports files all or nothing (see importFiles); returns what was imported, without the records. The files
   * cross as Blobs and are read here, so a large file is neither read nor copied on the page's main thread.
   */
  importFiles(
    dbName: string,
    inputs: PickedImport[],
  ): Promise<Omit<ImportOutcome, 'variants' | 'runs' | 'results' | 'resultFiles' | 'resultPlaces'>>;
}

/**
 * A file picked for import (a File, or any Blob with a name; or, from tests and scripts, its text), with the
 * variant it belongs to when it carries none.
 */
export interface PickedImport {
  file: (Blob & { name: string }) | { name: string; text: string };
  as?: ExternalVariant;
}
