import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ResultsFileError } from '../../src/core/results-file';
import { DataFileError } from '../../src/data/errors';
import {
  inputKindOf,
  loadVariant,
  parseVariantSpec,
  variantsFromResultsFile,
  type InputFile,
} from '../../src/data/load-variant';

const file = (dir: string, name: string): InputFile => ({
  name,
  text: readFileSync(new URL(`../fixtures/${dir}/${name}`, import.meta.url), 'utf8'),
});
const physics = file('lm-eval', 'samples_mmlu_college_physics_2024-05-01T12-00-00.123456.jsonl');
const philosophy = file('lm-eval', 'samples_mmlu_philosophy_2023-11-02T08-30-00.jsonl');
const twoRuns = file('results', 'two-runs.json');

function messageOf(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    expect(err instanceof DataFileError || err instanceof ResultsFileError).toBe(true);
    return (err as Error).message;
  }
  throw new Error('expected an error, nothing was thrown');
}

describe('inputKindOf and parseVariantSpec', () => {
  it('tells the kind from the extension, in any case', () => {
    expect(inputKindOf('a/b/run.JSON')).toBe('results');
    expect(inputKindOf('samples_mmlu_x.jsonl')).toBe('lm-eval-samples');
    expect(inputKindOf('logits.Csv')).toBe('logits-csv');
    expect(messageOf(() => inputKindOf('scores.tsv'))).toBe(
      'scores.tsv: unknown kind of file; expected a results file (.json), lm-evaluation-harness samples (.jsonl) or a logits CSV (.csv)',
    );
  });

  it('splits NAME=PATH and NAME=PATH#RUN, keeping # and = inside other paths', () => {
    expect(parseVariantSpec('grpo=out/run.json')).toEqual({ name: 'grpo', path: 'out/run.json' });
    expect(parseVariantSpec('grpo=out/run.json#sim-grpo')).toEqual({
      name: 'grpo',
      path: 'out/run.json',
      run: 'sim-grpo',
    });
    expect(parseVariantSpec('a=dir#1/x=y.csv')).toEqual({ name: 'a', path: 'dir#1/x=y.csv' });
    expect(messageOf(() => parseVariantSpec('grpo'))).toBe(
      '--variant: expected NAME=PATH (or NAME=PATH#RUN for one run of a results file), got "grpo"',
    );
    expect(messageOf(() => parseVariantSpec('=x.csv'))).toMatch(/^--variant: expected NAME=PATH/);
  });
});

describe('loadVariant', () => {
  it('concatenates one lm-eval samples file per subject, in the order given', () => {
    const v = loadVariant('base', [{ file: physics }, { file: philosophy }]);
    expect(v.name).toBe('base');
    expect(v.simulated).toBe(false);
    expect(v.role).toBeUndefined();
    expect(v.items.map((i) => i.itemId)).toEqual([
      'college_physics/test/0',
      'college_physics/test/1',
      'college_physics/test/2',
      'philosophy/test/7',
      'philosophy/test/8',
    ]);
    expect(v.source).toBe(`${physics.name}, ${philosophy.name}`);
  });

  it('refuses files of one variant that share an item', () => {
    expect(
      messageOf(() => loadVariant('base', [{ file: physics }, { file: { ...physics, name: 'copy.jsonl' } }])),
    ).toBe(
      'copy.jsonl: duplicate item id "college_physics/test/0" (also in samples_mmlu_college_physics_2024-05-01T12-00-00.123456.jsonl); the files of variant "base" must not overlap',
    );
  });

  it('takes the only run of a results file, or the run a selector names, carrying simulated and role', () => {
    const one = JSON.parse(twoRuns.text);
    one.runs = [one.runs[1]];
    const single = loadVariant('g', [{ file: { name: 'one.json', text: JSON.stringify(one) } }]);
    expect([single.name, single.simulated, single.role, single.items.length]).toEqual(['g', true, 'grpo', 3]);
    for (const selector of ['grpo', 'sim-grpo']) {
      const picked = loadVariant('mine', [{ file: twoRuns, run: selector }]);
      expect([picked.name, picked.simulated, picked.role, picked.items[0].letterLogits]).toEqual([
        'mine',
        true,
        'grpo',
        [0, 0, 4, 0],
      ]);
    }
    expect(loadVariant('b', [{ file: twoRuns, run: 'qwen3-8b-base' }]).simulated).toBe(false);
  });

  it('refuses an ambiguous or unknown run of a results file', () => {
    expect(messageOf(() => loadVariant('x', [{ file: twoRuns }]))).toBe(
      'two-runs.json: holds 2 runs (base, grpo); pick one with NAME=PATH#RUN, or give the file without NAME= to analyse every run',
    );
    expect(messageOf(() => loadVariant('x', [{ file: twoRuns, run: 'sft' }]))).toBe(
      'two-runs.json: no run named "sft"; the runs are base, grpo',
    );
    expect(messageOf(() => loadVariant('x', [{ file: physics, run: 'sft' }]))).toMatch(
      /#sft selects a run of a results file/,
    );
  });

  it('marks a variant simulated when any of its files is', () => {
    const csv = { name: 'extra.csv', text: 'item_id,label,logit_A,logit_B,logit_C,logit_D\nq9,A,1,0,0,0\n' };
    const mixed = loadVariant('m', [{ file: twoRuns, run: 'grpo' }, { file: csv }]);
    expect(mixed.simulated).toBe(true);
    expect(mixed.role).toBeUndefined();
    expect(mixed.items).toHaveLength(4);
  });

  it("passes on the parsers' errors unchanged", () => {
    expect(messageOf(() => loadVariant('x', [{ file: file('logits', 'nan-logit.csv') }]))).toBe(
      'nan-logit.csv: line 3: logit_B: expected a finite number, got "nan"',
    );
    expect(messageOf(() => loadVariant('x', [{ file: file('results', 'empty-run.json') }]))).toMatch(
      /^empty-run\.json: runs\[1\]\.items: /,
    );
  });
});

describe('variantsFromResultsFile', () => {
  it('makes every run a variant, and refuses a bare CSV or samples file', () => {
    expect(variantsFromResultsFile(twoRuns).map((v) => [v.name, v.simulated])).toEqual([
      ['base', false],
      ['grpo', true],
    ]);
    expect(messageOf(() => variantsFromResultsFile(physics))).toBe(
      `${physics.name}: only results files (.json) can be given without a name; give CSV and lm-eval samples as --variant NAME=PATH`,
    );
  });
});
