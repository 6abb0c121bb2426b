import { proxy } from 'comlink';
import { afterEach, describe, expect, it } from 'vitest';
import { flushSync, mount, unmount } from 'svelte';
import { analyzeVariants } from '../../src/core/analysis';
import { variantScoresFromResults } from '../../src/core/results-file';
import { buildResultsFile, exportResultsJson, readStoredRuns, type StoredRunGroup } from '../../src/services/export';
import { importFiles } from '../../src/services/import';
import { AnalysisState, startAnalysisWorker } from '../../src/state/analysis.svelte';
import { deleteKitDb, openKitDb, type KitDb } from '../../src/storage/db';
import { DEFAULT_ANALYSIS_SETTINGS } from '../../src/core/types';
import ResultsPage from '../../src/components/results/ResultsPage.svelte';
import { itemIds, simulatedGroup, studyGroups } from '../support/stored-runs';

let counter = 0;
const opened: KitDb[] = [];
const names: string[] = [];
const stops: (() => void)[] = [];
async function freshDb(): Promise<KitDb> {
  const name = `results-test-${Date.now()}-${counter++}`;
  names.push(name);
  const db = await openKitDb({ name });
  opened.push(db);
  return db;
}
afterEach(async () => {
  for (const stop of stops.splice(0)) stop();
  for (const db of opened.splice(0)) db.close();
  for (const name of names.splice(0)) await deleteKitDb(name);
});

async function store(db: KitDb, groups: readonly StoredRunGroup[]): Promise<void> {
  for (const g of groups) {
    if (g.variant) await db.putVariant(g.variant);
    for (const r of g.runs) await db.putRun(r);
    await db.putResults(g.results);
  }
}

/** Everything a database holds, for "unchanged" checks. */
async function snapshot(db: KitDb): Promise<string> {
  const groups = await readStoredRuns(db);
  return JSON.stringify([await db.listVariants(), await db.listRuns(), groups.map((g) => g.results)]);
}

const app = { name: 'kit', version: '0' };

describe('the analysis worker in Chromium (a real Worker with a pool of job workers)', () => {
  it("runs the resampling on the job workers' WebAssembly kernel", async () => {
    const { api, terminate } = startAnalysisWorker();
    stops.push(terminate);
    const backends = await api.kernelBackends();
    expect(backends.length).toBe(Math.max(1, navigator.hardwareConcurrency || 2));
    expect(backends.every((b) => b === 'wasm')).toBe(true);
  });

  it('reads stored runs from IndexedDB and gives the report the core gives on this thread, points first', async () => {
    const db = await freshDb();
    const groups = studyGroups(60);
    await store(db, groups);
    const { api, terminate } = startAnalysisWorker();
    stops.push(terminate);
    const settings = { bootstrap: 300, permutations: 199, seed: 11 };
    const partials: unknown[] = [];
    const view = await api.analyzeStored(
      db.name,
      { requestId: 1, settings },
      proxy((p: unknown) => void partials.push(p)),
    );
    const expected = analyzeVariants(
      variantScoresFromResults(buildResultsFile(await readStoredRuns(db), { app })),
      settings,
    );
    expect(view.report).toEqual(expected);
    expect(Object.keys(view.report!.variants)).toEqual(['grpo', 'sft', 'base']);
    expect(partials).toEqual([expect.objectContaining({ partial: true, requestId: 1 })]);
    expect(view.jobsDone).toBe(view.jobsTotal);
    expect(view.jobsTotal).toBeGreaterThan(0);
  }, 60_000); // the worker and this thread each run it, smooth ECE resampling included

  it('drops a superseded request in the worker', async () => {
    const db = await freshDb();
    await store(db, studyGroups(40));
    const { api, terminate } = startAnalysisWorker();
    stops.push(terminate);
    const first = api.analyzeStored(db.name, { requestId: 1, settings: { bootstrap: 4000, permutations: 4000 } });
    const second = api.analyzeStored(db.name, { requestId: 2, settings: { bootstrap: 0, permutations: 0 } });
    await expect(first).rejects.toMatchObject({ name: 'AnalysisSupersededError' });
    await expect(second).resolves.toMatchObject({ requestId: 2, partial: false });
  });
});

describe('import into real IndexedDB', () => {
  it('stores an export in a fresh profile and the analysis is the same', async () => {
    const source = await freshDb();
    const target = await freshDb();
    await store(source, studyGroups(30));
    const text = exportResultsJson(await readStoredRuns(source), { app });
    const outcome = await importFiles(target, [{ file: { name: 'export.json', text } }]);
    expect(outcome).toMatchObject({ variantsAdded: 3, runsAdded: 3, resultsAdded: 90, resultsKept: 0 });
    const settings = { bootstrap: 50, permutations: 0 };
    const analyse = async (db: KitDb) =>
      analyzeVariants(variantScoresFromResults(buildResultsFile(await readStoredRuns(db), { app })), settings);
    expect(await analyse(target)).toEqual(await analyse(source));
  });

  it('leaves the store unchanged when any file is bad, or an item conflicts with a stored one', async () => {
    const db = await freshDb();
    const groups = studyGroups(12);
    await store(db, [groups[0]]);
    const before = await snapshot(db);
    const good = { name: 'good.json', text: exportResultsJson([groups[1]], { app }) };
    const bad = { name: 'bad.csv', text: 'item_id,label,logit_A,logit_B,logit_C,logit_D\nx,A,1,2,nan,4\n' };
    await expect(importFiles(db, [{ file: good }, { file: bad, as: { name: 'b', role: 'base' } }])).rejects.toThrow(
      'bad.csv: line 2: logit_C: expected a finite number, got "nan"',
    );
    expect(await snapshot(db)).toBe(before);

    // A conflict is found inside the write transaction, after other records were queued: nothing is kept.
    const conflicting: StoredRunGroup = {
      ...groups[0],
      results: groups[0].results.map((r, i) => (i === 7 ? { ...r, letterLogits: [5, 4, 3, 2] } : r)),
    };
    const error = await importFiles(db, [
      { file: good },
      { file: { name: 'conflict.json', text: exportResultsJson([conflicting], { app }) } },
    ]).catch((e) => e);
    expect(error).toMatchObject({
      name: 'ImportError',
      fileName: 'conflict.json',
      field: `item "${groups[0].results[7].itemId}"`,
    });
    expect(await snapshot(db)).toBe(before);

    // The good file alone goes in.
    await importFiles(db, [{ file: good }]);
    expect((await readStoredRuns(db)).map((g) => g.variant?.name)).toEqual(['sft', 'base']);
  });
});

describe('the results page', () => {
  it('renders names and domains from stored and imported data as text, never as HTML', async () => {
    const db = await freshDb();
    const hostile = '<img src=x onerror="window.__kitPwned=1">';
    const items = itemIds(30).map((it, i) => ({ ...it, domain: i % 2 ? '<b>bold</b>' : it.domain }));
    await store(db, [
      simulatedGroup(hostile, 'grpo', { seed: 4, confidenceScale: 1.6 }, items),
      simulatedGroup('base', 'base', { seed: 5 }, items),
    ]);
    const csv = `item_id,label,logit_A,logit_B,logit_C,logit_D,domain\n${items.map((it, i) => `${it.itemId},${'ABCD'[it.label]},${i % 3},1,0,0.5,<i>dom</i>`).join('\n')}\n`;
    await importFiles(db, [
      { file: { name: 'x.csv', text: csv }, as: { name: '<script>alert(1)</script>', role: 'sft' } },
    ]);

    const controller = new AnalysisState({ dbName: db.name, pollMs: 0, debounceMs: 0 });
    stops.push(() => controller.dispose());
    const target = document.createElement('div');
    document.body.append(target);
    const page = mount(ResultsPage, { target, props: { controller } });
    try {
      // The page's own status, which says ready only once the report's tables show the ready view (Staged); the
      // charts and the per-domain table follow.
      await expect
        .poll(() => target.querySelector('[data-status]')?.getAttribute('data-status'), { timeout: 60_000 })
        .toBe('ready');
      expect(controller.status).toBe('ready');
      await expect.poll(() => target.textContent ?? '', { timeout: 30_000 }).toContain('<i>dom</i>');
      const text = target.textContent ?? '';
      expect(text).toContain(hostile);
      expect(text).toContain('<script>alert(1)</script>');
      expect(text).toContain('<b>bold</b>');
      expect(text).toContain('<i>dom</i>');
      expect(text).toContain('SIMULATED');
      expect(target.querySelector('img[src="x"]')).toBeNull();
      expect(target.querySelector('b, i, main script')).toBeNull();
      expect((window as { __kitPwned?: number }).__kitPwned).toBeUndefined();
      // The study table shows the report's numbers.
      const ece = controller.view!.report!.variants.base.uncalibrated.ece.toFixed(3);
      expect(
        target.querySelector('tr[data-variant="base"][data-stage="before"] td[data-metric="ece"]')?.textContent,
      ).toContain(ece);
      // Charts load Plot on demand and draw SVG.
      await expect.poll(() => target.querySelectorAll('.plot svg').length, { timeout: 30_000 }).toBeGreaterThan(3);
      const titles = [...target.querySelectorAll('figcaption .title')].map((e) => e.textContent ?? '');
      expect(titles.some((t) => t.includes('SIMULATED') && t.includes(hostile))).toBe(true);
    } finally {
      unmount(page);
      target.remove();
    }
  });
});

describe('the settings on the results page', () => {
  it('refuses an invalid value at its field, marks the table stale, and recomputes once typing settles', async () => {
    const db = await freshDb();
    await store(db, studyGroups(30));
    const controller = new AnalysisState({
      dbName: db.name,
      pollMs: 0,
      debounceMs: 300,
      settings: { ...DEFAULT_ANALYSIS_SETTINGS, bootstrap: 50, permutations: 0 },
    });
    stops.push(() => controller.dispose());
    const target = document.createElement('div');
    document.body.append(target);
    const page = mount(ResultsPage, { target, props: { controller } });
    let requests = 0;
    const recompute = controller.recompute.bind(controller);
    controller.recompute = async () => {
      requests++;
      return recompute();
    };
    try {
      await expect.poll(() => controller.status, { timeout: 60_000 }).toBe('ready');
      flushSync();
      requests = 0;
      const bins = target.querySelector<HTMLInputElement>('input[aria-invalid], .settings input[type="number"]')!;
      const type = (text: string) => {
        bins.value = text;
        bins.dispatchEvent(new Event('input', { bubbles: true }));
        flushSync();
      };
      type('0');
      expect(target.querySelector('[role="alert"].field-error')?.textContent).toBe(
        'bins must be an integer from 1 to 255, got 0',
      );
      expect(bins.getAttribute('aria-invalid')).toBe('true');
      expect(target.querySelector('[data-testid="stale-notice"]')?.textContent).toContain(
        'a setting above was refused',
      );
      expect(controller.settings.bins).toBe(15);
      await new Promise((r) => setTimeout(r, 500));
      expect(requests).toBe(0);
      // Typing 1, 12 in quick succession: one recompute, with 12 bins, after the pause.
      type('1');
      type('12');
      expect(target.querySelector('.field-error')).toBeNull();
      expect(target.querySelector('[data-testid="stale-notice"]')?.textContent).toContain(
        'recomputing once typing settles',
      );
      await expect.poll(() => controller.status, { timeout: 60_000 }).toBe('ready');
      await expect.poll(() => controller.view?.report?.settings.bins, { timeout: 60_000 }).toBe(12);
      expect(requests).toBe(1);
      flushSync();
      expect(target.querySelector('[data-testid="stale-notice"]')).toBeNull();
    } finally {
      unmount(page);
      target.remove();
    }
  });

  it("computes a committed value (the field's change event) and a choice from a list at once, not after the pause", async () => {
    const db = await freshDb();
    await store(db, studyGroups(30));
    // A pause no test waits out: whatever recomputes here was not debounced.
    const controller = new AnalysisState({
      dbName: db.name,
      pollMs: 0,
      debounceMs: 3_600_000,
      settings: { ...DEFAULT_ANALYSIS_SETTINGS, bootstrap: 50, permutations: 0 },
    });
    stops.push(() => controller.dispose());
    const target = document.createElement('div');
    document.body.append(target);
    const page = mount(ResultsPage, { target, props: { controller } });
    try {
      await expect.poll(() => controller.status, { timeout: 60_000 }).toBe('ready');
      flushSync();
      const bins = target.querySelector<HTMLInputElement>('.settings input[type="number"]')!;
      bins.value = '12';
      bins.dispatchEvent(new Event('input', { bubbles: true }));
      flushSync();
      await new Promise((r) => setTimeout(r, 200));
      // Typed only: still waiting for typing to settle.
      expect(controller.pendingChange).toBe(true);
      expect(controller.view?.report?.settings.bins).toBe(15);
      bins.dispatchEvent(new Event('change', { bubbles: true }));
      await expect.poll(() => controller.view?.report?.settings.bins, { timeout: 60_000 }).toBe(12);
      await expect.poll(() => controller.status, { timeout: 60_000 }).toBe('ready');
      // A change event with nothing waiting (the value already computed) starts nothing.
      bins.dispatchEvent(new Event('change', { bubbles: true }));
      expect(controller.pendingChange).toBe(false);
      expect(controller.status).toBe('ready');
      const interval = [...target.querySelectorAll<HTMLSelectElement>('.settings select')].at(-1)!;
      const other = [...interval.options].find((o) => !o.selected)!;
      interval.value = other.value;
      interval.dispatchEvent(new Event('change', { bubbles: true }));
      await expect.poll(() => controller.view?.report?.settings.interval, { timeout: 60_000 }).toBe(other.value);
    } finally {
      unmount(page);
      target.remove();
    }
  });
});
