/**
 * What WebGPU adapter this browser offers, asked the same way web-llm asks (a high-performance adapter), so
 * the kit can refuse a model the adapter cannot run before downloading gigabytes. Works on the main thread
 * and in workers; no web-llm import.
 */
import type { AdapterInfo } from '../core/types';

/**
 * AdapterInfo plus every feature the adapter offers (for checking a record's required_features) and whether the
 * browser says it is a fallback adapter (GPUAdapterInfo.isFallbackAdapter, formerly GPUAdapter.isFallbackAdapter).
 */
export type ProbedAdapter = AdapterInfo & { features: string[]; isFallbackAdapter?: boolean };

/** What a software (CPU) WebGPU implementation is called, by the words its adapter info carries. */
const SOFTWARE_RENDERERS: readonly [RegExp, string][] = [
  [/swiftshader/i, 'SwiftShader'],
  [/llvmpipe/i, 'llvmpipe'],
  [/lavapipe/i, 'lavapipe'],
  [/warp|microsoft basic render/i, 'Microsoft WARP'],
];

/**
 * The name of the software renderer behind an adapter (SwiftShader, llvmpipe, ..., or "a fallback adapter"),
 * or undefined for a GPU. Such an adapter runs WebGPU on the CPU: models load and score, but minutes per item.
 */
export function softwareAdapterName(
  adapter: Pick<ProbedAdapter, 'vendor' | 'architecture' | 'description' | 'isFallbackAdapter'>,
): string | undefined {
  const words = [adapter.vendor, adapter.architecture, adapter.description ?? ''].join(' ');
  for (const [pattern, name] of SOFTWARE_RENDERERS) if (pattern.test(words)) return name;
  return adapter.isFallbackAdapter ? 'a fallback adapter' : undefined;
}

/** The adapter, or null when the browser has no WebGPU or no adapter (e.g. a blocklisted GPU). */
export async function probeAdapter(gpu: GPU | undefined = globalThis.navigator?.gpu): Promise<ProbedAdapter | null> {
  if (!gpu) return null;
  let adapter: GPUAdapter | null;
  try {
    adapter = await gpu.requestAdapter({ powerPreference: 'high-performance' });
  } catch {
    return null;
  }
  if (!adapter) return null;
  const info = adapter.info;
  const features = [...adapter.features].map(String).sort();
  const fallback =
    (info as { isFallbackAdapter?: boolean } | undefined)?.isFallbackAdapter ??
    (adapter as { isFallbackAdapter?: boolean }).isFallbackAdapter;
  return {
    vendor: info?.vendor ?? '',
    architecture: info?.architecture ?? '',
    ...(info?.description ? { description: info.description } : {}),
    shaderF16: adapter.features.has('shader-f16'),
    features,
    ...(fallback ? { isFallbackAdapter: true } : {}),
  };
}
