/**
 * The finished analysis is kept in IndexedDB: revisiting Results with nothing changed shows the kept view
 * (data-analysis-source="cache", every CI there at once), while a changed setting or a newly stored run is
 * computed again, and a deleted run is gone from the next view and every revisit after. Asserts where the view came
 * from, never how long it took.
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import { afterRecompute, freshContext, launch, readStudyTable, runDemoToResults, settingsField } from './support';

let browser: Browser;
beforeAll(async () => {
  browser = await launch();
});
afterAll(async () => {
  await browser?.close();
});

const source = (page: Page) => page.getByTestId('results-page').getAttribute('data-analysis-source');

/** Leaves Results for another step and comes back, waiting for the settled view. */
async function revisit(page: Page): Promise<void> {
  await page.getByTestId('step-items').click();
  await page.getByTestId('results-page').waitFor({ state: 'detached' });
  const t0 = Date.now();
  await page.getByTestId('step-results').click();
  await page
    .locator('[data-testid="results-page"][data-analysis-source] [data-status="ready"]')
    .waitFor({ timeout: 120_000 });
  // Printed for the report, never asserted: speed is the bench's business.
  console.log(`revisit: ${await source(page)} view ready ${Date.now() - t0} ms after the click`);
}

describe('cached analysis', () => {
  it('serves a revisit from the cache; a changed setting or a new run is computed again', async () => {
    const context = await freshContext(browser);
    const page = await context.newPage();
    await runDemoToResults(page);
    expect(await source(page)).toBe('computed');
    const first = await readStudyTable(page);
    const cis = Object.values(first).flatMap((row) =>
      Object.entries(row)
        .filter(([k]) => k.endsWith('.ci'))
        .map(([, v]) => v),
    );
    expect(cis.length).toBeGreaterThan(0);
    expect(cis.every((ci) => /\d/.test(ci))).toBe(true);

    await revisit(page);
    expect(await source(page)).toBe('cache');
    expect(await page.locator('[data-status]').textContent()).toMatch(/kept from an earlier visit/);
    expect(await readStudyTable(page)).toEqual(first);

    // A changed setting: computed again (and then kept in its turn).
    await afterRecompute(page, async () => {
      await settingsField(page, 'Bins').fill('12');
    });
    expect(await source(page)).toBe('computed');
    const twelve = await readStudyTable(page);
    expect(twelve).not.toEqual(first);
    await revisit(page);
    expect(await source(page)).toBe('cache');
    expect(await readStudyTable(page)).toEqual(twelve);

    // A new run (imported: a fourth variant on the same items): computed again.
    const [download] = await Promise.all([
      page.waitForEvent('download'),
      page.getByRole('button', { name: 'Export results JSON' }).click(),
    ]);
    const dir = mkdtempSync(join(tmpdir(), 'kit-e2e-cache-'));
    const exported = join(dir, 'exported.json');
    await download.saveAs(exported);
    const file = JSON.parse(readFileSync(exported, 'utf8'));
    const extra = structuredClone(file.runs[0]);
    extra.variant = { ...extra.variant, key: `${extra.variant.key}-extra`, name: 'Extra', role: 'other' };
    for (const item of extra.items)
      item.letterLogits = item.letterLogits.map((z: number, k: number) => z + (k === 0 ? 0.5 : 0));
    delete file.analysis;
    file.runs = [extra];
    const extraPath = join(dir, 'extra.json');
    writeFileSync(extraPath, JSON.stringify(file));
    await afterRecompute(page, async () => {
      await page.getByLabel(/^Files \(this kit's \.json/).setInputFiles(extraPath);
      await page.getByRole('button', { name: /^Import 1 file/ }).click();
    });
    expect(await page.locator('.message').textContent()).not.toMatch(/refused|error/i);
    expect(await source(page)).toBe('computed');
    expect(Object.keys(await readStudyTable(page)).some((k) => k.startsWith('Extra'))).toBe(true);

    // A revisit now reads no stored result (the store is unchanged since); a deleted run is gone at once, and
    // from every revisit after.
    await revisit(page);
    expect(await source(page)).toBe('cache');
    expect(Object.keys(await readStudyTable(page)).some((k) => k.startsWith('Extra'))).toBe(true);
    page.once('dialog', (dialog) => void dialog.accept());
    await afterRecompute(page, async () => {
      await page.getByRole('button', { name: 'Delete run Extra' }).click();
    });
    expect(await readStudyTable(page)).toEqual(twelve);
    await revisit(page);
    expect(await source(page)).toBe('cache');
    expect(await readStudyTable(page)).toEqual(twelve);
    expect(await page.locator('fieldset.runs .run-name').allTextContents()).not.toContain('Extra');
    await context.close();
  });
});
