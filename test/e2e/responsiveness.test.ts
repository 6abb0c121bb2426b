import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser } from 'playwright-core';
import { freshContext, launch, loadSmallSample, longTasksSince, openApp, pageNow, queueSimulatedDemo, runToEnd } from './support';

let browser: Browser;
beforeAll(async () => {
  browser = await launch();
});
afterAll(async () => {
  await browser?.close();
});

/** The bar: no main-thread task over 50 ms while a run or an analysis is in progress. */
const LONG_TASK_MS = 50;

describe('main-thread responsiveness', () => {
  it('has no long task over 50 ms while a run is in progress', async () => {
    const context = await freshContext(browser);
    const page = await context.newPage();
    await openApp(page);
    await loadSmallSample(page);
    await queueSimulatedDemo(page);
    // The recorder works: parsing 114 CSV files (8 MB) in one go is a long task, before any run.
    expect((await longTasksSince(page, 0)).some((t) => t.duration > LONG_TASK_MS)).toBe(true);
    await page.getByTestId('step-run').click();
    const runStart = await pageNow(page);
    await runToEnd(page);
    const during = await longTasksSince(page, runStart);
    expect(during.filter((t) => t.duration > LONG_TASK_MS)).toEqual([]);
    await context.close();
  });
});
