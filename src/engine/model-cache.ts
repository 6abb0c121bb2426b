/**
 * What web-llm keeps in the browser's Cache Storage for a model, read without web-llm: its default cache
 * backend puts weights and tokenizer files under the scope `webllm/model`, mlc-chat-config.json under
 * `webllm/config` and the model library under `webllm/wasm`, each keyed by the file's URL.
 */
import { modelBaseUrl } from './catalog';
import type { ModelRecordSpec } from './types';

export const WEBLLM_CACHE_SCOPES = ['webllm/model', 'webllm/config', 'webllm/wasm'] as const;

async function responseBytes(response: Response): Promise<number> {
  const length = Number(response.headers.get('content-length'));
  if (Number.isFinite(length) && length > 0) return length;
  return (await response.blob()).size;
}

/** Bytes of this model's files (weights, tokenizer, config, library) held in web-llm's caches. */
export async function cachedModelBytes(
  model: ModelRecordSpec,
  storage: CacheStorage | undefined = globalThis.caches,
): Promise<number> {
  if (!storage) return 0;
  const base = modelBaseUrl(model.modelUrl);
  let total = 0;
  for (const scope of WEBLLM_CACHE_SCOPES) {
    if (!(await storage.has(scope))) continue;
    const cache = await storage.open(scope);
    for (const request of await cache.keys()) {
      if (!request.url.startsWith(base) && request.url !== model.modelLibUrl) continue;
      const response = await cache.match(request);
      if (response) total += await responseBytes(response);
    }
  }
  return total;
}

/**
 * The model's tokenizer.json as web-llm cached it while loading (parsed JSON), or fetched from the model
 * folder when the cache does not have it (another cache backend, or an evicted entry).
 */
export async function readTokenizerJson(
  model: ModelRecordSpec,
  storage: CacheStorage | undefined = globalThis.caches,
  fetchFn: typeof fetch = globalThis.fetch,
): Promise<unknown> {
  const url = new URL('tokenizer.json', modelBaseUrl(model.modelUrl)).href;
  let response: Response | undefined;
  if (storage && (await storage.has('webllm/model'))) {
    response = await (await storage.open('webllm/model')).match(url);
  }
  response ??= await fetchFn(url);
  if (!response.ok) throw new Error(`HTTP ${response.status} for ${url}`);
  return response.json();
}

/**
 * The `vocab_size` of the model's mlc-chat-config.json as web-llm cached it while loading (the length of the
 * logit vector the model produces, padding included), or undefined when the cache does not hold it.
 */
export async function readCachedVocabSize(
  model: ModelRecordSpec,
  storage: CacheStorage | undefined = globalThis.caches,
): Promise<number | undefined> {
  if (!storage || !(await storage.has('webllm/config'))) return undefined;
  const url = new URL('mlc-chat-config.json', modelBaseUrl(model.modelUrl)).href;
  const response = await (await storage.open('webllm/config')).match(url);
  if (!response?.ok) return undefined;
  const config = (await response.json().catch(() => undefined)) as { vocab_size?: unknown } | undefined;
  const n = config?.vocab_size;
  return typeof n === 'number' && Number.isInteger(n) && n > 0 ? n : undefined;
}
