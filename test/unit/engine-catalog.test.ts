import { describe, expect, it } from 'vitest';
import {
  checkModelRunsOn,
  f32Alternative,
  modelBaseUrl,
  needsShaderF16,
  quantizationOf,
  selectQwen3Models,
  smallestSuitableModel,
  type ModelRecordLike,
} from '../../src/engine/catalog';

const record = (id: string, vram: number): ModelRecordLike => ({
  model: `https://huggingface.co/mlc-ai/${id}`,
  model_id: id,
  model_lib: `https://libs.example/${id}.wasm`,
  vram_required_MB: vram,
  overrides: { context_window_size: 4096, nested: { not: 'kept' } },
});
const list: ModelRecordLike[] = [
  record('Llama-3.2-1B-Instruct-q4f16_1-MLC', 900),
  record('Qwen3-0.6B-q4f16_1-MLC', 1403),
  record('Qwen3-0.6B-q4f32_1-MLC', 1925),
  record('Qwen3-8B-q4f16_1-MLC', 5696),
  record('Qwen3-8B-q4f32_1-MLC', 6853),
  record('Qwen3.5-0.8B-q4f16_1-MLC', 800),
  record('Qwen3-0.6B-q4f16_1-MLC-1k', 700),
];

describe('model catalog', () => {
  it('keeps only the Qwen3 builds, in list order, with sizes, quantisations and scalar overrides', () => {
    const c = selectQwen3Models(list);
    expect(c.map((e) => e.modelId)).toEqual([
      'Qwen3-0.6B-q4f16_1-MLC',
      'Qwen3-0.6B-q4f32_1-MLC',
      'Qwen3-8B-q4f16_1-MLC',
      'Qwen3-8B-q4f32_1-MLC',
    ]);
    expect(c[0]).toMatchObject({
      size: '0.6B',
      quantization: 'q4f16_1',
      needsShaderF16: true,
      vramRequiredMB: 1403,
      overrides: { context_window_size: 4096 },
    });
    expect(c[0].overrides).not.toHaveProperty('nested');
    expect(c[1].needsShaderF16).toBe(false);
  });

  it('reads quantisations from ids and folder names', () => {
    expect(quantizationOf('Qwen3-4B-q4f16_1-MLC')).toBe('q4f16_1');
    expect(quantizationOf('Qwen3-0.6B-q0f32-MLC')).toBe('q0f32');
    expect(quantizationOf('my_sft-q4f32_1')).toBe('q4f32_1');
    expect(quantizationOf('my-model')).toBeUndefined();
    expect(needsShaderF16('Qwen3-0.6B-q0f16-MLC')).toBe(true);
    expect(needsShaderF16('Qwen3-0.6B-q0f32-MLC')).toBe(false);
    expect(needsShaderF16('unknown')).toBe(false);
  });

  it('offers the f32 build of an f16 model and picks the smallest model an adapter can run', () => {
    const c = selectQwen3Models(list);
    expect(f32Alternative('Qwen3-8B-q4f16_1-MLC', c)?.modelId).toBe('Qwen3-8B-q4f32_1-MLC');
    expect(f32Alternative('Qwen3-8B-q4f32_1-MLC', c)).toBeUndefined();
    expect(smallestSuitableModel(c, { vendor: '', architecture: '', shaderF16: true })?.modelId).toBe(
      'Qwen3-0.6B-q4f16_1-MLC',
    );
    expect(smallestSuitableModel(c, { vendor: '', architecture: '', shaderF16: false })?.modelId).toBe(
      'Qwen3-0.6B-q4f32_1-MLC',
    );
  });
});

describe('checkModelRunsOn', () => {
  const c = selectQwen3Models(list);
  const f16 = c[0];
  it('refuses no adapter, an f16 build without shader-f16 (naming the f32 build) and a missing declared feature', () => {
    expect(() => checkModelRunsOn(f16, null, c)).toThrow(expect.objectContaining({ name: 'WebGPUNotAvailableError' }));
    expect(() => checkModelRunsOn(f16, { vendor: 'x', architecture: '', shaderF16: false }, c)).toThrow(
      /Use Qwen3-0\.6B-q4f32_1-MLC instead/,
    );
    const needs = { ...c[1], requiredFeatures: ['timestamp-query'] };
    expect(() => checkModelRunsOn(needs, { vendor: '', architecture: '', shaderF16: false, features: [] }, c)).toThrow(
      expect.objectContaining({ name: 'FeatureSupportError' }),
    );
  });
  it('accepts what the adapter can run', () => {
    expect(() => checkModelRunsOn(f16, { vendor: '', architecture: '', shaderF16: true }, c)).not.toThrow();
    expect(() =>
      checkModelRunsOn(c[1], { vendor: '', architecture: '', shaderF16: false, features: [] }, c),
    ).not.toThrow();
  });
});

describe('modelBaseUrl (what web-llm fetches from)', () => {
  it('appends resolve/main/ unless the URL names a revision', () => {
    expect(modelBaseUrl('https://huggingface.co/mlc-ai/Qwen3-0.6B-q4f16_1-MLC')).toBe(
      'https://huggingface.co/mlc-ai/Qwen3-0.6B-q4f16_1-MLC/resolve/main/',
    );
    expect(modelBaseUrl('http://127.0.0.1:8787/my-sft/')).toBe('http://127.0.0.1:8787/my-sft/resolve/main/');
    expect(modelBaseUrl('http://127.0.0.1:8787/my-sft/resolve/main')).toBe(
      'http://127.0.0.1:8787/my-sft/resolve/main/',
    );
    expect(modelBaseUrl('https://host/x/resolve/v2/')).toBe('https://host/x/resolve/v2/');
  });
});
