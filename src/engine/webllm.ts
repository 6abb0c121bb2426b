/**
 * The real engine: web-llm's MLCEngine, owned by a Web Worker, scoring each prompt into exact letter logits.
 * The only module that imports @mlc-ai/web-llm; only workers/webllm.worker.ts imports it, so web-llm stays
 * out of the main bundle.
 *
 * Why an MLCEngine inside our own worker rather than web-llm's WebWorkerMLCEngine: the LogitProcessor must
 * live where the engine lives (WebWorkerMLCEngine ignores engineConfig.logitProcessorRegistry and its
 * "customRequest" message does nothing), and WebWorkerMLCEngine's client class would pull web-llm into the
 * main thread. Here the worker constructs the MLCEngine, registers the LetterLogitCapture for the model id
 * before each reload (web-llm reads the registry in reloadInternal), and exposes the ScoringEngine over
 * comlink, the same protocol the simulated engine speaks.
 */
import {
  deleteModelAllInfoInCache,
  hasModelInCache,
  MLCEngine,
  modelLibURLPrefix,
  modelVersion,
  prebuiltAppConfig,
  type AppConfig,
  type ChatOptions,
  type Completion,
  type CompletionCreateParamsNonStreaming,
  type InitProgressReport,
  type LogitProcessor,
  type ModelRecord,
} from '@mlc-ai/web-llm';
import webllmPackage from '@mlc-ai/web-llm/package.json';
import type { AdapterInfo, LetterVector } from '../core/types';
import { probeAdapter as probeWebGpuAdapter, type ProbedAdapter } from './adapter';
import { checkModelRunsOn, selectQwen3Models } from './catalog';
import { resolveLetterTokenIds, tokenizerFromJson } from './letter-tokens';
import { LetterLogitCapture, letterLogitsFromTopLogprobs } from './logits';
import { cachedModelBytes, readCachedVocabSize, readTokenizerJson } from './model-cache';
import { parseInitProgress } from './progress';
import {
  EngineError,
  type AnswerStrings,
  type CacheStatus,
  type CatalogEntry,
  type EngineVariant,
  type ItemLetterScore,
  type LoadedModel,
  type LoadProgress,
  type ModelRecordSpec,
  type ScoreRequest,
  type ScoringMethod,
  type WebLLMWorkerApi,
} from './types';

export const WEBLLM_VERSION: string = webllmPackage.version;

/** The part of web-llm's MLCEngine this engine calls. A faithful fake implements exactly this in tests. */
export interface MLCEngineLike {
  setAppConfig(appConfig: AppConfig): void;
  setInitProgressCallback(callback?: (report: InitProgressReport) => void): void;
  setLogitProcessorRegistry(registry?: Map<string, LogitProcessor>): void;
  reload(modelId: string | string[], chatOpts?: ChatOptions | ChatOptions[]): Promise<void>;
  unload(): Promise<void>;
  completion(request: CompletionCreateParamsNonStreaming): Promise<Completion>;
}

export interface WebLLMScoringEngineOptions {
  /** Default: `new MLCEngine()`. */
  createEngine?: () => MLCEngineLike;
  /** Default: the WebGPU adapter of this worker. */
  probeAdapter?: () => Promise<ProbedAdapter | null>;
  /** Default: tokenizer.json from web-llm's cache, else fetched from the model folder. */
  loadTokenizerJson?: (model: ModelRecordSpec) => Promise<unknown>;
  /** Default: vocab_size of the mlc-chat-config.json web-llm cached; undefined when unknown. */
  loadVocabSize?: (model: ModelRecordSpec) => Promise<number | undefined>;
  /** Scoring path to try first; `logprobs-bias` forces the fallback. Default `logit-processor`. */
  method?: Exclude<ScoringMethod, 'simulated'>;
  /** Model list for names in messages (the f32 alternative). Default: Qwen3 of web-llm's prebuiltAppConfig. */
  catalog?: CatalogEntry[];
}

/** web-llm's ModelRecord for a spec. */
export function toModelRecord(spec: ModelRecordSpec): ModelRecord {
  return {
    model: spec.modelUrl,
    model_id: spec.modelId,
    model_lib: spec.modelLibUrl,
    ...(spec.overrides ? { overrides: spec.overrides as ChatOptions } : {}),
    ...(spec.vramRequiredMB !== undefined ? { vram_required_MB: spec.vramRequiredMB } : {}),
    ...(spec.requiredFeatures ? { required_features: spec.requiredFeatures } : {}),
  };
}

/** An app config holding just this model: the cache helpers and reload need the custom record passed in. */
export function appConfigFor(spec: ModelRecordSpec): AppConfig {
  return { model_list: [toModelRecord(spec)] };
}

/**
 * A model library built for another web-llm runtime fails to instantiate: WebAssembly's LinkError for an import
 * the runtime does not provide, or TVM's "missing function" for one it no longer exports (SOURCE of the kit's
 * real-engine tier: a v0_2_48 library under web-llm 0.2.86 fails with `LinkError: ... "env"
 * "_ZN3tvm7runtime9threading15ResetThreadPoolEv": function import requires a callable`).
 */
export function isLibraryLinkFailure(error: unknown): boolean {
  const name = (error as { name?: unknown } | null)?.name;
  const message = String((error as { message?: unknown } | null)?.message ?? error);
  return name === 'LinkError' || /\bLinkError\b|function import requires a callable|missing function: /.test(message);
}

/** The named error for a library that does not link with the bundled web-llm, saying what the kit needs. */
export function libraryMismatchError(spec: ModelRecordSpec, error: unknown): EngineError {
  const message = String((error as { message?: unknown } | null)?.message ?? error);
  return new EngineError(
    'ModelLibraryMismatchError',
    `The model library of ${spec.modelId} (${spec.modelLibUrl}) does not link with this kit's web-llm ` +
      `${WEBLLM_VERSION}: ${message}. This web-llm runs model libraries built for ${modelVersion} ` +
      `(web-llm's own are under ${modelLibURLPrefix}${modelVersion}/).`,
  );
}

/** Keeps web-llm's named errors (they carry their own meaning); wraps nameless ones as `fallback`. */
function named(error: unknown, fallback: 'ModelLoadError' | 'ScoringError', context: string): Error {
  if (error instanceof Error && error.name !== 'Error' && error.name !== 'TypeError') return error;
  const message = error instanceof Error ? error.message : String(error);
  return new EngineError(fallback, `${context}: ${message}`);
}

interface LoadedState {
  key: string;
  modelId: string;
  answerStrings: AnswerStrings;
  letterTokenIds: LetterVector;
  method: Exclude<ScoringMethod, 'simulated'>;
  /** The declared logit vector length; the first captured vector sets it when the config did not. */
  vocabSize?: number;
}

export class WebLLMScoringEngine implements WebLLMWorkerApi {
  private readonly engine: MLCEngineLike;
  private readonly capture = new LetterLogitCapture();
  private readonly options: WebLLMScoringEngineOptions;
  private loaded: LoadedState | undefined;
  /** Bumped by every load and unload, so a load overtaken by an unload does not mark itself loaded. */
  private generation = 0;

  constructor(options: WebLLMScoringEngineOptions = {}) {
    this.options = options;
    this.engine = options.createEngine?.() ?? new MLCEngine();
  }

  private get catalog(): CatalogEntry[] {
    return this.options.catalog ?? selectQwen3Models(prebuiltAppConfig.model_list);
  }

  async listPrebuiltModels(): Promise<CatalogEntry[]> {
    return this.catalog;
  }

  async probeAdapter(): Promise<AdapterInfo | null> {
    const a = await (this.options.probeAdapter ?? probeWebGpuAdapter)();
    if (!a) return null;
    const { features: _features, isFallbackAdapter: _fallback, ...info } = a;
    return info;
  }

  async load(
    variant: EngineVariant,
    answerStrings: AnswerStrings,
    onProgress?: (progress: LoadProgress) => void,
  ): Promise<LoadedModel> {
    if (variant.engine !== 'webllm') {
      throw new EngineError('ModelLoadError', `The web-llm engine cannot load the simulated variant ${variant.key}.`);
    }
    const start = performance.now();
    await this.unload();
    const generation = ++this.generation;
    const spec = variant.model;
    const adapter = await (this.options.probeAdapter ?? probeWebGpuAdapter)();
    checkModelRunsOn(spec, adapter, this.catalog);

    this.engine.setAppConfig(appConfigFor(spec));
    this.engine.setLogitProcessorRegistry(new Map<string, LogitProcessor>([[spec.modelId, this.capture]]));
    this.engine.setInitProgressCallback((report) => onProgress?.(parseInitProgress(report)));
    try {
      await this.engine.reload(spec.modelId);
    } catch (e) {
      if (isLibraryLinkFailure(e)) throw libraryMismatchError(spec, e);
      throw named(e, 'ModelLoadError', `Loading ${spec.modelId} from ${spec.modelUrl}`);
    } finally {
      this.engine.setInitProgressCallback(undefined);
    }
    // web-llm's reload returns quietly when an unload aborted it.
    if (generation !== this.generation) {
      throw new EngineError('ModelLoadError', `Loading ${spec.modelId} was cancelled.`);
    }

    let tokenizerJson: unknown;
    try {
      tokenizerJson = await (this.options.loadTokenizerJson ?? ((m) => readTokenizerJson(m)))(spec);
    } catch (e) {
      throw new EngineError(
        'LetterTokenError',
        `Could not read ${spec.modelId}'s tokenizer.json: ${(e as Error).message}`,
      );
    }
    const letterTokenIds = resolveLetterTokenIds(tokenizerFromJson(tokenizerJson), answerStrings);
    this.capture.setLetterTokenIds(letterTokenIds);
    const method = this.options.method ?? 'logit-processor';
    const vocabSize = await (this.options.loadVocabSize ?? ((m) => readCachedVocabSize(m)))(spec).catch(
      () => undefined,
    );
    this.loaded = { key: variant.key, modelId: spec.modelId, answerStrings, letterTokenIds, method, vocabSize };
    const { features: _features, isFallbackAdapter: _fallback, ...adapterInfo } = adapter!;
    return {
      variantKey: variant.key,
      engine: 'webllm',
      method,
      letterTokenIds,
      ...(vocabSize !== undefined ? { vocabSize } : {}),
      adapter: adapterInfo,
      engineVersion: WEBLLM_VERSION,
      loadMs: performance.now() - start,
    };
  }

  async score(request: ScoreRequest): Promise<ItemLetterScore> {
    const loaded = this.loaded;
    if (!loaded) throw new EngineError('ModelNotLoadedError', 'No model is loaded in the web-llm worker.');
    if (request.variantKey !== loaded.key) {
      throw new EngineError('ScoringError', `Request for ${request.variantKey} but ${loaded.key} is loaded.`);
    }
    const start = performance.now();
    if ((request.method ?? loaded.method) === 'logit-processor') {
      this.capture.resetState();
      const completion = await this.complete(loaded, request, {
        model: loaded.modelId,
        prompt: request.prompt,
        max_tokens: 1,
        temperature: 1,
        top_p: 1,
        stream: false,
      });
      const captured = this.capture.take();
      if (captured) {
        if (loaded.vocabSize !== undefined && captured.vocabSize !== loaded.vocabSize) {
          throw new EngineError(
            'ScoringError',
            `${loaded.modelId} produced a logit vector of length ${captured.vocabSize}, but its mlc-chat-config.json ` +
              `declares vocab_size ${loaded.vocabSize}: the weights, config and library do not belong together.`,
          );
        }
        loaded.vocabSize = captured.vocabSize;
        return {
          requestId: request.requestId,
          variantKey: request.variantKey,
          itemId: request.itemId,
          letterLogits: captured.letterLogits,
          letterTokenIds: loaded.letterTokenIds,
          logSumExp: captured.logSumExp,
          letterMass: captured.letterMass,
          promptTokens: completion.usage?.prompt_tokens ?? 0,
          elapsedMs: performance.now() - start,
          method: 'logit-processor',
          vocabSize: captured.vocabSize,
        };
      }
      // web-llm never called the processor (e.g. a build that skips it): use the logprobs path from now on.
      loaded.method = 'logprobs-bias';
    }
    const logitBias: Record<string, number> = {};
    for (const id of loaded.letterTokenIds) logitBias[String(id)] = 100;
    const completion = await this.complete(loaded, request, {
      model: loaded.modelId,
      prompt: request.prompt,
      max_tokens: 1,
      temperature: 1,
      top_p: 1,
      logprobs: true,
      top_logprobs: 4,
      logit_bias: logitBias,
      stream: false,
    });
    const top = completion.choices[0]?.logprobs?.content?.[0]?.top_logprobs ?? [];
    return {
      requestId: request.requestId,
      variantKey: request.variantKey,
      itemId: request.itemId,
      letterLogits: letterLogitsFromTopLogprobs(top, loaded.answerStrings),
      letterTokenIds: loaded.letterTokenIds,
      promptTokens: completion.usage?.prompt_tokens ?? 0,
      elapsedMs: performance.now() - start,
      method: 'logprobs-bias',
    };
  }

  /** One completions.create; a model that vanished under a loaded state means the GPU device was lost. */
  private async complete(
    loaded: LoadedState,
    request: ScoreRequest,
    params: CompletionCreateParamsNonStreaming,
  ): Promise<Completion> {
    try {
      return await this.engine.completion(params);
    } catch (e) {
      // web-llm's device.lost handler unloads the model, so the next request finds none loaded.
      if (e instanceof Error && e.name === 'ModelNotLoadedError' && this.loaded === loaded) {
        this.loaded = undefined;
        throw new EngineError('DeviceLostError', `The GPU device was lost while scoring ${request.itemId}.`);
      }
      throw named(e, 'ScoringError', `Scoring ${request.itemId}`);
    }
  }

  async unload(): Promise<void> {
    this.generation++;
    this.loaded = undefined;
    await this.engine.unload();
  }

  async dispose(): Promise<void> {
    await this.unload();
  }

  async cacheStatus(models: ModelRecordSpec[]): Promise<CacheStatus[]> {
    const statuses: CacheStatus[] = [];
    for (const m of models) {
      statuses.push({
        modelId: m.modelId,
        cached: await hasModelInCache(m.modelId, appConfigFor(m)),
        bytes: await cachedModelBytes(m),
      });
    }
    return statuses;
  }

  async deleteFromCache(model: ModelRecordSpec): Promise<void> {
    await deleteModelAllInfoInCache(model.modelId, appConfigFor(model));
  }
}
