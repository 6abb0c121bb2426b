/**
 * What WebGPU adapter this browser offers, asked the same way web-llm asks (a high-performance adapter), so
 * the kit can refuse a model the adapter cannot run before downloading gigabytes. Works on the main thread
 * and in workers; no web-llm import.
 */
import type { AdapterInfo } from '../core/types';

/** AdapterInfo plus every feature the adapter offers, for checking a record's required_features. */
export type ProbedAdapter = AdapterInfo & { features: string[] };

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
  return {
    vendor: info?.vendor ?? '',
    architecture: info?.architecture ?? '',
    ...(info?.description ? { description: info.description } : {}),
    shaderF16: adapter.features.has('shader-f16'),
    features,
  };
}
