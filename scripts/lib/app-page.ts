/**
 * Steps on the app's Results page that the e2e suite and `npm run bench -- --app` (app-bench.ts) both take, on
 * playwright-core pages.
 */
import type { Locator, Page } from 'playwright-core';

/**
 * Runs `action` and waits until the results page has recomputed: its status left `ready` at least once after
 * the action (seen by a MutationObserver, so a short computation is not missed), is `ready` again, and the report
 * is not marked stale (`data-stale`). The last matters when the action edits several fields: leaving one commits
 * it and starts an analysis at once, which can end `ready` while the next field's change still waits for typing to
 * settle.
 */
export async function afterRecompute(page: Page, action: () => Promise<void>, timeout = 120_000): Promise<void> {
  await page.evaluate(() => {
    const w = window as unknown as { __recomputed: boolean; __statusObserver?: MutationObserver };
    w.__recomputed = false;
    w.__statusObserver?.disconnect();
    w.__statusObserver = new MutationObserver(() => {
      const s = document.querySelector('[data-status]')?.getAttribute('data-status');
      if (s && s !== 'ready') w.__recomputed = true;
    });
    w.__statusObserver.observe(document.body, {
      subtree: true,
      attributes: true,
      attributeFilter: ['data-status'],
      childList: true,
    });
  });
  await action();
  await page.waitForFunction(
    () =>
      (window as unknown as { __recomputed: boolean }).__recomputed &&
      document.querySelector('[data-status]')?.getAttribute('data-status') === 'ready' &&
      document.querySelector('[data-stale]') === null,
    undefined,
    { timeout },
  );
}

/**
 * A field of the Results page's analysis settings by its label. Scoped to the settings fieldset: a page-wide
 * getByLabel('Scaling') also finds "before scaling" and the chart buttons once the charts have mounted, which
 * made a test fail or pass by timing.
 */
export function settingsField(page: Page, label: string): Locator {
  return page.getByRole('group', { name: 'Analysis settings' }).getByLabel(label);
}
