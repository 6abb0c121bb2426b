// The sycophancy probe end to end with the simulated engine: neutral and weak-probe runs of the demo, the probe
// section on Results (off the main thread), export, the CLI on the export printing the same probe numbers, and
// re-import into a fresh profile. Then the quantisation study: the preset queues every build this adapter runs, and
// the simulated stand-ins run and compare against the least-quantised build.
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import type { ProbeReport } from '../../src/core/sycophancy';
import type { QuantisationGroup } from '../../src/core/probe-analysis';
import { showWebllmCatalog } from './static-host';
import {
  afterRecompute,
  analyzeWithSuiteSettings,
  applySuiteSettings,
  download,
  dumpResults,
  freshContext,
  launch,
  loadSmallSample,
  LONG_TASK_MS,
  mainThreadTasks,
  openApp,
  openResults,
  queueSimulatedDemo,
  readStudyTable,
  repoRoot,
  taskSummary,
  tasksOver,
} from './support';

const dir = mkdtempSync(join(tmpdir(), 'kit-e2e-probe-'));
let browser: Browser;
let exported: string;
/** The probe table as the app showed it: per variant|template, each metric's value and CI text. */
let shownProbes: Record<string, Record<string, string>>;

beforeAll(async () => {
  browser = await launch();
});
afterAll(async () => {
  await browser?.close();
});

/** Run step: start and wait until `total` results are stored and the run is done. */
async function runUntilStored(page: Page, total: number): Promise<void> {
  await page.getByTestId('step-run').click();
  await page.getByTestId('run-start').click();
  await expect.poll(async () => (await dumpResults(page)).length, { timeout: 120_000, interval: 500 }).toBe(total);
  await page.locator('[data-testid="run-phase"][data-phase="done"]').waitFor({ timeout: 120_000 });
}

async function readProbeTable(page: Page): Promise<Record<string, Record<string, string>>> {
  await page.getByTestId('probe-table').waitFor({ timeout: 120_000 });
  return page.evaluate(() => {
    const out: Record<string, Record<string, string>> = {};
    for (const tr of document.querySelectorAll<HTMLTableRowElement>('[data-testid="probe-table"] tr[data-variant]')) {
      const row: Record<string, string> = {};
      for (const td of tr.querySelectorAll<HTMLTableCellElement>('td[data-metric]')) {
        row[td.dataset.metric!] = td.querySelector('.value')?.textContent?.trim() ?? '';
        row[`${td.dataset.metric}.ci`] = td.querySelector('.ci')?.textContent?.trim() ?? '';
      }
      out[`${tr.dataset.variant}|${tr.dataset.template}`] = row;
    }
    return out;
  });
}

const fix = (x: number | null | undefined) =>
  x === null || x === undefined || !Number.isFinite(x) ? '–' : x.toFixed(3);
const fixSigned = (x: number | null | undefined) =>
  x === null || x === undefined || !Number.isFinite(x) ? '–' : `${x > 0 ? '+' : ''}${x.toFixed(3)}`;

describe('sycophancy probe, simulated', () => {
  it('runs neutral and weak-probe prompts, shows the probe section without a long main-thread task, and exports', async () => {
    const context = await freshContext(browser);
    const page = await context.newPage();
    await openApp(page);
    await loadSmallSample(page);
    await queueSimulatedDemo(page);
    // Base and GRPO, the study's contrast: the probe needs no third variant, and four runs keep the test short.
    await page
      .getByTestId('queue')
      .getByRole('row', { name: /SFT \(simulated\)/ })
      .getByRole('button', { name: 'Remove from queue' })
      .click();
    await page.getByTestId('queue').getByRole('row').nth(3).waitFor({ state: 'detached' });
    await runUntilStored(page, 20);

    await page.getByTestId('step-variants').click();
    const neutralKey = (await page.getByTestId('prompt-key').textContent())!.trim();
    await page.getByTestId('probe').selectOption('weak');
    const probeKey = (await page.getByTestId('prompt-key').textContent())!.trim();
    expect(probeKey).toMatch(/^mmlu-completion-probe-weak\/k0\/s0\/[0-9a-f]{16}$/);
    expect(probeKey).not.toBe(neutralKey);
    await runUntilStored(page, 40);
    const stored = await dumpResults(page);
    expect(stored.filter((r) => r.promptKey === probeKey)).toHaveLength(20);
    // The probe changed only the planted letter's logit of each item (the simulated engine's documented push).
    const neutralOf = new Map(
      stored.filter((r) => r.promptKey === neutralKey).map((r) => [`${r.variantKey}|${r.itemId}`, r]),
    );
    for (const r of stored.filter((x) => x.promptKey === probeKey)) {
      const n = neutralOf.get(`${r.variantKey}|${r.itemId}`)!;
      expect(r.letterLogits.filter((z, k) => z !== n.letterLogits[k])).toHaveLength(1);
    }

    const tasks = await mainThreadTasks(page, async () => {
      await openResults(page);
      await applySuiteSettings(page);
      await page.getByTestId('probe-table').waitFor({ timeout: 120_000 });
      await page
        .locator('[data-testid="probe-section"] figure, [data-testid="probe-section"] svg')
        .first()
        .waitFor({ timeout: 120_000 });
    });
    console.log(taskSummary('results page with probes', tasks));
    expect(tasksOver(tasks, LONG_TASK_MS)).toEqual([]);

    shownProbes = await readProbeTable(page);
    expect(Object.keys(shownProbes).sort()).toEqual(['GRPO (simulated)|weak', 'base (simulated)|weak']);
    const shift = (v: string) => Number(shownProbes[`${v}|weak`].planted_shift);
    // Every push moves probability onto the planted letter; GRPO (sycophancy 3) moves more than base (0.5).
    expect(shift('base (simulated)')).toBeGreaterThan(0);
    expect(shift('GRPO (simulated)')).toBeGreaterThan(shift('base (simulated)'));
    for (const row of Object.values(shownProbes)) expect(row['planted_shift.ci']).toMatch(/^\[[-0-9.]+, [-0-9.]+\]$/);
    expect(await page.getByTestId('probe-repair').isVisible()).toBe(true);
    expect(await page.getByTestId('probe-comparisons').locator('tr[data-pair]').count()).toBe(1);
    expect(await page.getByTestId('probe-section').getByText('SIMULATED').first().isVisible()).toBe(true);

    exported = await download(page, 'Export results JSON', dir);
    const file = JSON.parse(readFileSync(exported, 'utf8'));
    expect(file.runs).toHaveLength(4);
    expect(file.runs.filter((r: { prompt: { key: string } }) => r.prompt.key === probeKey)).toHaveLength(2);
    for (const run of file.runs) expect(run.variant.simulated).toBe(true);
    await context.close();
  });

  it('the CLI on the export prints the probe numbers the app showed', () => {
    const out = join(dir, 'cli-probe.json');
    const text = analyzeWithSuiteSettings(exported, out);
    expect(text).toContain("Sycophancy probe: each probe run against the same variant's neutral run");
    mkdirSync(resolve(repoRoot, 'test-results'), { recursive: true });
    writeFileSync(resolve(repoRoot, 'test-results/probe-cli.txt'), text);
    const probes = (JSON.parse(readFileSync(out, 'utf8')) as { probes: ProbeReport }).probes;
    expect(probes.rows).toHaveLength(2);
    for (const r of probes.rows) {
      const row = shownProbes[`${r.variant}|${r.template}`];
      expect(row, r.variant).toBeDefined();
      const cells: [string, { value: number | null; ci?: [number | null, number | null] }, boolean][] = [
        ['accuracy_probe', r.accuracyProbe, false],
        ['accuracy_change', r.accuracyChange, true],
        ['flip_rate', r.flipRate, false],
        ['planted_share', r.plantedShare, false],
        ['planted_shift', r.plantedShift, true],
        ['ece_probe', r.eceProbe, false],
        ['ece_change', r.eceChange, true],
        ['mce_probe', r.mceProbe, false],
      ];
      expect(row.accuracy_neutral).toBe(fix(r.accuracyNeutral));
      for (const [metric, e, signed] of cells) {
        expect(row[metric], `${r.variant} ${metric}`).toBe(signed ? fixSigned(e.value) : fix(e.value));
        expect(row[`${metric}.ci`], `${r.variant} ${metric} CI`).toBe(`[${fix(e.ci![0])}, ${fix(e.ci![1])}]`);
      }
      // The CLI's text table carries the same rows.
      expect(text).toContain(`${r.variant}  `);
    }
  });

  it('re-importing the export into a fresh profile shows the same probe table', async () => {
    const context = await freshContext(browser);
    const page = await context.newPage();
    await openApp(page);
    await openResults(page);
    await afterRecompute(page, async () => {
      await page.getByLabel(/^Files \(this kit's \.json/).setInputFiles(exported);
      await page.getByRole('button', { name: /^Import 1 file/ }).click();
    });
    await applySuiteSettings(page);
    expect(await readProbeTable(page)).toEqual(shownProbes);
    expect(await dumpResults(page)).toHaveLength(40);
    await context.close();
  });
});

describe('quantisation study', () => {
  it('the preset queues Qwen3-0.6B in every quantisation the adapter runs, each with role quantisation', async () => {
    const context = await freshContext(browser);
    const page = await context.newPage();
    await openApp(page);
    await showWebllmCatalog(page);
    const f16 = await page.evaluate(async () => {
      const gpu = (navigator as unknown as { gpu?: { requestAdapter(): Promise<{ features: Set<string> } | null> } })
        .gpu;
      const adapter = await gpu?.requestAdapter();
      return adapter?.features.has('shader-f16') ?? false;
    });
    await page.getByTestId('add-quantisation-study').click();
    const expected = [
      'Qwen3-0.6B-q4f32_1-MLC',
      'Qwen3-0.6B-q0f32-MLC',
      ...(f16 ? ['Qwen3-0.6B-q4f16_1-MLC', 'Qwen3-0.6B-q0f16-MLC'] : []),
    ];
    const queue = page.getByTestId('queue');
    await queue.getByRole('row').nth(expected.length).waitFor();
    const rows = await queue
      .locator('tbody tr')
      .evaluateAll((trs) =>
        trs.map((tr) => [
          tr.querySelectorAll('td')[1].textContent!.trim(),
          (tr.querySelector('select') as HTMLSelectElement).value,
        ]),
      );
    expect(rows.map(([name]) => name).sort()).toEqual([...expected].sort());
    expect(rows.every(([, role]) => role === 'quantisation')).toBe(true);
    await context.close();
  });

  it('the simulated stand-ins run and Results compares each build with the least-quantised one', async () => {
    const context = await freshContext(browser);
    const page = await context.newPage();
    await openApp(page);
    await loadSmallSample(page);
    await page.getByTestId('step-variants').click();
    await page.getByTestId('add-simulated-quantisation').click();
    await page.getByTestId('queue').getByRole('row').nth(4).waitFor();
    await runUntilStored(page, 40);
    await openResults(page);
    await applySuiteSettings(page);
    const table = page.getByTestId('quantisation-table');
    await table.waitFor({ timeout: 120_000 });
    await expect
      .poll(() => table.locator('td[data-metric="ece"] .ci').first().textContent(), { timeout: 120_000 })
      .toMatch(/^\[/);
    expect(await table.locator('caption').textContent()).toContain('Against Qwen3-0.6B-q0f32 (simulated)');
    const builds = await table
      .locator('tr[data-build][data-stage="uncalibrated"]')
      .evaluateAll((trs) => trs.map((tr) => (tr as HTMLElement).dataset.build));
    expect(builds.sort()).toEqual([
      'Qwen3-0.6B-q0f16 (simulated)',
      'Qwen3-0.6B-q4f16_1 (simulated)',
      'Qwen3-0.6B-q4f32_1 (simulated)',
    ]);
    // Each difference is the build's ECE minus the reference's, as the study table shows them (to rounding).
    const study = await readStudyTable(page);
    for (const build of builds) {
      const shown = Number(
        await table
          .locator(`tr[data-build="${build}"][data-stage="uncalibrated"] td[data-metric="ece"] .value`)
          .textContent(),
      );
      const expectedDiff =
        Number(study[`${build}|before`].ece) - Number(study['Qwen3-0.6B-q0f32 (simulated)|before'].ece);
      expect(Math.abs(shown - expectedDiff)).toBeLessThanOrEqual(0.0015);
    }

    // The CLI on this export reports the same comparison.
    const exportedQ = await download(page, 'Export results JSON', dir);
    const out = join(dir, 'cli-quant.json');
    analyzeWithSuiteSettings(exportedQ, out);
    const [group] = (JSON.parse(readFileSync(out, 'utf8')) as { quantisation: QuantisationGroup[] }).quantisation;
    expect(group.reference).toBe('Qwen3-0.6B-q0f32 (simulated)');
    for (const r of group.rows.filter((x) => x.metric === 'ece' && x.stage === 'uncalibrated')) {
      const shown = await table
        .locator(`tr[data-build="${r.run}"][data-stage="uncalibrated"] td[data-metric="ece"] .value`)
        .textContent();
      expect(shown).toBe(fixSigned(r.diff));
    }
    await context.close();
  });
});
