import { describe, expect, it } from 'vitest';
import { selectQwen3Models } from '../../src/engine/catalog';
import {
  engineVariantOf,
  parseCustomVariant,
  prebuiltVariant,
  simulatedVariant,
  VariantInputError,
} from '../../src/engine/variants';
import { urlOrigin } from '../../src/core/url-origin';

const now = new Date('2025-01-02T03:04:05Z');
const input = {
  name: 'Qwen3-8B SFT (sycophancy)',
  role: 'sft',
  modelUrl: 'http://127.0.0.1:8787/qwen3-8b-sft-q4f16_1',
  modelLibUrl: 'https://libs.example/Qwen3-8B-q4f16_1_cs1k-webgpu.wasm',
  contextWindowSize: 4096,
};

describe('parseCustomVariant', () => {
  it('builds a web-llm variant with a model id from the URL, its quantisation and the context-window override', () => {
    const v = parseCustomVariant(input, now);
    expect(v).toMatchObject({
      name: input.name,
      role: 'sft',
      simulated: false,
      engine: 'webllm',
      createdAt: '2025-01-02T03:04:05.000Z',
      model: {
        modelId: 'qwen3-8b-sft-q4f16_1',
        modelUrl: input.modelUrl,
        modelLibUrl: input.modelLibUrl,
        overrides: { context_window_size: 4096 },
        quantization: 'q4f16_1',
        prebuilt: false,
      },
    });
    expect(v.key).toMatch(/^custom:qwen3-8b-sft-sycophancy:[0-9a-f]{12}$/);
  });

  it('changes the key whenever what is loaded changes, so results of two models never mix', () => {
    const a = parseCustomVariant(input, now).key;
    expect(parseCustomVariant({ ...input }, now).key).toBe(a);
    expect(parseCustomVariant({ ...input, modelUrl: 'http://127.0.0.1:8787/other' }, now).key).not.toBe(a);
    expect(parseCustomVariant({ ...input, contextWindowSize: 2048 }, now).key).not.toBe(a);
  });

  it('names every bad field', () => {
    try {
      parseCustomVariant({
        name: ' ',
        role: 'teacher',
        modelUrl: 'file:///x',
        modelLibUrl: 'https://x/lib.so',
        contextWindowSize: 10.5,
      });
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(VariantInputError);
      const problems = (e as VariantInputError).problems.join('\n');
      expect(problems).toMatch(/^name: name is required/m);
      expect(problems).toMatch(/^role: role must be one of base, sft, grpo, other/m);
      expect(problems).toMatch(/^modelUrl: model URL must start with http/m);
      expect(problems).toMatch(/^modelLibUrl: .*\.wasm/m);
      expect(problems).toMatch(/^contextWindowSize: context window must be a whole number/m);
    }
  });
});

describe('prebuilt and simulated variants', () => {
  it('turns catalog entries and simulated settings into loadable engine variants', () => {
    const [entry] = selectQwen3Models([
      {
        model: 'https://hf/mlc-ai/Qwen3-0.6B-q4f32_1-MLC',
        model_id: 'Qwen3-0.6B-q4f32_1-MLC',
        model_lib: 'https://l/x.wasm',
      },
    ]);
    const pre = prebuiltVariant(entry, 'base', undefined, now);
    expect(pre.key).toBe('webllm:Qwen3-0.6B-q4f32_1-MLC');
    expect(engineVariantOf(pre)).toEqual({
      engine: 'webllm',
      key: pre.key,
      model: {
        modelId: entry.modelId,
        modelUrl: entry.modelUrl,
        modelLibUrl: entry.modelLibUrl,
        overrides: {},
        vramRequiredMB: undefined,
        requiredFeatures: undefined,
      },
    });
    const sim = simulatedVariant('grpo-sim', 'grpo', { accuracy: 0.6, confidenceScale: 2.5 }, now);
    expect(sim).toMatchObject({ simulated: true, engine: 'simulated', role: 'grpo' });
    expect(engineVariantOf(sim)).toMatchObject({
      engine: 'simulated',
      simulation: { accuracy: 0.6, confidenceScale: 2.5, letterMass: 0.95 },
    });
    expect(simulatedVariant('grpo-sim', 'grpo', { accuracy: 0.6 }, now).key).not.toBe(sim.key);
    expect(() => simulatedVariant('x', 'base', { accuracy: 2 })).toThrow(/accuracy 2/);
  });

  it('refuses records whose engine and label disagree', () => {
    const sim = simulatedVariant('s', 'base', {}, now);
    expect(() => engineVariantOf({ ...sim, simulated: false })).toThrow(/simulated but lacks/);
    const custom = parseCustomVariant(input, now);
    expect(() => engineVariantOf({ ...custom, simulated: true })).toThrow(/lacks its model record/);
  });
});

describe('urlOrigin (what the custom-variant form shows before loading)', () => {
  it('names the origin of a library or weights URL and whether it is this machine or a known model host', () => {
    expect(urlOrigin('http://127.0.0.1:8787/my-grpo/resolve/main/')).toEqual({
      origin: 'http://127.0.0.1:8787',
      kind: 'local',
    });
    expect(urlOrigin('http://localhost:9000/x.wasm')).toEqual({ origin: 'http://localhost:9000', kind: 'local' });
    expect(urlOrigin(' https://huggingface.co/mlc-ai/Qwen3-8B-q4f16_1-MLC ')).toEqual({
      origin: 'https://huggingface.co',
      kind: 'known',
    });
    expect(urlOrigin('https://raw.githubusercontent.com/mlc-ai/binary-mlc-llm-libs/main/a.wasm').kind).toBe('known');
    expect(urlOrigin('https://models.example.org:8443/lib.wasm')).toEqual({
      origin: 'https://models.example.org:8443',
      kind: 'other',
    });
  });

  it('says nothing about text that is not an http(s) URL yet', () => {
    expect(urlOrigin('')).toEqual({ kind: 'invalid' });
    expect(urlOrigin('huggingface.co/x')).toEqual({ kind: 'invalid' });
    expect(urlOrigin('file:///tmp/lib.wasm')).toEqual({ kind: 'invalid' });
  });
});
