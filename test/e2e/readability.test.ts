import { mkdirSync, readdirSync } from 'node:fs';
import { resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import {
  applySuiteSettings,
  freshContext,
  launch,
  loadSmallSample,
  mmluDir,
  openApp,
  queueSimulatedDemo,
  repoRoot,
  runToEnd,
} from './support';

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
    const table =
      document.querySelector<HTMLTableElement>('[data-testid="study-table"] table') ?? document.querySelector('table')!;
    const wrap = table.parentElement!;
    const visibleRight = Math.min(wrap.getBoundingClientRect().right, document.documentElement.clientWidth);
    return [...table.querySelectorAll('thead th')]
      .filter((th) => th.getBoundingClientRect().right > visibleRight + 0.5)
      .map((th) => th.textContent!.trim());
  });
}

/** The legend entries (label, swatch colour) of the chart titled `title`. */
async function legendOf(page: Page, title: string): Promise<{ label: string; color: string }[]> {
  const figure = page.locator('figure.chart').filter({ hasText: title }).first();
  return figure.locator('.legend li').evaluateAll((lis) =>
    lis.map((li) => ({
      label: li.textContent!.trim(),
      color: getComputedStyle(li.querySelector('.swatch')!).backgroundColor,
    })),
  );
}

describe('readability at 1024x700 and 1280x800, light and dark', () => {
  it('counts every split in the items summary, shows no "0 of 0" before a run, and keeps the simulated delay', async () => {
    const context = await freshContext(browser);
    const page = await context.newPage();
    await openApp(page);
    await page.getByTestId('step-items').click();
    const all = ['test', 'val', 'dev'].flatMap((split) =>
      readdirSync(resolve(mmluDir, 'data', split))
        .filter((f) => f.endsWith('.csv'))
        .map((f) => resolve(mmluDir, 'data', split, f)),
    );
    await page.getByTestId('mmlu-files').setInputFiles(all);
    const summary = page.getByTestId('pool-summary');
    await summary.waitFor();
    // The official release's counts (../shared/data/mmlu/SOURCE.md).
    expect(await summary.textContent()).toMatch(
      /Loaded 15,858 items .*57 subjects,\s+14,042 test, 1,531 val and\s+285 dev items/,
    );
    await page.screenshot({ path: resolve(shots, 'items-1280x800-light.png') });

    await queueSimulatedDemo(page);
    await page.getByTestId('step-run').click();
    const progress = page.locator('section[aria-labelledby="run-progress"]');
    expect(await progress.textContent()).not.toMatch(/\b0 of 0\b/);
    expect(await page.getByTestId('queue-not-started').textContent()).toBe('—');
    await page.setViewportSize(SIZES[0]);
    await page.screenshot({ path: resolve(shots, 'run-before-1024x700-light.png') });

    await page.getByTestId('sim-delay').fill('120');
    // The delay is stored as it is typed; a reload at once can abort the write still in flight (on a loaded
    // machine it was), so wait until the item store holds it.
    const storedDelay = () =>
      page.evaluate(
        () =>
          new Promise<unknown>((resolve, reject) => {
            const open = indexedDB.open('calibration-kit-items');
            open.onerror = () => reject(open.error);
            open.onsuccess = () => {
              const get = open.result.transaction('session').objectStore('session').get('run.simulated');
              get.onsuccess = () => {
                resolve((get.result as { value?: { delayMs?: unknown } } | undefined)?.value?.delayMs);
                open.result.close();
              };
            };
          }),
      );
    await expect.poll(storedDelay, { timeout: 30_000 }).toBe(120);
    await page.reload();
    await page.locator('main[data-restored="true"]').waitFor();
    await page.getByTestId('step-run').click();
    expect(await page.getByTestId('sim-delay').inputValue()).toBe('120');
    await context.close();
  });

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

    // One order everywhere: the run list, the study table and the chart legends; one colour per role.
    const tableOrder = await page
      .locator('tr[data-variant][data-stage="before"]')
      .evaluateAll((trs) => trs.map((tr) => (tr as HTMLElement).dataset.variant));
    expect(tableOrder).toEqual(['base (simulated)', 'SFT (simulated)', 'GRPO (simulated)']);
    expect(await page.locator('fieldset.runs .run-name').allTextContents()).toEqual(tableOrder);
    for (const title of ['Reliability of every variant', 'ECE per domain']) {
      expect(await legendOf(page, title)).toEqual([
        { label: 'base (simulated)', color: 'rgb(0, 114, 178)' },
        { label: 'SFT (simulated)', color: 'rgb(0, 158, 115)' },
        { label: 'GRPO (simulated)', color: 'rgb(213, 94, 0)' },
      ]);
    }
    for (const size of SIZES) {
      for (const scheme of SCHEMES) {
        await page.setViewportSize(size);
        await page.emulateMedia({ colorScheme: scheme });
        const name = `${size.width}x${size.height}-${scheme}`;
        await page.getByRole('heading', { name: "The study's table" }).scrollIntoViewIfNeeded();
        await page.screenshot({ path: resolve(shots, `results-table-${name}.png`) });
        await page.getByRole('heading', { name: 'Per domain' }).scrollIntoViewIfNeeded();
        await page.screenshot({ path: resolve(shots, `results-domain-${name}.png`) });
        // Once the layout settles: the charts redraw for the new size in their worker, and the page reflows.
        await expect.poll(() => hiddenColumns(page), { message: name, timeout: 15_000 }).toEqual([]);
      }
    }
    await context.close();
  });
});
