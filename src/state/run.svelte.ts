/**
 * The run as the page sees it: one queue over the chosen variants and the sampled items, wrapping the
 * RunController (resume, pause, cancel, stored-as-scored results) with reactive progress, the live per-variant
 * figures read back from storage, and the interrupted run a reload finds. Simulated runs say so everywhere.
 */
import { buildPromptRecords, fewshotPool } from '../core/prompts';
import type { PromptSpec } from '../core/types';
import { checkModelRunsOn } from '../engine/catalog';
import { describeError, type DescribedError } from '../core/errors';
import { startSimulatedEngine, startWebLLMEngine } from '../engine/remote';
import type { LoadProgress, ModelRecordSpec, VariantRecord } from '../engine/types';
import { engineVariantOf } from '../engine/variants';
import { runEngineCheck, type EngineCheckReport } from '../services/engine-check';
/** The run's phases, for the views that name them. */
export type { RunPhase } from '../services/run-controller';
import {
  IDLE_PROGRESS,
  RunController,
  planFromPrompts,
  type ControlledEngine,
  type RunPlan,
  type RunProgress,
} from '../services/run-controller';
import type { ItemDb, KitDb } from '../storage/db';
import type { EnvironmentState } from './environment.svelte';
import type { ItemsState } from './items.svelte';
import { startAnalysisWorker } from './analysis.svelte';
import type { Remote } from 'comlink';
import type { AnalysisWorkerApi } from '../services/analysis-api';
import {
  liveTable,
  type LiveTable,
  type LiveTableRequest,
  type RecentItem,
  type VariantLive,
} from '../services/live-table';
import type { VariantsState } from './variants.svelte';

export type { RecentItem, VariantLive } from '../services/live-table';

const SESSION_SIMULATED = 'run.simulated';

/** The live table read in an analysis worker started on first use; where Workers are missing, here. */
function workerLiveTables(): (db: KitDb, request: LiveTableRequest) => Promise<LiveTable> {
  let api: Remote<AnalysisWorkerApi> | undefined;
  return async (db, request) => {
    if (typeof Worker === 'undefined') return liveTable(db, request);
    api ??= startAnalysisWorker().api;
    return api.liveTable(db.name, request);
  };
}

export class RunState {
  progress = $state.raw<RunProgress>(IDLE_PROGRESS);
  /** Milliseconds the simulated engine waits per item (a slow GPU, for trying pause and reload); kept across reloads. */
  simulatedDelayMs = $state(0);
  live = $state.raw<VariantLive[]>([]);
  recent = $state.raw<RecentItem[]>([]);
  /** Bumped whenever results were stored or the run ended: views that read storage refresh on it. */
  resultsVersion = $state(0);
  /** A problem that stopped the run from starting (nothing was scored). */
  startError = $state.raw<DescribedError | undefined>(undefined);
  /** Whether the run that stopped was simulated, for the labels after it ends. */
  simulated = $state(false);

  /** The last engine check (a real model scoring 5 items), and its loading progress while it runs. */
  engineCheck = $state.raw<EngineCheckReport | undefined>(undefined);
  engineCheckProgress = $state.raw<LoadProgress | undefined>(undefined);
  checking = $state(false);

  private controller: RunController | undefined;
  private refreshTimer: ReturnType<typeof setTimeout> | undefined;
  private refreshing = false;
  private refreshAgain = false;

  constructor(
    private readonly db: () => KitDb | undefined,
    private readonly environment: EnvironmentState,
    private readonly items: ItemsState,
    private readonly variants: VariantsState,
    /** Where small settings persist (the item database's session store). */
    private readonly sessions: () => ItemDb | undefined = () => undefined,
    /** Reads the live table; by default in the analysis worker, so stored results stay off the main thread. */
    private readonly liveTables: (db: KitDb, request: LiveTableRequest) => Promise<LiveTable> = workerLiveTables(),
  ) {}

  /** Sets the simulated delay and stores it, so a reload keeps it. */
  setSimulatedDelay(ms: number): void {
    if (!Number.isFinite(ms) || ms < 0) return;
    this.simulatedDelayMs = Math.round(ms);
    void this.sessions()
      ?.putSession(SESSION_SIMULATED, { delayMs: this.simulatedDelayMs })
      .catch(() => {});
  }

  /** Brings back the stored simulated settings. */
  async restoreSettings(): Promise<void> {
    const saved = await this.sessions()?.getSession<{ delayMs?: unknown }>(SESSION_SIMULATED);
    if (typeof saved?.delayMs === 'number' && Number.isFinite(saved.delayMs) && saved.delayMs >= 0)
      this.simulatedDelayMs = saved.delayMs;
  }

  get active(): boolean {
    return ['loading', 'scoring', 'paused', 'recovering'].includes(this.progress.phase);
  }

  get promptSpec(): PromptSpec {
    return this.variants.promptSpec;
  }

  /** Stored items of the queue for these items and this prompt, and how many the queue needs. */
  get storedTotal(): { stored: number; total: number } {
    return {
      stored: this.live.reduce((n, v) => n + v.stored, 0),
      total: this.items.sampled.length * this.variants.queued.length,
    };
  }

  /** What is missing before a run can start, in words; empty when it can. */
  get blockers(): string[] {
    const out: string[] = [];
    if (!this.db()) out.push('The results database is not open.');
    if (!this.items.ready) out.push('Choose the items first (load MMLU and draw the sample, or import a manifest).');
    if (this.variants.queued.length === 0) out.push('Add at least one variant to the queue.');
    if (this.variants.queued.some((v) => !v.simulated) && !this.environment.webgpu) {
      out.push('Model variants need WebGPU, which this browser does not offer; only simulated variants can run here.');
    }
    return out;
  }

  /** The plan: every queued variant scores every sampled item with the chosen prompt. */
  plan(): RunPlan {
    const items = this.items.sampled.map((s) => s.item);
    const prompts = buildPromptRecords(items, fewshotPool(this.items.pool), this.promptSpec);
    return planFromPrompts(this.items.manifest!, items, prompts, this.variants.queued);
  }

  private startEngine = (variant: VariantRecord): ControlledEngine => {
    if (variant.engine === 'simulated') {
      const handle = startSimulatedEngine();
      const delayMs = this.simulatedDelayMs;
      const ready = delayMs > 0 ? handle.guard(handle.remote.setFaults({ delayMs })) : Promise.resolve();
      return {
        load: async (...args) => {
          await ready;
          return handle.load(...args);
        },
        score: handle.score,
        unload: handle.unload,
        dispose: handle.dispose,
        terminate: handle.terminate,
      };
    }
    const handle = startWebLLMEngine();
    return {
      load: handle.load,
      score: handle.score,
      unload: handle.unload,
      dispose: handle.dispose,
      terminate: handle.terminate,
    };
  };

  /** Starts (or resumes: stored items are skipped) the queue. */
  async start(): Promise<void> {
    const db = this.db();
    if (this.active || !db || this.blockers.length > 0) return;
    this.startError = undefined;
    let plan: RunPlan;
    try {
      plan = this.plan();
      // Refuse a model the adapter cannot run before anything downloads.
      for (const v of plan.variants)
        if (v.model) checkModelRunsOn(v.model, this.environment.adapter ?? null, this.variants.catalog ?? []);
    } catch (e) {
      this.startError = describeError(e);
      return;
    }
    this.simulated = plan.variants.some((v) => v.simulated);
    let lastDone = -1;
    this.controller = new RunController({
      db,
      startEngine: this.startEngine,
      onProgress: (p) => {
        this.progress = p;
        if (p.queueDone !== lastDone) {
          lastDone = p.queueDone;
          this.scheduleRefresh();
        }
      },
    });
    const final = await this.controller.start(plan);
    this.progress = final;
    await this.refresh();
    this.resultsVersion++;
  }

  /**
   * Loads the smallest Qwen3 this adapter runs (or the stored web-llm variant `variantKey`) in a fresh web-llm
   * worker and scores the first 5 sampled items (downloads the model once; web-llm caches it).
   */
  async runEngineCheck(variantKey?: string): Promise<void> {
    if (this.checking || this.active || !this.items.ready) return;
    this.checking = true;
    this.engineCheck = undefined;
    const handle = startWebLLMEngine();
    try {
      const plan = this.plan();
      const variant = variantKey ? this.variants.stored.find((v) => v.key === variantKey) : undefined;
      const checked = variant ? engineVariantOf(variant) : undefined;
      const model: ModelRecordSpec | undefined = checked?.engine === 'webllm' ? checked.model : undefined;
      this.engineCheck = await runEngineCheck(
        {
          probeAdapter: () => handle.guard(handle.remote.probeAdapter()),
          listPrebuiltModels: () => handle.guard(handle.remote.listPrebuiltModels()),
          load: handle.load,
          score: handle.score,
          unload: handle.unload,
        },
        plan.items.slice(0, 5),
        plan.answerStrings,
        { onProgress: (p) => (this.engineCheckProgress = p), ...(model ? { model } : {}) },
      );
    } catch (e) {
      this.engineCheck = { adapter: null, itemsScored: 0, ok: false, error: describeError(e) };
    } finally {
      handle.terminate();
      this.checking = false;
      this.engineCheckProgress = undefined;
    }
  }

  pause(): void {
    this.controller?.pause();
  }

  resume(): void {
    this.controller?.resume();
  }

  cancel(): void {
    this.controller?.cancel();
  }

  /** Re-reads what storage holds for the queue (throttled while a run stores items). */
  private scheduleRefresh(): void {
    if (this.refreshTimer !== undefined) return;
    this.refreshTimer = setTimeout(() => {
      this.refreshTimer = undefined;
      void this.refresh().then(() => this.resultsVersion++);
    }, 400);
  }

  async refresh(): Promise<void> {
    const db = this.db();
    if (db && this.refreshing) {
      // The prompt or the queue changed while storage was being read: read it again once this read ends.
      this.refreshAgain = true;
      return;
    }
    if (!db) return;
    if (!this.items.ready) {
      this.live = [];
      return;
    }
    this.refreshing = true;
    try {
      const request: LiveTableRequest = {
        promptKey: this.variants.template.key,
        itemIds: this.items.sampled.map((s) => s.item.id),
        variants: this.variants.queued.map(({ key, name, role, simulated }) => ({ key, name, role, simulated })),
        recent: 6,
      };
      const table = await this.liveTables(db, request);
      this.live = table.live;
      this.recent = table.recent;
    } catch (e) {
      this.startError = describeError(e);
    } finally {
      this.refreshing = false;
    }
    if (this.refreshAgain) {
      this.refreshAgain = false;
      await this.refresh();
    }
  }
}
