/**
 * Node side of MMLU loading: finds the CSV and parquet files under a folder (a folder holding
 * data/{dev,val,test}/, that data/ folder itself, or parquet files in Hugging Face's layout) and reads them
 * with the loaders of src/data.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { MmluItem, MmluSplit } from '../src/core/types';
import { MmluDataError, parseMmluCsvFiles, parseMmluCsvName, type TextFile } from '../src/data/mmlu-csv';
import { parseMmluParquet, parseMmluParquetName } from '../src/data/hf-parquet';
import { compareItems } from '../src/core/mmlu';
import { findMmluData, mmluLookupHere } from './lib/test-data';

/** The repository root (this file is scripts/mmlu-folder.ts). */
export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

/**
 * Where the real MMLU data is: $MMLU_DIR, else ../shared/data/mmlu beside the repository, else the download
 * cache (scripts/lib/test-data.ts). When none holds it, the first place looked at (for the error message).
 */
export function mmluDataDir(): string {
  const lookup = mmluLookupHere();
  return findMmluData(lookup)?.dir ?? (process.env.MMLU_DIR || lookup.sharedDir);
}

/** Files under `dir` (recursively, skipping dot folders and node_modules) whose names MMLU loaders read. */
export function findMmluFiles(dir: string): { csv: string[]; parquet: string[] } {
  const csv: string[] = [];
  const parquet: string[] = [];
  const walk = (d: string) => {
    for (const entry of readdirSync(d, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : 1))) {
      const p = path.join(d, entry.name);
      if (entry.isDirectory()) {
        if (!entry.name.startsWith('.') && entry.name !== 'node_modules') walk(p);
      } else if (parseMmluCsvName(p)) csv.push(p);
      else if (parseMmluParquetName(p)) parquet.push(p);
    }
  };
  if (!statSync(dir, { throwIfNoEntry: false })?.isDirectory()) throw new MmluDataError(`${dir}: no such folder`);
  walk(dir);
  return { csv, parquet };
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** Reads a file as UTF-8, refusing invalid bytes rather than replacing them. */
export function readUtf8(file: string): string {
  try {
    return utf8.decode(readFileSync(file));
  } catch (e) {
    throw new MmluDataError(`${file}: not valid UTF-8 (${(e as Error).message})`);
  }
}

/**
 * Loads every MMLU file under `dir` (optionally only some splits), CSV and parquet alike; the same
 * subject and split from two files is an error. Items come back in canonical order.
 */
export async function loadMmluFolder(dir: string, splits?: readonly MmluSplit[]): Promise<MmluItem[]> {
  const { csv, parquet } = findMmluFiles(dir);
  const wanted = (split: MmluSplit) => !splits || splits.includes(split);
  const texts: TextFile[] = csv
    .filter((f) => wanted(parseMmluCsvName(f)!.split))
    .map((f) => ({ name: f, text: readUtf8(f) }));
  const items = parseMmluCsvFiles(texts);
  const from = new Map<string, string>();
  for (const f of texts) {
    const n = parseMmluCsvName(f.name)!;
    from.set(`${n.subject}/${n.split}`, f.name);
  }
  for (const f of parquet) {
    const named = parseMmluParquetName(f)!;
    if (!wanted(named.split)) continue;
    const bytes = readFileSync(f);
    const buffer = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
    const parsed = await parseMmluParquet(buffer, { fileName: f });
    for (const subject of new Set(parsed.map((i) => i.subject))) {
      const key = `${subject}/${named.split}`;
      const earlier = from.get(key);
      if (earlier !== undefined) throw new MmluDataError(`${f}: ${key} was already read from ${earlier}`);
      from.set(key, f);
    }
    items.push(...parsed);
  }
  if (items.length === 0) {
    throw new MmluDataError(
      `${dir}: no MMLU files found (expected data/{dev,val,test}/<subject>_<split>.csv or <subject>/<split>-00000-of-00001.parquet)`,
    );
  }
  return items.sort(compareItems);
}
