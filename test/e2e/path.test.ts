import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser } from 'playwright-core';
import { freshContext, launch, loadSmallSample, openApp, queueSimulatedDemo, runToEnd, SMALL_SAMPLE } from './support';

let browser: Browser;
beforeAll(async () => {
  browser = await launch();
});
afterAll(async () => {
  await browser?.close();
});

describe('the path from environment to results', () => {
  it('loads MMLU from the CSVs, draws the small sample, runs the simulated demo and stores every item', async () => {
    const context = await freshContext(browser);
    const page = await context.newPage();
    await openApp(page);
    expect(await page.getByRole('heading', { level: 1 }).textContent()).toBe('Calibration Collapse — reproduction kit');
    await page.getByTestId('webgpu-status').waitFor();
    // Headless Chromium's WebGPU is SwiftShader: a software adapter, which the page must not sell as a GPU.
    expect(await page.getByTestId('webgpu-status').getAttribute('data-software-adapter')).toBe('SwiftShader');

    await loadSmallSample(page);
    const summary = await page.getByTestId('pool-summary').textContent();
    // 14,042 test + 285 dev rows in the 57 subjects (issue 3's counts).
    expect(summary).toContain('14,327 items');
    expect(summary).toContain('57 subjects');

    await queueSimulatedDemo(page);
    expect(await page.getByTestId('simulated-banner').isVisible()).toBe(true);
    await runToEnd(page);
    const n = SMALL_SAMPLE.domains.length * SMALL_SAMPLE.perDomain;
    expect(await page.getByTestId('queue-done').textContent()).toBe(String(3 * n));
    expect(await page.getByTestId('live-table').textContent()).toContain(`${n} / ${n}`);
    await context.close();
  });
});
