import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser } from 'playwright-core';
import { appUrl, freshContext, launch, openApp, runDemoToResults } from './support';
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

describe('hosting the build', () => {
  it('loads at the server root with its favicon and manifest, and no 404 or console error', async () => {
    const context = await freshContext(browser);
    const page = await context.newPage();
    const { problems, requested } = recordProblems(page);
    await openApp(page);
    await page.waitForLoadState('networkidle');
    const manifest = await page.evaluate(async () => {
      const link = document.querySelector<HTMLLinkElement>('link[rel="manifest"]');
      return link ? ((await (await fetch(link.href)).json()) as { icons: { src: string }[]; start_url: string }) : null;
    });
    expect(manifest?.start_url).toBe('./');
    for (const icon of manifest?.icons ?? []) {
      expect((await page.request.get(new URL(icon.src, new URL('manifest.webmanifest', appUrl())).href)).status()).toBe(
        200,
      );
    }
    expect(requested.some((u) => u.endsWith('/favicon.svg') || u.endsWith('/favicon.png'))).toBe(true);
    expect(problems).toEqual([]);
    await context.close();
  });

  it('works from /kit/ of python3 -m http.server: the demo runs, the analysis and web-llm workers load', async () => {
    const context = await freshContext(browser);
    const page = await context.newPage();
    const { problems, requested } = recordProblems(page);
    await runDemoToResults(page, host.url);
    expect(await page.locator('tr[data-variant][data-stage]').count()).toBeGreaterThan(0);

    // The web-llm worker chunk (6 MB, loaded on demand) answers with web-llm's model list.
    await showWebllmCatalog(page);

    const origin = new URL(host.url).origin;
    const own = requested.filter((u) => u.startsWith(origin));
    expect(own.every((u) => u.startsWith(host.url))).toBe(true);
    for (const worker of ['simulated.worker', 'analysis.worker', 'analysis-job.worker', 'webllm.worker']) {
      expect(
        own.some((u) => u.includes(`/kit/assets/${worker}-`)),
        worker,
      ).toBe(true);
    }
    expect(problems).toEqual([]);
    await context.close();
  });
});
