import { appendFileSync, readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import { freshContext, launch, loadSmallSample, openApp, queueSimulatedDemo, repoRoot, runToEnd } from './support';
import { recordProblems, serveDistUnderKit, showWebllmCatalog, type StaticHost } from './static-host';

let browser: Browser;
let host: StaticHost;
beforeAll(async () => {
  browser = await launch();
  host = await serveDistUnderKit();
});
afterAll(async () => {
  await browser?.close();
  await host?.close();
});

/** Opens the app and waits until its service worker has precached every file ("Ready offline"). */
async function firstVisit(page: Page): Promise<void> {
  await openApp(page, host.url);
  await page.getByTestId('offline-ready').waitFor({ timeout: 120_000 });
}

describe('offline after the first visit (service worker)', () => {
  it('precaches every file of the build, the web-llm worker chunk included', () => {
    const sw = readFileSync(path.join(repoRoot, 'dist/sw.js'), 'utf8');
    const precached = new Set([...sw.matchAll(/"?url"?:\s*"([^"]+)"/g)].map((m) => m[1]));
    const built = readdirSync(path.join(repoRoot, 'dist'), { recursive: true, withFileTypes: true })
      .filter((e) => e.isFile())
      .map((e) => path.relative(path.join(repoRoot, 'dist'), path.join(e.parentPath, e.name)).split(path.sep).join('/'))
      .filter((f) => f !== 'sw.js' && !/^workbox-[\w-]+\.js$/.test(f));
    expect(built.some((f) => /^assets\/webllm\.worker-.+\.js$/.test(f))).toBe(true);
    expect(built.filter((f) => !precached.has(f))).toEqual([]);
  });

  it('loads once, then offline reloads, runs the simulated demo and the analysis from stored data', async () => {
    const context = await freshContext(browser);
    const page = await context.newPage();
    await firstVisit(page);

    await context.setOffline(true);
    const { problems } = recordProblems(page);
    await page.reload();
    await page.locator('main[data-restored="true"]').waitFor();
    expect(await page.evaluate(() => navigator.onLine)).toBe(false);
    expect(await page.evaluate(() => navigator.serviceWorker.controller !== null)).toBe(true);
    // The web-llm worker chunk comes from the precache too: it answers with web-llm's model list.
    await showWebllmCatalog(page);

    await loadSmallSample(page);
    await queueSimulatedDemo(page);
    await runToEnd(page);
    await page.getByTestId('step-results').click();
    await page.locator('[data-status="ready"]').waitFor({ timeout: 120_000 });
    expect(await page.locator('tr[data-variant][data-stage]').count()).toBeGreaterThan(0);

    // A second offline reload: the analysis is recomputed from what IndexedDB stored.
    await page.reload();
    await page.locator('main[data-restored="true"]').waitFor();
    await page.getByTestId('step-results').click();
    await page.locator('[data-status="ready"]').waitFor({ timeout: 120_000 });
    expect(await page.locator('tr[data-variant][data-stage]').count()).toBeGreaterThan(0);
    expect(problems).toEqual([]);
    await context.close();
  });

  it('offers a new version with an "update available" prompt, held back while a run is active', async () => {
    const context = await freshContext(browser);
    const page = await context.newPage();
    await firstVisit(page);
    await loadSmallSample(page);
    await queueSimulatedDemo(page);
    await page.getByTestId('step-run').click();
    await page.getByTestId('sim-delay').fill('500');
    await page.getByTestId('run-start').click();
    await page.getByTestId('run-pause').click();
    await page.locator('[data-testid="run-phase"][data-phase="paused"]').waitFor();

    // A new build is published (the service worker's bytes change) and the page checks for it.
    appendFileSync(path.join(host.dir, 'sw.js'), '\n// a new version\n');
    await page.evaluate(async () => (await navigator.serviceWorker.getRegistration())?.update());
    const prompt = page.getByTestId('update-available');
    await prompt.waitFor({ timeout: 60_000 });
    expect(await prompt.textContent()).toContain('offered when the run finishes');
    expect(await page.getByTestId('update-apply').count()).toBe(0);

    await page.getByTestId('run-cancel').click();
    await page.getByTestId('update-apply').waitFor();
    await Promise.all([page.waitForEvent('load'), page.getByTestId('update-apply').click()]);
    await page.locator('main[data-restored="true"]').waitFor();
    expect(
      await page.evaluate(async () => (await navigator.serviceWorker.getRegistration())?.waiting ?? null),
    ).toBeNull();
    expect(await page.getByTestId('update-available').count()).toBe(0);
    await context.close();
  });
});
