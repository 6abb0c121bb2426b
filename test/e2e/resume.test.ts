import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser } from 'playwright-core';
import {
  dumpResults,
  freshContext,
  launch,
  loadSmallSample,
  numberIn,
  openApp,
  queueSimulatedDemo,
  runToEnd,
  SMALL_SAMPLE,
  type DumpedResult,
} from './support';

let browser: Browser;
const n = SMALL_SAMPLE.domains.length * SMALL_SAMPLE.perDomain;
const total = 3 * n;

/** Results of an uninterrupted run in a fresh profile: what every interrupted run must end with. */
let baseline: DumpedResult[];

beforeAll(async () => {
  browser = await launch();
  const context = await freshContext(browser);
  const page = await context.newPage();
  await openApp(page);
  await loadSmallSample(page);
  await queueSimulatedDemo(page);
  await runToEnd(page);
  baseline = await dumpResults(page);
  await context.close();
});
afterAll(async () => {
  await browser?.close();
});

describe('a run interrupted by a reload', () => {
  it('resumes at the first unscored item and ends with exactly the uninterrupted results', async () => {
    expect(baseline).toHaveLength(total);
    expect(new Set(baseline.map((r) => `${r.variantKey}|${r.itemId}`)).size).toBe(total);

    const context = await freshContext(browser);
    const page = await context.newPage();
    await openApp(page);
    await loadSmallSample(page);
    await queueSimulatedDemo(page);
    await page.getByTestId('step-run').click();
    // A slow simulated GPU, so the reload lands in the middle of the queue.
    await page.getByTestId('sim-delay').fill('120');
    await page.getByTestId('run-start').click();
    await page.waitForFunction(() => Number(document.querySelector('[data-testid="queue-done"]')?.textContent) >= 12);
    await page.reload();
    await page.locator('main[data-restored="true"]').waitFor();

    // The reload lands back on the run step with the queue and the items restored.
    const stored = (await dumpResults(page)).length;
    expect(stored).toBeGreaterThan(0);
    expect(stored).toBeLessThan(total);
    await page.getByTestId('run-interrupted').waitFor();
    expect(await page.getByTestId('run-start').textContent()).toContain(
      `Resume the run (${stored} of ${total} stored)`,
    );

    await page.getByTestId('run-start').click();
    await page.locator('[data-testid="run-phase"][data-phase="done"]').waitFor({ timeout: 60_000 });
    expect(await numberIn(page, 'queue-done')).toBe(total);
    const resumed = await dumpResults(page);
    expect(resumed).toEqual(baseline);
    await context.close();
  });
});
