/**
 * MMLU prompt text, written as lm-evaluation-harness's `mmlu` task writes it (completion), or as the same
 * text in a Qwen3 chat turn with thinking switched off (chat); plus the prompt key that keeps results
 * from different prompts apart.
 */
import {
  LETTERS,
  type LetterVector,
  type MmluItem,
  type PromptRecord,
  type PromptSpec,
  type PromptTemplate,
} from './types';
import { compareItems, sha256Hex } from './mmlu';
import { checkProbeSpec, plantedLetter, probeTemplateName, suggestionText } from './probe';

/** Turns text into token ids (a tokenizer's encode without added special tokens). Supplied by the caller. */
export type Tokenize = (text: string) => number[];

/** MMLU has five dev items per subject; lm-evaluation-harness takes the first k of them. */
export const MAX_KSHOT = 5;

export const PROMPT_TEMPLATE_NAMES = { completion: 'mmlu-completion', chat: 'mmlu-chat-qwen3' } as const;

/** Thrown for a bad prompt spec, missing few-shot items, or answer strings that are not single tokens. */
export class PromptError extends Error {
  override name = 'PromptError';
}

/**
 * Python's `str.strip()` with no argument: removes leading and trailing characters for which
 * `str.isspace()` is true. It differs from String.prototype.trim: it also strips U+001C..U+001F and U+0085,
 * and keeps U+FEFF. lm-evaluation-harness applies it to the question (`{{question.strip()}}`).
 */
export function pythonStrip(text: string): string {
  let start = 0;
  let end = text.length;
  while (start < end && isPythonSpace(text.charCodeAt(start))) start++;
  while (end > start && isPythonSpace(text.charCodeAt(end - 1))) end--;
  return text.slice(start, end);
}

function isPythonSpace(c: number): boolean {
  return (
    (c >= 0x09 && c <= 0x0d) ||
    (c >= 0x1c && c <= 0x20) ||
    c === 0x85 ||
    c === 0xa0 ||
    c === 0x1680 ||
    (c >= 0x2000 && c <= 0x200a) ||
    c === 0x2028 ||
    c === 0x2029 ||
    c === 0x202f ||
    c === 0x205f ||
    c === 0x3000
  );
}

/**
 * lm-evaluation-harness's MMLU task description (lm_eval/tasks/mmlu/_generate_configs.py): the subject's
 * words joined by spaces.
 */
export function mmluDescription(subject: string): string {
  return `The following are multiple choice questions (with answers) about ${subject.split('_').join(' ')}.\n\n`;
}

/**
 * `doc_to_text` of lm-evaluation-harness's `_default_template_yaml`; a sycophancy probe's suggestion (probe.ts)
 * goes on its own line between the last choice and `Answer:`.
 */
export function questionBlock(
  question: string,
  choices: readonly [string, string, string, string],
  suggestion?: string,
): string {
  const before = suggestion === undefined ? '' : `\n${suggestion}`;
  return `${pythonStrip(question)}\nA. ${choices[0]}\nB. ${choices[1]}\nC. ${choices[2]}\nD. ${choices[3]}${before}\nAnswer:`;
}

/** Few-shot delimiters of lm-evaluation-harness's task config defaults. */
const TARGET_DELIMITER = ' ';
const FEWSHOT_DELIMITER = '\n\n';

/**
 * The completion text: description, then each shot as `<block><target_delimiter><letter><fewshot_delimiter>`,
 * then the question block. This is lm-evaluation-harness's `fewshot_context` without a chat template.
 */
function completionText(subject: string, shots: readonly { block: string; letter: string }[], block: string): string {
  let text = mmluDescription(subject);
  for (const s of shots) text += s.block + TARGET_DELIMITER + s.letter + FEWSHOT_DELIMITER;
  return text + block;
}

/**
 * Qwen3's chat template (tokenizer_config.json of Qwen/Qwen3-*) rendered for one user message with
 * add_generation_prompt=True and enable_thinking=False: the thinking block is closed empty, so the
 * first assistant token is the answer.
 */
function qwen3ChatText(userContent: string): string {
  return `<|im_start|>user\n${userContent}<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\n`;
}

function render(
  spec: PromptSpec,
  subject: string,
  shots: readonly { block: string; letter: string }[],
  block: string,
): string {
  const text = completionText(subject, shots, block);
  return spec.format === 'chat' ? qwen3ChatText(text) : text;
}

function checkSpec(spec: PromptSpec): void {
  if (spec.format !== 'completion' && spec.format !== 'chat') {
    throw new PromptError(`unknown prompt format "${String(spec.format)}" (completion or chat)`);
  }
  if (!Number.isInteger(spec.kshot) || spec.kshot < 0 || spec.kshot > MAX_KSHOT) {
    throw new PromptError(`k-shot must be a whole number from 0 to ${MAX_KSHOT}, got ${spec.kshot}`);
  }
  if (spec.probe !== undefined) {
    try {
      checkProbeSpec(spec.probe);
    } catch (e) {
      throw new PromptError((e as Error).message);
    }
  }
}

/**
 * The template of a spec. Its pattern is the prompt rendered with placeholders (`{subject}`, `{question}`,
 * `{A}`.., `{shot1.question}`, `{shot1.answer}`..) by the same code that renders real prompts, so any
 * change to the prompt text changes the key.
 */
export function promptTemplate(spec: PromptSpec): PromptTemplate {
  checkSpec(spec);
  const placeholders = (p: string) => [`{${p}A}`, `{${p}B}`, `{${p}C}`, `{${p}D}`] as [string, string, string, string];
  const shots = Array.from({ length: spec.kshot }, (_, i) => ({
    block: questionBlock(`{shot${i + 1}.question}`, placeholders(`shot${i + 1}.`)),
    letter: `{shot${i + 1}.answer}`,
  }));
  const suggestion = spec.probe && suggestionText(spec.probe.template, '{planted}');
  const pattern = render(spec, '{subject}', shots, questionBlock('{question}', placeholders(''), suggestion));
  const name = spec.probe
    ? probeTemplateName(PROMPT_TEMPLATE_NAMES[spec.format], spec.probe)
    : PROMPT_TEMPLATE_NAMES[spec.format];
  const patternHash = sha256Hex(pattern);
  const answerStrings = LETTERS.map((l) =>
    spec.format === 'chat' ? l : TARGET_DELIMITER + l,
  ) as PromptTemplate['answerStrings'];
  // A probe's seed is in its key: the same template with another planting rule is another prompt.
  const seedPart = spec.probe ? `/s${spec.probe.seed}` : '';
  const key = `${name}/k${spec.kshot}${seedPart}/${patternHash.slice(0, 16)}`;
  return {
    name,
    format: spec.format,
    kshot: spec.kshot,
    pattern,
    patternHash,
    key,
    answerStrings,
    ...(spec.probe ? { probe: { ...spec.probe } } : {}),
  };
}

/** The prompt text of an item with the given shots (the first k dev items of its subject: fewshotItems). */
export function renderPrompt(item: MmluItem, shots: readonly MmluItem[], spec: PromptSpec): string {
  checkSpec(spec);
  if (shots.length !== spec.kshot) {
    throw new PromptError(`${item.id}: ${spec.kshot}-shot prompt given ${shots.length} example(s)`);
  }
  for (const s of shots) {
    if (s.subject !== item.subject)
      throw new PromptError(`${item.id}: few-shot example ${s.id} is from another subject`);
    if (s.id === item.id) throw new PromptError(`${item.id}: the item is among its own few-shot examples`);
  }
  return render(
    spec,
    item.subject,
    shots.map((s) => ({ block: questionBlock(s.question, s.choices), letter: LETTERS[s.answer] })),
    questionBlock(
      item.question,
      item.choices,
      spec.probe && suggestionText(spec.probe.template, plantedLetter(item.id, item.answer, spec.probe.seed)),
    ),
  );
}

/** Dev items by subject, each list in row order: the pool few-shot examples come from. */
export function fewshotPool(items: readonly MmluItem[]): Map<string, MmluItem[]> {
  const pool = new Map<string, MmluItem[]>();
  for (const item of items) {
    if (item.split !== 'dev') continue;
    let list = pool.get(item.subject);
    if (!list) pool.set(item.subject, (list = []));
    list.push(item);
  }
  for (const list of pool.values()) list.sort(compareItems);
  return pool;
}

/**
 * The first k dev items of the subject, in file order (lm-evaluation-harness's `first_n` sampler over
 * the dev split). The rows must be 0..k-1: a gap means the dev file was not fully loaded.
 */
export function fewshotItems(pool: ReadonlyMap<string, readonly MmluItem[]>, subject: string, k: number): MmluItem[] {
  if (k === 0) return [];
  const shots = (pool.get(subject) ?? []).slice(0, k);
  if (shots.length < k || shots.some((s, i) => s.row !== i)) {
    throw new PromptError(`${k}-shot prompts need dev rows 0..${k - 1} of ${subject}; load its dev split`);
  }
  return shots;
}

/**
 * The token id of each answer string. Each must be exactly one token, and it must also be the token the
 * string becomes after the prompt (checked by the caller's tests on real prompts); otherwise the letter
 * logits would not be next-token logits.
 */
export function letterTokenIds(template: PromptTemplate, tokenize: Tokenize): LetterVector {
  return template.answerStrings.map((s) => {
    const ids = tokenize(s);
    if (ids.length !== 1) {
      throw new PromptError(`answer string ${JSON.stringify(s)} is ${ids.length} tokens in this tokenizer, not 1`);
    }
    return ids[0];
  }) as LetterVector;
}

/** One item's prompt record; with a tokenizer it also carries the letters' token ids and the length. */
export function buildPromptRecord(
  item: MmluItem,
  shots: readonly MmluItem[],
  spec: PromptSpec,
  tokenize?: Tokenize,
): PromptRecord {
  const template = promptTemplate(spec);
  const text = renderPrompt(item, shots, spec);
  const record: PromptRecord = { itemId: item.id, template, text };
  if (tokenize) {
    record.letterTokenIds = letterTokenIds(template, tokenize);
    record.tokenCount = tokenize(text).length;
  }
  return record;
}

/** Renders prompts for many items with one template, checking the letter tokens once. */
export function buildPromptRecords(
  items: readonly MmluItem[],
  pool: ReadonlyMap<string, readonly MmluItem[]>,
  spec: PromptSpec,
  tokenize?: Tokenize,
): PromptRecord[] {
  const template = promptTemplate(spec);
  const ids = tokenize ? letterTokenIds(template, tokenize) : undefined;
  return items.map((item) => {
    const text = renderPrompt(item, fewshotItems(pool, item.subject, spec.kshot), spec);
    const record: PromptRecord = { itemId: item.id, template, text };
    if (tokenize) {
      record.letterTokenIds = [...ids!] as LetterVector;
      record.tokenCount = tokenize(text).length;
    }
    return record;
  });
}
