/**
 * Runs the scoring queue: variants one after another with one model in GPU memory at a time, one request per
 * item, results written to IndexedDB in batched transactions as they arrive. A run resumes at the first
 * unscored item after a reload, a worker crash or a lost device; a finished run costs no GPU work. Pause,
 * resume and cancel work at any time, and a reply that arrives after a cancel or a model switch is dropped.
 * Plain TypeScript (tested in Node and Chromium); a thin `.svelte.ts` wrapper makes its progress reactive.
 */
import type { ItemManifest, MmluItem, PromptRecord } from '../core/types';
import { describeError, type DescribedError } from '../core/errors';
import {
  EngineError,
  RECOVERABLE_ENGINE_ERRORS,
  type AnswerStrings,
  type ItemLetterScore,
  type LoadedModel,
  type LoadProgress,
  type ScoringEngine,
  type VariantRecord,
} from '../engine/types';
import { engineVariantOf } from '../engine/variants';
import type { KitDb, RunRecord, StoredResult } from '../storage/db';

/** One item to score: its id, the exact prompt text and the gold label (stored with the result). */
export interface RunItem {
  itemId: string;
  prompt: string;
  label: number;
  subject?: string;
  domain?: string;
}

/** A queue of runs: every variant scores every item under one prompt. */
export interface RunPlan {
  /** PromptTemplate.key: results under different keys never mix. */
  promptKey: string;
  /** ItemManifest.hash of the items. */
  manifestHash: string;
  /** PromptTemplate.answerStrings. */
  answerStrings: AnswerStrings;
  /** In manifest order; a resumed run continues at the first unscored one. */
  items: readonly RunItem[];
  variants: readonly VariantRecord[];
}

/** An engine the controller can start, reuse across variants of its kind, and stop. */
export interface ControlledEngine extends ScoringEngine {
  /** Stops the engine's worker at once (after a crash or a lost device, a fresh one is started). */
  terminate?(): void;
}

export type RunPhase = 'idle' | 'loading' | 'scoring' | 'paused' | 'recovering' | 'done' | 'cancelled' | 'error';

export interface RunProgress {
  phase: RunPhase;
  /** 0-based index of the current variant in the plan. */
  variantIndex: number;
  variantCount: number;
  variantKey?: string;
  /** The latest model-loading report of the current variant. */
  download?: LoadProgress;
  /** Items of the current variant stored so far (earlier sessions included) and in total. */
  itemsDone: number;
  itemsTotal: number;
  /** Items stored over the whole queue and in total. */
  queueDone: number;
  queueTotal: number;
  /** Scoring rates of this session (items and prompt tokens per second of scoring time). */
  itemsPerSecond?: number;
  promptTokensPerSecond?: number;
  /** Seconds until the queue is scored at the current rate (model loads not included). */
  etaSeconds?: number;
  /** Fresh engines started after a crash or a lost device, this session. */
  recoveries: number;
  error?: DescribedError;
}

/** Progress before anything has run. */
export const IDLE_PROGRESS: Readonly<RunProgress> = Object.freeze({
  phase: 'idle',
  variantIndex: 0,
  variantCount: 0,
  itemsDone: 0,
  itemsTotal: 0,
  queueDone: 0,
  queueTotal: 0,
  recoveries: 0,
});

/** The storage the controller needs: KitDb in the app, an in-memory stand-in in Node tests. */
export type RunStore = Pick<KitDb, 'scoredItemIds' | 'getRun' | 'putRun' | 'putResults'>;

export interface RunControllerOptions {
  db: RunStore;
  /** Starts an engine that can load this variant (for the app: a new worker of the variant's engine kind). */
  startEngine: (variant: VariantRecord) => ControlledEngine;
  /** Results per IndexedDB transaction. */
  batchSize?: number;
  /**
   * A result that took at least this many milliseconds to score is written at once, and no result waits in the
   * buffer longer than 5 times this: batching is for fast engines; a reload must not lose minutes of GPU work.
   * Default 1000.
   */
  flushAfterMs?: number;
  /** Fresh engines a variant may use after DeviceLostError or WorkerCrashedError before the run stops. */
  maxRecoveries?: number;
  onProgress?: (progress: RunProgress) => void;
  /** Milliseconds, monotonic: rates and ETA. */
  now?: () => number;
  /** Wall-clock time for records. */
  clock?: () => Date;
}

/**
 * The plan for scoring a manifest's items with rendered prompts (src/core/prompts.ts buildPromptRecords):
 * items in manifest order, gold labels from the items, domains from the manifest, and the prompt key and
 * answer strings of the one template the prompts share.
 */
export function planFromPrompts(
  manifest: Pick<ItemManifest, 'hash' | 'items'>,
  items: readonly Pick<MmluItem, 'id' | 'subject' | 'answer'>[],
  prompts: readonly PromptRecord[],
  variants: readonly VariantRecord[],
): RunPlan {
  if (prompts.length === 0) throw new Error('No prompts to score.');
  const template = prompts[0].template;
  const itemById = new Map(items.map((i) => [i.id, i]));
  const promptById = new Map<string, PromptRecord>();
  for (const p of prompts) {
    if (p.template.key !== template.key) {
      throw new Error(`Prompts mix templates ${template.key} and ${p.template.key}; a run uses one prompt.`);
    }
    promptById.set(p.itemId, p);
  }
  const runItems = manifest.items.map((entry): RunItem => {
    const item = itemById.get(entry.id);
    const prompt = promptById.get(entry.id);
    if (!item) throw new Error(`Manifest item ${entry.id} is not among the loaded items.`);
    if (!prompt) throw new Error(`Manifest item ${entry.id} has no rendered prompt.`);
    return { itemId: entry.id, prompt: prompt.text, label: item.answer, subject: item.subject, domain: entry.domain };
  });
  return {
    promptKey: template.key,
    manifestHash: manifest.hash,
    answerStrings: template.answerStrings,
    items: runItems,
    variants,
  };
}

/**
 * What a web-llm run records about its model besides the version: the logit vector's length (`vocabSize`, as
 * declared at load and as every captured vector had it) and the wall-clock time of each load in milliseconds
 * (`loadMs`, one entry per session that loaded the model). Exported as the run's engine params.
 */
export function webllmRunParams(
  previous: Record<string, unknown> | undefined,
  loaded: LoadedModel,
): Record<string, unknown> {
  const loads = Array.isArray(previous?.loadMs) ? (previous.loadMs as number[]) : [];
  return {
    ...previous,
    ...(loaded.vocabSize !== undefined ? { vocabSize: loaded.vocabSize } : {}),
    loadMs: [...loads, Math.round(loaded.loadMs)],
  };
}

const CANCELLED = Symbol('cancelled');

function checkPlan(plan: RunPlan): void {
  const ids = new Set<string>();
  for (const item of plan.items) {
    if (ids.has(item.itemId)) throw new Error(`The plan lists item ${item.itemId} twice.`);
    ids.add(item.itemId);
    if (!Number.isInteger(item.label) || item.label < 0 || item.label > 3) {
      throw new Error(`Item ${item.itemId} has label ${item.label}; labels are 0..3.`);
    }
  }
  const keys = new Set(plan.variants.map((v) => v.key));
  if (keys.size !== plan.variants.length) throw new Error('The plan lists a variant twice.');
}

export class RunController {
  private readonly db: RunStore;
  private readonly options: RunControllerOptions;
  private readonly batchSize: number;
  private readonly now: () => number;
  private readonly clock: () => Date;

  private state: RunProgress = { ...IDLE_PROGRESS };
  private active = false;
  private engine: { kind: VariantRecord['engine']; engine: ControlledEngine } | undefined;
  /** Bumped by start and cancel: a reply from an older generation is stale. */
  private generation = 0;
  private requestSeq = 0;
  private cancelRequested = false;
  private cancelWaiters: Array<() => void> = [];
  private pauseGate: { promise: Promise<void>; open: () => void } | undefined;
  private buffer: StoredResult[] = [];
  /** now() when the oldest buffered result's request started. */
  private bufferSince = 0;
  private rate = { items: 0, promptTokens: 0, ms: 0 };

  constructor(options: RunControllerOptions) {
    this.options = options;
    this.db = options.db;
    this.batchSize = Math.max(1, options.batchSize ?? 8);
    this.now = options.now ?? (() => performance.now());
    this.clock = options.clock ?? (() => new Date());
  }

  get progress(): RunProgress {
    return this.state;
  }

  get running(): boolean {
    return this.active;
  }

  /** Stops after the item in flight (its reply is kept); resume() continues with the next unscored item. */
  pause(): void {
    if (!this.active || this.pauseGate) return;
    let open!: () => void;
    const promise = new Promise<void>((resolve) => (open = resolve));
    this.pauseGate = { promise, open };
    this.update({ phase: 'paused' });
  }

  resume(): void {
    const gate = this.pauseGate;
    if (!gate) return;
    this.pauseGate = undefined;
    if (!this.cancelRequested) this.update({ phase: 'scoring' });
    gate.open();
  }

  /**
   * Stops at once: the reply in flight is dropped, results already received are stored, and the engine is
   * stopped (its worker terminated, which frees the GPU even mid-request; the next run starts a fresh one).
   */
  cancel(): void {
    if (!this.active || this.cancelRequested) return;
    this.cancelRequested = true;
    this.generation++;
    for (const wake of this.cancelWaiters) wake();
    this.cancelWaiters = [];
    this.resume();
    this.update({ phase: 'cancelled' });
  }

  /**
   * Scores the plan and resolves with the final progress (phase done, cancelled or error). Never rejects for
   * engine or storage failures: they end the run with phase `error` and `progress.error` says what to do.
   */
  async start(plan: RunPlan): Promise<RunProgress> {
    if (this.active) throw new Error('A run is already active; cancel it before starting another.');
    checkPlan(plan);
    this.active = true;
    this.cancelRequested = false;
    const generation = ++this.generation;
    this.rate = { items: 0, promptTokens: 0, ms: 0 };
    this.state = {
      phase: 'loading',
      variantIndex: 0,
      variantCount: plan.variants.length,
      itemsDone: 0,
      itemsTotal: plan.items.length,
      queueDone: 0,
      queueTotal: plan.items.length * plan.variants.length,
      recoveries: 0,
    };
    try {
      const stored = await Promise.all(plan.variants.map((v) => this.db.scoredItemIds(v.key, plan.promptKey)));
      const planned = new Set(plan.items.map((i) => i.itemId));
      const storedCount = (set: Set<string>) => [...set].filter((id) => planned.has(id)).length;
      const queueDone = stored.reduce((n, s) => n + storedCount(s), 0);
      this.update({ queueDone });
      for (let vi = 0; vi < plan.variants.length && !this.cancelRequested; vi++) {
        await this.runVariant(plan, vi, generation);
      }
      await this.releaseEngine();
      this.update({ phase: this.cancelRequested ? 'cancelled' : 'done', download: undefined });
    } catch (e) {
      await this.releaseEngine().catch(() => {});
      this.update({ phase: 'error', error: describeError(e) });
    } finally {
      this.active = false;
      this.pauseGate = undefined;
    }
    return this.state;
  }

  private update(patch: Partial<RunProgress>): void {
    this.state = { ...this.state, ...patch };
    this.options.onProgress?.(this.state);
  }

  private rates(queueDone: number): Partial<RunProgress> {
    if (this.rate.ms <= 0 || this.rate.items === 0) return {};
    const itemsPerSecond = (this.rate.items * 1000) / this.rate.ms;
    return {
      itemsPerSecond,
      promptTokensPerSecond: (this.rate.promptTokens * 1000) / this.rate.ms,
      etaSeconds: (this.state.queueTotal - queueDone) / itemsPerSecond,
    };
  }

  /** Waits for a promise unless cancel comes first. */
  private untilCancelled<T>(promise: Promise<T>): Promise<T | typeof CANCELLED> {
    if (this.cancelRequested) {
      promise.catch(() => {});
      return Promise.resolve(CANCELLED);
    }
    return new Promise<T | typeof CANCELLED>((resolve, reject) => {
      const wake = () => resolve(CANCELLED);
      this.cancelWaiters.push(wake);
      promise
        .then(resolve, (e) => (this.cancelRequested ? resolve(CANCELLED) : reject(e)))
        .finally(() => {
          this.cancelWaiters = this.cancelWaiters.filter((w) => w !== wake);
        });
    });
  }

  /** The engine for this variant: the current one (model unloaded) if it is of the same kind, else a new one. */
  private async engineFor(variant: VariantRecord): Promise<ControlledEngine> {
    if (this.engine && this.engine.kind === variant.engine) {
      await this.engine.engine.unload();
      return this.engine.engine;
    }
    await this.releaseEngine();
    const engine = this.options.startEngine(variant);
    this.engine = { kind: variant.engine, engine };
    return engine;
  }

  private async releaseEngine(): Promise<void> {
    const current = this.engine;
    this.engine = undefined;
    if (!current) return;
    try {
      await current.engine.dispose();
    } finally {
      current.engine.terminate?.();
    }
  }

  /** After a crash or a lost device: stop the engine without asking it anything. */
  private discardEngine(): void {
    const current = this.engine;
    this.engine = undefined;
    current?.engine.terminate?.();
  }

  private async flush(): Promise<void> {
    if (this.buffer.length === 0) return;
    const batch = this.buffer;
    this.buffer = [];
    await this.db.putResults(batch);
  }

  private async runVariant(plan: RunPlan, variantIndex: number, generation: number): Promise<void> {
    const variant = plan.variants[variantIndex];
    const engineVariant = engineVariantOf(variant);
    const iso = () => this.clock().toISOString();
    let run: RunRecord = (await this.db.getRun(variant.key, plan.promptKey, plan.manifestHash)) ?? {
      variantKey: variant.key,
      promptKey: plan.promptKey,
      manifestHash: plan.manifestHash,
      status: 'running',
      itemCount: plan.items.length,
      simulated: variant.simulated,
      engine: { kind: variant.engine, ...(variant.simulation ? { params: { ...variant.simulation } } : {}) },
      startedAt: iso(),
      updatedAt: iso(),
    };
    let recoveries = 0;
    for (;;) {
      const scored = await this.db.scoredItemIds(variant.key, plan.promptKey);
      const remaining = plan.items.filter((i) => !scored.has(i.itemId));
      this.update({
        variantIndex,
        variantKey: variant.key,
        itemsDone: plan.items.length - remaining.length,
        itemsTotal: plan.items.length,
        download: undefined,
        error: undefined,
      });
      if (remaining.length === 0) {
        if (run.status !== 'done') {
          run = { ...run, status: 'done', updatedAt: iso(), finishedAt: run.finishedAt ?? iso(), error: undefined };
          await this.db.putRun(run);
        }
        return;
      }
      try {
        const engine = await this.engineFor(variant);
        this.update({ phase: 'loading' });
        const loaded = await this.untilCancelled(
          engine.load(engineVariant, plan.answerStrings, (download) => {
            if (generation === this.generation) this.update({ download });
          }),
        );
        if (loaded === CANCELLED) return this.stopCancelled(run);
        run = this.recordLoad(run, loaded, iso());
        await this.db.putRun(run);
        this.update({ phase: this.pauseGate ? 'paused' : 'scoring' });

        for (const item of remaining) {
          if (this.pauseGate) {
            await this.flush();
            await this.pauseGate.promise;
          }
          if (this.cancelRequested) return this.stopCancelled(run);
          const requestId = ++this.requestSeq;
          const started = this.now();
          const reply = await this.untilCancelled(
            engine.score({
              requestId,
              variantKey: variant.key,
              itemId: item.itemId,
              prompt: item.prompt,
              label: item.label,
            }),
          );
          // A reply from before a cancel or a model switch is stale: never store it.
          if (reply === CANCELLED || generation !== this.generation) return this.stopCancelled(run);
          if (reply.requestId !== requestId || reply.variantKey !== variant.key || reply.itemId !== item.itemId) {
            throw new EngineError(
              'ScoringError',
              `The engine answered request ${reply.requestId} (${reply.variantKey}, ${reply.itemId}) to request ${requestId} ` +
                `(${variant.key}, ${item.itemId}); the reply was dropped.`,
            );
          }
          this.buffer.push(this.toStored(reply, item, variant, plan.promptKey));
          if (reply.vocabSize !== undefined && run.engine.params?.vocabSize !== reply.vocabSize) {
            run = { ...run, engine: { ...run.engine, params: { ...run.engine.params, vocabSize: reply.vocabSize } } };
          }
          this.rate.items++;
          this.rate.promptTokens += reply.promptTokens;
          this.rate.ms += this.now() - started;
          if (this.buffer.length === 1) this.bufferSince = started;
          const flushAfter = this.options.flushAfterMs ?? 1000;
          const now = this.now();
          if (
            this.buffer.length >= this.batchSize ||
            now - started >= flushAfter ||
            now - this.bufferSince >= 5 * flushAfter
          ) {
            await this.flush();
          }
          const queueDone = this.state.queueDone + 1;
          this.update({ itemsDone: this.state.itemsDone + 1, queueDone, ...this.rates(queueDone) });
        }
        await this.flush();
        run = { ...run, status: 'done', updatedAt: iso(), finishedAt: iso(), error: undefined };
        await this.db.putRun(run);
        return;
      } catch (e) {
        const described = describeError(e);
        // Results already received are good: keep them before deciding anything else.
        try {
          await this.flush();
        } catch (flushError) {
          await this.saveRunError(run, describeError(flushError), iso());
          throw flushError;
        }
        if (RECOVERABLE_ENGINE_ERRORS.has(described.name) && recoveries < (this.options.maxRecoveries ?? 3)) {
          recoveries++;
          this.discardEngine();
          this.update({ phase: 'recovering', recoveries: this.state.recoveries + 1, error: described });
          continue;
        }
        await this.saveRunError(run, described, iso());
        throw e;
      }
    }
  }

  private recordLoad(run: RunRecord, loaded: LoadedModel, now: string): RunRecord {
    return {
      ...run,
      status: 'running',
      updatedAt: now,
      error: undefined,
      engine: {
        ...run.engine,
        kind: loaded.engine,
        method: loaded.method,
        ...(loaded.engineVersion ? { version: loaded.engineVersion } : {}),
        ...(loaded.engine === 'webllm' ? { params: webllmRunParams(run.engine.params, loaded) } : {}),
      },
      ...(loaded.letterTokenIds ? { letterTokenIds: loaded.letterTokenIds } : {}),
      ...(loaded.adapter ? { adapter: loaded.adapter } : {}),
    };
  }

  private async saveRunError(run: RunRecord, error: DescribedError, now: string): Promise<void> {
    await this.db
      .putRun({ ...run, status: 'error', updatedAt: now, error: { name: error.name, message: error.message } })
      .catch(() => {});
  }

  private async stopCancelled(run: RunRecord): Promise<void> {
    const engine = this.engine?.engine;
    if (engine?.terminate) this.discardEngine();
    else await engine?.unload().catch(() => {});
    await this.flush();
    await this.db.putRun({ ...run, status: 'cancelled', updatedAt: this.clock().toISOString() });
  }

  /** The stored record of a reply. Simulated output is labelled, and never accepted for a model variant. */
  private toStored(reply: ItemLetterScore, item: RunItem, variant: VariantRecord, promptKey: string): StoredResult {
    const simulated = reply.method === 'simulated';
    if (simulated !== (variant.engine === 'simulated') || simulated !== variant.simulated) {
      throw new EngineError(
        'ScoringError',
        `Variant ${variant.key} (${variant.engine}) received a ${reply.method} reply; refusing to store it.`,
      );
    }
    return {
      itemId: item.itemId,
      label: item.label,
      letterLogits: reply.letterLogits,
      ...(item.subject !== undefined ? { subject: item.subject } : {}),
      ...(item.domain !== undefined ? { domain: item.domain } : {}),
      ...(reply.letterMass !== undefined ? { letterMass: reply.letterMass } : {}),
      ...(reply.logSumExp !== undefined ? { logSumExp: reply.logSumExp } : {}),
      ...(reply.letterTokenIds ? { letterTokenIds: reply.letterTokenIds } : {}),
      promptTokens: reply.promptTokens,
      elapsedMs: reply.elapsedMs,
      variantKey: variant.key,
      promptKey,
      method: reply.method,
      simulated,
      scoredAt: this.clock().toISOString(),
    };
  }
}
