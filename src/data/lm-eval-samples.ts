/**
 * Reads lm-evaluation-harness `--log_samples` output for MMLU (samples_mmlu_<subject>_<date>.jsonl) into
 * ItemScores, so that runs made with the harness on any hardware can be analysed like the kit's own.
 */
import * as v from 'valibot';
import type { ItemScore, LetterVector } from '../core/types';
import { DataFileError, parseFiniteNumber, parseLabel, quote } from './errors';

/*
 * What the harness writes, per line (lm_eval/evaluator.py builds the sample; the EvaluationTracker's
 * save_results_samples writes it with json.dumps after `sanitize_list`, which turns every leaf of
 * `resps` and `filtered_resps` into a Python `str`, and `target` into `str(target)`):
 *
 *   {"doc_id": 12, "doc": {"question": ..., "subject": "college_physics", "choices": [...], "answer": 2},
 *    "target": "2", "arguments": {...}, "resps": [[["-1.93", "False"]], ...],
 *    "filtered_resps": [["-1.93", "False"], ["-0.41", "True"], ["-2.7", "False"], ["-3.05", "False"]],
 *    "filter": "none", "metrics": ["acc"], "doc_hash": ..., "acc": 1.0}
 *
 * MMLU's default task (lm_eval/tasks/mmlu/default/_default_template_yaml) is `multiple_choice` over the
 * continuations " A".." D" with `doc_to_target: answer`, an index 0-3, so `filtered_resps` holds one
 * (loglikelihood, is_greedy) pair per letter, in letter order, and those log-likelihoods are the letter
 * logits up to a per-item constant (which the analysis removes). Harness versions before sanitize_list
 * wrote plain numbers and booleans.
 */

/** Accepted shapes, documented for users; the parser below follows exactly this. */
export const LM_EVAL_SAMPLES_FORMAT = `one JSON object per line with:
  doc_id          integer >= 0, the row in the Hugging Face cais/mmlu split
  doc.subject     optional MMLU subject (e.g. college_physics)
  doc.item_id     optional: the kit's item id, written by \`npm run items -- --lm-eval-task\` (then doc.domain too)
  target          the gold answer: an index 0-3 or a letter A-D, as a number or a string
  filtered_resps  four entries, one per letter A-D, each [loglikelihood, is_greedy]
                  or the same pair nested one level deeper ([[loglikelihood, is_greedy]]);
                  loglikelihood a number or a numeric string ("-1.25"), is_greedy ignored
Item ids are doc.item_id when present, else <subject>/test/<doc_id> when doc.subject is present, else doc/<doc_id>.`;

const SampleLine = v.object({
  doc_id: v.pipe(v.number(), v.integer('expected an integer doc_id'), v.minValue(0, 'expected a doc_id >= 0')),
  doc: v.optional(
    v.looseObject({
      subject: v.optional(v.string()),
      // The kit's own lm-eval task (src/data/lm-eval-task.ts) carries the item id and domain in each doc.
      item_id: v.optional(
        v.pipe(v.string(), v.regex(/^\S+\/(dev|val|test)\/\d+$/, 'expected an item id <subject>/<split>/<row>')),
      ),
      domain: v.optional(v.string()),
    }),
  ),
  target: v.union([v.number(), v.string()], 'expected an answer index 0-3 or a letter A-D'),
  filtered_resps: v.array(v.unknown()),
});

/** The log-likelihood in one `filtered_resps` entry, or what is wrong with it. */
function choiceLoglikelihood(entry: unknown, where: string): number | string {
  let pair = entry;
  if (Array.isArray(pair) && pair.length === 1 && Array.isArray(pair[0])) pair = pair[0];
  if (!Array.isArray(pair) || pair.length !== 2) {
    const generative =
      typeof entry === 'string' ? ' (a generated answer: only multiple_choice tasks log log-likelihoods)' : '';
    return `${where}: expected a [loglikelihood, is_greedy] pair, got ${quote(entry)}${generative}`;
  }
  const ll = pair[0];
  if (typeof ll === 'number') return Number.isFinite(ll) ? ll : `${where}[0]: expected a finite number, got ${ll}`;
  if (typeof ll === 'string') {
    const x = parseFiniteNumber(ll);
    return typeof x === 'number' ? x : `${where}[0]: ${x}`;
  }
  return `${where}[0]: expected a log-likelihood (number or numeric string), got ${quote(ll)}`;
}

/**
 * Parses one samples_*.jsonl file (see LM_EVAL_SAMPLES_FORMAT). Blank lines are skipped. Errors name the
 * file, the line (1-based) and the field. `itemLines`, when given, receives each item's line.
 */
export function parseLmEvalSamples(text: string, fileName: string, itemLines?: number[]): ItemScore[] {
  const body = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
  if (body.trim() === '')
    throw new DataFileError(
      fileName,
      undefined,
      'empty file; expected lm-evaluation-harness samples, one JSON object per line',
    );
  const lines = body.split('\n');
  const items: ItemScore[] = [];
  const firstLine = new Map<string, number>();
  for (let i = 0; i < lines.length; i++) {
    const lineNo = i + 1;
    const raw = lines[i].trim();
    if (raw === '') continue;
    const bad = (detail: string) => new DataFileError(fileName, lineNo, detail);
    let data: unknown;
    try {
      data = JSON.parse(raw);
    } catch (err) {
      throw bad(
        `malformed JSON line (${(err instanceof Error ? err.message : String(err)).replace(/\s*\n\s*/g, ' ')})`,
      );
    }
    if (typeof data !== 'object' || data === null || Array.isArray(data)) {
      throw bad(`expected a JSON object with doc_id, target and filtered_resps, got ${quote(data)}`);
    }
    const parsed = v.safeParse(SampleLine, data, { abortEarly: true });
    if (!parsed.success) {
      const issue = parsed.issues[0];
      const field = (issue.path ?? []).map((p) => String(p.key)).join('.');
      if (issue.received === 'undefined')
        throw bad(`${field}: missing; expected ${field === 'doc_id' ? 'an integer doc_id' : `a ${field} field`}`);
      const expected = issue.kind === 'schema' && issue.type !== 'union' ? `expected ${issue.expected}` : issue.message;
      throw bad(`${field}: ${expected}, got ${issue.received}`);
    }
    const sample = parsed.output;
    const resps = sample.filtered_resps;
    if (resps.length !== 4) throw bad(`filtered_resps: expected 4 choices, one per letter A-D, got ${resps.length}`);
    const logits: number[] = [];
    for (let k = 0; k < 4; k++) {
      const x = choiceLoglikelihood(resps[k], `filtered_resps[${k}]`);
      if (typeof x === 'string') throw bad(x);
      logits.push(x);
    }
    const label = parseLabel(sample.target);
    if (label === undefined)
      throw bad(`target: unknown label ${quote(sample.target)}; expected an index 0-3 or a letter A-D`);
    const subject = sample.doc?.subject?.trim();
    // The kit's MMLU id scheme is <subject>/<split>/<row>; the harness's doc_id is the row of the
    // per-subject test split of cais/mmlu, which keeps the official file order.
    // The kit's own task numbers its rows 0..n-1, so there the doc's item_id, not doc_id, names the item.
    const itemId = sample.doc?.item_id ?? (subject ? `${subject}/test/${sample.doc_id}` : `doc/${sample.doc_id}`);
    const earlier = firstLine.get(itemId);
    if (earlier !== undefined) throw bad(`duplicate item id ${quote(itemId)} (first on line ${earlier})`);
    firstLine.set(itemId, lineNo);
    const score: ItemScore = { itemId, label, letterLogits: logits as LetterVector };
    if (subject) score.subject = subject;
    const domain = sample.doc?.domain?.trim();
    if (domain) score.domain = domain;
    items.push(score);
    itemLines?.push(lineNo);
  }
  if (items.length === 0) throw new DataFileError(fileName, undefined, 'no items: the file has only blank lines');
  return items;
}
