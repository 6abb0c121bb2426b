import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser } from 'playwright-core';
import { afterRecompute, freshContext, launch, readStudyTable, runDemoToResults, settingsField } from './support';

let browser: Browser;
beforeAll(async () => {
  browser = await launch();
});
afterAll(async () => {
  await browser?.close();
});

describe('a link to a Results view', () => {
  it('carries the settings and the chosen runs, and opens the same view in another tab', async () => {
    const context = await freshContext(browser);
    const page = await context.newPage();
    await runDemoToResults(page);
    await afterRecompute(page, async () => {
      await settingsField(page, 'Bins').fill('10');
      await settingsField(page, 'Bootstrap resamples').fill('500');
      await settingsField(page, 'Permutations').fill('500');
    });
    const runs = page.locator('fieldset.runs input[type="checkbox"]');
    await afterRecompute(page, () => runs.nth(1).uncheck());
    const shown = await readStudyTable(page);

    const link = new URL(page.url());
    expect(link.hash).toBe('#results');
    expect(link.searchParams.get('bins')).toBe('10');
    expect(link.searchParams.get('bootstrap')).toBe('500');
    expect(link.searchParams.getAll('run')).toHaveLength(2);

    const other = await context.newPage();
    await other.goto(link.href);
    await other.getByTestId('results-page').waitFor();
    await other.locator('[data-status="ready"]').waitFor({ timeout: 120_000 });
    expect(await settingsField(other, 'Bins').inputValue()).toBe('10');
    expect(
      await other
        .locator('fieldset.runs input[type="checkbox"]')
        .evaluateAll((els) => els.map((e) => (e as HTMLInputElement).checked)),
    ).toEqual([true, false, true]);
    expect(await readStudyTable(other)).toEqual(shown);
    expect(await other.getByTestId('link-problems').count()).toBe(0);

    // A bad value in a link is dropped with a note; the view opens with the rest.
    const bad = new URL(link.href);
    bad.searchParams.set('bins', 'lots');
    await other.goto(bad.href);
    await other.getByTestId('link-problems').waitFor();
    expect(await other.getByTestId('link-problems').textContent()).toContain('bins=lots was ignored');
    await context.close();
  });
});
