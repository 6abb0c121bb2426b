/**
 * A faithful fake of web-llm's MLCEngine at the boundary WebLLMScoringEngine uses, the way web-llm's own
 * tests replace the engine (tests/web_worker_handler.test.ts mocks MLCEngine). It follows web-llm 0.2.86's
 * code paths, read in src/engine.ts and src/llm_chat.ts:
 * - reload(id): unload, find the record in the app config (setAppConfig), read the LogitProcessor registry
 *   *at reload time* (reloadInternal), report progress in @mlc-ai/web-runtime's text formats, then load;
 *   an unload during reload makes reload return quietly (the AbortError is swallowed).
 * - completion(request): ModelNotLoadedError without a model; the request checks of
 *   postInitAndCheckFieldsCompletion and the top_logprobs range; prefill resets the chat (which calls the
 *   processor's resetState); the logits go to processLogits on the CPU *before* logit_bias and temperature;
 *   then logit_bias, a float32 softmax with temperature, sampling, processSampledToken, and top_logprobs as
 *   Math.log of the float32 probabilities with the token text decoded from the id. Only the prefill step is
 *   modelled: the engine under test always sends max_tokens: 1, so web-llm stops before any decode step.
 * - loseDevice(): web-llm's device.lost handler unloads the model.
 * The "model" is a seeded function of the prompt: logits = a fixed random vector plus prompt-dependent
 * letter boosts, so tests know every raw logit.
 */
import { TokenizerLoader } from '@lenml/tokenizers';
import type {
  AppConfig,
  ChatOptions,
  Completion,
  CompletionCreateParamsNonStreaming,
  InitProgressReport,
  LogitProcessor,
} from '@mlc-ai/web-llm';
import { deriveSeed, Rng } from '../../src/core/random';
import type { MLCEngineLike } from '../../src/engine/webllm';

export class NamedError extends Error {
  constructor(name: string, message: string) {
    super(message);
    this.name = name;
  }
}

export interface FakeEngineOptions {
  /** Parsed tokenizer.json: gives token texts for top_logprobs and prompt token counts. */
  tokenizerJson: unknown;
  /** Length of the logit vector (web-llm's fullVocabSize; Qwen3: 151,936). */
  vocabSize?: number;
  /** Makes reload throw this (e.g. a NamedError('DeviceLostError', ...)). */
  reloadError?: Error;
  /** Milliseconds reload waits before finishing (to test unload during reload). */
  reloadDelayMs?: number;
  /** A web-llm build that never calls the processor (to exercise the fallback). */
  skipLogitProcessor?: boolean;
}

export class FakeMLCEngine implements MLCEngineLike {
  appConfig: AppConfig | undefined;
  registry: Map<string, LogitProcessor> | undefined;
  progressCallback: ((r: InitProgressReport) => void) | undefined;
  loadedModelId: string | undefined;
  private processor: LogitProcessor | undefined;
  private aborted = false;
  readonly requests: CompletionCreateParamsNonStreaming[] = [];
  readonly reloads: string[] = [];
  /** The raw logits of the latest prefill, before the processor and logit_bias. */
  lastRawLogits: Float32Array | undefined;
  readonly vocabSize: number;
  private readonly tokenizer: ReturnType<typeof TokenizerLoader.fromPreTrained>;
  private readonly base: Float32Array;

  constructor(private readonly options: FakeEngineOptions) {
    this.vocabSize = options.vocabSize ?? 151_936;
    this.tokenizer = TokenizerLoader.fromPreTrained({
      tokenizerJSON: options.tokenizerJson as never,
      tokenizerConfig: {},
    });
    const rng = new Rng(deriveSeed(0, 'fake-mlc-engine'));
    this.base = new Float32Array(this.vocabSize);
    for (let i = 0; i < this.vocabSize; i++) this.base[i] = 8 * rng.nextFloat() - 6;
  }

  setAppConfig(appConfig: AppConfig): void {
    this.appConfig = appConfig;
  }

  setInitProgressCallback(callback?: (r: InitProgressReport) => void): void {
    this.progressCallback = callback;
  }

  setLogitProcessorRegistry(registry?: Map<string, LogitProcessor>): void {
    this.registry = registry;
  }

  async reload(modelId: string | string[], _chatOpts?: ChatOptions | ChatOptions[]): Promise<void> {
    await this.unload();
    this.aborted = false;
    const id = Array.isArray(modelId) ? modelId[0] : modelId;
    this.reloads.push(id);
    const processor = this.registry?.get(id); // read once, as reloadInternal does
    const record = this.appConfig?.model_list.find((r) => r.model_id === id);
    if (!record) throw new NamedError('ModelNotFoundError', `Cannot find model record in appConfig for ${id}`);
    if (this.options.reloadError) throw this.options.reloadError;
    const report = (progress: number, text: string) => this.progressCallback?.({ progress, timeElapsed: 1, text });
    report(0, 'Start to fetch params');
    report(
      0.5,
      'Fetching param cache[1/2]: 150MB fetched. 50% completed, 1 secs elapsed. It can take a while when we first visit this page to populate the cache. Later refreshes will become faster.',
    );
    report(
      1,
      'Fetching param cache[2/2]: 300MB fetched. 100% completed, 2 secs elapsed. It can take a while when we first visit this page to populate the cache. Later refreshes will become faster.',
    );
    report(1, 'Loading GPU shader modules[40/40]: 100% completed, 3 secs elapsed.');
    if (this.options.reloadDelayMs) await new Promise((r) => setTimeout(r, this.options.reloadDelayMs));
    if (this.aborted) return; // web-llm: "Reload() is aborted." is logged and reload resolves
    report(1, 'Finish loading on WebGPU - fake adapter');
    this.processor = processor;
    this.loadedModelId = id;
  }

  async unload(): Promise<void> {
    this.aborted = true;
    this.loadedModelId = undefined;
    this.processor = undefined;
  }

  /** What web-llm's device.lost handler does: log and unload. */
  loseDevice(): void {
    this.loadedModelId = undefined;
    this.processor = undefined;
  }

  /** The model: fixed random logits plus letter boosts that depend on the prompt text. */
  rawLogits(prompt: string): Float32Array {
    const logits = new Float32Array(this.base);
    const rng = new Rng(deriveSeed(1, prompt));
    for (const text of [' A', ' B', ' C', ' D', 'A', 'B', 'C', 'D']) {
      const id = this.tokenizer.encode(text, { add_special_tokens: false })[0];
      logits[id] = 10 * rng.nextFloat() + 2;
    }
    return logits;
  }

  async completion(request: CompletionCreateParamsNonStreaming): Promise<Completion> {
    if (!this.loadedModelId) {
      throw new NamedError('ModelNotLoadedError', 'Model not loaded before trying to complete CompletionCreateParams.');
    }
    for (const field of ['suffix', 'user', 'best_of']) {
      if (field in request) throw new NamedError('UnsupportedFieldsError', `unsupported: ${field}`);
    }
    if (request.top_logprobs != null) {
      if (!request.logprobs) throw new NamedError('DependencyError', 'top_logprobs requires logprobs to be true.');
      if (request.top_logprobs < 0 || request.top_logprobs > 5) throw new NamedError('RangeError', 'top_logprobs');
    }
    this.requests.push(request);
    // prefill: resetChat calls the processor's resetState, then the forward pass
    this.processor?.resetState();
    const raw = this.rawLogits(request.prompt as string);
    this.lastRawLogits = new Float32Array(raw);
    let logits = raw;
    if (this.processor && !this.options.skipLogitProcessor) logits = this.processor.processLogits(logits);
    for (const [id, bias] of Object.entries(request.logit_bias ?? {})) logits[Number(id)] += bias;
    const temperature = Math.max(1e-6, request.temperature ?? 1);
    let max = -Infinity;
    for (const l of logits) if (l > max) max = l;
    const probs = new Float32Array(logits.length);
    let sum = 0;
    for (let i = 0; i < logits.length; i++) sum += probs[i] = Math.fround(Math.exp((logits[i] - max) / temperature));
    for (let i = 0; i < probs.length; i++) probs[i] = Math.fround(probs[i] / sum);
    let sampled = 0;
    for (let i = 1; i < probs.length; i++) if (probs[i] > probs[sampled]) sampled = i;
    this.processor?.processSampledToken(sampled);
    const decode = (id: number) => this.tokenizer.decode([id]);
    const k = request.logprobs ? (request.top_logprobs ?? 0) : 0;
    const order =
      k > 0
        ? Array.from(probs.keys())
            .sort((a, b) => probs[b] - probs[a])
            .slice(0, k)
        : [];
    const promptTokens = this.tokenizer.encode(request.prompt as string, { add_special_tokens: false }).length;
    return {
      id: 'fake',
      object: 'text_completion',
      created: 0,
      model: this.loadedModelId,
      choices: [
        {
          index: 0,
          text: decode(sampled),
          finish_reason: 'length',
          logprobs: request.logprobs
            ? {
                content: [
                  {
                    token: decode(sampled),
                    bytes: [],
                    logprob: Math.log(probs[sampled]),
                    top_logprobs: order.map((id) => ({ token: decode(id), bytes: [], logprob: Math.log(probs[id]) })),
                  },
                ],
              }
            : null,
        },
      ],
      usage: { prompt_tokens: promptTokens, completion_tokens: 1, total_tokens: promptTokens + 1 },
    } as Completion;
  }
}
