import Papa from 'papaparse';
import { describe, expect, it } from 'vitest';
import { predictionsFromLogits, topLabel } from '../../src/core/metrics';
import { parseResultsFile, runNames } from '../../src/core/results-file';
import { promptTemplate } from '../../src/core/prompts';
import {
  SIMULATED_LABEL,
  buildResultsFile,
  exportResultsJson,
  itemsCsv,
  promptRecordOf,
  readStoredRuns,
  type StoredRunGroup,
} from '../../src/services/export';
import { ImportError, importFiles, planImport } from '../../src/services/import';
import { parseLogitsCsv } from '../../src/data/logits-csv';
import { MemoryRunStore, itemIds, simulatedGroup, studyGroups } from '../support/stored-runs';

const app = { name: 'calibration-collapse-kit', version: '9.9.9' };
const at = new Date('2026-02-03T04:05:06.000Z');

describe('export: the results file from stored runs', () => {
  it('orders runs GRPO, SFT, base and copies every stored item with its provenance', async () => {
    const groups = studyGroups(12);
    const store = MemoryRunStore.of([groups[2], groups[0], groups[1]]);
    const read = await readStoredRuns(store);
    expect(read.map((g) => g.variant?.role)).toEqual(['grpo', 'sft', 'base']);
    const file = buildResultsFile(read, { app, webllmVersion: '0.2.86', userAgent: 'test-agent', createdAt: at });
    expect(file).toMatchObject({ format: 'calibration-kit/results', version: 1, app, createdAt: at.toISOString() });
    expect(file.environment).toEqual({ userAgent: 'test-agent', webllmVersion: '0.2.86' });
    expect(file.manifest).toEqual({ hash: 'manifest-hash-1' });
    expect(runNames(file)).toEqual(['grpo', 'sft', 'base']);
    const grpo = file.runs[0];
    expect(grpo.variant).toMatchObject({ name: 'grpo', role: 'grpo', simulated: true });
    expect(grpo.engine.kind).toBe('simulated');
    expect(grpo.engine.params).toMatchObject({
      label: SIMULATED_LABEL,
      methods: ['simulated'],
      simulation: { confidenceScale: 1.8, seed: 3 },
    });
    expect(grpo.items).toHaveLength(12);
    const stored = groups[2].results[5];
    const exported = grpo.items.find((i) => i.itemId === stored.itemId)!;
    expect(exported).toEqual({
      itemId: stored.itemId,
      label: stored.label,
      letterLogits: stored.letterLogits,
      subject: stored.subject,
      domain: stored.domain,
      letterMass: stored.letterMass,
      logSumExp: stored.logSumExp,
      promptTokens: stored.promptTokens,
      elapsedMs: stored.elapsedMs,
    });
    expect(grpo.startedAt).toBe('2026-01-01T00:00:00.000Z');
    expect(grpo.finishedAt).toBe('2026-01-01T00:10:00.000Z');
  });

  it('writes JSON the kit reads back unchanged', () => {
    const text = exportResultsJson(studyGroups(8), { app, createdAt: at });
    const back = parseResultsFile(text, 'export.json');
    expect(back).toEqual(buildResultsFile(studyGroups(8), { app, createdAt: at }));
  });

  it('carries the full model record of a web-llm variant, the adapter and the whole manifest', () => {
    const g = simulatedGroup('real', 'base', {}, itemIds(3));
    const group: StoredRunGroup = {
      ...g,
      variant: {
        key: 'custom:my-grpo:abc',
        name: 'my GRPO',
        role: 'grpo',
        simulated: false,
        engine: 'webllm',
        model: {
          modelId: 'my-grpo-q4f16_1',
          modelUrl: 'http://127.0.0.1:8787/my-grpo',
          modelLibUrl: 'http://x/lib.wasm',
          overrides: { context_window_size: 4096 },
          quantization: 'q4f16_1',
          prebuilt: false,
        },
        createdAt: 't',
      },
      variantKey: 'custom:my-grpo:abc',
      runs: g.runs.map((r) => ({
        ...r,
        variantKey: 'custom:my-grpo:abc',
        simulated: false,
        engine: { kind: 'webllm' as const, version: '0.2.86', method: 'logit-processor' as const },
        letterTokenIds: [32, 33, 34, 35] as [number, number, number, number],
        adapter: { vendor: 'v', architecture: 'a', shaderF16: true },
      })),
      results: g.results.map((r) => ({
        ...r,
        variantKey: 'custom:my-grpo:abc',
        method: 'logit-processor' as const,
        simulated: false,
      })),
    };
    const manifest = {
      kind: 'mmlu-item-manifest' as const,
      version: 1 as const,
      preset: 'five-domains',
      domains: [{ name: 'stem', subjects: ['subject_0'] }],
      split: 'test' as const,
      seed: 0,
      perDomain: { stem: 3 },
      items: itemIds(3).map((i) => ({ id: i.itemId, hash: 'ab'.repeat(32), domain: i.domain })),
      hash: 'cd'.repeat(32),
    };
    const file = parseResultsFile(exportResultsJson([group], { app, manifest, createdAt: at }), 'x.json');
    expect(file.runs[0].variant).toEqual({
      key: 'custom:my-grpo:abc',
      name: 'my GRPO',
      role: 'grpo',
      simulated: false,
      model: {
        id: 'my-grpo-q4f16_1',
        url: 'http://127.0.0.1:8787/my-grpo',
        modelLibUrl: 'http://x/lib.wasm',
        quantization: 'q4f16_1',
        overrides: { context_window_size: 4096 },
      },
    });
    expect(file.runs[0].engine).toEqual({
      kind: 'webllm',
      version: '0.2.86',
      params: { methods: ['logit-processor'] },
    });
    expect(file.runs[0].prompt?.letterTokenIds).toEqual([32, 33, 34, 35]);
    expect(file.environment).toEqual({
      webllmVersion: '0.2.86',
      adapter: { vendor: 'v', architecture: 'a', shaderF16: true },
    });
    expect(file.manifest).toEqual(manifest);
  });

  it('recovers the prompt format, k and pattern from a kit prompt key, and keeps a foreign key alone', () => {
    const t = promptTemplate({ format: 'chat', kshot: 2 });
    expect(promptRecordOf(t.key)).toEqual({
      key: t.key,
      format: 'chat',
      kshot: 2,
      patternHash: t.patternHash,
      pattern: t.pattern,
    });
    expect(promptRecordOf('mmlu-chat-qwen3/k2/ffffffffffffffff')).toEqual({
      key: 'mmlu-chat-qwen3/k2/ffffffffffffffff',
      format: 'chat',
      kshot: 2,
    });
    expect(promptRecordOf('imported/logits-csv')).toEqual({
      key: 'imported/logits-csv',
      format: 'completion',
      kshot: 0,
    });
  });

  it('refuses to attach an analysis of other runs', () => {
    const groups = studyGroups(8);
    const report = { settings: {} as never, variants: { grpo: {} as never }, comparisons: [] };
    expect(() => buildResultsFile(groups, { app, analysis: { report } })).toThrow(
      /covers grpo but the export holds base, sft, grpo/,
    );
  });

  it('writes a per-item CSV whose probabilities, prediction and correctness follow from the logits', () => {
    const g = simulatedGroup('one', 'base', {}, itemIds(2));
    g.results[0] = { ...g.results[0], label: 1, letterLogits: [0, Math.log(3), 0, 0] };
    g.results[1] = { ...g.results[1], label: 0, letterLogits: [1, 1, 0, 0] };
    const csv = itemsCsv(buildResultsFile([g], { app }));
    const rows = Papa.parse<Record<string, string>>(csv, { header: true, skipEmptyLines: true }).data;
    expect(rows).toHaveLength(2);
    // p = (1, 3, 1, 1) / 6: prediction B, confidence 0.5, correct.
    expect(rows[0]).toMatchObject({
      variant: 'one',
      simulated: 'SIMULATED',
      label: 'B',
      prediction: 'B',
      correct: '1',
    });
    expect(Number(rows[0].p_B)).toBeCloseTo(0.5, 15);
    expect(Number(rows[0].confidence)).toBeCloseTo(0.5, 15);
    expect(Number(rows[0].p_A)).toBeCloseTo(1 / 6, 15);
    // A tie between A and B goes to A (the earlier letter); gold A, so correct.
    expect(rows[1]).toMatchObject({ prediction: 'A', correct: '1' });
    // One run's rows read back as a logits CSV with the same scores.
    const back = parseLogitsCsv(csv, 'items.csv');
    expect(back.map((i) => [i.itemId, i.label, i.letterLogits])).toEqual(
      g.results.map((r) => [r.itemId, r.label, r.letterLogits]),
    );
  });
});

describe("export: the CSV shows the analysis's own numbers", () => {
  it("writes probabilities and confidences equal to the core's to the last bit", () => {
    const g = simulatedGroup('one', 'base', {}, itemIds(40));
    const rows = Papa.parse<Record<string, string>>(itemsCsv(buildResultsFile([g], { app })), {
      header: true,
      skipEmptyLines: true,
    }).data;
    const byId = new Map(g.results.map((r) => [r.itemId, r]));
    const items = rows.map((row) => byId.get(row.item_id)!);
    const pred = predictionsFromLogits(
      Float64Array.from(items.flatMap((r) => r.letterLogits)),
      Uint8Array.from(items.map((r) => r.label)),
    );
    const { confidence, correct } = topLabel(pred);
    expect(rows).toHaveLength(40);
    rows.forEach((row, i) => {
      expect(['A', 'B', 'C', 'D'].map((l) => Number(row[`p_${l}`]))).toEqual(
        Array.from(pred.probs.subarray(4 * i, 4 * i + 4)),
      );
      expect(Number(row.confidence)).toBe(confidence[i]);
      expect(Number(row.correct)).toBe(correct[i]);
    });
  });
});

describe('import: results files, lm-eval samples and logits CSVs into storage', () => {
  const exportOf = (groups: StoredRunGroup[], name = 'a.json') => ({
    name,
    text: exportResultsJson(groups, { app, createdAt: at }),
  });

  it('round-trips an export into an empty store: the same runs and results as were exported', async () => {
    const groups = studyGroups(10);
    const store = new MemoryRunStore();
    const outcome = await importFiles(store, [{ file: exportOf(groups) }], at);
    expect(outcome).toMatchObject({ variantsAdded: 3, runsAdded: 3, resultsAdded: 30, resultsKept: 0 });
    const back = await readStoredRuns(store);
    const ordered = [groups[2], groups[1], groups[0]];
    expect(buildResultsFile(back, { app, createdAt: at }).runs).toEqual(
      buildResultsFile(ordered, { app, createdAt: at }).runs,
    );
    // The simulated label and the simulation parameters survive, so the variant can run again.
    expect(back[0].variant).toMatchObject({
      simulated: true,
      engine: 'simulated',
      simulation: groups[2].variant!.simulation,
    });
    expect(back.every((g) => g.results.every((r) => r.simulated && r.method === 'simulated'))).toBe(true);
  });

  it('merges runs made on several machines: one variant per browser, and one manifest split in halves', async () => {
    const groups = studyGroups(10);
    const halves = (g: StoredRunGroup, part: 0 | 1): StoredRunGroup => ({
      ...g,
      results: g.results.filter((_, i) => i % 2 === part),
    });
    const store = new MemoryRunStore();
    await importFiles(
      store,
      [{ file: exportOf([groups[0]], 'grpo.json') }, { file: exportOf([halves(groups[1], 0)], 'sft-1.json') }],
      at,
    );
    const second = await importFiles(
      store,
      [{ file: exportOf([halves(groups[1], 1)], 'sft-2.json') }, { file: exportOf([groups[2]], 'base.json') }],
      at,
    );
    expect(second).toMatchObject({ variantsAdded: 1, resultsAdded: 15, resultsKept: 0 });
    const back = await readStoredRuns(store);
    expect(back.map((g) => [g.variant?.name, g.results.length])).toEqual([
      ['grpo', 10],
      ['sft', 10],
      ['base', 10],
    ]);
    expect(back[1].results).toEqual(groups[1].results.map((r) => ({ ...r, scoredAt: expect.any(String) })));
    // Importing the same file again adds nothing and keeps what is stored.
    const again = await importFiles(store, [{ file: exportOf([groups[0]], 'grpo.json') }], at);
    expect(again).toMatchObject({ variantsAdded: 0, runsAdded: 0, resultsAdded: 0, resultsKept: 10 });
  });

  it('refuses an item stored with other logits, naming the file and the item, and changes nothing', async () => {
    const groups = studyGroups(6);
    const store = MemoryRunStore.of([groups[0]]);
    const before = JSON.stringify([...store.results.values()]);
    const changed: StoredRunGroup = {
      ...groups[0],
      results: groups[0].results.map((r, i) => (i === 3 ? { ...r, letterLogits: [9, 9, 9, 8] } : r)),
    };
    const error = await importFiles(
      store,
      [{ file: exportOf([groups[1]], 'ok.json') }, { file: exportOf([changed], 'other.json') }],
      at,
    ).catch((e) => e);
    expect(error).toBeInstanceOf(ImportError);
    expect(error.message).toBe(
      `other.json: item "${groups[0].results[3].itemId}": variant "${groups[0].variantKey}" already has this item stored with a different answer or letter logits; delete that stored run first, or import into a fresh profile`,
    );
    expect(JSON.stringify([...store.results.values()])).toBe(before);
    expect(store.variants.size).toBe(1);
  });

  it('refuses two files that disagree on one item before touching the store', () => {
    const g = studyGroups(4)[0];
    const changed: StoredRunGroup = {
      ...g,
      results: g.results.map((r, i) => (i === 0 ? { ...r, letterLogits: [9, 0, 0, 0] } : r)),
    };
    expect(() => planImport([{ file: exportOf([g], 'x.json') }, { file: exportOf([changed], 'y.json') }])).toThrow(
      `y.json: item "${g.results[0].itemId}": variant "${g.variantKey}" scored this item differently in x.json (answer or letter logits differ); import one of the two files`,
    );
    // A different gold answer is named as such, with both answers and where each is.
    const relabelled: StoredRunGroup = {
      ...g,
      results: g.results.map((r, i) => (i === 0 ? { ...r, label: (r.label + 1) % 4 } : r)),
    };
    const [was, now] = ['ABCD'[g.results[0].label], 'ABCD'[(g.results[0].label + 1) % 4]];
    expect(() => planImport([{ file: exportOf([g], 'x.json') }, { file: exportOf([relabelled], 'y.json') }])).toThrow(
      `y.json: runs[0].items[0]: item "${g.results[0].itemId}" has gold answer ${now} here but ${was} in x.json (runs[0].items[0])`,
    );
  });

  it('names the file and field of a bad results file', () => {
    const text = exportOf(studyGroups(3)).text.replace(/"letterLogits": \[\n\s*[-0-9.e]+/, '"letterLogits": [\n "x"');
    expect(() => planImport([{ file: { name: 'bad.json', text } }])).toThrow(
      /^bad\.json: runs\[0\]\.items\[0\]\.letterLogits\[0\]: expected a number, got "x"$/,
    );
    expect(() => planImport([{ file: { name: 'empty.json', text: '' } }])).toThrow(/^empty\.json: empty file/);
  });

  it('imports lm-eval samples and a logits CSV as named, non-simulated variants', async () => {
    const jsonl = [0, 1, 2]
      .map((i) =>
        JSON.stringify({
          doc_id: i,
          doc: { subject: 'anatomy' },
          target: String(i % 4),
          filtered_resps: [
            ['-1.5', 'False'],
            ['-0.5', 'True'],
            ['-2', 'False'],
            ['-3', 'False'],
          ],
        }),
      )
      .join('\n');
    const csv = 'item_id,label,logit_A,logit_B,logit_C,logit_D\nanatomy/test/0,A,1,2,3,4\nanatomy/test/1,B,0,0,0,1\n';
    const store = new MemoryRunStore();
    const outcome = await importFiles(
      store,
      [
        { file: { name: 'samples_mmlu_anatomy.jsonl', text: jsonl }, as: { name: 'GRPO (harness)', role: 'grpo' } },
        { file: { name: 'base.csv', text: csv }, as: { name: 'base <b>', role: 'base', promptKey: 'mine' } },
      ],
      at,
    );
    expect(outcome.summary).toEqual([
      {
        fileName: 'samples_mmlu_anatomy.jsonl',
        variant: 'GRPO (harness)',
        promptKey: 'imported/lm-eval-samples',
        items: 3,
        simulated: false,
      },
      { fileName: 'base.csv', variant: 'base <b>', promptKey: 'mine', items: 2, simulated: false },
    ]);
    const back = await readStoredRuns(store);
    expect(
      back.map((g) => [g.variantKey, g.variant?.role, g.results.length, g.results[0].method, g.runs[0].engine.kind]),
    ).toEqual([
      ['imported:grpo-harness', 'grpo', 3, 'imported', 'imported'],
      ['imported:base-b', 'base', 2, 'imported', 'imported'],
    ]);
    expect(back[0].results[1]).toMatchObject({
      itemId: 'anatomy/test/1',
      label: 1,
      letterLogits: [-1.5, -0.5, -2, -3],
      subject: 'anatomy',
      simulated: false,
    });
  });

  it('asks for a variant name for files that carry none', () => {
    expect(() =>
      planImport([{ file: { name: 's.csv', text: 'item_id,label,logit_A,logit_B,logit_C,logit_D\na,A,1,2,3,4\n' } }]),
    ).toThrow('s.csv: variant name: expected the name of the variant whose scores this file holds');
    expect(() =>
      planImport([
        {
          file: { name: 'bad.csv', text: 'item_id,label,logit_A,logit_B,logit_C,logit_D\na,E,1,2,3,4\n' },
          as: { name: 'x', role: 'base' },
        },
      ]),
    ).toThrow(/^bad\.csv: line 2: label: unknown label "E"/);
  });

  it('refuses a simulated engine run that is not labelled simulated', () => {
    const text = exportOf(studyGroups(2).slice(0, 1)).text.replace('"simulated": true', '"simulated": false');
    expect(() => planImport([{ file: { name: 'sneaky.json', text } }])).toThrow(
      'sneaky.json: runs[0].variant.simulated: expected true for a run of the simulated engine (simulated scores are always labelled)',
    );
  });
});

describe('import: one gold answer per item id', () => {
  it('refuses a CSV that gives a stored item another gold answer, naming file, line, item and both labels', async () => {
    const g = studyGroups(6)[0];
    const store = MemoryRunStore.of([g]);
    const before = JSON.stringify([...store.results.values()]);
    const rows = g.results.map((r, i) => `${r.itemId},${'ABCD'[i === 3 ? (r.label + 2) % 4 : r.label]},1,0,0,0`);
    const csv = `item_id,label,logit_A,logit_B,logit_C,logit_D\n\n${rows.join('\n')}\n`;
    const error = await importFiles(
      store,
      [{ file: { name: 'other.csv', text: csv }, as: { name: 'other', role: 'sft' } }],
      at,
    ).catch((e) => e);
    const item = g.results[3];
    expect(error).toBeInstanceOf(ImportError);
    // Line 6: the header, a blank line, then rows 0..3.
    expect(error.message).toBe(
      `other.csv: line 6: item "${item.itemId}" has gold answer ${'ABCD'[(item.label + 2) % 4]} here but ${'ABCD'[item.label]} in a stored run ` +
        `(variant "${g.variantKey}", prompt "${g.promptKey}"); an item has one gold answer, so nothing was imported`,
    );
    expect(JSON.stringify([...store.results.values()])).toBe(before);
    expect(store.variants.size).toBe(1);
    // The same rows with the stored answers go in.
    const agreeing = `item_id,label,logit_A,logit_B,logit_C,logit_D\n${g.results.map((r) => `${r.itemId},${'ABCD'[r.label]},1,0,0,0`).join('\n')}\n`;
    await importFiles(store, [{ file: { name: 'other.csv', text: agreeing }, as: { name: 'other', role: 'sft' } }], at);
    expect(store.results.size).toBe(12);
  });
});

describe('the per-item CSV keeps its provenance through a round trip', () => {
  it('restores variant, role, engine and SIMULATED on import, one run per variant and prompt', async () => {
    const groups = studyGroups(5);
    const csv = itemsCsv(buildResultsFile(groups, { app }));
    const header = csv.split('\n')[0].split(',');
    expect(header.slice(0, 6)).toEqual(['variant', 'variant_key', 'role', 'simulated', 'engine', 'prompt_key']);
    const store = new MemoryRunStore();
    const outcome = await importFiles(store, [{ file: { name: 'items.csv', text: csv } }], at);
    expect(outcome).toMatchObject({ variantsAdded: 3, runsAdded: 3, resultsAdded: 15 });
    expect(outcome.summary.map((s) => [s.variant, s.simulated])).toEqual([
      ['base', true],
      ['sft', true],
      ['grpo', true],
    ]);
    const back = await readStoredRuns(store);
    expect(
      back.map((b) => [
        b.variant?.name,
        b.variant?.role,
        b.variant?.simulated,
        b.runs[0].engine.kind,
        b.runs[0].simulated,
      ]),
    ).toEqual([
      ['grpo', 'grpo', true, 'simulated', true],
      ['sft', 'sft', true, 'simulated', true],
      ['base', 'base', true, 'simulated', true],
    ]);
    expect(back.every((b) => b.results.every((r) => r.simulated && r.method === 'simulated'))).toBe(true);
    // Exported again, both formats still say SIMULATED.
    const again = buildResultsFile(back, { app });
    expect(
      again.runs.every(
        (r) => r.variant.simulated && r.engine.kind === 'simulated' && r.engine.params?.label === SIMULATED_LABEL,
      ),
    ).toBe(true);
    const rows = Papa.parse<Record<string, string>>(itemsCsv(again), { header: true, skipEmptyLines: true }).data;
    expect(rows.every((r) => r.simulated === 'SIMULATED' && r.engine === 'simulated')).toBe(true);
    // Re-importing the same CSV keeps what is stored (same variant keys and scores).
    expect(await importFiles(store, [{ file: { name: 'items.csv', text: csv } }], at)).toMatchObject({
      resultsAdded: 0,
      resultsKept: 15,
    });
  });

  it('keeps SIMULATED when a name is given, and refuses a row that says simulated engine but not SIMULATED', async () => {
    const g = studyGroups(4)[2];
    const csv = itemsCsv(buildResultsFile([g], { app }));
    const store = new MemoryRunStore();
    const outcome = await importFiles(
      store,
      [{ file: { name: 'one.csv', text: csv }, as: { name: 'renamed', role: 'other' } }],
      at,
    );
    expect(outcome.summary).toEqual([expect.objectContaining({ variant: 'renamed', simulated: true })]);
    expect([...store.variants.values()][0]).toMatchObject({ name: 'renamed', simulated: true, engine: 'simulated' });
    const lying = csv.replace(/,SIMULATED,simulated,/, ',no,simulated,');
    await expect(importFiles(new MemoryRunStore(), [{ file: { name: 'lying.csv', text: lying } }], at)).rejects.toThrow(
      /^lying\.csv: line 2: simulated: expected SIMULATED for a row of the simulated engine/,
    );
  });

  it('a CSV of several runs is refused by the single-run reader with the runs named', () => {
    const csv = itemsCsv(buildResultsFile(studyGroups(3), { app }));
    expect(() => parseLogitsCsv(csv, 'items.csv')).toThrow(/^items\.csv: holds the rows of 3 runs \(base, sft, grpo\)/);
  });
});
