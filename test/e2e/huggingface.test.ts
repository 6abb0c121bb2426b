import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { parquetWriteBuffer } from 'hyparquet-writer';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, Route } from 'playwright-core';
import { drawSample } from '../../src/core/mmlu';
import { parseMmluCsv, parseMmluCsvFiles } from '../../src/data/mmlu-csv';
import { HF_MMLU_BASE } from '../../src/data/hf-parquet';
import { freshContext, launch, mmluCsvPaths, mmluDir, openApp } from './support';

// This machine has no internet: huggingface.co is played by the test, serving cais/mmlu-shaped parquet files
// (pyarrow's list<string> layout, int64 answers) written from the real CSVs, and counting requests.

/** The parquet file Hugging Face would serve for one subject and split. */
function parquetOf(subject: string, split: 'test' | 'dev'): ArrayBuffer {
  const file = resolve(mmluDir, 'data', split, `${subject}_${split}.csv`);
  const items = parseMmluCsv(readFileSync(file, 'utf8'), { fileName: file });
  const string = (name: string) => ({
    name,
    type: 'BYTE_ARRAY' as const,
    converted_type: 'UTF8' as const,
    repetition_type: 'OPTIONAL' as const,
  });
  return parquetWriteBuffer({
    columnData: [
      { name: 'question', data: items.map((i) => i.question) },
      { name: 'subject', data: items.map((i) => i.subject) },
      { name: 'choices', data: items.map((i) => [...i.choices]) },
      { name: 'answer', data: items.map((i) => BigInt(i.answer)) },
    ],
    schema: [
      { name: 'schema', num_children: 4 },
      string('question'),
      string('subject'),
      { name: 'choices', repetition_type: 'OPTIONAL', converted_type: 'LIST', num_children: 1 },
      { name: 'list', repetition_type: 'REPEATED', num_children: 1 },
      string('element'),
      { name: 'answer', type: 'INT64', repetition_type: 'OPTIONAL' },
    ],
  });
}

let browser: Browser;
beforeAll(async () => {
  browser = await launch();
});
afterAll(async () => {
  await browser?.close();
});

describe('MMLU from Hugging Face', () => {
  it('downloads every file once with progress, draws the study sample, and reads the stored copy on the next visit', async () => {
    const requested: string[] = [];
    const context = await freshContext(browser);
    await context.route(`${HF_MMLU_BASE}/**`, async (route: Route) => {
      const url = route.request().url();
      requested.push(url);
      const m = /\/([a-z_]+)\/(test|dev)-00000-of-00001\.parquet$/.exec(url);
      if (!m) return route.fulfill({ status: 404, headers: { 'access-control-allow-origin': '*' }, body: 'not found' });
      const body = Buffer.from(parquetOf(m[1], m[2] as 'test' | 'dev'));
      await route.fulfill({
        status: 200,
        headers: {
          'access-control-allow-origin': '*',
          'content-type': 'application/octet-stream',
          'content-length': String(body.byteLength),
        },
        body,
      });
    });
    const page = await context.newPage();
    await openApp(page);
    await page.getByTestId('step-items').click();
    await page.getByRole('button', { name: 'Download from Hugging Face' }).click();
    await page.getByRole('status').filter({ hasText: 'Downloading cais/mmlu from Hugging Face' }).waitFor();
    const summary = page.getByTestId('pool-summary');
    await summary.waitFor({ timeout: 120_000 });
    expect(await summary.textContent()).toContain(
      "cais/mmlu from Hugging Face (114 files, 0 read from this browser's stored copy)",
    );
    expect(requested).toHaveLength(114);
    expect(new Set(requested).size).toBe(114);

    // The default sample (five domains x 200, seed 0) is the one Node draws from the CSVs.
    const csvItems = parseMmluCsvFiles(mmluCsvPaths().map((p) => ({ name: p, text: readFileSync(p, 'utf8') })));
    const expected = drawSample(csvItems).manifest;
    await page.getByTestId('manifest-summary').filter({ hasText: '1000 items' }).waitFor();
    expect(await page.getByTestId('manifest-hash').textContent()).toBe(expected.hash.slice(0, 16));

    // Forget the items, reload, download again: every file comes from the item store, none from the network.
    await page.getByRole('button', { name: 'Forget them' }).click();
    await page.reload();
    await page.locator('main[data-restored="true"]').waitFor();
    await page.getByRole('button', { name: 'Download from Hugging Face' }).click();
    await page
      .getByTestId('pool-summary')
      .filter({ hasText: "114 read from this browser's stored copy" })
      .waitFor({ timeout: 120_000 });
    expect(requested).toHaveLength(114);
    expect(await page.getByTestId('manifest-hash').textContent()).toBe(expected.hash.slice(0, 16));
    await context.close();
  });
});
