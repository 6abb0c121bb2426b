/**
 * Where the tests' real MMLU data is, looked for in this order: $MMLU_DIR, ../shared/data/mmlu beside the
 * repository, then a cache folder outside git ($XDG_CACHE_HOME or ~/.cache, calibration-kit/mmlu). When none
 * holds it, `ensureMmluData` downloads the official release once (Hendrycks et al.'s data.tar), checks every CSV
 * against the SHA-256 sums pinned in mmlu-sha256sums.txt, and fills the cache; when that is impossible it stops
 * with one line naming what is missing and the variable to set.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const repoRoot = path.resolve(here, '../..');

/** The official MMLU release (the CSVs of ../shared/data/mmlu are byte-for-byte copies of its data/ folder). */
export const MMLU_TAR_URL = 'https://people.eecs.berkeley.edu/~hendrycks/data.tar';

/** Where test data was found: the environment variable, ../shared, the cache, or a fresh download. */
export type MmluSource = 'MMLU_DIR' | 'WEBLLM_RUNTIME_DIR' | 'shared' | 'cache' | 'download';

export interface MmluLookup {
  env: Record<string, string | undefined>;
  /** ../shared/data/mmlu beside the repository. */
  sharedDir: string;
  /** The cache folder the download fills. */
  cacheDir: string;
}

export function mmluLookupHere(): MmluLookup {
  const cacheRoot = process.env.XDG_CACHE_HOME || path.join(homedir(), '.cache');
  return {
    env: process.env,
    sharedDir: path.resolve(repoRoot, '../shared/data/mmlu'),
    cacheDir: path.join(cacheRoot, 'calibration-kit', 'mmlu'),
  };
}

/** A folder the MMLU tests can read: categories.json and data/{dev,val,test}/. */
export function holdsMmlu(dir: string): boolean {
  return ['categories.json', 'data/dev', 'data/val', 'data/test'].every((p) => existsSync(path.join(dir, p)));
}

/**
 * The first folder of the lookup order that holds the data. $MMLU_DIR, when set, is the only place looked at:
 * pointing at a copy and silently getting another would hide a mistake.
 */
export function findMmluData(lookup: MmluLookup): { dir: string; source: MmluSource } | undefined {
  const fromEnv = lookup.env.MMLU_DIR?.trim();
  if (fromEnv) return holdsMmlu(fromEnv) ? { dir: fromEnv, source: 'MMLU_DIR' } : undefined;
  if (holdsMmlu(lookup.sharedDir)) return { dir: lookup.sharedDir, source: 'shared' };
  if (holdsMmlu(lookup.cacheDir)) return { dir: lookup.cacheDir, source: 'cache' };
  return undefined;
}

/** Pinned SHA-256 of every CSV, keyed by its path under data/ (e.g. `dev/anatomy_dev.csv`). */
export function pinnedMmluSums(
  text = readFileSync(path.join(here, 'mmlu-sha256sums.txt'), 'utf8'),
): Map<string, string> {
  const sums = new Map<string, string>();
  for (const line of text.split('\n')) {
    const m = /^([0-9a-f]{64})\s+\*?(?:\.\/)?(\S+)$/.exec(line.trim());
    if (m) sums.set(m[2], m[1]);
  }
  return sums;
}

export class MmluDataMissingError extends Error {
  override name = 'MmluDataMissingError';
}

export interface MmluDownload {
  url: string;
  sums: Map<string, string>;
  /** categories.json as the tests expect it (Hendrycks et al.'s categories.py mapping; not part of data.tar). */
  categoriesJson: string;
  fetch: typeof fetch;
}

export function mmluDownloadHere(): MmluDownload {
  return {
    url: MMLU_TAR_URL,
    sums: pinnedMmluSums(),
    categoriesJson: readFileSync(path.join(here, 'mmlu-categories.json'), 'utf8'),
    fetch: globalThis.fetch,
  };
}

function missing(lookup: MmluLookup, why: string): MmluDataMissingError {
  return new MmluDataMissingError(
    `MMLU test data not found (looked in $MMLU_DIR, ${lookup.sharedDir}, ${lookup.cacheDir}) and ${why}; ` +
      'set MMLU_DIR to a folder holding categories.json and data/{dev,val,test}/*.csv',
  );
}

/** The data folder, downloading the official release into the cache once when no folder of the lookup holds it. */
export async function ensureMmluData(
  lookup: MmluLookup,
  download: MmluDownload,
): Promise<{ dir: string; source: MmluSource }> {
  const found = findMmluData(lookup);
  if (found) return found;
  if (lookup.env.MMLU_DIR?.trim()) {
    throw new MmluDataMissingError(
      `MMLU test data not found: MMLU_DIR is ${lookup.env.MMLU_DIR}, which does not hold categories.json and data/{dev,val,test}/*.csv; point MMLU_DIR at a copy of the official release (or unset it)`,
    );
  }

  let bytes: Uint8Array;
  try {
    const response = await download.fetch(download.url);
    if (!response.ok) throw new Error(`HTTP ${response.status}`);
    bytes = new Uint8Array(await response.arrayBuffer());
  } catch (e) {
    throw missing(lookup, `the download from ${download.url} failed (${(e as Error).message})`);
  }

  mkdirSync(path.dirname(lookup.cacheDir), { recursive: true });
  const work = mkdtempSync(path.join(path.dirname(lookup.cacheDir), '.mmlu-download-'));
  try {
    const tarFile = path.join(work, 'data.tar');
    writeFileSync(tarFile, bytes);
    const unpacked = path.join(work, 'mmlu');
    mkdirSync(unpacked);
    const { extract } = await import('tar'); // only here: the CLI's other users of this module never unpack
    await extract({ file: tarFile, cwd: unpacked, filter: (p) => /^(\.\/)?data\/(dev|val|test)\/[^/]+\.csv$/.test(p) });
    for (const [file, sum] of download.sums) {
      const at = path.join(unpacked, 'data', file);
      if (!existsSync(at)) throw missing(lookup, `the download from ${download.url} lacks data/${file}`);
      const actual = createHash('sha256').update(readFileSync(at)).digest('hex');
      if (actual !== sum)
        throw missing(lookup, `data/${file} from ${download.url} has SHA-256 ${actual}, not the pinned ${sum}`);
    }
    writeFileSync(path.join(unpacked, 'categories.json'), download.categoriesJson);
    // Into place in one step: a half-written cache never looks complete.
    rmSync(lookup.cacheDir, { recursive: true, force: true });
    renameSync(unpacked, lookup.cacheDir);
  } catch (e) {
    if (e instanceof MmluDataMissingError) throw e;
    throw missing(lookup, `the download from ${download.url} could not be unpacked (${(e as Error).message})`);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
  return { dir: lookup.cacheDir, source: 'download' };
}

/**
 * The real web-llm model library the real-runtime tests load (no weights; see ../shared/webllm-runtime/SOURCE.md):
 * web-llm's own prebuilt Qwen2-0.5B q4f32_1 library, pinned by commit and SHA-256.
 */
export const WEBLLM_LIBRARY = {
  file: 'Qwen2-0.5B-Instruct-q4f32_1-ctx4k_cs1k-webgpu.wasm',
  url:
    'https://raw.githubusercontent.com/mlc-ai/binary-mlc-llm-libs/7ce7510d9b3aa1fb109f5eddb284800d10e953fd/' +
    'web-llm-models/v0_2_48/Qwen2-0.5B-Instruct-q4f32_1-ctx4k_cs1k-webgpu.wasm',
  sha256: '338ab000a62274cb47fa0696aa244d4b1d73db4e6f144b429915d1cfe44d2e6a',
} as const;

export interface RuntimeLookup {
  env: Record<string, string | undefined>;
  /** ../shared/webllm-runtime beside the repository. */
  sharedDir: string;
  cacheDir: string;
}

export function runtimeLookupHere(): RuntimeLookup {
  const mmlu = mmluLookupHere();
  return {
    env: process.env,
    sharedDir: path.resolve(repoRoot, '../shared/webllm-runtime'),
    cacheDir: path.join(path.dirname(mmlu.cacheDir), 'webllm-runtime'),
  };
}

/** The folder holding the model library: $WEBLLM_RUNTIME_DIR (only it, when set), ../shared/webllm-runtime, the cache. */
export function findWebllmRuntime(
  lookup: RuntimeLookup,
  file: string = WEBLLM_LIBRARY.file,
): { dir: string; source: MmluSource } | undefined {
  const has = (dir: string) => existsSync(path.join(dir, file));
  const fromEnv = lookup.env.WEBLLM_RUNTIME_DIR?.trim();
  if (fromEnv) return has(fromEnv) ? { dir: fromEnv, source: 'WEBLLM_RUNTIME_DIR' } : undefined;
  if (has(lookup.sharedDir)) return { dir: lookup.sharedDir, source: 'shared' };
  if (has(lookup.cacheDir)) return { dir: lookup.cacheDir, source: 'cache' };
  return undefined;
}

export class RuntimeMissingError extends Error {
  override name = 'RuntimeMissingError';
}

/** The model library's folder, downloading the pinned file into the cache once when no folder has it. */
export async function ensureWebllmRuntime(
  lookup: RuntimeLookup,
  library: { file: string; url: string; sha256: string } = WEBLLM_LIBRARY,
  fetchFile: typeof fetch = globalThis.fetch,
): Promise<{ dir: string; source: MmluSource }> {
  const found = findWebllmRuntime(lookup, library.file);
  if (found) return found;
  const stop = (why: string) =>
    new RuntimeMissingError(
      `web-llm model library ${library.file} not found (looked in $WEBLLM_RUNTIME_DIR, ${lookup.sharedDir}, ${lookup.cacheDir}) and ${why}; ` +
        'set WEBLLM_RUNTIME_DIR to a folder holding it',
    );
  if (lookup.env.WEBLLM_RUNTIME_DIR?.trim())
    throw stop(`WEBLLM_RUNTIME_DIR (${lookup.env.WEBLLM_RUNTIME_DIR}) does not hold it`);
  let bytes: Uint8Array;
  try {
    const response = await fetchFile(library.url);
    if (!response.ok) throw new Error(`HTTP ${response.status}`);
    bytes = new Uint8Array(await response.arrayBuffer());
  } catch (e) {
    throw stop(`the download from ${library.url} failed (${(e as Error).message})`);
  }
  const actual = createHash('sha256').update(bytes).digest('hex');
  if (actual !== library.sha256)
    throw stop(`the download from ${library.url} has SHA-256 ${actual}, not the pinned ${library.sha256}`);
  mkdirSync(lookup.cacheDir, { recursive: true });
  const partial = path.join(lookup.cacheDir, `.${library.file}.partial`);
  writeFileSync(partial, bytes);
  renameSync(partial, path.join(lookup.cacheDir, library.file));
  return { dir: lookup.cacheDir, source: 'download' };
}
