/**
 * The Results page through awkward imports: a file that contradicts a stored gold answer is refused and stores
 * nothing; a run that shares no item with the others, and one too small to analyse, are stored and named while
 * every other run still shows and exports; deleting a run deletes its results; the per-item CSV brings SIMULATED
 * back into a fresh profile.
 */
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import {
  afterRecompute,
  dumpResults,
  freshContext,
  launch,
  openApp,
  repoRoot,
  runDemoToResults,
  settingsField,
} from './support';

const dir = mkdtempSync(join(tmpdir(), 'kit-e2e-imports-'));
let browser: Browser;

beforeAll(async () => {
  browser = await launch();
});
afterAll(async () => {
  await browser?.close();
});

async function download(page: Page, button: string): Promise<string> {
  const [d] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: button }).click()]);
  const path = join(dir, d.suggestedFilename());
  await d.saveAs(path);
  return path;
}

/** Imports one file through the page (keeping the suggested variant name) and returns the status line. */
async function importFile(page: Page, path: string): Promise<string> {
  const message = page.locator('.message');
  const before = ((await message.textContent()) ?? '').trim();
  await page.getByLabel(/^Files \(this kit's \.json/).setInputFiles(path);
  await page.getByRole('button', { name: /^Import 1 file/ }).click();
  await page.waitForFunction((b) => {
    const text = (document.querySelector('.message')?.textContent ?? '').trim();
    return text !== '' && text !== b;
  }, before);
  return (await message.textContent())!.trim();
}

const settle = (page: Page) => page.locator('[data-status="ready"]').waitFor({ timeout: 120_000 });
const runNames = (page: Page) => page.locator('.runs .run-name').allTextContents();
const tableVariants = (page: Page) =>
  page.evaluate(() =>
    [
      ...new Set([...document.querySelectorAll<HTMLElement>('tr[data-variant]')].map((tr) => tr.dataset.variant!)),
    ].sort(),
  );

function csv(rows: { itemId: string; label: number }[]): string {
  return `item_id,label,logit_A,logit_B,logit_C,logit_D\n${rows.map((r, i) => `${r.itemId},${'ABCD'[r.label]},${i % 3},0.5,0,-1`).join('\n')}\n`;
}

describe('results through conflicting and disjoint imports', () => {
  it('refuses a conflicting file, names a disjoint and a too-small run, and keeps every other run shown and exportable', async () => {
    const context = await freshContext(browser);
    const page = await context.newPage();
    await runDemoToResults(page);
    await afterRecompute(page, async () => {
      await settingsField(page, 'Bootstrap resamples').fill('200');
      await settingsField(page, 'Permutations').fill('200');
    });
    const demo = ['GRPO (simulated)', 'SFT (simulated)', 'base (simulated)'];
    expect(await tableVariants(page)).toEqual([...demo].sort());
    const stored = await dumpResults(page);
    const base = stored.filter((r) => r.variantKey === stored[0].variantKey);

    // Conflicting: the same item ids, one with another gold answer. Refused, naming file, line, item, both labels.
    const flipped = base.map((r, i) => (i === 4 ? { ...r, label: (r.label + 1) % 4 } : r));
    const conflictPath = join(dir, 'conflict.csv');
    writeFileSync(conflictPath, csv(flipped));
    const refusal = await importFile(page, conflictPath);
    const item = base[4];
    expect(refusal).toContain(
      `Import refused, nothing was stored: conflict.csv: line 6: item "${item.itemId}" has gold answer ${'ABCD'[(item.label + 1) % 4]} here but ${'ABCD'[item.label]} in a stored run`,
    );
    expect(await dumpResults(page)).toEqual(stored);
    expect(await tableVariants(page)).toEqual([...demo].sort());
    mkdirSync(resolve(repoRoot, 'test-results'), { recursive: true });
    await page.screenshot({
      path: resolve(repoRoot, 'test-results/results-after-conflicting-import.png'),
      fullPage: true,
    });
    await page
      .locator('.exchange')
      .screenshot({ path: resolve(repoRoot, 'test-results/results-conflict-message.png') });
    await page.evaluate(() => window.scrollTo(0, 0));
    await page.screenshot({ path: resolve(repoRoot, 'test-results/results-after-conflicting-import-top.png') });

    // Disjoint: no item in common with the demo. Stored, analysed on its own, listed as not compared.
    const disjointPath = join(dir, 'elsewhere.csv');
    writeFileSync(disjointPath, csv(base.map((r, i) => ({ itemId: `elsewhere/test/${i}`, label: r.label }))));
    await afterRecompute(page, async () => {
      expect(await importFile(page, disjointPath)).toMatch(/^Imported 1 file: elsewhere: 10 items/);
    });
    expect(await tableVariants(page)).toEqual([...demo, 'elsewhere'].sort());
    const uncompared = await page.getByTestId('uncompared').textContent();
    expect(uncompared).toContain('GRPO (simulated) − elsewhere: no shared items');
    expect(uncompared).toContain('base (simulated) − elsewhere: no shared items');

    // Too small to analyse (3 items, 5 folds): stored and listed, named on its own run; the rest still shows.
    const tinyPath = join(dir, 'tiny.csv');
    writeFileSync(tinyPath, csv(base.slice(0, 3)));
    await afterRecompute(page, async () => {
      expect(await importFile(page, tinyPath)).toMatch(/^Imported 1 file: tiny: 3 items/);
    });
    expect(await runNames(page)).toEqual(expect.arrayContaining([...demo, 'elsewhere', 'tiny']));
    await expect
      .poll(() => page.locator('[data-run="tiny"] [data-testid="run-problem"]').textContent())
      .toBe('Not analysed: variant tiny has 3 items, fewer than the 5 cross-fitting folds');
    expect(await tableVariants(page)).toEqual([...demo, 'elsewhere'].sort());
    await page.screenshot({ path: resolve(repoRoot, 'test-results/results-disjoint-and-tiny.png'), fullPage: true });
    await page
      .locator('.runs')
      .screenshot({ path: resolve(repoRoot, 'test-results/results-runs-disjoint-and-tiny.png') });
    await page.getByTestId('uncompared').screenshot({ path: resolve(repoRoot, 'test-results/results-uncompared.png') });
    await page
      .locator('.table-wrap')
      .first()
      .screenshot({ path: resolve(repoRoot, 'test-results/results-study-table.png') });
    await page
      .locator('.table-wrap')
      .nth(1)
      .screenshot({ path: resolve(repoRoot, 'test-results/results-claims-table.png') });

    // Both exports stay enabled and hold every analysable run.
    const exported = JSON.parse(readFileSync(await download(page, 'Export results JSON'), 'utf8'));
    expect(exported.runs.map((r: { variant: { name: string } }) => r.variant.name).sort()).toEqual(
      [...demo, 'elsewhere'].sort(),
    );
    expect(Object.keys(exported.analysis.report.variants).sort()).toEqual([...demo, 'elsewhere'].sort());
    const itemsCsv = readFileSync(await download(page, 'Export per-item CSV'), 'utf8');
    expect(itemsCsv.trim().split('\n')).toHaveLength(1 + 40);

    // The same after a reload.
    await page.reload();
    await page.getByTestId('step-results').click();
    await settle(page);
    expect(await tableVariants(page)).toEqual([...demo, 'elsewhere'].sort());

    // Deleting a run from Results deletes its results; the confirmation says how many.
    const dialogs: string[] = [];
    page.on('dialog', (d) => {
      dialogs.push(d.message());
      void d.accept();
    });
    await afterRecompute(page, async () => {
      await page.getByRole('button', { name: 'Delete run elsewhere' }).click();
    });
    expect(dialogs).toEqual(['Delete the run elsewhere and its 10 stored results? This cannot be undone.']);
    expect((await dumpResults(page)).filter((r) => r.itemId.startsWith('elsewhere/'))).toEqual([]);
    expect(await tableVariants(page)).toEqual([...demo].sort());
    await context.close();

    // The per-item CSV into a fresh profile: every run comes back SIMULATED, without asking whose scores they are.
    const fresh = await freshContext(browser);
    const again = await fresh.newPage();
    await openApp(again);
    await again.getByTestId('step-results').click();
    await again.getByTestId('results-page').waitFor();
    const csvPath = join(dir, 'demo-items.csv');
    writeFileSync(
      csvPath,
      itemsCsv
        .split('\n')
        .filter((line, i) => i === 0 || !line.includes('elsewhere'))
        .join('\n'),
    );
    await afterRecompute(again, async () => {
      expect(await importFile(again, csvPath)).toMatch(
        /GRPO \(simulated\) \(SIMULATED\): 10 items; SFT \(simulated\) \(SIMULATED\): 10 items; base \(simulated\) \(SIMULATED\): 10 items/,
      );
    });
    expect(await again.getByTestId('results-simulated').isVisible()).toBe(true);
    expect(await again.locator('.runs .run').count()).toBe(3);
    expect((await again.locator('.runs').textContent())!.match(/SIMULATED/g)).toHaveLength(3);
    await fresh.close();
  });
});
