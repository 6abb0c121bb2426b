import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser } from 'playwright-core';
import { freshContext, launch, loadSmallSample, openApp, runToEnd } from './support';

let browser: Browser;
beforeAll(async () => {
  browser = await launch({ webgpu: false });
});
afterAll(async () => {
  await browser?.close();
});

describe('a browser without WebGPU', () => {
  it('says so plainly, offers import and the simulated demo, and runs the demo labelled SIMULATED', async () => {
    const context = await freshContext(browser);
    const page = await context.newPage();
    await openApp(page);
    const status = page.getByTestId('webgpu-status');
    await status.waitFor();
    expect(await status.textContent()).toContain('This browser does not offer WebGPU');
    expect(await page.getByRole('button', { name: 'Import results for analysis' }).isVisible()).toBe(true);
    expect(await page.getByTestId('simulated-banner').count()).toBe(0);

    await page.getByRole('button', { name: 'Start a simulated demo' }).click();
    // No items yet: the demo asks for them first, and from now on every screen carries the label.
    await page.getByTestId('page-items').waitFor();
    await page.getByTestId('simulated-banner').waitFor();
    await loadSmallSample(page);
    await runToEnd(page);
    for (const heading of ['The run', 'Progress', 'Stored so far']) {
      expect(await page.getByRole('heading', { name: heading }).textContent()).toContain('SIMULATED');
    }
    const rows = await page.getByTestId('live-table').getByRole('row').allTextContents();
    expect(rows.slice(1).every((r) => r.includes('SIMULATED'))).toBe(true);
    await context.close();
  });
});
