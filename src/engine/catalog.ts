/**
 * The model catalog and the checks made before loading: which prebuilt Qwen3 builds web-llm offers (filtered
 * from its own prebuiltAppConfig, never a hand copy), which quantisations need shader-f16, the f32 alternative
 * to offer, and the model URL web-llm will actually fetch from. Pure; the adapter facts come from adapter.ts.
 */
import type { AdapterInfo } from '../core/types';
import { EngineError, type CatalogEntry, type ModelRecordSpec } from './types';

/** The fields of web-llm's ModelRecord this module reads (restated: no web-llm import here). */
export interface ModelRecordLike {
  model: string;
  model_id: string;
  model_lib: string;
  overrides?: Record<string, unknown>;
  vram_required_MB?: number;
  required_features?: string[];
}

/** Qwen3 sizes and quantisations the study's kit offers, by web-llm model id. */
const QWEN3_ID = /^Qwen3-(0\.6B|1\.7B|4B|8B)-(q4f16_1|q4f32_1|q0f16|q0f32)-MLC$/;

/** The quantisation part of an MLC model id or folder name (`q4f16_1`, `q0f32`, ...), or undefined. */
export function quantizationOf(modelId: string): string | undefined {
  return /(?:^|[-_])(q\d+f(?:16|32)(?:_\d+)?)(?=$|[-_.])/.exec(modelId)?.[1];
}

/** f16 builds run half-precision kernels: WebGPU must offer `shader-f16`. */
export function needsShaderF16(modelId: string): boolean {
  return /^q\d+f16/.test(quantizationOf(modelId) ?? '');
}

/** The Qwen3 entries of a web-llm model list, in the list's order, with sizes and quantisations. */
export function selectQwen3Models(modelList: readonly ModelRecordLike[]): CatalogEntry[] {
  const entries: CatalogEntry[] = [];
  for (const r of modelList) {
    const m = QWEN3_ID.exec(r.model_id);
    if (!m) continue;
    const overrides: Record<string, number | string | boolean> = {};
    for (const [k, v] of Object.entries(r.overrides ?? {})) {
      if (typeof v === 'number' || typeof v === 'string' || typeof v === 'boolean') overrides[k] = v;
    }
    entries.push({
      modelId: r.model_id,
      modelUrl: r.model,
      modelLibUrl: r.model_lib,
      overrides,
      vramRequiredMB: r.vram_required_MB,
      requiredFeatures: r.required_features,
      size: m[1],
      quantization: m[2],
      needsShaderF16: needsShaderF16(r.model_id),
    });
  }
  return entries;
}

/** The same model in the f32 build (q4f16_1 -> q4f32_1, q0f16 -> q0f32), when the catalog has it. */
export function f32Alternative(modelId: string, catalog: readonly CatalogEntry[]): CatalogEntry | undefined {
  const q = quantizationOf(modelId);
  if (!q || !needsShaderF16(modelId)) return undefined;
  const wanted = modelId.replace(q, q.replace('f16', 'f32'));
  return catalog.find((e) => e.modelId === wanted);
}

/** Smallest catalog entry that runs on this adapter (for the engine check): prefers f16 when it is offered. */
export function smallestSuitableModel(
  catalog: readonly CatalogEntry[],
  adapter: AdapterInfo,
): CatalogEntry | undefined {
  const runnable = catalog.filter((e) => adapter.shaderF16 || !e.needsShaderF16);
  const byVram = (a: CatalogEntry, b: CatalogEntry) => (a.vramRequiredMB ?? Infinity) - (b.vramRequiredMB ?? Infinity);
  return [...runnable].sort(byVram)[0];
}

/**
 * Refuses, before any download, a model the adapter cannot run: no WebGPU at all, an f16 build without
 * shader-f16 (the message names the f32 build), or a feature the record declares and the adapter lacks.
 * web-llm's own check reads only `required_features`, which its Qwen3 records do not declare, so the
 * quantisation in the model id decides here.
 */
export function checkModelRunsOn(
  model: ModelRecordSpec,
  adapter: (AdapterInfo & { features?: readonly string[] }) | null,
  catalog: readonly CatalogEntry[] = [],
): void {
  if (adapter === null) {
    throw new EngineError(
      'WebGPUNotAvailableError',
      'This browser offers no WebGPU adapter, so no model can run here.',
    );
  }
  if (needsShaderF16(model.modelId) && !adapter.shaderF16) {
    const alt = f32Alternative(model.modelId, catalog);
    throw new EngineError(
      'ShaderF16SupportError',
      `${model.modelId} needs the WebGPU feature shader-f16, which this adapter (${adapter.vendor || 'unknown vendor'}) ` +
        `does not offer.` +
        (alt ? ` Use ${alt.modelId} instead.` : ' Use the q4f32_1 build of the same model.'),
    );
  }
  for (const f of model.requiredFeatures ?? []) {
    if (f === 'shader-f16' ? !adapter.shaderF16 : adapter.features !== undefined && !adapter.features.includes(f)) {
      throw new EngineError(
        'FeatureSupportError',
        `${model.modelId} needs the WebGPU feature ${f}, which this adapter lacks.`,
      );
    }
  }
}

/**
 * The folder URL web-llm fetches a model from: a trailing slash, and `resolve/main/` appended unless the URL
 * already has a `/resolve/<rev>/` part (web-llm's cleanModelUrl in src/support.ts does the same).
 */
export function modelBaseUrl(modelUrl: string): string {
  let url = modelUrl.endsWith('/') ? modelUrl : modelUrl + '/';
  if (!/.+\/resolve\/.+\//.test(url)) url += 'resolve/main/';
  return new URL(url).href;
}
