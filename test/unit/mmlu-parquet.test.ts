import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parquetWriteBuffer } from 'hyparquet-writer';
import { describe, expect, it } from 'vitest';
import { itemContentHash } from '../../src/core/mmlu';
import type { MmluItem } from '../../src/core/types';
import {
  downloadWhole,
  hfParquetUrl,
  loadMmluFromHf,
  parseMmluParquet,
  parseMmluParquetName,
  type FetchLike,
} from '../../src/data/hf-parquet';
import { parseMmluCsv } from '../../src/data/mmlu-csv';
import { loadMmluFolder } from '../../scripts/mmlu-folder';

const FIXTURES = path.resolve(__dirname, '../fixtures/mmlu');

interface Row {
  question: string;
  subject?: string;
  choices: string[];
  answer: number | bigint;
}

/** A parquet file shaped like cais/mmlu's (pyarrow's list<string> layout, int64 answers). */
function hfParquet(rows: Row[], { withSubject = true } = {}): ArrayBuffer {
  const columnData = [
    { name: 'question', data: rows.map((r) => r.question) },
    ...(withSubject ? [{ name: 'subject', data: rows.map((r) => r.subject ?? '') }] : []),
    { name: 'choices', data: rows.map((r) => r.choices) },
    { name: 'answer', data: rows.map((r) => BigInt(r.answer)) },
  ];
  const string = (name: string) => ({
    name,
    type: 'BYTE_ARRAY' as const,
    converted_type: 'UTF8' as const,
    repetition_type: 'OPTIONAL' as const,
  });
  return parquetWriteBuffer({
    columnData,
    schema: [
      { name: 'schema', num_children: columnData.length },
      string('question'),
      ...(withSubject ? [string('subject')] : []),
      { name: 'choices', repetition_type: 'OPTIONAL', converted_type: 'LIST', num_children: 1 },
      { name: 'list', repetition_type: 'REPEATED', num_children: 1 },
      string('element'),
      { name: 'answer', type: 'INT64', repetition_type: 'OPTIONAL' },
    ],
  });
}

const toRows = (items: MmluItem[]): Row[] =>
  items.map((i) => ({ question: i.question, subject: i.subject, choices: [...i.choices], answer: i.answer }));
const csvItems = (rel: string) => parseMmluCsv(readFileSync(path.join(FIXTURES, rel), 'utf8'), { fileName: rel });

describe('parseMmluParquetName', () => {
  it('reads the Hugging Face layout and flat names, mapping validation to val', () => {
    expect(parseMmluParquetName('cais/mmlu/anatomy/validation-00000-of-00001.parquet')).toEqual({
      subject: 'anatomy',
      split: 'val',
      shards: 1,
    });
    expect(parseMmluParquetName('all/test-00000-of-00001.parquet')).toEqual({
      subject: undefined,
      split: 'test',
      shards: 1,
    });
    expect(parseMmluParquetName('virology_dev.parquet')).toEqual({ subject: 'virology', split: 'dev' });
    expect(parseMmluParquetName('virology/train-00000-of-00001.parquet')).toBeUndefined();
    expect(parseMmluParquetName('virology.parquet')).toBeUndefined();
  });

  it('builds the resolve/main URL with the Hugging Face split name', () => {
    expect(hfParquetUrl('anatomy', 'val')).toBe(
      'https://huggingface.co/datasets/cais/mmlu/resolve/main/anatomy/validation-00000-of-00001.parquet',
    );
    expect(hfParquetUrl('anatomy', 'test', 'http://mirror/x')).toBe(
      'http://mirror/x/anatomy/test-00000-of-00001.parquet',
    );
  });
});

describe('parseMmluParquet', () => {
  it('gives the same items, and so the same content hashes, as the CSV of the same file', async () => {
    const fromCsv = csvItems('data/test/college_physics_test.csv');
    const buffer = hfParquet(toRows(fromCsv));
    const fromParquet = await parseMmluParquet(buffer, { fileName: 'college_physics/test-00000-of-00001.parquet' });
    expect(fromParquet).toEqual(fromCsv);
    expect(fromParquet.map(itemContentHash)).toEqual(fromCsv.map(itemContentHash));
    // The pitfalls survive the parquet path too.
    expect(fromParquet[0].choices).toEqual(['0', '9.8 m/s^2 downward', 'None', 'It depends on "g"']);
    expect(fromParquet[1].question).toBe('Line one\r\nline two');
  });

  it('reads validation files as val, and files without a subject column', async () => {
    const fromCsv = csvItems('data/val/anatomy_val.csv');
    const buffer = hfParquet(toRows(fromCsv), { withSubject: false });
    expect(await parseMmluParquet(buffer, { fileName: 'anatomy/validation-00000-of-00001.parquet' })).toEqual(fromCsv);
  });

  it('counts rows per subject in a file holding several subjects', async () => {
    const rows: Row[] = [
      { question: 'a0', subject: 'anatomy', choices: ['1', '2', '3', '4'], answer: 0 },
      { question: 'v0', subject: 'virology', choices: ['1', '2', '3', '4'], answer: 1 },
      { question: 'a1', subject: 'anatomy', choices: ['1', '2', '3', '4'], answer: 2 },
    ];
    const items = await parseMmluParquet(hfParquet(rows), { fileName: 'all/test-00000-of-00001.parquet' });
    expect(items.map((i) => [i.id, i.question])).toEqual([
      ['anatomy/test/0', 'a0'],
      ['virology/test/0', 'v0'],
      ['anatomy/test/1', 'a1'],
    ]);
  });

  it('names the file, row and field of a bad row', async () => {
    const ok = { question: 'q', subject: 'anatomy', choices: ['1', '2', '3', '4'], answer: 0 };
    const parse = (rows: Row[], fileName = 'anatomy/test-00000-of-00001.parquet') =>
      parseMmluParquet(hfParquet(rows), { fileName });
    await expect(parse([ok, { ...ok, answer: 4 }])).rejects.toThrow(
      'anatomy/test-00000-of-00001.parquet, row 1, answer: expected an integer 0-3',
    );
    await expect(parse([{ ...ok, choices: ['1', '2', '3'] }])).rejects.toThrow(
      'row 0, choices: expected a list of four strings',
    );
    await expect(parse([{ ...ok, subject: 'virology' }])).rejects.toThrow(
      'row 0: subject column says "virology" in a anatomy file',
    );
    await expect(parse([{ ...ok, subject: '' }], 'all/test-00000-of-00001.parquet')).rejects.toThrow(
      'row 0: no subject',
    );
    await expect(parse([ok], 'anatomy/test-00000-of-00002.parquet')).rejects.toThrow('split across 2 files');
    await expect(
      parseMmluParquet(new TextEncoder().encode('not parquet').buffer, { fileName: 'anatomy_test.parquet' }),
    ).rejects.toThrow('anatomy_test.parquet: not a readable MMLU parquet file');
  });

  it('loadMmluFolder reads a folder of parquet files in the Hugging Face layout like the CSVs', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'mmlu-parquet-'));
    for (const [rel, subject, hfSplit] of [
      ['data/test/college_physics_test.csv', 'college_physics', 'test'],
      ['data/test/anatomy_test.csv', 'anatomy', 'test'],
      ['data/val/anatomy_val.csv', 'anatomy', 'validation'],
    ] as const) {
      mkdirSync(path.join(dir, subject), { recursive: true });
      writeFileSync(
        path.join(dir, subject, `${hfSplit}-00000-of-00001.parquet`),
        new Uint8Array(hfParquet(toRows(csvItems(rel)))),
      );
    }
    const fromCsv = (await loadMmluFolder(FIXTURES)).filter((i) => i.split !== 'dev');
    expect(await loadMmluFolder(dir)).toEqual(fromCsv);
    // The same subject and split from a CSV and a parquet file is refused.
    mkdirSync(path.join(dir, 'data'));
    writeFileSync(
      path.join(dir, 'data', 'anatomy_val.csv'),
      readFileSync(path.join(FIXTURES, 'data/val/anatomy_val.csv')),
    );
    await expect(loadMmluFolder(dir)).rejects.toThrow('anatomy/val was already read from');
  });
});

/** A fetch stand-in serving byte arrays by URL, in chunks of `chunk` bytes. */
function fakeFetch(
  files: Record<string, Uint8Array>,
  { chunk = 100, length = true } = {},
): FetchLike & { urls: string[] } {
  const urls: string[] = [];
  const f = async (url: string) => {
    urls.push(url);
    const body = files[url];
    if (!body) return new Response('not found', { status: 404, statusText: 'Not Found' });
    const stream = new ReadableStream<Uint8Array>({
      start(controller) {
        for (let i = 0; i < body.length; i += chunk) controller.enqueue(body.slice(i, i + chunk));
        controller.close();
      },
    });
    return new Response(stream, { headers: length ? { 'content-length': String(body.length) } : {} });
  };
  return Object.assign(f, { urls });
}

describe('downloading', () => {
  it('downloadWhole returns the bytes and reports progress as chunks arrive', async () => {
    const bytes = Uint8Array.from({ length: 250 }, (_, i) => i);
    const progress: [number, number | undefined][] = [];
    const buffer = await downloadWhole('u', {
      fetch: fakeFetch({ u: bytes }),
      onProgress: (p) => progress.push([p.loaded, p.total]),
    });
    expect(new Uint8Array(buffer)).toEqual(bytes);
    expect(progress).toEqual([
      [0, 250],
      [100, 250],
      [200, 250],
      [250, 250],
    ]);
    const noLength: (number | undefined)[] = [];
    await downloadWhole('u', {
      fetch: fakeFetch({ u: bytes }, { length: false }),
      onProgress: (p) => noLength.push(p.total),
    });
    expect(noLength.every((t) => t === undefined)).toBe(true);
  });

  it('says what failed: an HTTP status, or no connection', async () => {
    await expect(downloadWhole('https://x/missing', { fetch: fakeFetch({}) })).rejects.toThrow(
      'could not download https://x/missing: HTTP 404 Not Found',
    );
    const offline: FetchLike = async () => {
      throw new TypeError('fetch failed');
    };
    await expect(downloadWhole('https://x/y', { fetch: offline })).rejects.toThrow(
      'could not download https://x/y: fetch failed (is this machine online?)',
    );
  });

  it('loadMmluFromHf fetches each subject and split with one plain GET and parses it', async () => {
    const base = 'https://hf.example/cais/mmlu';
    const test = csvItems('data/test/anatomy_test.csv');
    const val = csvItems('data/val/anatomy_val.csv');
    const fetch = fakeFetch({
      [`${base}/anatomy/test-00000-of-00001.parquet`]: new Uint8Array(hfParquet(toRows(test))),
      [`${base}/anatomy/validation-00000-of-00001.parquet`]: new Uint8Array(hfParquet(toRows(val))),
    });
    const done: number[] = [];
    const items = await loadMmluFromHf(['anatomy'], ['test', 'val'], {
      fetch,
      base,
      onProgress: (p) => done.push(p.filesDone),
    });
    expect(items).toEqual([...test, ...val]);
    expect(fetch.urls).toEqual([
      `${base}/anatomy/test-00000-of-00001.parquet`,
      `${base}/anatomy/validation-00000-of-00001.parquet`,
    ]);
    expect(done.at(-1)).toBe(2);
    await expect(loadMmluFromHf(['anatomy'], ['dev'], { fetch, base })).rejects.toThrow('HTTP 404');
    await expect(loadMmluFromHf(['astrology'], ['dev'], { fetch, base })).rejects.toThrow(
      'unknown MMLU subject "astrology"',
    );
  });
});
