/**
 * What this browser offers the kit: the WebGPU adapter (vendor, architecture, shader-f16), the storage
 * quota and whether it is persistent, and what that allows (which quantisations, which model downloads fit).
 * Probed on the main thread without web-llm; the web-llm worker asks the adapter the same way.
 */
import { probeAdapter, softwareAdapterName, type ProbedAdapter } from '../engine/adapter';
import type { AdapterInfo } from '../core/types';
import type { CatalogEntry } from '../engine/types';
import { estimateStorage, requestPersistentStorage, type PersistenceState } from '../storage/db';

/** A catalog entry and whether this machine can take it. */
export interface ModelFit {
  entry: CatalogEntry;
  /** shader-f16 present when the build needs it. */
  runs: boolean;
  /** The browser's free quota exceeds web-llm's VRAM figure (an upper bound on the download). */
  fitsStorage: boolean | undefined;
}

const MB = 1024 * 1024;

/**
 * What the kit measured on a software adapter (headless Chromium, SwiftShader, 2 CPU cores; Qwen2-0.5B q4f32_1
 * through web-llm, see the README's real-engine tier): ~25-35 s to load, 2-2.5 minutes for a 37-45-token zero-shot
 * MMLU prompt, ~25 s for a two-token one (a large fixed cost per request); with other work on the cores, about 2.5
 * times that. Cost grows with the model's size (Qwen3-8B: ~16 times the weights).
 */
export const SOFTWARE_ADAPTER_TIMINGS = {
  model: 'Qwen2-0.5B q4f32_1',
  loadSeconds: 35,
  /** A zero-shot MMLU prompt (~40 tokens). */
  minutesPerItem: 2.5,
} as const;

export class EnvironmentState {
  /** undefined while probing; null when the browser has no WebGPU adapter. */
  adapter = $state.raw<ProbedAdapter | null | undefined>(undefined);
  storage = $state.raw<{ usage: number; quota: number } | undefined>(undefined);
  persistence = $state<PersistenceState | undefined>(undefined);
  probing = $state(true);
  /** `navigator.gpu` exists (the adapter may still be missing, e.g. a blocklisted GPU). */
  hasWebGpuApi = $state(false);

  /** True when models can run here. */
  get webgpu(): boolean {
    return this.adapter !== null && this.adapter !== undefined;
  }

  /**
   * The software renderer behind the adapter (SwiftShader, llvmpipe, a fallback adapter), or undefined for a
   * GPU: models run there, but at minutes per item (SOFTWARE_ADAPTER_TIMINGS).
   */
  get softwareAdapter(): string | undefined {
    return this.adapter ? softwareAdapterName(this.adapter) : undefined;
  }

  /** The adapter as runs and exports record it (without the feature list). */
  get adapterInfo(): AdapterInfo | undefined {
    if (!this.adapter) return undefined;
    const { features: _features, isFallbackAdapter: _fallback, ...info } = this.adapter;
    return info;
  }

  /** Quantisations this adapter can run: f16 kernels need shader-f16. */
  get quantizations(): string[] {
    if (!this.webgpu) return [];
    return this.adapter!.shaderF16 ? ['q4f16_1', 'q4f32_1', 'q0f16', 'q0f32'] : ['q4f32_1', 'q0f32'];
  }

  /** Free bytes under the quota, when the browser says. */
  get freeBytes(): number | undefined {
    return this.storage ? Math.max(0, this.storage.quota - this.storage.usage) : undefined;
  }

  async probe(): Promise<void> {
    this.probing = true;
    this.hasWebGpuApi = typeof navigator !== 'undefined' && 'gpu' in navigator && navigator.gpu !== undefined;
    const [adapter, storage] = await Promise.all([
      probeAdapter().catch(() => null),
      estimateStorage().catch(() => undefined),
    ]);
    this.adapter = adapter;
    this.storage = storage;
    this.persistence =
      (await navigator.storage
        ?.persisted?.()
        .then((p) => (p ? 'persisted' : 'not-persisted'))
        .catch(() => 'unsupported' as const)) ?? 'unsupported';
    this.probing = false;
  }

  /** Asks the browser to keep this site's data (results and cached models) under storage pressure. */
  async requestPersistence(): Promise<void> {
    this.persistence = await requestPersistentStorage().catch(() => 'unsupported' as const);
    this.storage = await estimateStorage().catch(() => this.storage);
  }

  /** Which prebuilt models this machine can run and store. */
  fits(catalog: readonly CatalogEntry[]): ModelFit[] {
    const free = this.freeBytes;
    return catalog.map((entry) => ({
      entry,
      runs: this.webgpu && (!entry.needsShaderF16 || this.adapter!.shaderF16),
      fitsStorage:
        free === undefined || entry.vramRequiredMB === undefined ? undefined : entry.vramRequiredMB * MB < free,
    }));
  }
}

/** Bytes as a person reads them (1 decimal, binary units). */
export function formatBytes(bytes: number | undefined): string {
  if (bytes === undefined || !Number.isFinite(bytes)) return 'unknown';
  const units = ['B', 'KB', 'MB', 'GB', 'TB'];
  let x = bytes;
  let u = 0;
  while (x >= 1024 && u < units.length - 1) {
    x /= 1024;
    u++;
  }
  return `${u === 0 ? x : x.toFixed(1)} ${units[u]}`;
}
