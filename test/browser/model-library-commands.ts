// Node-side vitest browser command for test/browser/engine-library-mismatch.test.ts: serves web-llm's prebuilt
// Qwen2-0.5B library (built for web-llm 0.2.48..0.2.79) and a model folder holding only its mlc-chat-config.json,
// with the kit's own serve-model server, so the bundled web-llm can try to link it.
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { BrowserCommandContext } from 'vitest/node';
import { createModelServer } from '../../scripts/serve-model';
import { qwen2ChatConfig, readLibraryMetadata } from '../../scripts/synthetic-model';
import { modelLibPath } from '../real-engine/support';

let served: { modelUrl: string; modelLibUrl: string } | undefined;

export const modelLibraryCommands = {
  /** The URLs of a served v0_2_48 model library and a config-only model folder (started once per run). */
  async serveOldModelLibrary(_ctx: BrowserCommandContext): Promise<{ modelUrl: string; modelLibUrl: string }> {
    if (served) return served;
    const lib = modelLibPath();
    const dir = path.join(mkdtempSync(path.join(tmpdir(), 'kit-old-lib-')), 'qwen2-0.5b');
    mkdirSync(dir);
    writeFileSync(
      path.join(dir, 'mlc-chat-config.json'),
      JSON.stringify(qwen2ChatConfig(readLibraryMetadata(readFileSync(lib), lib))),
    );
    const server = createModelServer({ dir, name: 'qwen2-0.5b', lib });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    server.unref();
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/qwen2-0.5b`;
    served = { modelUrl: base, modelLibUrl: `${base}/lib/${path.basename(lib)}` };
    return served;
  },
};
