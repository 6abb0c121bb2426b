import { describe, expect, it } from 'vitest';
import { cachedModelBytes } from '../../src/engine/model-cache';
import { startWebLLMEngine } from '../../src/engine/remote';
import type { EngineVariant } from '../../src/engine/types';

// web-llm's real code in a real Worker of real Chromium (no model weights here, so nothing is downloaded).
describe('the web-llm worker', () => {
  it("boots web-llm, lists its Qwen3 builds, probes this Chromium's adapter and refuses what the adapter cannot run", async () => {
    const handle = startWebLLMEngine();
    try {
      const catalog = await handle.guard(handle.remote.listPrebuiltModels());
      expect(catalog.map((e) => e.modelId)).toContain('Qwen3-0.6B-q4f32_1-MLC');
      const adapter = await handle.guard(handle.remote.probeAdapter());
      const here = await navigator.gpu.requestAdapter({ powerPreference: 'high-performance' });
      expect(adapter === null).toBe(here === null);
      expect(adapter?.shaderF16).toBe(here?.features.has('shader-f16'));
      const f16 = catalog.find((e) => e.modelId === 'Qwen3-0.6B-q4f16_1-MLC')!;
      const { size: _s, quantization: _q, needsShaderF16: _n, ...model } = f16;
      const variant: EngineVariant = { engine: 'webllm', key: `webllm:${model.modelId}`, model };
      if (adapter && !adapter.shaderF16) {
        const error = await handle.load(variant, [' A', ' B', ' C', ' D']).catch((e) => e);
        expect(error.name).toBe('ShaderF16SupportError');
        expect(error.message).toContain('Qwen3-0.6B-q4f32_1-MLC');
      }
      await expect(
        handle.score({ requestId: 1, variantKey: variant.key, itemId: 'x', prompt: 'p', label: 0 }),
      ).rejects.toMatchObject({
        name: 'ModelNotLoadedError',
      });
      const status = await handle.guard(handle.remote.cacheStatus([model]));
      expect(status).toEqual([{ modelId: model.modelId, cached: false, bytes: 0 }]);
    } finally {
      handle.terminate();
    }
  });
});

describe("web-llm's cache, read without web-llm", () => {
  it("counts a model's bytes in the webllm/model, webllm/config and webllm/wasm caches, and nothing else", async () => {
    const model = {
      modelId: 'm',
      modelUrl: 'http://127.0.0.1:9/test-model',
      modelLibUrl: 'http://127.0.0.1:9/lib/m.wasm',
    };
    const base = 'http://127.0.0.1:9/test-model/resolve/main/';
    const put = async (scope: string, url: string, bytes: number, withLength = true) =>
      (await caches.open(scope)).put(
        url,
        new Response(new Uint8Array(bytes), withLength ? { headers: { 'Content-Length': String(bytes) } } : {}),
      );
    try {
      await put('webllm/model', `${base}params_shard_0.bin`, 1000);
      await put('webllm/model', `${base}tokenizer.json`, 300, false);
      await put('webllm/model', 'http://127.0.0.1:9/other-model/resolve/main/params_shard_0.bin', 5000);
      await put('webllm/config', `${base}mlc-chat-config.json`, 20);
      await put('webllm/wasm', model.modelLibUrl, 7);
      expect(await cachedModelBytes(model)).toBe(1327);
    } finally {
      for (const scope of ['webllm/model', 'webllm/config', 'webllm/wasm']) await caches.delete(scope);
    }
  });
});
