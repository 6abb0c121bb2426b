/**
 * serve-model: serves a local MLC-compiled model folder at http://127.0.0.1:<port>/<name>/resolve/main/ with
 * CORS, the layout web-llm fetches from, so a user's own compiled variants (the study's SFT and GRPO
 * checkpoints) load in the app as custom variants. Loopback only; read-only; no directory listings.
 *
 *   npm run serve-model -- ./dist/qwen3-8b-sft-q4f16_1-MLC --name qwen3-8b-sft [--port 8787] [--lib lib.wasm]
 *
 * The folder is checked first against what the kit's web-llm fetches (above all the weights' manifest, whose
 * file name changed in web-llm 0.2.80); each problem is printed as a warning before serving.
 */
import { createReadStream, readFileSync, realpathSync } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import path from 'node:path';
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import { Command, InvalidArgumentError } from 'commander';

export interface ModelServerOptions {
  /** The MLC model folder (mlc-chat-config.json, tensor-cache.json, params_shard_*.bin, tokenizer files). */
  dir: string;
  /** URL name of the model: files are served at /<name>/resolve/main/<file>. */
  name: string;
  /** Optional compiled model library, served at /<name>/lib/<its file name>. */
  lib?: string;
}

const CONTENT_TYPES: Record<string, string> = {
  '.json': 'application/json',
  '.wasm': 'application/wasm',
  '.bin': 'application/octet-stream',
  '.txt': 'text/plain; charset=utf-8',
  '.model': 'application/octet-stream',
};

/** Headers every answer carries: any origin may read (the app runs on another port or host). */
const CORS_HEADERS = {
  'Access-Control-Allow-Origin': '*',
  'Access-Control-Allow-Methods': 'GET, HEAD, OPTIONS',
  'Access-Control-Allow-Headers': '*',
  'Access-Control-Expose-Headers': 'Content-Length, Content-Type',
  'Cross-Origin-Resource-Policy': 'cross-origin',
};

const NAME = /^[A-Za-z0-9._-]+$/;

/** The file a request path names inside the served folder, or undefined (never outside the folder). */
function resolveInside(root: string, relative: string): string | undefined {
  let decoded: string;
  try {
    decoded = decodeURIComponent(relative);
  } catch {
    return undefined;
  }
  if (decoded === '' || decoded.includes('\0') || decoded.split(/[\\/]/).some((part) => part === '..'))
    return undefined;
  const full = path.resolve(root, decoded);
  return full.startsWith(root + path.sep) ? full : undefined;
}

function send(res: ServerResponse, status: number, body: string, head: boolean): void {
  res.writeHead(status, {
    ...CORS_HEADERS,
    'Content-Type': 'text/plain; charset=utf-8',
    'Content-Length': Buffer.byteLength(body),
  });
  res.end(head ? undefined : body);
}

/** An http.Server for one model folder; call listen(port, '127.0.0.1'). */
export function createModelServer(options: ModelServerOptions): Server {
  if (!NAME.test(options.name))
    throw new Error(`--name ${JSON.stringify(options.name)} may hold only letters, digits, . _ -`);
  const root = realpathSync(path.resolve(options.dir));
  const lib = options.lib ? realpathSync(path.resolve(options.lib)) : undefined;
  const modelPrefix = `/${options.name}/resolve/main/`;
  const libPath = lib ? `/${options.name}/lib/${encodeURIComponent(path.basename(lib))}` : undefined;

  return createServer(async (req: IncomingMessage, res: ServerResponse) => {
    const head = req.method === 'HEAD';
    if (req.method === 'OPTIONS') {
      res.writeHead(204, { ...CORS_HEADERS, 'Access-Control-Max-Age': '600' });
      res.end();
      return;
    }
    if (req.method !== 'GET' && !head) return send(res, 405, 'Only GET, HEAD and OPTIONS are served.\n', head);
    const pathname = (req.url ?? '/').split('?')[0];
    let file: string | undefined;
    if (libPath && pathname === libPath) file = lib;
    else if (pathname.startsWith(modelPrefix)) file = resolveInside(root, pathname.slice(modelPrefix.length));
    if (!file) return send(res, 404, `Not found: ${pathname}\nModel files are served under ${modelPrefix}\n`, head);
    let size: number;
    try {
      const s = await stat(file);
      if (!s.isFile()) return send(res, 404, `Not a file: ${pathname}\n`, head);
      size = s.size;
    } catch {
      return send(res, 404, `Not found: ${pathname}\n`, head);
    }
    res.writeHead(200, {
      ...CORS_HEADERS,
      'Content-Type': CONTENT_TYPES[path.extname(file).toLowerCase()] ?? 'application/octet-stream',
      'Content-Length': size,
      'Cache-Control': 'no-cache',
    });
    if (head) {
      res.end();
      return;
    }
    createReadStream(file)
      .on('error', () => res.destroy())
      .pipe(res);
  });
}

/** The web-llm version the kit bundles (serve-model checks folders against what it reads). */
export const KIT_WEBLLM_VERSION: string = (
  JSON.parse(readFileSync(createRequire(import.meta.url).resolve('@mlc-ai/web-llm/package.json'), 'utf8')) as {
    version: string;
  }
).version;

/**
 * The tensor-cache manifest a web-llm version fetches: `ndarray-cache.json` up to 0.2.79, `tensor-cache.json`
 * from 0.2.80 (its TVM FFI runtime renamed NDArray to Tensor), with no fallback to the other name either way.
 */
export function tensorCacheManifest(webllmVersion: string): 'tensor-cache.json' | 'ndarray-cache.json' {
  const [major, minor, patch] = webllmVersion.split('.').map((n) => Number.parseInt(n, 10));
  const before = major !== 0 ? major < 0 : minor !== 2 ? minor < 2 : patch < 80;
  return before ? 'ndarray-cache.json' : 'tensor-cache.json';
}

/**
 * What a model folder holds and what it lacks for web-llm (the kit's version by default) and for this kit.
 */
export async function checkModelFolder(
  dir: string,
  webllmVersion: string = KIT_WEBLLM_VERSION,
): Promise<{ chatConfig?: Record<string, unknown>; warnings: string[] }> {
  const warnings: string[] = [];
  const has = async (f: string) => (await stat(path.join(dir, f)).catch(() => undefined))?.isFile() ?? false;
  let chatConfig: Record<string, unknown> | undefined;
  if (await has('mlc-chat-config.json')) {
    try {
      chatConfig = JSON.parse(await readFile(path.join(dir, 'mlc-chat-config.json'), 'utf8'));
    } catch (e) {
      warnings.push(`mlc-chat-config.json is not valid JSON: ${(e as Error).message}`);
    }
  } else {
    warnings.push('no mlc-chat-config.json: run `mlc_llm gen_config` into this folder');
  }
  const wanted = tensorCacheManifest(webllmVersion);
  const other = wanted === 'tensor-cache.json' ? 'ndarray-cache.json' : 'tensor-cache.json';
  if (!(await has(wanted))) {
    warnings.push(
      (await has(other))
        ? `no ${wanted}: the kit's web-llm ${webllmVersion} fetches ${wanted} and nothing else, so loading would fail ` +
            `with a bare "Request failed". This folder has ${other}, the same manifest under the name other web-llm ` +
            `versions read: copy it (cp ${other} ${wanted}) or re-run \`mlc_llm convert_weight\` with a current mlc-llm`
        : `no ${wanted} (the weights' manifest web-llm ${webllmVersion} fetches): run \`mlc_llm convert_weight\` into this folder`,
    );
  }
  if (!(await has('tokenizer.json'))) {
    warnings.push(
      'no tokenizer.json: the kit reads the letter token ids from it; gen_config copies it from the checkpoint',
    );
  }
  return { chatConfig, warnings };
}

/** Qwen3 sizes by (hidden_size, num_hidden_layers), from the models' Hugging Face configs. */
const QWEN3_SIZES: Record<string, string> = { '1024/28': '0.6B', '2048/28': '1.7B', '2560/36': '4B', '4096/36': '8B' };

/**
 * The prebuilt web-llm model id whose model library fits this folder (same architecture, size and
 * quantisation), or undefined. A fine-tuned Qwen3 keeps its base model's shapes, so the base build's
 * library runs it.
 */
export function matchingPrebuiltId(chatConfig: Record<string, unknown> | undefined): string | undefined {
  if (!chatConfig || chatConfig.model_type !== 'qwen3') return undefined;
  const mc = (chatConfig.model_config ?? {}) as Record<string, unknown>;
  const size = QWEN3_SIZES[`${mc.hidden_size}/${mc.num_hidden_layers}`];
  const q = chatConfig.quantization;
  return size && typeof q === 'string' ? `Qwen3-${size}-${q}-MLC` : undefined;
}

function parsePort(value: string): number {
  const port = Number(value);
  if (!Number.isInteger(port) || port < 0 || port > 65535)
    throw new InvalidArgumentError('expected a port number 0..65535');
  return port;
}

async function main(argv: string[]): Promise<void> {
  const program = new Command()
    .name('serve-model')
    .description('Serve a local MLC-compiled model folder to the calibration kit (loopback only, with CORS).')
    .argument('<dir>', 'MLC model folder (output of mlc_llm convert_weight + gen_config)')
    .requiredOption('--name <name>', 'URL name of the model, e.g. qwen3-8b-sft')
    .option('--port <port>', 'port on 127.0.0.1', parsePort, 8787)
    .option('--lib <file.wasm>', 'a model library you compiled yourself (served too)')
    .parse(argv);
  const dir = program.args[0];
  const opts = program.opts<{ name: string; port: number; lib?: string }>();
  const { chatConfig, warnings } = await checkModelFolder(dir);
  for (const w of warnings) console.warn(`warning: ${w}`);
  const server = createModelServer({ dir, name: opts.name, lib: opts.lib });
  server.listen(opts.port, '127.0.0.1', async () => {
    const address = server.address();
    const port = typeof address === 'object' && address ? address.port : opts.port;
    const base = `http://127.0.0.1:${port}/${opts.name}`;
    console.log(`Serving ${path.resolve(dir)}`);
    console.log(`  Model URL:          ${base}   (web-llm fetches ${base}/resolve/main/...)`);
    if (opts.lib) {
      console.log(`  Model library URL:  ${base}/lib/${encodeURIComponent(path.basename(opts.lib))}`);
    } else {
      const id = matchingPrebuiltId(chatConfig);
      const { prebuiltAppConfig } = await import('@mlc-ai/web-llm');
      const record = id ? prebuiltAppConfig.model_list.find((r) => r.model_id === id) : undefined;
      console.log(
        record
          ? `  Model library URL:  ${record.model_lib}   (web-llm's prebuilt library for ${id})`
          : '  Model library URL:  no prebuilt library matched; compile one with `mlc_llm compile --device webgpu` and pass --lib',
      );
    }
    console.log('Add these as a custom variant in the app. Press Ctrl+C to stop.');
  });
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  main(process.argv).catch((e) => {
    console.error(`serve-model: ${(e as Error).message}`);
    process.exit(1);
  });
}
