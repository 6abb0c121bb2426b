/**
 * MMLU items from picked or dropped files, CSV or parquet by file name: what the items worker runs, so reading
 * and parsing the 171 CSVs of a whole `data/` folder (8 MB) never blocks the page. The page reads each file's
 * bytes (asynchronously) and transfers them: cloning File objects instead costs a long synchronous task.
 */
import type { MmluItem } from '../core/types';
import { parseMmluParquet } from './hf-parquet';
import { parseMmluCsvFiles } from './mmlu-csv';

/** One picked file: its name (the folder path when a folder was picked) and its bytes. */
export interface MmluFileInput {
  name: string;
  bytes: ArrayBuffer;
}

/** The items worker's API (workers/items.worker.ts); both sides import it. */
export interface ItemsWorkerApi {
  /** Every item of the files, CSVs in canonical order then parquet files in the given order. */
  parseFiles(files: readonly MmluFileInput[], onFileRead?: (done: number) => void): Promise<MmluItem[]>;
}

const isCsv = (name: string) => name.toLowerCase().endsWith('.csv');
const isParquet = (name: string) => name.toLowerCase().endsWith('.parquet');

export async function parseMmluFiles(files: readonly MmluFileInput[], onFileRead?: (done: number) => void): Promise<MmluItem[]> {
  let done = 0;
  const utf8 = new TextDecoder();
  const texts = [];
  for (const f of files.filter((f) => isCsv(f.name))) {
    texts.push({ name: f.name, text: utf8.decode(f.bytes) });
    onFileRead?.(++done);
  }
  const items = parseMmluCsvFiles(texts);
  for (const f of files.filter((f) => isParquet(f.name))) {
    items.push(...(await parseMmluParquet(f.bytes, { fileName: f.name })));
    onFileRead?.(++done);
  }
  return items;
}
