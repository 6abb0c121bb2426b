// The lm-eval task written by `npm run items -- --lm-eval-task DIR`, checked against lm-evaluation-harness's
// documented TaskConfig (docs/task_guide.md of EleutherAI/lm-evaluation-harness: the fields below) and against
// how the harness builds a multiple_choice request: context = doc_to_text(doc), continuation =
// target_delimiter + choice, target = doc_to_target(doc) an index into the choices.
import { existsSync, mkdtempSync, readFileSync, readdirSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parse } from 'yaml';
import { describe, expect, it } from 'vitest';
import { parseItemManifest } from '../../src/core/manifest-file';
import { resolveManifest } from '../../src/core/mmlu';
import { buildPromptRecords, fewshotPool } from '../../src/core/prompts';
import type { PromptFormat } from '../../src/core/types';
import { parseLmEvalSamples } from '../../src/data/lm-eval-samples';
import { main } from '../../scripts/items';
import { loadMmluFolder } from '../../scripts/mmlu-folder';

const FIXTURES = path.resolve(import.meta.dirname, '../fixtures/mmlu');
const items = await loadMmluFolder(FIXTURES);

/** TaskConfig fields of the task guide. */
const TASK_CONFIG_FIELDS = new Set([
  'task',
  'task_alias',
  'tag',
  'dataset_path',
  'dataset_name',
  'dataset_kwargs',
  'training_split',
  'validation_split',
  'test_split',
  'fewshot_split',
  'process_docs',
  'use_prompt',
  'description',
  'doc_to_text',
  'doc_to_target',
  'doc_to_choice',
  'fewshot_delimiter',
  'target_delimiter',
  'num_fewshot',
  'batch_size',
  'metric_list',
  'output_type',
  'generation_kwargs',
  'repeats',
  'filter_list',
  'should_decontaminate',
  'doc_to_decontamination_query',
  'metadata',
]);
const OUTPUT_TYPES = ['generate_until', 'loglikelihood', 'loglikelihood_rolling', 'multiple_choice'];
const METRICS = [
  'acc',
  'acc_norm',
  'acc_mutual_info',
  'perplexity',
  'word_perplexity',
  'byte_perplexity',
  'bits_per_byte',
  'matthews_corrcoef',
  'f1',
  'bleu',
  'chrf',
  'ter',
];

async function writeTask(format: PromptFormat, kshot: number) {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'lm-eval-task-'));
  const manifestPath = path.join(dir, 'manifest.json');
  const taskDir = path.join(dir, 'task');
  let err = '';
  const code = await main(
    [
      '--source',
      FIXTURES,
      '--subjects',
      'anatomy,college_physics',
      '--per-domain',
      '2',
      '--format',
      format,
      '--kshot',
      String(kshot),
      '--out',
      manifestPath,
      '--lm-eval-task',
      taskDir,
    ],
    { stdout: () => {}, stderr: (t) => (err += t) },
  );
  expect(code, err).toBe(0);
  const manifest = parseItemManifest(readFileSync(manifestPath, 'utf8'), manifestPath);
  const yamlFile = readdirSync(taskDir).find((f) => f.endsWith('.yaml'))!;
  const config = parse(readFileSync(path.join(taskDir, yamlFile), 'utf8')) as Record<string, any>;
  return { manifest, config, taskDir, yamlFile, err };
}

/** The harness's requests for one doc of a multiple_choice task. */
function harnessRequests(config: Record<string, any>, doc: Record<string, unknown>) {
  const field = (name: string) => {
    expect(Object.keys(doc), `${name} names a column`).toContain(config[name]);
    return doc[config[name]];
  };
  const choices = config.doc_to_choice as string[];
  return {
    context: field('doc_to_text') as string,
    continuations: choices.map((c) => (config.target_delimiter ?? ' ') + c),
    target: field('doc_to_target'),
  };
}

describe('npm run items -- --lm-eval-task DIR', () => {
  it('writes a task YAML made only of documented TaskConfig fields, over a local dataset file', async () => {
    const { manifest, config, taskDir, yamlFile, err } = await writeTask('completion', 0);
    expect(Object.keys(config).filter((k) => !TASK_CONFIG_FIELDS.has(k))).toEqual([]);
    expect(yamlFile).toBe(`${config.task}.yaml`);
    expect(config.task).toMatch(/^[a-z0-9_]+$/);
    expect(config.task).toBe(`calibration_kit_${manifest.hash.slice(0, 12)}_completion_k0`);
    expect(OUTPUT_TYPES).toContain(config.output_type);
    expect(config.output_type).toBe('multiple_choice');
    expect(config.dataset_path).toBe('json');
    const docsFile = config.dataset_kwargs.data_files[config.test_split];
    expect(path.isAbsolute(docsFile) && existsSync(docsFile)).toBe(true);
    expect(path.dirname(docsFile)).toBe(taskDir);
    expect(config.num_fewshot).toBe(0);
    for (const m of config.metric_list) expect(METRICS).toContain(m.metric);
    expect(config.metadata.version).toBe(1);
    expect(config.metadata.manifest_hash).toBe(manifest.hash);
    expect(err).toContain(
      `lm_eval --model <backend> --model_args <...> --include_path ${taskDir} --tasks ${config.task} --log_samples`,
    );
  });

  for (const [format, kshot] of [
    ['completion', 0],
    ['completion', 2],
    ['chat', 1],
  ] as const) {
    it(`scores exactly the manifest's items with the kit's prompt text and answers (${format}, k=${kshot})`, async () => {
      const { manifest, config } = await writeTask(format, kshot);
      const docs = readFileSync(config.dataset_kwargs.data_files.test, 'utf8')
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l));
      const check = resolveManifest(manifest, items);
      if (!check.ok) throw new Error('fixture manifest does not resolve');
      const records = buildPromptRecords(
        check.sampled.map((s) => s.item),
        fewshotPool(items),
        { format, kshot },
      );
      expect(docs.map((d) => d.item_id)).toEqual(manifest.items.map((e) => e.id));
      docs.forEach((doc, i) => {
        const request = harnessRequests(config, doc);
        expect(request.context).toBe(records[i].text);
        expect(request.continuations).toEqual(records[i].template.answerStrings);
        expect(request.target).toBe(check.sampled[i].item.answer);
        expect(doc.domain).toBe(check.sampled[i].domain);
      });
      expect(config.metadata.prompt_key).toBe(records[0].template.key);
    });
  }

  it('imports the samples lm-eval logs for the task back by item id', async () => {
    const { manifest, config } = await writeTask('completion', 0);
    const docs = readFileSync(config.dataset_kwargs.data_files.test, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    // As lm_eval --log_samples writes a line: doc_id is the row of this task's dataset, every leaf of resps and
    // filtered_resps a string (sanitize_list), target str(target).
    const lines = docs.map((doc, i) => {
      const ll = [-1.25 - i, -0.5, -2.75, -3.125 + i / 8].map(String);
      const args = Object.fromEntries(
        config.doc_to_choice.map((c: string, k: number) => [
          `gen_args_${k}`,
          { arg_0: doc.prompt, arg_1: config.target_delimiter + c },
        ]),
      );
      return JSON.stringify({
        doc_id: i,
        doc,
        target: String(doc.answer),
        arguments: args,
        resps: ll.map((x) => [[x, 'False']]),
        filtered_resps: ll.map((x) => [x, 'False']),
        filter: 'none',
        metrics: ['acc'],
        doc_hash: 'h',
        prompt_hash: 'p',
        target_hash: 't',
        acc: 0.0,
      });
    });
    const scores = parseLmEvalSamples(lines.join('\n') + '\n', `samples_${config.task}_2026-12-01T08-00-00.jsonl`);
    expect(scores.map((s) => s.itemId)).toEqual(manifest.items.map((e) => e.id));
    expect(scores.map((s) => s.label)).toEqual(docs.map((d) => d.answer));
    expect(scores[1].letterLogits).toEqual([-2.25, -0.5, -2.75, -3]);
    expect(scores.map((s) => s.domain)).toEqual(docs.map((d) => d.domain));
  });
});
