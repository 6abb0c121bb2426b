import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { DataFileError } from '../../src/data/errors';
import { parseLogitsCsv, parseLogitsCsvRuns } from '../../src/data/logits-csv';
import { thrownBy } from '../support/thrown';

const fixture = (name: string) => readFileSync(new URL(`../fixtures/logits/${name}`, import.meta.url), 'utf8');

const errorOf = (fn: () => unknown) => thrownBy(DataFileError, fn);

describe('parseLogitsCsv', () => {
  it('reads letters and indices as labels, decimal forms, quoted ids, blank lines and an empty subject', () => {
    expect(parseLogitsCsv(fixture('good.csv'), 'good.csv')).toEqual([
      { itemId: 'college_physics/test/0', label: 2, letterLogits: [1.5, 0.25, 3, -1], subject: 'college_physics' },
      { itemId: 'college_physics/test/1', label: 0, letterLogits: [2, 1, 0, -0.5], subject: 'college_physics' },
      { itemId: 'philosophy/test/7', label: 3, letterLogits: [0, 0, 0, 0], subject: 'philosophy' },
      { itemId: 'astronomy/test/3', label: 1, letterLogits: [-0.25, 10, 0.5, -7] },
    ]);
  });

  it('matches columns by name in any order and case, with a BOM, CRLF, domain, letter_mass and extra columns', () => {
    expect(parseLogitsCsv(fixture('reordered-crlf.csv'), 'r.csv')).toEqual([
      { itemId: 'q1', label: 2, letterLogits: [1.5, 0.25, 3, -1], domain: 'stem', letterMass: 0.93 },
      { itemId: 'q2', label: 0, letterLogits: [2, 1, 0, -0.5] },
    ]);
  });

  it('detects a semicolon-separated file', () => {
    const text = 'item_id;label;logit_A;logit_B;logit_C;logit_D\nq1;B;0;1;0;0\n';
    expect(parseLogitsCsv(text, 's.csv')).toEqual([{ itemId: 'q1', label: 1, letterLogits: [0, 1, 0, 0] }]);
  });

  it('counts lines as an editor does when a quoted field spans lines', () => {
    const text = 'item_id,label,logit_A,logit_B,logit_C,logit_D,subject\n"q\n1",A,1,2,3,4,x\nq2,Z,1,2,3,4,x\n';
    expect(errorOf(() => parseLogitsCsv(text, 'm.csv')).message).toBe(
      'm.csv: line 4: label: unknown label "Z"; expected a letter A-D or an index 0-3',
    );
  });

  it.each([
    ['bad-label.csv', 'bad-label.csv: line 3: label: unknown label "E"; expected a letter A-D or an index 0-3'],
    ['bad-columns.csv', 'bad-columns.csv: line 3: expected 6 fields as in the header, got 5'],
    ['nan-logit.csv', 'nan-logit.csv: line 3: logit_B: expected a finite number, got "nan"'],
    ['inf-logit.csv', 'inf-logit.csv: line 3: logit_D: expected a finite number, got "1e999" (infinite)'],
    ['duplicate-id.csv', 'duplicate-id.csv: line 4: duplicate item id "q1" (first on line 2)'],
    ['header-only.csv', 'header-only.csv: no items: the header is not followed by any row'],
    ['empty.csv', 'empty.csv: empty file; expected a header row item_id,label,logit_A,logit_B,logit_C,logit_D'],
    [
      'bad-header.csv',
      'bad-header.csv: line 1: header lacks item_id, logit_D; expected columns item_id,label,logit_A,logit_B,logit_C,logit_D (optional: subject, domain, letter_mass)',
    ],
  ])('refuses %s in one line naming the file, the line and what was expected', (name, message) => {
    const err = errorOf(() => parseLogitsCsv(fixture(name), name));
    expect(err.name).toBe('DataFileError');
    expect(err.message).toBe(message);
  });

  it.each([
    ['inf', 'logit_A: expected a finite number, got "inf" (infinite)'],
    ['-Infinity', 'logit_A: expected a finite number, got "-Infinity" (infinite)'],
    ['', 'logit_A: expected a finite number, got an empty value'],
    ['0x10', 'logit_A: expected a finite number, got "0x10"'],
    ['1,5', 'expected 6 fields as in the header, got 7'],
  ])('refuses the logit %j', (cell, detail) => {
    const text = `item_id,label,logit_A,logit_B,logit_C,logit_D\nq1,A,${cell},0,0,0\n`;
    expect(errorOf(() => parseLogitsCsv(text, 'c.csv')).message).toBe(`c.csv: line 2: ${detail}`);
  });

  it.each([
    ['4', 'label: unknown label "4"; expected a letter A-D or an index 0-3'],
    ['AB', 'label: unknown label "AB"; expected a letter A-D or an index 0-3'],
    ['', 'label: unknown label ""; expected a letter A-D or an index 0-3'],
  ])('refuses the label %j', (cell, detail) => {
    const text = `item_id,label,logit_A,logit_B,logit_C,logit_D\nq1,${cell},0,0,0,0\n`;
    expect(errorOf(() => parseLogitsCsv(text, 'c.csv')).message).toBe(`c.csv: line 2: ${detail}`);
  });

  it('refuses an empty item id, a letter mass outside [0, 1], a repeated column and an unterminated quote', () => {
    const head = 'item_id,label,logit_A,logit_B,logit_C,logit_D,letter_mass\n';
    expect(errorOf(() => parseLogitsCsv(`${head} ,A,0,0,0,0,\n`, 'c.csv')).message).toBe(
      'c.csv: line 2: item_id: expected a non-empty item id',
    );
    expect(errorOf(() => parseLogitsCsv(`${head}q,A,0,0,0,0,1.2\n`, 'c.csv')).message).toBe(
      'c.csv: line 2: letter_mass: expected a probability in [0, 1], got 1.2',
    );
    expect(
      errorOf(() => parseLogitsCsv('item_id,label,logit_A,logit_B,logit_C,logit_D,LABEL\n', 'c.csv')).message,
    ).toBe('c.csv: line 1: column "LABEL" appears twice in the header');
    const unterminated = errorOf(() => parseLogitsCsv(`${head}q,A,0,0,0,0,0.5\n"q2,B,0,0,0,0,0.5\n`, 'c.csv'));
    expect(unterminated.message).toMatch(/^c\.csv: line 3: quoted field unterminated/);
    expect(unterminated.line).toBe(3);
  });

  describe('provenance columns', () => {
    const head = 'item_id,label,logit_A,logit_B,Logit_C,logit_D,Variant,variant_key,role,simulated,engine,prompt_key\n';
    const row = (id: string, rest: string) => `${id},A,1,0,0,0,${rest}\n`;

    it('groups rows into runs by variant key and prompt key, with what the columns say', () => {
      const text =
        head +
        row('q1', 'Base,base-key,base,no,webllm,p1') +
        row('q1', 'Base,base-key,base,no,webllm,p2') +
        row('q2', 'Base,base-key,base,no,webllm,p1') +
        row('q1', 'Sim,,other,SIMULATED,simulated,');
      const runs = parseLogitsCsvRuns(text, 'r.csv');
      expect(runs.map(({ items, ...r }) => ({ ...r, ids: items.map((i) => i.itemId) }))).toEqual([
        {
          variant: 'Base',
          variantKey: 'base-key',
          role: 'base',
          engine: 'webllm',
          promptKey: 'p1',
          simulated: false,
          lines: [2, 4],
          ids: ['q1', 'q2'],
        },
        {
          variant: 'Base',
          variantKey: 'base-key',
          role: 'base',
          engine: 'webllm',
          promptKey: 'p2',
          simulated: false,
          lines: [3],
          ids: ['q1'],
        },
        { variant: 'Sim', role: 'other', engine: 'simulated', simulated: true, lines: [5], ids: ['q1'] },
      ]);
      expect(errorOf(() => parseLogitsCsv(text, 'r.csv')).message).toBe(
        "r.csv: holds the rows of 3 runs (Base, Base, Sim); import it into the app, which keeps each run, or keep one run's rows",
      );
    });

    it.each([
      ['Base,k,boss,no,webllm,p', 'role: expected one of base, sft, grpo, other, quantisation, got "boss"'],
      ['Base,k,base,no,gpu,p', 'engine: expected one of webllm, simulated, imported, got "gpu"'],
      ['Base,k,base,maybe,webllm,p', 'simulated: expected SIMULATED or no, got "maybe"'],
      [
        'Base,k,base,no,simulated,p',
        'simulated: expected SIMULATED for a row of the simulated engine (simulated scores are always labelled)',
      ],
      [
        'Base,k,sft,no,webllm,p',
        'variant, role and engine must be the same on every row of a run; this row differs from line 2',
      ],
    ])('refuses a second row of %j in one line naming what was expected', (cells, detail) => {
      const text = head + row('q1', 'Base,k,base,no,webllm,p') + row('q2', cells);
      expect(errorOf(() => parseLogitsCsvRuns(text, 'r.csv')).message).toBe(`r.csv: line 3: ${detail}`);
    });
  });
});
