import { readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { contentSecurityPolicy } from '../../scripts/lib/csp';
import { freshContext, launch, openApp, repoRoot, runDemoToResults, settingsField } from './support';
import { recordProblems } from './static-host';

let browser: Browser;
beforeAll(async () => {
  browser = await launch();
});
afterAll(async () => {
  await browser?.close();
});

/** A fresh context whose pages record every Content-Security-Policy violation into window.__cspViolations. */
async function recordingContext(): Promise<BrowserContext> {
  const context = await freshContext(browser);
  await context.addInitScript(() => {
    const w = window as unknown as { __cspViolations: string[] };
    w.__cspViolations = [];
    document.addEventListener('securitypolicyviolation', (e) =>
      w.__cspViolations.push(`${e.effectiveDirective} ${e.blockedURI}`),
    );
  });
  return context;
}
const violations = (page: Page) =>
  page.evaluate(() => (window as unknown as { __cspViolations: string[] }).__cspViolations);

describe('Content-Security-Policy of the built page', () => {
  it("is a meta tag ahead of every script, with exactly the kit's policy", () => {
    const html = readFileSync(path.join(repoRoot, 'dist/index.html'), 'utf8');
    const meta = /<meta http-equiv="Content-Security-Policy" content="([^"]+)">/.exec(html);
    expect(meta?.[1].replaceAll('&#39;', "'")).toBe(contentSecurityPolicy());
    expect(html.indexOf('Content-Security-Policy')).toBeLessThan(html.indexOf('<script'));
    expect(Buffer.from(html).indexOf('<meta charset="UTF-8" />')).toBeLessThan(1024 - 30);
    expect(contentSecurityPolicy()).toContain("script-src 'self' 'wasm-unsafe-eval'");
  });

  it('lets the app, the simulated demo, the analysis and its charts run with no violation', async () => {
    const context = await recordingContext();
    const page = await context.newPage();
    const { problems } = recordProblems(page);
    await runDemoToResults(page);
    await page.locator('figure svg').first().waitFor();
    expect(
      await page.evaluate(() => document.querySelector('meta[http-equiv="Content-Security-Policy"]') !== null),
    ).toBe(true);
    expect(await violations(page)).toEqual([]);
    expect(problems).toEqual([]);
    await context.close();
  });

  it('lets an import of results run with no violation', async () => {
    const context = await recordingContext();
    const page = await context.newPage();
    await openApp(page);
    await page.getByTestId('step-results').click();
    await page.getByTestId('results-page').waitFor();
    await page
      .getByLabel(/^Files \(this kit's \.json/)
      .setInputFiles(path.join(repoRoot, 'test/fixtures/results/two-runs.json'));
    await page.getByRole('button', { name: /^Import 1 file/ }).click();
    await page
      .locator('.message')
      .filter({ hasText: /^Imported 1 file/ })
      .waitFor();
    // The fixture holds 3 items per run, fewer than the 5 cross-fitting folds: analyse it without scaling.
    await settingsField(page, 'Scaling').selectOption('none');
    await page.locator('tr[data-variant][data-stage]').first().waitFor({ timeout: 60_000 });
    expect(await violations(page)).toEqual([]);
    await context.close();
  });

  it('the custom-variant form says a library is code and shows both origins before anything loads', async () => {
    const context = await recordingContext();
    const page = await context.newPage();
    const { requested } = recordProblems(page);
    await openApp(page);
    await page.getByTestId('step-variants').click();
    const trust = page.getByTestId('variant-trust');
    expect(await trust.textContent()).toContain('A model library is code');
    await page
      .getByLabel('Model library (model_lib .wasm) URL')
      .fill('https://models.example.org/libs/my-grpo-webgpu.wasm');
    await page.getByLabel('Model URL').fill('http://127.0.0.1:8787/my-grpo/resolve/main/');
    expect(await page.getByTestId('library-origin').textContent()).toContain(
      'https://models.example.org — another host',
    );
    expect(await page.getByTestId('weights-origin').textContent()).toContain('http://127.0.0.1:8787 — this machine');
    expect(requested.filter((u) => u.includes('example.org') || u.includes(':8787'))).toEqual([]);
    await context.close();
  });

  it('blocks what the kit does not need: a script or fetch from another origin', async () => {
    const context = await recordingContext();
    const page = await context.newPage();
    await openApp(page);
    const blocked = await page.evaluate(async () => {
      const fetchBlocked = await fetch('https://example.org/x').then(
        () => false,
        () => true,
      );
      const s = document.createElement('script');
      s.src = 'https://example.org/evil.js';
      const scriptBlocked = await new Promise<boolean>((r) => {
        s.onerror = () => r(true);
        s.onload = () => r(false);
        document.head.append(s);
      });
      return { fetchBlocked, scriptBlocked };
    });
    expect(blocked).toEqual({ fetchBlocked: true, scriptBlocked: true });
    expect((await violations(page)).map((v) => v.split(' ')[0]).sort()).toEqual(['connect-src', 'script-src-elem']);
    await context.close();
  });
});
