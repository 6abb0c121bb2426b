import { mkdirSync } from 'node:fs';
import { resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import { applySuiteSettings, freshContext, launch, loadSmallSample, openApp, queueSimulatedDemo, repoRoot, runToEnd } from './support';

const shots = resolve(repoRoot, 'test-results/screenshots');
const SIZES = [
  { width: 1024, height: 700 },
  { width: 1280, height: 800 },
] as const;
const SCHEMES = ['light', 'dark'] as const;

let browser: Browser;
beforeAll(async () => {
  browser = await launch();
  mkdirSync(shots, { recursive: true });
});
afterAll(async () => {
  await browser?.close();
});

/** Columns of the study table whose right edge lies beyond the visible part of the table (clipped or scrolled). */
async function hiddenColumns(page: Page): Promise<string[]> {
  return page.evaluate(() => {
    const table = document.querySelector<HTMLTableElement>('[data-testid="study-table"] table') ?? document.querySelector('table')!;
    const wrap = table.parentElement!;
    const visibleRight = Math.min(wrap.getBoundingClientRect().right, document.documentElement.clientWidth);
    return [...table.querySelectorAll('thead th')]
      .filter((th) => th.getBoundingClientRect().right > visibleRight + 0.5)
      .map((th) => th.textContent!.trim());
  });
}

describe('readability at 1024x700 and 1280x800, light and dark', () => {
  it('shows every column of the study table, with screenshots of each size and scheme', async () => {
    const context = await freshContext(browser);
    const page = await context.newPage();
    await openApp(page);
    await loadSmallSample(page);
    await queueSimulatedDemo(page);
    await runToEnd(page);
    await page.getByTestId('step-results').click();
    await page.locator('[data-status="ready"]').waitFor({ timeout: 120_000 });
    await applySuiteSettings(page);
    for (const size of SIZES) {
      for (const scheme of SCHEMES) {
        await page.setViewportSize(size);
        await page.emulateMedia({ colorScheme: scheme });
        const name = `${size.width}x${size.height}-${scheme}`;
        await page.getByRole('heading', { name: "The study's table" }).scrollIntoViewIfNeeded();
        await page.screenshot({ path: resolve(shots, `results-table-${name}.png`) });
        await page.getByRole('heading', { name: 'Per domain' }).scrollIntoViewIfNeeded();
        await page.screenshot({ path: resolve(shots, `results-domain-${name}.png`) });
        expect(await hiddenColumns(page), name).toEqual([]);
      }
    }
    await context.close();
  });
});
