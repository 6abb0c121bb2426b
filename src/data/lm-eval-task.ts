/**
 * An lm-evaluation-harness task that scores exactly a manifest's items with the kit's own prompt, for users who
 * outgrow one browser (vLLM or any harness backend, on any cluster). The task (lm-eval's TaskConfig YAML, see
 * docs/task_guide.md of EleutherAI/lm-evaluation-harness) reads a local JSON-lines dataset, one row per manifest
 * item in manifest order, holding the kit's rendered prompt text; `multiple_choice` scores the four
 * continuations the kit reads (template.answerStrings, e.g. " A".." D"), with an empty target_delimiter so the
 * continuation is exactly that string and no few-shot examples of the harness's own (the kit's k examples are
 * already in the text). `--log_samples` then writes, per item, `doc` (this row, with its `item_id`) and four
 * log-likelihoods in letter order, which parseLmEvalSamples imports by item id.
 */
import { stringify } from 'yaml';
import type { SampledItem } from '../core/mmlu';
import type { ItemManifest, PromptRecord, PromptTemplate } from '../core/types';

/** One row of the task's dataset file. */
export interface LmEvalTaskDoc {
  /** The kit's item id, `<subject>/<split>/<row>`: how the harness's samples come back to the kit. */
  item_id: string;
  subject: string;
  domain: string;
  /** The exact text the kit gives the model (doc_to_text names this column, so no template touches it). */
  prompt: string;
  /** Gold answer index 0..3 (doc_to_target). */
  answer: number;
}

export interface LmEvalTask {
  /** lm-eval task name: `calibration_kit_<manifest hash, 12 hex>_<format>_k<k>`. */
  name: string;
  /** The task YAML's text. */
  yaml: string;
  /** The dataset file's text (JSON lines, one LmEvalTaskDoc per manifest item, in manifest order). */
  docs: string;
  rows: LmEvalTaskDoc[];
}

export const LM_EVAL_DOCS_FILE = 'items.jsonl';

/**
 * The task for `sampled` (the manifest's items, in manifest order) and their prompt records. `docsPath` is where
 * the YAML says the dataset file is: the harness resolves a relative data_files path against its working
 * directory, so the CLI writes an absolute one.
 */
export function lmEvalTask(
  manifest: ItemManifest,
  sampled: readonly SampledItem[],
  records: readonly PromptRecord[],
  docsPath: string,
): LmEvalTask {
  if (records.length !== sampled.length)
    throw new Error(`expected one prompt per item, got ${records.length} for ${sampled.length}`);
  const template: PromptTemplate = records[0]?.template;
  if (!template) throw new Error('the manifest has no items');
  const rows = sampled.map(({ domain, item }, i): LmEvalTaskDoc => {
    const record = records[i];
    if (record.itemId !== item.id) throw new Error(`prompt ${i} is for ${record.itemId}, not ${item.id}`);
    if (record.template.key !== template.key)
      throw new Error(`prompt ${i} uses ${record.template.key}, not ${template.key}`);
    return { item_id: item.id, subject: item.subject, domain, prompt: record.text, answer: item.answer };
  });
  const probe = template.probe ? `_probe_${template.probe.template}_s${template.probe.seed}` : '';
  const name = `calibration_kit_${manifest.hash.slice(0, 12)}_${template.format}_k${template.kshot}${probe}`;
  const config = {
    task: name,
    dataset_path: 'json',
    dataset_kwargs: { data_files: { test: docsPath } },
    test_split: 'test',
    output_type: 'multiple_choice',
    doc_to_text: 'prompt',
    doc_to_target: 'answer',
    doc_to_choice: [...template.answerStrings],
    target_delimiter: '',
    num_fewshot: 0,
    metric_list: [{ metric: 'acc', aggregation: 'mean', higher_is_better: true }],
    metadata: {
      version: 1.0,
      manifest_hash: manifest.hash,
      prompt_key: template.key,
      items: rows.length,
      written_by: 'calibration-collapse-kit npm run items -- --lm-eval-task',
    },
  };
  const header =
    `# lm-evaluation-harness task: the ${rows.length} items of manifest ${manifest.hash}\n` +
    `# with the kit's prompt ${template.key}. Run without --apply_chat_template and without --num_fewshot:\n` +
    `# the prompt text is already complete. lm_eval --include_path <this folder> --tasks ${name} --log_samples ...\n`;
  return {
    name,
    yaml: header + stringify(config, { lineWidth: 0 }),
    docs: rows.map((r) => JSON.stringify(r)).join('\n') + '\n',
    rows,
  };
}
