import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { MmluDataError, parseMmluCsv, parseMmluCsvFiles, parseMmluCsvName } from '../../src/data/mmlu-csv';
import { loadMmluFolder } from '../../scripts/mmlu-folder';

const FIXTURES = path.resolve(__dirname, '../fixtures/mmlu');
const fixture = (rel: string) => readFileSync(path.join(FIXTURES, rel), 'utf8');

describe('parseMmluCsvName', () => {
  it('takes subject and split from <subject>_<split>.csv, ignoring folders', () => {
    expect(parseMmluCsvName('data/val/high_school_us_history_val.csv')).toEqual({
      subject: 'high_school_us_history',
      split: 'val',
    });
    expect(parseMmluCsvName('C:\\mmlu\\test\\anatomy_test.csv')).toEqual({ subject: 'anatomy', split: 'test' });
    expect(parseMmluCsvName('anatomy_validation.csv')).toBeUndefined();
    expect(parseMmluCsvName('astrology_test.csv')).toBeUndefined();
    expect(parseMmluCsvName('anatomy_test.tsv')).toBeUndefined();
  });
});

describe('the parsing pitfalls, on hand-written fixtures', () => {
  it('keeps quoted LF and CRLF, "" escapes, None, numbers and non-ASCII exactly; no final newline', () => {
    const text = fixture('data/test/college_physics_test.csv');
    expect(text.endsWith('C')).toBe(true); // the fixture really has no final newline
    const items = parseMmluCsv(text, { fileName: 'college_physics_test.csv' });
    expect(items.map((i) => i.id)).toEqual([0, 1, 2, 3].map((r) => `college_physics/test/${r}`));
    expect(items[0]).toEqual({
      id: 'college_physics/test/0',
      subject: 'college_physics',
      split: 'test',
      row: 0,
      question: 'A ball is thrown straight up.\nWhat is its acceleration at the top?',
      choices: ['0', '9.8 m/s^2 downward', 'None', 'It depends on "g"'],
      answer: 1,
    });
    expect(items[1].question).toBe('Line one\r\nline two');
    expect(items[1].choices).toEqual(['1', '2', '3', '4']);
    expect(items[1].answer).toBe(3);
    expect(items[2].choices).toEqual(['ω', 'λ', 'μ', 'Ω']);
    expect(items[3].question).toBe('  A padded question?  ');
    expect(items[3].answer).toBe(2);
  });

  it('reads CRLF records with a final CRLF, keeping an LF inside quotes', () => {
    const text = fixture('data/test/anatomy_test.csv');
    expect(text.endsWith('\r\n')).toBe(true);
    const items = parseMmluCsv(text, { fileName: 'data/test/anatomy_test.csv' });
    expect(items).toHaveLength(3);
    expect(items[0].choices).toEqual(['Femur', 'Ulna', 'Radius', 'Tibia']);
    expect(items[0].answer).toBe(0);
    expect(items[1].question).toBe('How many chambers, in all, does the human heart have?');
    expect(items[2].question).toBe('Which of these is\na muscle?');
    expect(items.every((i) => i.choices.every((c) => !c.includes('\r')))).toBe(true);
  });

  it('gives the same items for the LF and the CRLF form of a file', () => {
    const lf = 'Q1?,a,b,c,d,A\n"Q2\nmore",e,f,g,h,B\n';
    const crlf = 'Q1?,a,b,c,d,A\r\n"Q2\nmore",e,f,g,h,B\r\n';
    expect(parseMmluCsv(crlf, { fileName: 'anatomy_dev.csv' })).toEqual(
      parseMmluCsv(lf, { fileName: 'anatomy_dev.csv' }),
    );
  });

  it('drops a BOM, skips blank lines, and tolerates a CRLF record in an LF file', () => {
    const items = parseMmluCsv('\uFEFFQ1?,a,b,c,d,A\n\nQ2?,e,f,g,h,B\r\nQ3?,i,j,k,l,C\n', {
      fileName: 'anatomy_dev.csv',
    });
    expect(items.map((i) => [i.row, i.question, i.answer])).toEqual([
      [0, 'Q1?', 0],
      [1, 'Q2?', 1],
      [2, 'Q3?', 2],
    ]);
  });

  it('names the file, record and line of a bad record', () => {
    const at = (text: string) => () => parseMmluCsv(text, { fileName: 'anatomy_test.csv' });
    expect(at('Q1?,a,b,c,d,A\n"Two\nlines",a,b,c,d,A\nQ3?,a,b,c,E\n')).toThrow(
      'anatomy_test.csv, record 3 (line 4): expected six fields (question, A, B, C, D, answer), got 5',
    );
    expect(at('Q1?,a,b,c,d,A\nQ2?,a,b,c,d,a\n')).toThrow(
      'anatomy_test.csv, record 2 (line 2) field 6 (answer): expected an answer letter A, B, C or D, got "a"',
    );
    expect(at('Q1?,a,b,c,d,A\n"Q2?,a,b,c,d,A\n')).toThrow(
      /anatomy_test\.csv, record 2 \(line 2\): Quoted field unterminated/,
    );
    expect(at('question,A,B,C,D,answer\n')).toThrow('got "answer"');
    expect(at('')).toThrow('anatomy_test.csv: no records');
    expect(() => parseMmluCsv('Q,a,b,c,d,A', { fileName: 'notes.csv' })).toThrow('notes.csv: not an MMLU CSV name');
    try {
      at('Q,a,b,c,d,Z')();
    } catch (e) {
      expect(e).toBeInstanceOf(MmluDataError);
      expect((e as Error).name).toBe('MmluDataError');
    }
  });

  it('parseMmluCsvFiles ignores other files, orders items canonically and refuses a file read twice', () => {
    const files = [
      { name: 'x/test/anatomy_test.csv', text: 'T0?,a,b,c,d,A\n' },
      { name: 'README.txt', text: 'not a csv' },
      { name: 'x/dev/anatomy_dev.csv', text: 'D0?,a,b,c,d,B\nD1?,a,b,c,d,C' },
    ];
    expect(parseMmluCsvFiles(files).map((i) => i.id)).toEqual(['anatomy/dev/0', 'anatomy/dev/1', 'anatomy/test/0']);
    expect(() => parseMmluCsvFiles([...files, { name: 'y/anatomy_test.csv', text: 'T?,a,b,c,d,A' }])).toThrow(
      'y/anatomy_test.csv: anatomy/test was already read from x/test/anatomy_test.csv',
    );
  });
});

describe('loadMmluFolder on the fixture folder', () => {
  it('finds data/{dev,val,test} below the folder, or the data folder itself', async () => {
    const fromRoot = await loadMmluFolder(FIXTURES);
    const fromData = await loadMmluFolder(path.join(FIXTURES, 'data'));
    expect(fromData).toEqual(fromRoot);
    const count = (split: string) => fromRoot.filter((i) => i.split === split).length;
    expect([count('dev'), count('val'), count('test')]).toEqual([10, 2, 7]);
    expect((await loadMmluFolder(FIXTURES, ['val'])).map((i) => i.id)).toEqual(['anatomy/val/0', 'anatomy/val/1']);
  });

  it('says when a folder has no MMLU files or does not exist', async () => {
    await expect(loadMmluFolder(path.join(FIXTURES, '..'), ['val']).then((x) => x.length)).resolves.toBe(2);
    await expect(loadMmluFolder(path.join(FIXTURES, 'nope'))).rejects.toThrow('no such folder');
    await expect(loadMmluFolder(path.resolve(__dirname))).rejects.toThrow('no MMLU files found');
  });
});
