import { commands } from 'vitest/browser';
import { describe, expect, it } from 'vitest';
import { startWebLLMEngine } from '../../src/engine/remote';
import { describeError } from '../../src/core/errors';
import { WEBLLM_VERSION } from '../../src/engine/webllm';

declare module 'vitest/browser' {
  interface BrowserCommands {
    serveOldModelLibrary: () => Promise<{ modelUrl: string; modelLibUrl: string }>;
  }
}

// The bundled web-llm (0.2.86) and a real model library built for 0.2.79's ABI (../shared/webllm-runtime): the
// load fails at WebAssembly link time, before any weights are fetched, and must reach the person named.
describe('a model library built for another web-llm', () => {
  it('is refused as ModelLibraryMismatchError naming the model, the library URL and the libraries the kit needs', async () => {
    const { modelUrl, modelLibUrl } = await commands.serveOldModelLibrary();
    const handle = startWebLLMEngine();
    try {
      const model = { modelId: 'qwen2-0.5b', modelUrl, modelLibUrl };
      const error = await handle
        .load({ engine: 'webllm', key: 'custom:qwen2', model }, [' A', ' B', ' C', ' D'])
        .catch((e) => e);
      expect(WEBLLM_VERSION).toBe('0.2.86');
      expect(error.name).toBe('ModelLibraryMismatchError');
      expect(error.message).toContain('qwen2-0.5b');
      expect(error.message).toContain(modelLibUrl);
      expect(error.message).toContain("does not link with this kit's web-llm 0.2.86");
      expect(error.message).toContain('v0_2_86/base');
      expect(error.message).toMatch(/LinkError|function import requires a callable/);
      expect(describeError(error).action).toMatch(/another web-llm version/);
    } finally {
      handle.terminate();
    }
  });
});
