import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { prebuiltAppConfig } from '@mlc-ai/web-llm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  checkModelFolder,
  createModelServer,
  KIT_WEBLLM_VERSION,
  matchingPrebuiltId,
  tensorCacheManifest,
} from '../../scripts/serve-model';

let root: string;
let dir: string;
let base: string;
let server: ReturnType<typeof createModelServer>;
const chatConfig = {
  model_type: 'qwen3',
  quantization: 'q4f16_1',
  model_config: { hidden_size: 4096, num_hidden_layers: 36 },
};
const shard = Uint8Array.from({ length: 3000 }, (_, i) => (i * 31) % 256);

beforeAll(async () => {
  root = mkdtempSync(path.join(tmpdir(), 'serve-model-'));
  dir = path.join(root, 'qwen3-8b-sft-q4f16_1-MLC');
  mkdirSync(dir);
  writeFileSync(path.join(dir, 'mlc-chat-config.json'), JSON.stringify(chatConfig));
  writeFileSync(path.join(dir, 'tensor-cache.json'), '{"records": []}');
  writeFileSync(path.join(dir, 'params_shard_0.bin'), shard);
  mkdirSync(path.join(dir, 'sub'));
  writeFileSync(path.join(root, 'secret.txt'), 'outside the model folder');
  writeFileSync(path.join(root, 'my-lib.wasm'), Uint8Array.from([0, 97, 115, 109]));
  server = createModelServer({ dir, name: 'qwen3-8b-sft', lib: path.join(root, 'my-lib.wasm') });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  await new Promise((resolve) => server.close(resolve));
  rmSync(root, { recursive: true, force: true });
});

/** A raw request, so the path reaches the server exactly as written (fetch would normalise "..").*/
function raw(
  method: string,
  rawPath: string,
): Promise<{ status: number; headers: Record<string, unknown>; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(`${base}${rawPath}`, { method }, (res) => {
      let body = '';
      res.on('data', (c) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body }));
    });
    req.path = rawPath;
    req.on('error', reject);
    req.end();
  });
}

describe('serve-model on loopback', () => {
  it('serves the folder at /<name>/resolve/main/ with CORS, as web-llm fetches it', async () => {
    const res = await fetch(`${base}/qwen3-8b-sft/resolve/main/mlc-chat-config.json`, {
      headers: { Origin: 'http://localhost:5173' },
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('access-control-allow-origin')).toBe('*');
    expect(res.headers.get('content-type')).toBe('application/json');
    expect(await res.json()).toEqual(chatConfig);
    const bin = await fetch(`${base}/qwen3-8b-sft/resolve/main/params_shard_0.bin`);
    expect(bin.headers.get('content-length')).toBe('3000');
    expect(new Uint8Array(await bin.arrayBuffer())).toEqual(shard);
  });

  it('answers HEAD and CORS preflights', async () => {
    const head = await fetch(`${base}/qwen3-8b-sft/resolve/main/params_shard_0.bin`, { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(head.headers.get('content-length')).toBe('3000');
    const pre = await fetch(`${base}/qwen3-8b-sft/resolve/main/tensor-cache.json`, {
      method: 'OPTIONS',
      headers: { Origin: 'http://localhost:5173', 'Access-Control-Request-Method': 'GET' },
    });
    expect(pre.status).toBe(204);
    expect(pre.headers.get('access-control-allow-methods')).toContain('GET');
  });

  it('serves the model library given with --lib as application/wasm', async () => {
    const res = await fetch(`${base}/qwen3-8b-sft/lib/my-lib.wasm`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('application/wasm');
    expect(new Uint8Array(await res.arrayBuffer())).toEqual(Uint8Array.from([0, 97, 115, 109]));
  });

  it('never serves anything outside the folder, other names, folders or other methods', async () => {
    expect((await raw('GET', '/qwen3-8b-sft/resolve/main/../../secret.txt')).status).toBe(404);
    expect((await raw('GET', '/qwen3-8b-sft/resolve/main/..%2Fsecret.txt')).status).toBe(404);
    expect((await raw('GET', '/qwen3-8b-sft/resolve/main/%2e%2e/secret.txt')).status).toBe(404);
    expect((await raw('GET', '/other/resolve/main/mlc-chat-config.json')).status).toBe(404);
    expect((await raw('GET', '/qwen3-8b-sft/resolve/main/sub')).status).toBe(404);
    expect((await raw('GET', '/qwen3-8b-sft/resolve/main/')).status).toBe(404);
    const post = await raw('POST', '/qwen3-8b-sft/resolve/main/mlc-chat-config.json');
    expect(post.status).toBe(405);
    expect(post.headers['access-control-allow-origin']).toBe('*');
    expect(() => createModelServer({ dir, name: '../x' })).toThrow(/may hold only/);
  });
});

describe('model folder checks', () => {
  it('names what is missing and matches the prebuilt library of the same Qwen3 size and quantisation', async () => {
    const { chatConfig: read, warnings } = await checkModelFolder(dir);
    expect(read).toEqual(chatConfig);
    expect(warnings).toEqual([expect.stringContaining('no tokenizer.json')]);
    const id = matchingPrebuiltId(read);
    expect(id).toBe('Qwen3-8B-q4f16_1-MLC');
    expect(prebuiltAppConfig.model_list.some((r) => r.model_id === id)).toBe(true);
    expect(matchingPrebuiltId({ ...chatConfig, model_type: 'llama' })).toBeUndefined();
    expect(
      matchingPrebuiltId({ ...chatConfig, model_config: { hidden_size: 1, num_hidden_layers: 2 } }),
    ).toBeUndefined();
    const empty = await checkModelFolder(root);
    expect(empty.warnings.join('\n')).toMatch(/mlc-chat-config\.json[\s\S]*tensor-cache\.json[\s\S]*tokenizer\.json/);
  });

  it("checks for the weights' manifest the kit's web-llm fetches, and says what to do when only the other name is there", async () => {
    expect(KIT_WEBLLM_VERSION).toBe('0.2.86');
    expect(tensorCacheManifest('0.2.86')).toBe('tensor-cache.json');
    expect(tensorCacheManifest('0.2.80')).toBe('tensor-cache.json');
    expect(tensorCacheManifest('0.2.79')).toBe('ndarray-cache.json');
    expect(tensorCacheManifest('0.1.9')).toBe('ndarray-cache.json');
    expect(tensorCacheManifest('1.0.0')).toBe('tensor-cache.json');
    const old = path.join(root, 'old-convert');
    mkdirSync(old);
    writeFileSync(path.join(old, 'mlc-chat-config.json'), JSON.stringify(chatConfig));
    writeFileSync(path.join(old, 'tokenizer.json'), '{}');
    writeFileSync(path.join(old, 'ndarray-cache.json'), '{"records": []}');
    const { warnings } = await checkModelFolder(old);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/^no tensor-cache\.json: the kit's web-llm 0\.2\.86 fetches tensor-cache\.json/);
    expect(warnings[0]).toContain('cp ndarray-cache.json tensor-cache.json');
    // The same folder is complete for a web-llm that reads the old name.
    expect((await checkModelFolder(old, '0.2.79')).warnings).toEqual([]);
    expect((await checkModelFolder(dir, '0.2.79')).warnings.join('\n')).toMatch(/no ndarray-cache\.json/);
  });
});
