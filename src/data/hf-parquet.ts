/**
 * Reads Hugging Face `cais/mmlu` parquet files (columns question, subject, choices[4], answer 0-3) into
 * MmluItems, and downloads them whole from huggingface.co with a progress callback.
 */
import { parquetReadObjects } from 'hyparquet';
import * as v from 'valibot';
import { isMmluSubject, mmluItemId } from '../core/mmlu';
import type { MmluItem, MmluSplit } from '../core/types';
import { describeIssue } from '../core/manifest-file';
import { MmluDataError } from './mmlu-csv';

/** Hugging Face's name of each split (`val` is "validation" there). */
export const HF_SPLIT_NAMES: Readonly<Record<MmluSplit, string>> = Object.freeze({
  dev: 'dev',
  val: 'validation',
  test: 'test',
});

/** Our split name of a Hugging Face split name (`validation` -> `val`). */
export function splitFromHf(name: string): MmluSplit | undefined {
  return name === 'validation' ? 'val' : name === 'dev' || name === 'test' ? name : undefined;
}

export const HF_MMLU_BASE = 'https://huggingface.co/datasets/cais/mmlu/resolve/main';

/** The single-shard parquet file of one subject and split. */
export function hfParquetUrl(subject: string, split: MmluSplit, base = HF_MMLU_BASE): string {
  return `${base}/${subject}/${HF_SPLIT_NAMES[split]}-00000-of-00001.parquet`;
}

const HF_FILE = /^(dev|validation|test)-(\d{5})-of-(\d{5})\.parquet$/;
const FLAT_FILE = /^([a-z_]+)_(dev|val|validation|test)\.parquet$/;

/**
 * Subject and split from a parquet path: the Hugging Face layout `<subject>/<split>-00000-of-00001.parquet`
 * (the subject is the folder; `all/...` holds every subject, read from the subject column), or a flat
 * `<subject>_<split>.parquet`. Undefined for other names.
 */
export function parseMmluParquetName(
  path: string,
): { subject?: string; split: MmluSplit; shards?: number } | undefined {
  const parts = path.split(/[\\/]/);
  const base = parts[parts.length - 1] ?? '';
  const hf = HF_FILE.exec(base);
  if (hf) {
    const folder = parts[parts.length - 2];
    return {
      subject: folder && isMmluSubject(folder) ? folder : undefined,
      split: splitFromHf(hf[1])!,
      shards: Number(hf[3]),
    };
  }
  const flat = FLAT_FILE.exec(base);
  if (flat && isMmluSubject(flat[1]))
    return { subject: flat[1], split: flat[2] === 'validation' ? 'val' : (flat[2] as MmluSplit) };
  return undefined;
}

const Row = v.object({
  question: v.string(),
  subject: v.optional(v.nullable(v.string())),
  choices: v.pipe(
    v.array(v.string(), 'a list of four strings'),
    v.length(4, 'a list of four strings'),
    v.transform((c) => c as [string, string, string, string]),
  ),
  answer: v.pipe(
    v.union([v.number(), v.bigint()], 'an integer 0-3'),
    v.transform((x) => Number(x)),
    v.integer('an integer 0-3'),
    v.minValue(0, 'an integer 0-3'),
    v.maxValue(3, 'an integer 0-3'),
  ),
});

export interface ParquetSource {
  /** File name or path, for messages (and the subject and split when not given). */
  fileName: string;
  /** The subject of every row; when absent, each row's `subject` column decides. */
  subject?: string;
  split?: MmluSplit;
}

/**
 * Parses one `cais/mmlu` parquet file. Rows keep the file's order; the row number of an item counts the
 * rows of its subject from 0, which for a per-subject file is the row index, the official CSV order.
 */
export async function parseMmluParquet(buffer: ArrayBuffer, source: ParquetSource): Promise<MmluItem[]> {
  const named = parseMmluParquetName(source.fileName);
  const split = source.split ?? named?.split;
  const fileSubject = source.subject ?? named?.subject;
  if (!split)
    throw new MmluDataError(
      `${source.fileName}: cannot tell the split (expected <subject>/<dev|validation|test>-00000-of-00001.parquet)`,
    );
  if (named?.shards !== undefined && named.shards !== 1) {
    throw new MmluDataError(`${source.fileName}: split across ${named.shards} files; only single-file splits are read`);
  }
  if (fileSubject !== undefined && !isMmluSubject(fileSubject))
    throw new MmluDataError(`${source.fileName}: unknown MMLU subject "${fileSubject}"`);

  let rows: Record<string, unknown>[];
  try {
    rows = await parquetReadObjects({ file: buffer, columns: ['question', 'subject', 'choices', 'answer'] });
  } catch (e) {
    // A per-subject file may lack the subject column; retry without it before giving up.
    try {
      rows = await parquetReadObjects({ file: buffer, columns: ['question', 'choices', 'answer'] });
    } catch {
      throw new MmluDataError(`${source.fileName}: not a readable MMLU parquet file (${(e as Error).message})`);
    }
  }
  const nextRow = new Map<string, number>();
  return rows.map((raw, index) => {
    const parsed = v.safeParse(Row, raw);
    if (!parsed.success) {
      const issue = parsed.issues[0];
      const field = issue.path?.map((p) => String(p.key)).join('.') ?? 'row';
      throw new MmluDataError(`${source.fileName}, row ${index}, ${field}: ${describeIssue(issue)}`);
    }
    const r = parsed.output;
    const rowSubject = r.subject ? r.subject : undefined;
    const subject = fileSubject ?? rowSubject;
    if (!subject)
      throw new MmluDataError(
        `${source.fileName}, row ${index}: no subject (neither in the path nor in the subject column)`,
      );
    if (!isMmluSubject(subject))
      throw new MmluDataError(`${source.fileName}, row ${index}: unknown MMLU subject "${subject}"`);
    if (fileSubject !== undefined && rowSubject !== undefined && rowSubject !== fileSubject) {
      throw new MmluDataError(
        `${source.fileName}, row ${index}: subject column says "${rowSubject}" in a ${fileSubject} file`,
      );
    }
    const row = nextRow.get(subject) ?? 0;
    nextRow.set(subject, row + 1);
    return {
      id: mmluItemId(subject, split, row),
      subject,
      split,
      row,
      question: r.question,
      choices: [...r.choices],
      answer: r.answer,
    };
  });
}

/** The part of `fetch` the downloader uses, so tests and other transports can stand in for it. */
export type FetchLike = (url: string, init?: { signal?: AbortSignal }) => Promise<Response>;

export interface DownloadProgress {
  url: string;
  /** Bytes received so far. */
  loaded: number;
  /** Content-Length when the server sent it (a CORS redirect may hide it). */
  total?: number;
}

export interface DownloadOptions {
  fetch?: FetchLike;
  onProgress?: (p: DownloadProgress) => void;
  signal?: AbortSignal;
}

/**
 * Downloads a file whole with one plain GET (no Range requests: on huggingface.co those fail through the
 * CORS redirect to the CDN), reporting bytes as they arrive.
 */
export async function downloadWhole(
  url: string,
  { fetch = globalThis.fetch, onProgress, signal }: DownloadOptions = {},
): Promise<ArrayBuffer> {
  let response: Response;
  try {
    response = await fetch(url, { signal });
  } catch (e) {
    if ((e as Error).name === 'AbortError') throw e;
    // Node's fetch puts the reason (DNS failure, refused connection) in `cause`.
    const cause = (e as { cause?: { message?: unknown } }).cause?.message;
    const reason = typeof cause === 'string' && cause ? `${(e as Error).message}: ${cause}` : (e as Error).message;
    throw new MmluDataError(`could not download ${url}: ${reason} (is this machine online?)`);
  }
  if (!response.ok)
    throw new MmluDataError(`could not download ${url}: HTTP ${response.status} ${response.statusText}`.trim());
  const header = response.headers.get('content-length');
  const total = header !== null && /^\d+$/.test(header) ? Number(header) : undefined;
  if (!response.body) {
    const buffer = await response.arrayBuffer();
    onProgress?.({ url, loaded: buffer.byteLength, total: total ?? buffer.byteLength });
    return buffer;
  }
  const reader = response.body.getReader();
  const chunks: Uint8Array[] = [];
  let loaded = 0;
  onProgress?.({ url, loaded, total });
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    chunks.push(value);
    loaded += value.byteLength;
    onProgress?.({ url, loaded, total });
  }
  const out = new Uint8Array(loaded);
  let offset = 0;
  for (const c of chunks) {
    out.set(c, offset);
    offset += c.byteLength;
  }
  return out.buffer;
}

export interface HfLoadProgress extends DownloadProgress {
  /** Files finished, and files in all. */
  filesDone: number;
  files: number;
}

/**
 * Downloads and parses the `cais/mmlu` files of the given subjects and splits, one after another (a
 * cache, e.g. IndexedDB, belongs to the caller: pass a `fetch` that serves from it).
 */
export async function loadMmluFromHf(
  subjects: readonly string[],
  splits: readonly MmluSplit[],
  {
    fetch,
    onProgress,
    signal,
    base = HF_MMLU_BASE,
  }: Omit<DownloadOptions, 'onProgress'> & { onProgress?: (p: HfLoadProgress) => void; base?: string } = {},
): Promise<MmluItem[]> {
  const jobs = subjects.flatMap((subject) => splits.map((split) => ({ subject, split })));
  const items: MmluItem[] = [];
  let filesDone = 0;
  for (const { subject, split } of jobs) {
    if (!isMmluSubject(subject)) throw new MmluDataError(`unknown MMLU subject "${subject}"`);
    const url = hfParquetUrl(subject, split, base);
    const buffer = await downloadWhole(url, {
      fetch,
      signal,
      onProgress: (p) => onProgress?.({ ...p, filesDone, files: jobs.length }),
    });
    items.push(...(await parseMmluParquet(buffer, { fileName: url, subject, split })));
    filesDone++;
    onProgress?.({ url, loaded: buffer.byteLength, total: buffer.byteLength, filesDone, files: jobs.length });
  }
  return items;
}
