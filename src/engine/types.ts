/**
 * The one small interface every scoring engine implements (web-llm in a worker, the simulated engine), the
 * records that cross it, and the named errors an engine can raise. Type-only apart from the error class, so
 * the main thread, the workers and Node tests all import it without pulling in web-llm.
 */
import type { EngineErrorName } from '../core/errors';
import type { AdapterInfo, LetterVector, ModelRecordSpec, ScoringMethod, SimulationParams } from '../core/types';

// The records a variant is stored as live in core (storage keeps them too); re-exported for the engine's callers.
export type { ModelRecordSpec, ScoringMethod, SimulationParams, VariantRecord } from '../core/types';

/** The four continuations read as the answer, A..D (e.g. ` A`.. for a completion prompt, `A`.. for chat). */
export type AnswerStrings = readonly [string, string, string, string];

/** What an engine loads: a web-llm model or a simulated one. `key` is the variant's storage key. */
export type EngineVariant =
  | { engine: 'webllm'; key: string; model: ModelRecordSpec }
  | { engine: 'simulated'; key: string; simulation: SimulationParams };

/** A model-loading progress report a person can read. */
export interface LoadProgress {
  /** What is happening: downloading weights, reading them from the browser cache, compiling shaders, ... */
  phase: 'fetching' | 'loading-cache' | 'shaders' | 'finishing' | 'done' | 'other';
  /** Overall fraction of the current phase in [0, 1]. */
  fraction: number;
  /** Megabytes fetched or loaded so far, when web-llm reports them. */
  megabytes?: number;
  /** Total megabytes of weights, estimated from megabytes and percent when both are known. */
  totalMegabytes?: number;
  /** Shard counter `[done, total]` of the weights or shaders. */
  shards?: [number, number];
  /** Seconds since loading started, as web-llm reports it. */
  elapsedSeconds: number;
  /** web-llm's own progress text, unchanged. */
  text: string;
}

/** What a load established about the model, for the run record and the export. */
export interface LoadedModel {
  variantKey: string;
  engine: 'webllm' | 'simulated';
  method: ScoringMethod;
  /** Token ids of the answer strings A..D in the model's own tokenizer (absent for the simulated engine). */
  letterTokenIds?: LetterVector;
  /**
   * Length of the logit vector the model produces (its mlc-chat-config vocab_size, padding included), when
   * known at load; every captured vector is checked against it.
   */
  vocabSize?: number;
  adapter?: AdapterInfo;
  /** web-llm version, for the export. */
  engineVersion?: string;
  /** Wall-clock load time in milliseconds. */
  loadMs: number;
}

/** One item to score. */
export interface ScoreRequest {
  /** Increases with every request of a controller; echoed back so a stale reply can be recognised. */
  requestId: number;
  variantKey: string;
  itemId: string;
  /** The exact prompt text; the answer is its next token. */
  prompt: string;
  /**
   * Gold answer index 0..3. Only the simulated engine reads it (its generative model needs the truth); a
   * real model never sees it.
   */
  label: number;
  /**
   * Scoring path for this request only, overriding the engine's (web-llm engine only): lets an engine check or
   * a test score the same prompt both ways on one loaded model.
   */
  method?: Exclude<ScoringMethod, 'simulated'>;
}

/** One item's scores, named as the results file names them (ResultsItem) so storing and export are copies. */
export interface ItemLetterScore {
  requestId: number;
  variantKey: string;
  itemId: string;
  /** Raw scores of A..D: raw next-token logits, or the exact 4-way log-softmax for `logprobs-bias`. */
  letterLogits: LetterVector;
  letterTokenIds?: LetterVector;
  /** Log-sum-exp of the whole next-token logit vector (logit-processor and simulated only). */
  logSumExp?: number;
  /** Probability of the four letters under the full-vocabulary softmax (when logSumExp is known). */
  letterMass?: number;
  /** Prompt length in tokens (a characters / 4 stand-in for the simulated engine). */
  promptTokens: number;
  /** Wall-clock time of the request in milliseconds. */
  elapsedMs: number;
  method: ScoringMethod;
  /** Length of the logit vector the LogitProcessor saw (logit-processor only). */
  vocabSize?: number;
}

/**
 * A scoring engine: one model in memory at a time, one request per item. Implemented by WebLLMScoringEngine
 * (inside a worker) and SimulatedEngine; the UI and the run controller never know which one runs.
 */
export interface ScoringEngine {
  /** Unloads whatever is loaded, then loads `variant` and resolves the answer strings' token ids. */
  load(
    variant: EngineVariant,
    answerStrings: AnswerStrings,
    onProgress?: (progress: LoadProgress) => void,
  ): Promise<LoadedModel>;
  /** Scores one prompt into letter logits. Rejects with an EngineError-named error. */
  score(request: ScoreRequest): Promise<ItemLetterScore>;
  /** Frees the model's GPU memory; a no-op when nothing is loaded. */
  unload(): Promise<void>;
  /** Unloads and releases everything; the engine is not used again. */
  dispose(): Promise<void>;
}

/** One prebuilt model of web-llm's list, as the variant picker shows it. */
export interface CatalogEntry extends ModelRecordSpec {
  /** Parameter count label, e.g. `0.6B`. */
  size: string;
  /** e.g. `q4f16_1`. */
  quantization: string;
  /** Whether the model's kernels need WebGPU's shader-f16 feature. */
  needsShaderF16: boolean;
}

/** What the browser cache holds for one model. */
export interface CacheStatus {
  modelId: string;
  /** web-llm's hasModelInCache: every weight shard is cached. */
  cached: boolean;
  /** Bytes of weights, tokenizer, config and library found in web-llm's caches. */
  bytes: number;
}

/** The web-llm worker's API: the engine plus what only the worker can do (web-llm lives there alone). */
export interface WebLLMWorkerApi extends ScoringEngine {
  /** Qwen3 models from web-llm's own prebuiltAppConfig. */
  listPrebuiltModels(): Promise<CatalogEntry[]>;
  /** The WebGPU adapter the worker sees, or null without WebGPU. */
  probeAdapter(): Promise<AdapterInfo | null>;
  cacheStatus(models: ModelRecordSpec[]): Promise<CacheStatus[]>;
  deleteFromCache(model: ModelRecordSpec): Promise<void>;
}

/** Faults the simulated engine injects on request, counted in score calls made on one engine instance. */
export interface SimulatedFaults {
  /** The score call with this 0-based index rejects with ScoringError. */
  failAtCall?: number;
  /** The score call with this index rejects with DeviceLostError and the model is gone until reloaded. */
  loseDeviceAtCall?: number;
  /** The score call with this index never answers and the engine's onCrash hook runs (a worker crash). */
  crashAtCall?: number;
  /** Every score call first waits this long (a slow GPU). */
  delayMs?: number;
}

/** The simulated worker's API: the engine plus fault injection for tests. */
export interface SimulatedWorkerApi extends ScoringEngine {
  setFaults(faults: SimulatedFaults): Promise<void>;
}

// ---------------------------------------------------------------------------------------------------
// Named errors. They cross worker boundaries by name (comlink keeps name, message and stack), so callers
// switch on `name`, never on instanceof.
// ---------------------------------------------------------------------------------------------------

export { ENGINE_ERROR_NAMES, type EngineErrorName } from '../core/errors';

/** An engine failure with a distinct name and a message a person can act on. */
export class EngineError extends Error {
  override readonly name: EngineErrorName;
  constructor(name: EngineErrorName, message: string) {
    super(message);
    this.name = name;
  }
}

/** Errors after which a fresh engine (a new worker, a reload) is expected to work: the run resumes itself. */
export const RECOVERABLE_ENGINE_ERRORS: ReadonlySet<string> = new Set<EngineErrorName>([
  'DeviceLostError',
  'WorkerCrashedError',
]);
