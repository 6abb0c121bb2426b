import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { create } from 'tar';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  MmluDataMissingError,
  RuntimeMissingError,
  ensureMmluData,
  ensureWebllmRuntime,
  findWebllmRuntime,
  findMmluData,
  pinnedMmluSums,
  type MmluDownload,
  type MmluLookup,
} from '../../scripts/lib/test-data';

/** The MmluDataMissingError a promise rejects with; fails the test when it resolves. */
async function rejection(p: Promise<unknown>): Promise<Error> {
  const e = await p.then(
    () => new Error('expected a rejection, the promise resolved'),
    (x: Error) => x,
  );
  expect(e).toBeInstanceOf(MmluDataMissingError);
  return e;
}

const sha = (s: string) => createHash('sha256').update(s).digest('hex');
const LIBRARY_BYTES = '\0asm stand-in for a model library';
const CSVS: Record<string, string> = {
  'dev/anatomy_dev.csv': 'Q1,a,b,c,d,A\n',
  'val/anatomy_val.csv': 'Q2,a,b,c,d,B\n',
  'test/anatomy_test.csv': '"Q3\nline two",a,b,c,d,C\n',
};
const SUMS = new Map(Object.entries(CSVS).map(([f, t]) => [f, sha(t)]));

/** A folder laid out as data.tar is (data/{dev,val,test}/, plus a split the tests do not read), packed as a tar. */
async function officialTar(): Promise<Buffer> {
  const src = mkdtempSync(path.join(tmpdir(), 'kit-tar-src-'));
  for (const [file, text] of Object.entries({ ...CSVS, 'auxiliary_train/x.csv': 'big' })) {
    mkdirSync(path.join(src, 'data', path.dirname(file)), { recursive: true });
    writeFileSync(path.join(src, 'data', file), text);
  }
  const out = path.join(src, 'data.tar');
  await create({ file: out, cwd: src }, ['data']);
  return readFileSync(out);
}

let server: Server;
let base = '';
const requests: string[] = [];
beforeAll(async () => {
  const tar = await officialTar();
  server = createServer((req, res) => {
    requests.push(req.url ?? '');
    if (req.url === '/lib.wasm') res.writeHead(200).end(LIBRARY_BYTES);
    else if (req.url === '/data.tar') res.writeHead(200, { 'content-type': 'application/x-tar' }).end(tar);
    else res.writeHead(404).end('not here');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => new Promise<void>((r) => server.close(() => r())));

function emptyLookup(env: Record<string, string> = {}): MmluLookup {
  const root = mkdtempSync(path.join(tmpdir(), 'kit-data-'));
  return {
    env,
    sharedDir: path.join(root, 'shared/data/mmlu'),
    cacheDir: path.join(root, 'cache/calibration-kit/mmlu'),
  };
}
function fakeCopy(dir: string): string {
  for (const split of ['dev', 'val', 'test']) mkdirSync(path.join(dir, 'data', split), { recursive: true });
  writeFileSync(path.join(dir, 'categories.json'), '{}');
  return dir;
}
const download = (url: string, sums = SUMS): MmluDownload => ({
  url,
  sums,
  categoriesJson: '{"categories":{}}',
  fetch,
});

describe('where the tests find MMLU', () => {
  it('looks in $MMLU_DIR, then ../shared, then the cache', () => {
    const lookup = emptyLookup();
    expect(findMmluData(lookup)).toBeUndefined();
    fakeCopy(lookup.cacheDir);
    expect(findMmluData(lookup)).toEqual({ dir: lookup.cacheDir, source: 'cache' });
    fakeCopy(lookup.sharedDir);
    expect(findMmluData(lookup)).toEqual({ dir: lookup.sharedDir, source: 'shared' });
    const own = fakeCopy(mkdtempSync(path.join(tmpdir(), 'kit-own-')));
    expect(findMmluData({ ...lookup, env: { MMLU_DIR: own } })).toEqual({ dir: own, source: 'MMLU_DIR' });
    // An MMLU_DIR without the data is not silently replaced by another copy.
    expect(findMmluData({ ...lookup, env: { MMLU_DIR: '/nowhere' } })).toBeUndefined();
  });

  it('pins a SHA-256 for each of the 171 CSVs of the official release', () => {
    const sums = pinnedMmluSums();
    expect(sums.size).toBe(171);
    expect(sums.get('test/anatomy_test.csv')).toMatch(/^[0-9a-f]{64}$/);
    expect([...sums.keys()].filter((k) => !/^(dev|val|test)\/\w+_(dev|val|test)\.csv$/.test(k))).toEqual([]);
  });

  it('downloads the release once, checks every CSV against its pinned sum, and caches it', async () => {
    const lookup = emptyLookup();
    const before = requests.length;
    const got = await ensureMmluData(lookup, download(`${base}/data.tar`));
    expect(got).toEqual({ dir: lookup.cacheDir, source: 'download' });
    for (const [file, text] of Object.entries(CSVS))
      expect(readFileSync(path.join(lookup.cacheDir, 'data', file), 'utf8')).toBe(text);
    expect(existsSync(path.join(lookup.cacheDir, 'data/auxiliary_train'))).toBe(false);
    expect(readFileSync(path.join(lookup.cacheDir, 'categories.json'), 'utf8')).toBe('{"categories":{}}');
    expect(await ensureMmluData(lookup, download(`${base}/data.tar`))).toEqual({
      dir: lookup.cacheDir,
      source: 'cache',
    });
    expect(requests.length - before).toBe(1);
  });

  it('refuses a download whose bytes differ from the pinned sums, and caches nothing', async () => {
    const lookup = emptyLookup();
    const wrong = new Map(SUMS).set('val/anatomy_val.csv', '0'.repeat(64));
    const e = await rejection(ensureMmluData(lookup, download(`${base}/data.tar`, wrong)));
    expect(e.message).toMatch(
      /data\/val\/anatomy_val\.csv .* has SHA-256 [0-9a-f]{64}, not the pinned 0{64}; set MMLU_DIR/,
    );
    expect(e.message).not.toContain('\n');
    expect(existsSync(lookup.cacheDir)).toBe(false);
  });

  it('stops with one line naming what is missing and MMLU_DIR when the download is impossible', async () => {
    const lookup = emptyLookup();
    const e = await rejection(ensureMmluData(lookup, download(`${base}/gone.tar`)));
    expect(e.message).toBe(
      `MMLU test data not found (looked in $MMLU_DIR, ${lookup.sharedDir}, ${lookup.cacheDir}) and the download from ${base}/gone.tar failed (HTTP 404); ` +
        'set MMLU_DIR to a folder holding categories.json and data/{dev,val,test}/*.csv',
    );
    const refused = await rejection(ensureMmluData(lookup, download('http://127.0.0.1:1/data.tar')));
    expect(refused.message).toMatch(/the download from http:\/\/127\.0\.0\.1:1\/data\.tar failed \(.+\); set MMLU_DIR/);
  });
});

describe('where the real-runtime tests find the web-llm model library', () => {
  const runtimeLookup = (env: Record<string, string> = {}) => {
    const root = mkdtempSync(path.join(tmpdir(), 'kit-runtime-'));
    return {
      env,
      sharedDir: path.join(root, 'shared/webllm-runtime'),
      cacheDir: path.join(root, 'cache/calibration-kit/webllm-runtime'),
    };
  };
  const library = (url: string, sum = sha(LIBRARY_BYTES)) => ({ file: 'lib.wasm', url, sha256: sum });

  it('finds ../shared first, downloads the pinned file into the cache once, then reads the cache', async () => {
    const lookup = runtimeLookup();
    const before = requests.length;
    expect(await ensureWebllmRuntime(lookup, library(`${base}/lib.wasm`))).toEqual({
      dir: lookup.cacheDir,
      source: 'download',
    });
    expect(readFileSync(path.join(lookup.cacheDir, 'lib.wasm'), 'utf8')).toBe(LIBRARY_BYTES);
    expect(await ensureWebllmRuntime(lookup, library(`${base}/lib.wasm`))).toEqual({
      dir: lookup.cacheDir,
      source: 'cache',
    });
    expect(requests.length - before).toBe(1);
    expect(findWebllmRuntime(lookup)).toBeUndefined(); // the real library's name, not the stand-in's
    mkdirSync(lookup.sharedDir, { recursive: true });
    writeFileSync(path.join(lookup.sharedDir, 'lib.wasm'), LIBRARY_BYTES);
    expect(findWebllmRuntime(lookup, 'lib.wasm')).toEqual({ dir: lookup.sharedDir, source: 'shared' });
    const own = path.dirname(lookup.cacheDir);
    expect(findWebllmRuntime({ ...lookup, env: { WEBLLM_RUNTIME_DIR: own } }, 'lib.wasm')).toBeUndefined();
  });

  it('refuses a file whose SHA-256 is not the pinned one, and a download that fails, in one line', async () => {
    const lookup = runtimeLookup();
    const wrong = await ensureWebllmRuntime(lookup, library(`${base}/lib.wasm`, 'f'.repeat(64))).catch((e: Error) => e);
    expect(wrong).toBeInstanceOf(RuntimeMissingError);
    expect((wrong as Error).message).toMatch(/has SHA-256 [0-9a-f]{64}, not the pinned f{64}; set WEBLLM_RUNTIME_DIR/);
    expect(existsSync(path.join(lookup.cacheDir, 'lib.wasm'))).toBe(false);
    const gone = await ensureWebllmRuntime(lookup, library(`${base}/gone.wasm`)).catch((e: Error) => e);
    expect((gone as Error).message).toMatch(
      /^web-llm model library lib\.wasm not found \(looked in .*\) and the download from .*gone\.wasm failed \(HTTP 404\); set WEBLLM_RUNTIME_DIR/,
    );
    expect((gone as Error).message).not.toContain('\n');
  });
});
