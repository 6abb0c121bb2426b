import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import { METRICS, type AnalysisReport } from '../../src/core/types';
import {
  afterRecompute,
  analyzeWithSuiteSettings,
  applySuiteSettings,
  download,
  dumpResults,
  freshContext,
  fullPageScreenshot,
  launch,
  loadSmallSample,
  LONG_TASK_MS,
  mainThreadTasks,
  openApp,
  openResults,
  queueSimulatedDemo,
  readStudyTable,
  repoRoot,
  runToEnd,
  type ShownTable,
  taskSummary,
  tasksOver,
} from './support';

const dir = mkdtempSync(join(tmpdir(), 'kit-e2e-results-'));
let browser: Browser;
/** The results JSON exported after the simulated run, and the table the app showed. */
let exported: string;
let shown: ShownTable;

/** Imports one file through the page and returns the status line it ends with (each import here says something new). */
async function importFile(page: Page, path: string): Promise<string> {
  const message = page.locator('.message');
  const before = ((await message.textContent()) ?? '').trim();
  await page.getByLabel(/^Files \(this kit's \.json/).setInputFiles(path);
  await page.getByRole('button', { name: /^Import 1 file/ }).click();
  await page.waitForFunction((b) => {
    const text = (document.querySelector('.message')?.textContent ?? '').trim();
    return text !== '' && text !== b;
  }, before);
  return (await message.textContent())!.trim();
}

beforeAll(async () => {
  browser = await launch();
});
afterAll(async () => {
  await browser?.close();
});

describe('results: export, re-import, CLI', () => {
  it('runs the demo, shows the table with no long main-thread task, exports JSON and CSV, and saves a screenshot', async () => {
    const context = await freshContext(browser);
    const page = await context.newPage();
    await openApp(page);
    await loadSmallSample(page);
    await queueSimulatedDemo(page);
    await runToEnd(page);

    // The analysis (first view and the recomputation with new settings) runs in workers, the charts are drawn in
    // the chart worker, and the page mounts in turns: no task of the main thread does 50 ms of work.
    const tasks = await mainThreadTasks(page, async () => {
      await openResults(page);
      await applySuiteSettings(page);
    });
    console.log(taskSummary('results page', tasks));
    expect(tasksOver(tasks, LONG_TASK_MS)).toEqual([]);

    shown = await readStudyTable(page);
    expect(Object.keys(shown).sort()).toEqual(
      ['GRPO (simulated)', 'SFT (simulated)', 'base (simulated)']
        .flatMap((n) => [`${n}|after`, `${n}|before`].map((k) => k))
        .sort(),
    );
    expect(await page.getByTestId('results-simulated').isVisible()).toBe(true);

    exported = await download(page, 'Export results JSON', dir);
    const file = JSON.parse(readFileSync(exported, 'utf8'));
    expect(file.format).toBe('calibration-kit/results');
    expect(file.runs).toHaveLength(3);
    for (const run of file.runs) {
      expect(run.variant.simulated).toBe(true);
      expect(run.engine.kind).toBe('simulated');
      expect(run.items).toHaveLength(10);
    }
    expect(file.manifest.hash).toMatch(/^[0-9a-f]{64}$/);
    const csv = readFileSync(await download(page, 'Export per-item CSV', dir), 'utf8');
    expect(csv.trim().split('\n')).toHaveLength(1 + 30);

    mkdirSync(resolve(repoRoot, 'test-results'), { recursive: true });
    await fullPageScreenshot(page, resolve(repoRoot, 'test-results/results-page.png'));
    await page.evaluate(() => window.scrollTo(0, 0));
    await page.screenshot({ path: resolve(repoRoot, 'test-results/results-page-1280x800.png') });
    await context.close();
  });

  it('the CLI on the exported file prints the numbers the app showed, with the same settings', () => {
    const out = join(dir, 'cli-report.json');
    analyzeWithSuiteSettings(exported, out);
    const report = JSON.parse(readFileSync(out, 'utf8')) as AnalysisReport;
    const fix = (x: number | null) => (x === null ? '–' : x.toFixed(3));
    for (const [name, v] of Object.entries(report.variants)) {
      for (const [stage, s] of [
        ['before', v.uncalibrated],
        ['after', v.scaled!],
      ] as const) {
        const row = shown[`${name}|${stage}`];
        expect(row, `${name} ${stage}`).toBeDefined();
        for (const m of METRICS) {
          expect(row[m], `${name} ${stage} ${m}`).toBe(fix(s[m]));
          expect(row[`${m}.ci`], `${name} ${stage} ${m} CI`).toBe(`[${fix(s.ci![m][0])}, ${fix(s.ci![m][1])}]`);
        }
      }
      const tail = shown[`${name}|after`].tail;
      expect(tail).toContain(`${-v.ece_reduction_pct! > 0 ? '+' : ''}${(-v.ece_reduction_pct!).toFixed(1)}%`);
      expect(tail).toContain(`${v.accuracy_change_pts! > 0 ? '+' : ''}${v.accuracy_change_pts!.toFixed(2)} pts`);
    }
    expect(Object.keys(report.variants)).toHaveLength(3);
  });

  it('importing the export into a fresh profile gives the identical table; bad files are refused and store nothing', async () => {
    const context = await freshContext(browser);
    const page = await context.newPage();
    await openApp(page);
    await openResults(page);
    expect(await dumpResults(page)).toEqual([]);

    // Bad files first, into an empty store, then after a good import: each names the file and field, stores nothing.
    const bad = JSON.parse(readFileSync(exported, 'utf8'));
    bad.runs[1].items[4].letterLogits[2] = 'high';
    const badPath = join(dir, 'bad-logit.json');
    writeFileSync(badPath, JSON.stringify(bad));
    expect(await importFile(page, badPath)).toMatch(/bad-logit\.json: runs\[1\]\.items\[4\]\.letterLogits\[2\]/);
    expect(await dumpResults(page)).toEqual([]);

    await afterRecompute(page, async () => {
      expect(await importFile(page, exported)).not.toMatch(/error|refused/i);
    });
    await applySuiteSettings(page);
    expect(await readStudyTable(page)).toEqual(shown);
    const stored = await dumpResults(page);
    expect(stored).toHaveLength(30);

    const truncated = join(dir, 'truncated.json');
    writeFileSync(truncated, readFileSync(exported, 'utf8').slice(0, 2000));
    expect(await importFile(page, truncated)).toMatch(/truncated\.json/);
    const wrongLabel = JSON.parse(readFileSync(exported, 'utf8'));
    wrongLabel.runs[0].items[0].label = 7;
    const wrongPath = join(dir, 'wrong-label.json');
    writeFileSync(wrongPath, JSON.stringify(wrongLabel));
    expect(await importFile(page, wrongPath)).toMatch(/wrong-label\.json: runs\[0\]\.items\[0\]\.label/);
    expect(await dumpResults(page)).toEqual(stored);
    expect(await readStudyTable(page)).toEqual(shown);
    await context.close();
  });
});
