/**
 * `npm run bench -- --app`: the app's side of the speed targets, timed in Debian's Chromium (playwright-core) on a
 * production build served as `npm start` serves it. The app imports the workload's logits CSVs, is set to the
 * workload's resamples and permutations, and then:
 * - a settings change (bins 15 -> 16, then 17, ...; typed and committed with Enter, as a researcher does who wants
 *   it now): from the edit to the view with every CI and p-value (data-status "ready"), against the CLI's wall
 *   time for the same analysis (`--bins 16`, same inputs, same resampling). A value only typed waits
 *   AnalysisState's debounce (400 ms) for typing to settle before the same computation;
 * - a revisit (another step, then Results again, nothing changed): from the click to the ready view painted, timed
 *   in the page (the click event's time stamp to the frame after the one whose DOM first shows the ready status,
 *   so the driver's own round trips are not in it), with the driver's view of it (from calling click() to its
 *   wait for the ready status returning) beside it, and where the view came from (data-analysis-source: "cache"
 *   when kept in IndexedDB).
 * Printed, never asserted: speed is measured here only.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { resolve } from 'node:path';
import { chromium } from 'playwright-core';
import { afterRecompute, settingsField } from './app-page';
import { chromiumArgs, chromiumExecutable } from '../../vite.config';
import { DEFAULT_ANALYSIS_SETTINGS } from '../../src/core/types';

const repoRoot = resolve(import.meta.dirname, '../..');
const vite = resolve(repoRoot, 'node_modules/.bin/vite');

export interface AppTimes {
  /** Edit of a setting -> every CI shown, per run (ms). */
  settingsChange: number[];
  /**
   * Click on Results -> ready view painted, per run (ms, timed in the page), the same as the driver saw it
   * (`driverMs`), and where the view came from.
   */
  revisit: { ms: number; driverMs: number; source: string | null }[];
  /** The job workers the app ran (navigator.hardwareConcurrency). */
  workers: number;
}

const READY = '[data-testid="results-page"][data-analysis-source] [data-status="ready"]';

/**
 * Runs in the page: window.kitRevisit resolves with the time from the next click on the Results step (its
 * event's time stamp) to just after the frame that paints the first DOM showing the ready view (a
 * MutationObserver sees it; a message posted from that frame's animation callback runs after its paint).
 * Source text, not a function: tsx would wrap a function's inner functions in a helper the page does not have.
 */
const WATCH_REVISIT = `(() => {
  const ready = ${JSON.stringify(READY)};
  window.kitRevisit = new Promise((resolve) => {
    let clickedAt;
    const onClick = (e) => {
      if (e.target && e.target.closest('[data-testid="step-results"]')) clickedAt = e.timeStamp;
    };
    document.addEventListener('click', onClick, { capture: true });
    const observer = new MutationObserver(() => {
      if (clickedAt === undefined || !document.querySelector(ready)) return;
      observer.disconnect();
      document.removeEventListener('click', onClick, { capture: true });
      const start = clickedAt;
      requestAnimationFrame(() => {
        const channel = new MessageChannel();
        channel.port1.onmessage = () => resolve(performance.now() - start);
        channel.port2.postMessage(0);
      });
    });
    observer.observe(document.body, { subtree: true, childList: true, attributes: true });
  });
})()`;

/** Builds the app (production), serves it on `port`, and times it on the CSVs at `paths`. */
export async function timeApp(
  paths: string[],
  settings: { bootstrap: number; permutations: number },
  runs: number,
  port = 4239,
): Promise<AppTimes> {
  const build = spawnSync(vite, ['build', '--logLevel', 'error'], {
    cwd: repoRoot,
    encoding: 'utf8',
    env: { ...process.env, NODE_ENV: 'production' },
  });
  if (build.status !== 0) throw new Error(`vite build failed:\n${build.stdout}\n${build.stderr}`);
  const server = spawn(vite, ['preview', '--host', '127.0.0.1', '--port', String(port), '--strictPort'], {
    cwd: repoRoot,
    stdio: 'ignore',
  });
  const browser = await chromium.launch({ executablePath: chromiumExecutable, args: chromiumArgs, headless: true });
  try {
    const url = `http://127.0.0.1:${port}/`;
    await served(url, server);
    const page = await (await browser.newContext({ viewport: { width: 1280, height: 800 } })).newPage();
    await page.goto(url);
    await page.locator('main[data-restored="true"]').waitFor();
    await page.getByTestId('step-results').click();
    await page.getByTestId('results-page').waitFor();
    await afterRecompute(page, async () => {
      await page.getByLabel(/^Files \(this kit's \.json/).setInputFiles(paths);
      await page.getByRole('button', { name: /^Import \d+ files?/ }).click();
    });
    // The workload's resampling (when not the defaults), then timed edits of the bin count (16, 17, ...).
    if (
      settings.bootstrap !== DEFAULT_ANALYSIS_SETTINGS.bootstrap ||
      settings.permutations !== DEFAULT_ANALYSIS_SETTINGS.permutations
    ) {
      await afterRecompute(page, async () => {
        await settingsField(page, 'Bootstrap resamples').fill(String(settings.bootstrap));
        await settingsField(page, 'Permutations').fill(String(settings.permutations));
      });
    }
    const times: AppTimes = {
      settingsChange: [],
      revisit: [],
      workers: await page.evaluate(() => navigator.hardwareConcurrency),
    };
    for (let r = 0; r < runs; r++) {
      const t0 = performance.now();
      // A bin count not analysed before (a return to an earlier one would be served from the cache), typed and
      // committed with Enter: the analysis starts at once (a value only typed waits for typing to settle first).
      await afterRecompute(page, async () => {
        const bins = settingsField(page, 'Bins');
        await bins.fill(String(16 + r));
        await bins.press('Enter');
      });
      times.settingsChange.push(performance.now() - t0);
    }
    for (let r = 0; r < runs; r++) {
      await page.getByTestId('step-items').click();
      await page.getByTestId('results-page').waitFor({ state: 'detached' });
      await page.evaluate(WATCH_REVISIT);
      const t0 = performance.now();
      await page.getByTestId('step-results').click();
      await page.locator(READY).waitFor();
      const driverMs = performance.now() - t0;
      const ms = await page.evaluate<number>('window.kitRevisit');
      const source = await page.getByTestId('results-page').getAttribute('data-analysis-source');
      times.revisit.push({ ms, driverMs, source });
    }
    return times;
  } finally {
    await browser.close();
    server.kill();
  }
}

async function served(url: string, server: ChildProcess): Promise<void> {
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    if (server.exitCode !== null) throw new Error(`vite preview exited with code ${server.exitCode}`);
    if (
      await fetch(url).then(
        (r) => r.ok,
        () => false,
      )
    )
      return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`vite preview did not answer at ${url}`);
}
