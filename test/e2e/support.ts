/**
 * Helpers of the e2e suite: Debian's Chromium through playwright-core with the project's flags, a fresh
 * profile per context, a long-task recorder installed before the app's scripts, and the steps of the path
 * (load the real MMLU CSVs, draw a small sample, queue the simulated demo, run).
 */
import { readdirSync, existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { inject } from 'vitest';
import { chromiumArgs, chromiumExecutable } from '../../vite.config';
import { mmluDataDir } from '../../scripts/mmlu-folder';

export const repoRoot = resolve(import.meta.dirname, '../..');
export const mmluDir = mmluDataDir();

export function appUrl(): string {
  return inject('appUrl');
}

/** Chromium with the project's flags; `webgpu: false` drops the flag that gives headless Chromium an adapter. */
export async function launch({ webgpu = true }: { webgpu?: boolean } = {}): Promise<Browser> {
  const args = webgpu ? chromiumArgs : chromiumArgs.filter((a) => a !== '--enable-unsafe-webgpu');
  return chromium.launch({ executablePath: chromiumExecutable, args, headless: true });
}

/**
 * A fresh profile (its own IndexedDB and caches) at 1280x800, recording every main-thread long task
 * (PerformanceObserver 'longtask') into window.__longTasks from the first script on.
 */
export async function freshContext(browser: Browser, colorScheme: 'light' | 'dark' = 'light'): Promise<BrowserContext> {
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 }, colorScheme, acceptDownloads: true });
  await context.addInitScript(() => {
    const w = window as unknown as { __longTasks: { start: number; duration: number }[] };
    w.__longTasks = [];
    new PerformanceObserver((list) => {
      for (const e of list.getEntries()) w.__longTasks.push({ start: e.startTime, duration: e.duration });
    }).observe({ type: 'longtask', buffered: true });
  });
  return context;
}

/** Long tasks recorded since `since` (performance.now() of the page). */
export async function longTasksSince(page: Page, since: number): Promise<{ start: number; duration: number }[]> {
  return page.evaluate((t) => (window as unknown as { __longTasks: { start: number; duration: number }[] }).__longTasks.filter((x) => x.start >= t), since);
}

export async function pageNow(page: Page): Promise<number> {
  return page.evaluate(() => performance.now());
}

export async function openApp(page: Page, url = appUrl()): Promise<void> {
  await page.goto(url);
  await page.locator('main[data-restored="true"]').waitFor();
}

/** Every CSV of data/test and data/dev of the real MMLU copy. */
export function mmluCsvPaths(): string[] {
  if (!existsSync(resolve(mmluDir, 'data/test'))) throw new Error(`MMLU data not found at ${mmluDir} (set MMLU_DIR)`);
  return ['test', 'dev'].flatMap((split) =>
    readdirSync(resolve(mmluDir, 'data', split))
      .filter((f) => f.endsWith('.csv'))
      .sort()
      .map((f) => resolve(mmluDir, 'data', split, f)),
  );
}

/** The sample of the suite: the study's five-domain preset cut to two domains, `perDomain` items each, seed 0. */
export const SMALL_SAMPLE = { domains: ['Health', 'Business & other'], perDomain: 5 } as const;

/** Items step: load the real CSVs through the file input, keep two domains, draw 5 items each. */
export async function loadSmallSample(page: Page): Promise<void> {
  await page.getByTestId('step-items').click();
  await page.getByTestId('mmlu-files').setInputFiles(mmluCsvPaths());
  await page.getByTestId('pool-summary').waitFor();
  for (const name of ['STEM', 'Humanities', 'Social sciences']) {
    await page.getByRole('checkbox', { name: new RegExp(`^${name} `) }).uncheck();
  }
  await page.getByTestId('per-domain').fill(String(SMALL_SAMPLE.perDomain));
  await page.getByTestId('per-domain').dispatchEvent('change');
  await page.getByTestId('manifest-summary').filter({ hasText: `${SMALL_SAMPLE.domains.length * SMALL_SAMPLE.perDomain} items` }).waitFor();
}

/** Variants step: queue the simulated base / SFT / GRPO demo. */
export async function queueSimulatedDemo(page: Page): Promise<void> {
  await page.getByTestId('step-variants').click();
  await page.getByTestId('add-simulated-demo').click();
  await page.getByTestId('queue').getByRole('row').nth(3).waitFor();
}

/** Run step: start (or resume) and wait for the queue to finish. */
export async function runToEnd(page: Page, timeout = 120_000): Promise<void> {
  await page.getByTestId('step-run').click();
  await page.getByTestId('run-start').click();
  await page.locator('[data-testid="run-phase"][data-phase="done"]').waitFor({ timeout });
}

/** From a fresh page to a computed Results page: the small sample, the simulated demo run to its end. */
export async function runDemoToResults(page: Page, url = appUrl()): Promise<void> {
  await openApp(page, url);
  await loadSmallSample(page);
  await queueSimulatedDemo(page);
  await runToEnd(page);
  await page.getByTestId('step-results').click();
  await page.locator('[data-status="ready"]').waitFor({ timeout: 120_000 });
}

/** One stored result as the page's IndexedDB holds it, without the fields that record wall-clock time. */
export interface DumpedResult {
  variantKey: string;
  promptKey: string;
  itemId: string;
  label: number;
  letterLogits: number[];
  [field: string]: unknown;
}

/** Every stored result of the results database, read with the raw IndexedDB API (not through the app's code). */
export async function dumpResults(page: Page): Promise<DumpedResult[]> {
  const rows = await page.evaluate(
    () =>
      new Promise<unknown[]>((resolve, reject) => {
        const open = indexedDB.open('calibration-kit');
        open.onerror = () => reject(open.error);
        open.onsuccess = () => {
          const db = open.result;
          const request = db.transaction('results').objectStore('results').getAll();
          request.onerror = () => reject(request.error);
          request.onsuccess = () => {
            db.close();
            resolve(request.result);
          };
        };
      }),
  );
  return (rows as DumpedResult[])
    .map(({ elapsedMs: _e, scoredAt: _s, ...r }) => r as DumpedResult)
    .sort((a, b) => (a.variantKey + '\u0000' + a.itemId < b.variantKey + '\u0000' + b.itemId ? -1 : 1));
}

/** The number shown in a test id's element. */
export async function numberIn(page: Page, testId: string): Promise<number> {
  return Number(await page.getByTestId(testId).textContent());
}

/** The study's table as shown: per variant and stage, each cell's text (value and CI), plus the change columns. */
export type ShownTable = Record<string, Record<string, string>>;

export async function readStudyTable(page: Page): Promise<ShownTable> {
  return page.evaluate(() => {
    const out: Record<string, Record<string, string>> = {};
    for (const tr of document.querySelectorAll<HTMLTableRowElement>('tr[data-variant][data-stage]')) {
      const key = `${tr.dataset.variant}|${tr.dataset.stage}`;
      const row: Record<string, string> = {};
      for (const td of tr.querySelectorAll<HTMLTableCellElement>('td[data-metric]')) {
        row[`${td.dataset.metric}`] = td.querySelector('.value')?.textContent?.trim() ?? '';
        row[`${td.dataset.metric}.ci`] = td.querySelector('.ci')?.textContent?.trim() ?? '';
      }
      const cells = [...tr.querySelectorAll('td')];
      row.tail = cells.slice(-3).map((c) => c.textContent?.trim() ?? '').join(' | ');
      out[key] = row;
    }
    return out;
  });
}

/**
 * Runs `action` and waits until the results page has recomputed: its status left `ready` at least once after
 * the action (seen by a MutationObserver, so a short computation is not missed) and is `ready` again.
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
    w.__statusObserver.observe(document.body, { subtree: true, attributes: true, attributeFilter: ['data-status'], childList: true });
  });
  await action();
  await page.waitForFunction(
    () => (window as unknown as { __recomputed: boolean }).__recomputed && document.querySelector('[data-status]')?.getAttribute('data-status') === 'ready',
    undefined,
    { timeout },
  );
}

/** The analysis settings the suite uses in the app and on the CLI (fewer resamples than the defaults, for speed). */
export const SUITE_SETTINGS = { bins: 10, bootstrap: 2000, permutations: 2000 } as const;

/** Sets SUITE_SETTINGS on the results page and waits for the recomputed view. */
export async function applySuiteSettings(page: Page): Promise<void> {
  await afterRecompute(page, async () => {
    await page.getByLabel('Bins').fill(String(SUITE_SETTINGS.bins));
    await page.getByLabel('Bootstrap resamples').fill(String(SUITE_SETTINGS.bootstrap));
    await page.getByLabel('Permutations').fill(String(SUITE_SETTINGS.permutations));
  });
}
