/**
 * Helpers of the e2e suite: Debian's Chromium through playwright-core with the project's flags, a fresh
 * profile per context, the main-thread tasks of a page read from a Chromium trace, and the steps of the path
 * (load the real MMLU CSVs, draw a small sample, queue the simulated demo, run).
 */
import { execFileSync } from 'node:child_process';
import { readdirSync, existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { inject } from 'vitest';
import { chromiumArgs, chromiumExecutable } from '../../vite.config';
import { mmluDataDir } from '../../scripts/mmlu-folder';
import { afterRecompute, settingsField } from '../../scripts/lib/app-page';

export { afterRecompute, settingsField };

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

/** A fresh profile (its own IndexedDB and caches) at 1280x800. */
export async function freshContext(browser: Browser, colorScheme: 'light' | 'dark' = 'light'): Promise<BrowserContext> {
  return browser.newContext({ viewport: { width: 1280, height: 800 }, colorScheme, acceptDownloads: true });
}

/** The bar for responsiveness: no task of the page's main thread does more than 50 ms of work (a long task). */
export const LONG_TASK_MS = 50;

/** One task of the page's main thread: its wall-clock and its thread (CPU) time, in ms. */
export interface MainThreadTask {
  wallMs: number;
  cpuMs: number;
  /** What ran in it, biggest first (trace event names with their CPU ms), for a message. */
  parts: string;
}

/**
 * The tasks the page's renderer main thread ran during `action`, from a Chromium trace. The bar for
 * responsiveness is each task's own CPU time (the trace's thread duration): on a busy machine a task's wall
 * clock also counts the time the OS gave the core to others, so a 15 ms task can look like 80 ms; its CPU time
 * does not change with the load. Tasks that serve the test driver (a DevTools protocol message: Playwright
 * finding an element or checking that it can be clicked) are left out. The page must already be open (its
 * frame's process is the one read).
 */
export async function mainThreadTasks(page: Page, action: () => Promise<unknown>): Promise<MainThreadTask[]> {
  const browser = page.context().browser()!;
  await browser.startTracing(page, {
    categories: ['toplevel', 'devtools.timeline', 'disabled-by-default-devtools.timeline'],
  });
  // The renderer starts recording a moment after the browser says tracing started: a task run at once can be missed.
  await new Promise((r) => setTimeout(r, 500));
  let recorded: Buffer;
  try {
    await action();
  } finally {
    recorded = await browser.stopTracing();
  }
  const events = (JSON.parse(recorded.toString('utf8')) as { traceEvents: TraceEvent[] }).traceEvents;
  const url = page.url();
  const started = events.find((e) => e.name === 'TracingStartedInBrowser');
  const frame = (started?.args?.data?.frames ?? []).find(
    (f) => url.startsWith(f.url) || f.url.startsWith(url.split('#')[0]),
  );
  const pid = frame?.processId;
  const main = events.find(
    (e) => e.ph === 'M' && e.name === 'thread_name' && e.args?.name === 'CrRendererMain' && e.pid === pid,
  );
  if (!main) throw new Error(`No renderer main thread for ${url} in the trace`);
  const onMain = events.filter((e) => e.pid === main.pid && e.tid === main.tid && e.ph === 'X');
  const within = (task: TraceEvent, e: TraceEvent) =>
    e.ts >= task.ts && e.ts + (e.dur ?? 0) <= task.ts + (task.dur ?? 0);
  // Tasks that handle a DevTools protocol message are the test driver's (Playwright's queries and actionability
  // checks, run in the page by its injected script), not the page's own work.
  const driver = onMain.filter(
    (e) =>
      e.name === 'Receive mojo message' &&
      e.args?.chrome_mojo_event_info?.mojo_interface_tag === 'blink.mojom.DevToolsSession',
  );
  return onMain
    .filter((e) => e.name === 'ThreadControllerImpl::RunTask' && !driver.some((d) => within(e, d)))
    .map((task) => {
      const end = task.ts + (task.dur ?? 0);
      const byName = new Map<string, number>();
      for (const e of onMain) {
        if (e === task || e.name === task.name || e.ts < task.ts || e.ts + (e.dur ?? 0) > end) continue;
        byName.set(e.name, (byName.get(e.name) ?? 0) + (e.tdur ?? 0) / 1000);
      }
      const parts = [...byName]
        .sort((a, b) => b[1] - a[1])
        .slice(0, 4)
        .map(([n, ms]) => `${n} ${ms.toFixed(1)}`)
        .join(', ');
      return { wallMs: (task.dur ?? 0) / 1000, cpuMs: (task.tdur ?? 0) / 1000, parts };
    });
}

interface TraceEvent {
  name: string;
  ph: string;
  pid: number;
  tid: number;
  ts: number;
  dur?: number;
  tdur?: number;
  args?: {
    name?: string;
    data?: { frames?: { url: string; processId: number }[] };
    chrome_mojo_event_info?: { mojo_interface_tag?: string };
  };
}

/** One line for the log: how many tasks, the longest, and what ran in each task over half the bar. */
export function taskSummary(label: string, tasks: readonly MainThreadTask[]): string {
  const longest = Math.max(0, ...tasks.map((t) => t.cpuMs));
  const over = tasks
    .filter((t) => t.cpuMs > LONG_TASK_MS / 2)
    .map((t) => `${t.cpuMs.toFixed(1)} (${t.parts})`)
    .join(' | ');
  return `${label}: ${tasks.length} main-thread tasks, longest ${longest.toFixed(1)} ms CPU${over ? `; over ${LONG_TASK_MS / 2} ms: ${over}` : ''}`;
}

/** Tasks of `tasks` over `limitMs` of CPU time, as lines for an assertion message. */
export function tasksOver(tasks: readonly MainThreadTask[], limitMs: number): string[] {
  return tasks
    .filter((t) => t.cpuMs > limitMs)
    .map((t) => `${t.cpuMs.toFixed(1)} ms CPU (${t.wallMs.toFixed(1)} ms wall): ${t.parts}`);
}

export async function openApp(page: Page, url = appUrl()): Promise<void> {
  await page.goto(url);
  await page.locator('main[data-restored="true"]').waitFor();
}

/**
 * A screenshot of the whole page as a reader scrolling through it sees it: charts and page sections skip
 * rendering while off-screen (content-visibility: auto), and a full-page capture would otherwise catch some of
 * them still skipped.
 */
export async function fullPageScreenshot(page: Page, path: string): Promise<void> {
  const style = await page.addStyleTag({
    content: '.chart, .lazy-section { content-visibility: visible !important; }',
  });
  await page.screenshot({ path, fullPage: true });
  await style.evaluate((node) => (node as Element).remove());
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
  await page
    .getByTestId('manifest-summary')
    .filter({ hasText: `${SMALL_SAMPLE.domains.length * SMALL_SAMPLE.perDomain} items` })
    .waitFor();
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
      row.tail = cells
        .slice(-3)
        .map((c) => c.textContent?.trim() ?? '')
        .join(' | ');
      out[key] = row;
    }
    return out;
  });
}

/** The analysis settings the suite uses in the app and on the CLI (fewer resamples than the defaults, for speed). */
export const SUITE_SETTINGS = { bins: 10, bootstrap: 2000, permutations: 2000 } as const;

/** Sets SUITE_SETTINGS on the results page and waits for the recomputed view. */
export async function applySuiteSettings(page: Page): Promise<void> {
  await afterRecompute(page, async () => {
    await settingsField(page, 'Bins').fill(String(SUITE_SETTINGS.bins));
    await settingsField(page, 'Bootstrap resamples').fill(String(SUITE_SETTINGS.bootstrap));
    await settingsField(page, 'Permutations').fill(String(SUITE_SETTINGS.permutations));
  });
}

/** Clicks `button`, saves the download it starts into `dir` and returns the file's path. */
export async function download(page: Page, button: string, dir: string): Promise<string> {
  const [d] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: button }).click()]);
  const path = join(dir, d.suggestedFilename());
  await d.saveAs(path);
  return path;
}

/** Opens the Results step and waits until it settles: a view (ready), or nothing to show yet (an empty store). */
export async function openResults(page: Page): Promise<void> {
  await page.getByTestId('step-results').click();
  await page.getByTestId('results-page').waitFor();
  await page
    .locator('[data-status]:not([data-status="computing"]):not([data-status="resampling"])')
    .waitFor({ timeout: 120_000 });
}

/** `npm run analyze` on `file` with SUITE_SETTINGS, writing its --json report to `jsonOut`; returns what it printed. */
export function analyzeWithSuiteSettings(file: string, jsonOut: string): string {
  const { bins, bootstrap, permutations } = SUITE_SETTINGS;
  return execFileSync(
    resolve(repoRoot, 'node_modules/.bin/tsx'),
    [
      'scripts/analyze.ts',
      file,
      '--json',
      jsonOut,
      '--bins',
      String(bins),
      '--bootstrap',
      String(bootstrap),
      '--permutations',
      String(permutations),
    ],
    { cwd: repoRoot, stdio: 'pipe', encoding: 'utf8' },
  );
}
