import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import {
  freshContext,
  launch,
  loadSmallSample,
  openApp,
  queueSimulatedDemo,
  runDemoToResults,
  settingsField,
} from './support';

let browser: Browser;
beforeAll(async () => {
  browser = await launch();
});
afterAll(async () => {
  await browser?.close();
});

/** Visible form controls and buttons without an accessible name (label, aria-label(ledby), title or text). */
async function unlabelledControls(page: Page): Promise<string[]> {
  return page.evaluate(() => {
    const controls = [
      ...document.querySelectorAll<HTMLElement>('button, input, select, textarea, a[href], [role="button"]'),
    ];
    return controls
      .filter((el) => el.offsetParent !== null && !(el instanceof HTMLInputElement && el.type === 'hidden'))
      .filter((el) => {
        const labelled =
          (el as HTMLInputElement).labels?.length ||
          el.getAttribute('aria-label')?.trim() ||
          el.getAttribute('aria-labelledby') ||
          el.getAttribute('title')?.trim() ||
          (el.tagName !== 'INPUT' && el.textContent?.trim());
        return !labelled;
      })
      .map((el) => el.outerHTML.slice(0, 120));
  });
}

/** Presses Tab up to `limit` times and returns the accessible text of each element that took the focus. */
async function tabStops(page: Page, limit: number): Promise<string[]> {
  await page.evaluate(() => (document.activeElement as HTMLElement | null)?.blur());
  const stops: string[] = [];
  for (let i = 0; i < limit; i++) {
    await page.keyboard.press('Tab');
    stops.push(
      await page.evaluate(() => {
        const el = document.activeElement as HTMLElement | null;
        if (!el || el === document.body) return '';
        return (el.getAttribute('aria-label') ?? el.textContent ?? '').trim().replace(/\s+/g, ' ');
      }),
    );
  }
  return stops;
}

describe('keyboard and labels', () => {
  it('labels every control on every step, and the steps and the run are reachable with the keyboard', async () => {
    for (const colorScheme of ['light', 'dark'] as const) {
      const context = await freshContext(browser, colorScheme);
      const page = await context.newPage();
      await openApp(page);

      // The five steps are in the tab order from the top of the page.
      const top = await tabStops(page, 12);
      for (const step of ['Environment', 'Items', 'Variants', 'Run', 'Results']) {
        expect(
          top.some((s) => s.includes(step)),
          `${step} in ${JSON.stringify(top)}`,
        ).toBe(true);
      }
      expect(await unlabelledControls(page)).toEqual([]);

      await loadSmallSample(page);
      expect(await unlabelledControls(page)).toEqual([]);
      await queueSimulatedDemo(page);
      expect(await unlabelledControls(page)).toEqual([]);

      // Start the run from the keyboard: focus the start button by tabbing, press Enter.
      await page.getByTestId('step-run').click();
      expect(await unlabelledControls(page)).toEqual([]);
      let reached = false;
      await page.evaluate(() => (document.activeElement as HTMLElement | null)?.blur());
      for (let i = 0; i < 40 && !reached; i++) {
        await page.keyboard.press('Tab');
        reached = await page.evaluate(() => document.activeElement?.getAttribute('data-testid') === 'run-start');
      }
      expect(reached).toBe(true);
      await page.keyboard.press('Enter');
      await page.locator('[data-testid="run-phase"][data-phase="done"]').waitFor({ timeout: 120_000 });

      await page.getByTestId('step-results').click();
      await page.getByTestId('results-page').waitFor();
      await page.locator('[data-status="ready"]').waitFor({ timeout: 120_000 });
      expect(await unlabelledControls(page)).toEqual([]);
      await context.close();
    }
  });

  it('keeps the analysis settings when leaving the Results step and coming back', async () => {
    const context = await freshContext(browser);
    const page = await context.newPage();
    await runDemoToResults(page);
    await settingsField(page, 'Bins').fill('7');
    await settingsField(page, 'Bins').dispatchEvent('change');
    await page.getByTestId('step-run').click();
    await page.getByTestId('step-results').click();
    await page.locator('[data-status="ready"]').waitFor({ timeout: 120_000 });
    expect(await settingsField(page, 'Bins').inputValue()).toBe('7');
    await context.close();
  });
});
