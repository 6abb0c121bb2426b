/**
 * Variant records: the prebuilt Qwen3 builds, a user's custom MLC variant (their SFT or GRPO checkpoint) and
 * simulated variants. A custom variant's form input is checked here once, with valibot; the record that comes
 * out is what storage keeps, the run controller loads and the export carries.
 */
import { sha256 } from '@noble/hashes/sha2.js';
import { bytesToHex, utf8ToBytes } from '@noble/hashes/utils.js';
import * as v from 'valibot';
import { VARIANT_ROLES, type LetterVector, type VariantRole } from '../core/types';
import { quantizationOf } from './catalog';
import { DEFAULT_SIMULATION, checkSimulationParams } from './simulated';
import type { CatalogEntry, EngineVariant, SimulationParams, VariantRecord } from './types';

/** A short content hash: the key changes whenever what the variant loads changes, so results never mix. */
function shortHash(value: unknown): string {
  return bytesToHex(sha256(utf8ToBytes(JSON.stringify(value)))).slice(0, 12);
}

function slug(name: string): string {
  return (
    name
      .trim()
      .toLowerCase()
      .replace(/[^a-z0-9._-]+/g, '-')
      .replace(/^-+|-+$/g, '') || 'variant'
  );
}

const httpUrl = (what: string) =>
  v.pipe(
    v.string(`${what} must be text`),
    v.trim(),
    v.url(`${what} must be an absolute URL, e.g. http://127.0.0.1:8787/my-model`),
    v.check((s) => /^https?:\/\//.test(s), `${what} must start with http:// or https://`),
  );

/** What a person enters to add a custom variant. */
export const CustomVariantInputSchema = v.object({
  name: v.pipe(
    v.string('name must be text'),
    v.trim(),
    v.nonEmpty('name is required'),
    v.maxLength(80, 'name is longer than 80 characters'),
  ),
  role: v.picklist(VARIANT_ROLES, `role must be one of ${VARIANT_ROLES.join(', ')}`),
  modelUrl: httpUrl('model URL'),
  modelLibUrl: v.pipe(
    httpUrl('model library URL'),
    v.check((s) => /\.wasm($|\?)/.test(s), 'model library URL must point to a .wasm file'),
  ),
  /** web-llm model id; defaults to the last path part of the model URL. */
  modelId: v.optional(
    v.pipe(v.string(), v.trim(), v.regex(/^[A-Za-z0-9._-]+$/, 'model id may hold only letters, digits, . _ -')),
  ),
  contextWindowSize: v.optional(
    v.pipe(
      v.number('context window must be a number'),
      v.integer('context window must be a whole number'),
      v.minValue(256, 'context window must be at least 256'),
    ),
  ),
});
export type CustomVariantInput = v.InferInput<typeof CustomVariantInputSchema>;

/** Invalid variant input: every problem, each naming its field. */
export class VariantInputError extends Error {
  override readonly name = 'VariantInputError';
  constructor(readonly problems: string[]) {
    super(`The variant is not valid: ${problems.join('; ')}.`);
  }
}

/** A custom web-llm variant from form input, or VariantInputError naming each bad field. */
export function parseCustomVariant(input: unknown, now: Date = new Date()): VariantRecord {
  const parsed = v.safeParse(CustomVariantInputSchema, input);
  if (!parsed.success) {
    throw new VariantInputError(parsed.issues.map((i) => `${v.getDotPath(i) ?? 'input'}: ${i.message}`));
  }
  const p = parsed.output;
  const lastPart = new URL(p.modelUrl).pathname
    .split('/')
    .filter((s) => s && s !== 'resolve' && s !== 'main')
    .pop();
  const modelId = p.modelId || lastPart || slug(p.name);
  const model = {
    modelId,
    modelUrl: p.modelUrl,
    modelLibUrl: p.modelLibUrl,
    ...(p.contextWindowSize !== undefined ? { overrides: { context_window_size: p.contextWindowSize } } : {}),
    ...(quantizationOf(modelId) ? { quantization: quantizationOf(modelId) } : {}),
    prebuilt: false,
  };
  return {
    key: `custom:${slug(p.name)}:${shortHash([model.modelId, model.modelUrl, model.modelLibUrl, model.overrides ?? null])}`,
    name: p.name,
    role: p.role,
    simulated: false,
    engine: 'webllm',
    model,
    createdAt: now.toISOString(),
  };
}

/** A variant for one of web-llm's prebuilt models. */
export function prebuiltVariant(
  entry: CatalogEntry,
  role: VariantRole,
  name: string = entry.modelId,
  now = new Date(),
): VariantRecord {
  const { size: _size, needsShaderF16: _f16, ...spec } = entry;
  return {
    key: `webllm:${entry.modelId}`,
    name,
    role,
    simulated: false,
    engine: 'webllm',
    model: { ...spec, prebuilt: true },
    createdAt: now.toISOString(),
  };
}

/** A simulated variant; its output is labelled simulated everywhere. */
export function simulatedVariant(
  name: string,
  role: VariantRole,
  params: Partial<SimulationParams> = {},
  now = new Date(),
): VariantRecord {
  const simulation: SimulationParams = {
    ...DEFAULT_SIMULATION,
    ...params,
    letterBias: [...(params.letterBias ?? DEFAULT_SIMULATION.letterBias)] as LetterVector,
  };
  checkSimulationParams(simulation);
  return {
    key: `simulated:${slug(name)}:${shortHash(simulation)}`,
    name,
    role,
    simulated: true,
    engine: 'simulated',
    simulation,
    createdAt: now.toISOString(),
  };
}

/** What the engine needs to load a stored variant. */
export function engineVariantOf(variant: VariantRecord): EngineVariant {
  if (variant.engine === 'simulated') {
    if (!variant.simulation || !variant.simulated)
      throw new Error(`Variant ${variant.key} is simulated but lacks its parameters or label.`);
    return { engine: 'simulated', key: variant.key, simulation: variant.simulation };
  }
  if (!variant.model || variant.simulated)
    throw new Error(`Variant ${variant.key} is a web-llm variant but lacks its model record.`);
  const { quantization: _q, prebuilt: _p, ...model } = variant.model;
  return { engine: 'webllm', key: variant.key, model };
}
