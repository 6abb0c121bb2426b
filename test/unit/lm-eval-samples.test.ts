import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { DataFileError } from '../../src/data/errors';
import { parseLmEvalSamples } from '../../src/data/lm-eval-samples';
import { thrownBy } from '../support/thrown';

const fixture = (name: string) => readFileSync(new URL(`../fixtures/lm-eval/${name}`, import.meta.url), 'utf8');

const errorOf = (fn: () => unknown) => thrownBy(DataFileError, fn);

describe('parseLmEvalSamples', () => {
  it('reads the current harness output: numbers and targets written as strings', () => {
    const name = 'samples_mmlu_college_physics_2024-05-01T12-00-00.123456.jsonl';
    expect(parseLmEvalSamples(fixture(name), name)).toEqual([
      { itemId: 'college_physics/test/0', label: 2, letterLogits: [-2.5, -1.25, -0.5, -3], subject: 'college_physics' },
      {
        itemId: 'college_physics/test/1',
        label: 0,
        letterLogits: [-0.25, -1.75, -2, -4.5],
        subject: 'college_physics',
      },
      { itemId: 'college_physics/test/2', label: 3, letterLogits: [-1, -1.5, -2.5, -1.25], subject: 'college_physics' },
    ]);
  });

  it('reads older output with plain numbers and booleans, a letter target, CRLF and blank lines', () => {
    const name = 'samples_mmlu_philosophy_2023-11-02T08-30-00.jsonl';
    expect(parseLmEvalSamples(fixture(name), name)).toEqual([
      { itemId: 'philosophy/test/7', label: 1, letterLogits: [-1.5, -0.75, -3.25, -2], subject: 'philosophy' },
      { itemId: 'philosophy/test/8', label: 2, letterLogits: [-1e-5, -12.5, -11, -13], subject: 'philosophy' },
    ]);
  });

  it('reads pairs nested one level deeper', () => {
    expect(parseLmEvalSamples(fixture('samples_mmlu_astronomy_nested.jsonl'), 'n.jsonl')).toEqual([
      { itemId: 'astronomy/test/3', label: 1, letterLogits: [-2, -0.125, -3, -4], subject: 'astronomy' },
    ]);
  });

  it('names items doc/<doc_id> when the doc carries no subject', () => {
    expect(parseLmEvalSamples(fixture('no-subject.jsonl'), 'ns.jsonl').map((i) => [i.itemId, i.subject])).toEqual([
      ['doc/0', undefined],
      ['doc/1', undefined],
    ]);
  });

  it.each([
    ['malformed-line.jsonl', /^malformed-line\.jsonl: line 2: malformed JSON line \(/],
    ['generative.jsonl', /^generative\.jsonl: line 2: filtered_resps: expected 4 choices, one per letter A-D, got 1$/],
    [
      'three-choices.jsonl',
      /^three-choices\.jsonl: line 2: filtered_resps: expected 4 choices, one per letter A-D, got 3$/,
    ],
    [
      'nan-loglikelihood.jsonl',
      /^nan-loglikelihood\.jsonl: line 2: filtered_resps\[1\]\[0\]: expected a finite number, got "nan"$/,
    ],
    [
      'inf-loglikelihood.jsonl',
      /^inf-loglikelihood\.jsonl: line 3: filtered_resps\[3\]\[0\]: expected a finite number, got "-inf" \(infinite\)$/,
    ],
    [
      'bad-target.jsonl',
      /^bad-target\.jsonl: line 2: target: unknown label "E"; expected an index 0-3 or a letter A-D$/,
    ],
    ['duplicate-doc.jsonl', /^duplicate-doc\.jsonl: line 3: duplicate item id "anatomy\/test\/0" \(first on line 1\)$/],
    ['missing-doc-id.jsonl', /^missing-doc-id\.jsonl: line 2: doc_id: missing; expected an integer doc_id$/],
    ['empty.jsonl', /^empty\.jsonl: empty file; expected lm-evaluation-harness samples, one JSON object per line$/],
    ['blank-lines.jsonl', /^blank-lines\.jsonl: empty file/],
  ])('refuses %s in one line naming the file, the line and the field', (name, message) => {
    const err = errorOf(() => parseLmEvalSamples(fixture(name), name));
    expect(err.name).toBe('DataFileError');
    expect(err.message).toMatch(message);
    expect(err.message).not.toContain('\n');
  });

  const sample = (fields: Record<string, unknown>) =>
    JSON.stringify({
      doc_id: 0,
      doc: { subject: 'anatomy' },
      target: '1',
      filtered_resps: [
        ['-1', 'False'],
        ['-0.5', 'True'],
        ['-2', 'False'],
        ['-3', 'False'],
      ],
      ...fields,
    });

  it.each([
    [
      { filtered_resps: ['A', 'B', 'C', 'D'] },
      'filtered_resps[0]: expected a [loglikelihood, is_greedy] pair, got "A" (a generated answer: only multiple_choice tasks log log-likelihoods)',
    ],
    [
      { filtered_resps: [['-1'], ['-1'], ['-1'], ['-1']] },
      'filtered_resps[0]: expected a [loglikelihood, is_greedy] pair, got ["-1"]',
    ],
    [
      {
        filtered_resps: [
          [null, false],
          [0, false],
          [0, false],
          [0, false],
        ],
      },
      'filtered_resps[0][0]: expected a log-likelihood (number or numeric string), got null',
    ],
    [{ target: 4 }, 'target: unknown label 4; expected an index 0-3 or a letter A-D'],
    [{ target: null }, 'target: expected an answer index 0-3 or a letter A-D, got null'],
    [{ doc_id: -1 }, 'doc_id: expected a doc_id >= 0, got -1'],
    [{ doc_id: '3' }, 'doc_id: expected number, got "3"'],
    [{ filtered_resps: undefined }, 'filtered_resps: missing; expected a filtered_resps field'],
  ])('refuses a line with %j', (fields, detail) => {
    expect(errorOf(() => parseLmEvalSamples(sample(fields) + '\n', 's.jsonl')).message).toBe(
      `s.jsonl: line 1: ${detail}`,
    );
  });

  it('refuses a line that is JSON but not an object', () => {
    expect(errorOf(() => parseLmEvalSamples('[1, 2]\n', 's.jsonl')).message).toBe(
      's.jsonl: line 1: expected a JSON object with doc_id, target and filtered_resps, got [1,2]',
    );
  });
});
