// The real MMLU CSVs (../shared/data/mmlu or $MMLU_DIR). Absent data fails these tests with a message;
// .ci/run also checks it is present, so they never silently skip.
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  MMLU_SUBCATEGORIES,
  MMLU_SUBJECTS,
  MMLU_SUBJECT_SUBCATEGORY,
  drawSample,
  presetDomains,
  resolveManifest,
  subjectCategory,
} from '../../src/core/mmlu';
import { parseItemManifest, serializeItemManifest } from '../../src/core/manifest-file';
import type { MmluItem, MmluSplit } from '../../src/core/types';
import { findMmluFiles, loadMmluFolder, mmluDataDir } from '../../scripts/mmlu-folder';

const DIR = mmluDataDir();
let loaded: MmluItem[] = [];

function requireData(): void {
  if (!existsSync(path.join(DIR, 'categories.json')) || !existsSync(path.join(DIR, 'data', 'test'))) {
    throw new Error(
      `MMLU data not found at ${DIR} (expected categories.json and data/{dev,val,test}/); set MMLU_DIR to its folder`,
    );
  }
}

let loadError: Error | undefined;
beforeAll(async () => {
  try {
    requireData();
    loaded = await loadMmluFolder(DIR);
  } catch (e) {
    loadError = e as Error;
  }
}, 60_000);

/** The loaded items; every test starts here, so missing data fails each test with the reason. */
function data(): MmluItem[] {
  if (loadError) throw loadError;
  return loaded;
}

const ofSplit = (split: MmluSplit) => data().filter((i) => i.split === split);

describe('the real MMLU CSVs', () => {
  it('reads 171 files: 285 dev, 1,531 val and 14,042 test rows', () => {
    data();
    expect(findMmluFiles(DIR).csv).toHaveLength(171);
    expect([ofSplit('dev').length, ofSplit('val').length, ofSplit('test').length]).toEqual([285, 1531, 14042]);
    expect(new Set(data().map((i) => i.id)).size).toBe(data().length);
  });

  it('matches the per-subject row counts of SOURCE.md', () => {
    data();
    const table = readFileSync(path.join(DIR, 'SOURCE.md'), 'utf8')
      .split('\n')
      .map((l) => l.split('|').map((c) => c.trim()))
      .filter((c) => c.length === 8 && MMLU_SUBJECTS.includes(c[1]));
    expect(table).toHaveLength(57);
    for (const [, subject, , , dev, val, test] of table) {
      const n = (split: MmluSplit) => data().filter((i) => i.subject === subject && i.split === split).length;
      expect([n('dev'), n('val'), n('test')], subject).toEqual([Number(dev), Number(val), Number(test)]);
    }
  });

  it('keeps every field exactly as Python csv reads it (per-split hashes from oracle/corpus_hash.py)', () => {
    // Computed by test/fixtures/mmlu/oracle/corpus_hash.py with Python's csv module, independently of this code.
    const expected: Record<MmluSplit, string> = {
      dev: '6bb1b4bce85dc7568870a49f94939fdc7f7dc6daf07436f6fdbad739474cde62',
      val: '921d7bac912716c2bdceac2448cda15ec3adbcf4ffeeb1567dba53f47e67a981',
      test: '64d873b48a0d83218bdc0da8eee4b846345729ff462c2f81338d403b700c7418',
    };
    for (const split of ['dev', 'val', 'test'] as const) {
      const rows = ofSplit(split).map((i) => [i.id, i.question, ...i.choices, i.answer]);
      expect(createHash('sha256').update(JSON.stringify(rows), 'utf8').digest('hex'), split).toBe(expected[split]);
    }
  });

  it('has the quoted-newline rows and answer counts SOURCE.md lists', () => {
    const multiline = (split: MmluSplit) =>
      ofSplit(split).filter((i) => [i.question, ...i.choices].some((f) => /[\r\n]/.test(f))).length;
    expect([multiline('dev'), multiline('val'), multiline('test')]).toEqual([32, 126, 1127]);
    const answers = (split: MmluSplit) => [0, 1, 2, 3].map((a) => ofSplit(split).filter((i) => i.answer === a).length);
    expect(answers('dev')).toEqual([67, 69, 71, 78]);
    expect(answers('val')).toEqual([381, 379, 387, 384]);
    expect(answers('test')).toEqual([3222, 3462, 3582, 3776]);
  });

  it('keeps the 4 CRLFs inside quoted fields, and no other CR', () => {
    const withCr = data().flatMap((i) => [i.question, ...i.choices].filter((f) => f.includes('\r')).map(() => i));
    expect(withCr).toHaveLength(4);
    expect([...new Set(withCr.map((i) => `${i.subject}_${i.split}`))].sort()).toEqual([
      'college_mathematics_dev',
      'college_mathematics_val',
      'college_physics_val',
    ]);
    for (const i of withCr) expect([i.question, ...i.choices].join('').replace(/\r\n/g, '')).not.toMatch(/\r/);
  });

  it('keeps the 12 choices that are literally None, numbers as written, and non-ASCII text', () => {
    const none = data().filter((i) => i.choices.includes('None'));
    expect(none).toHaveLength(12);
    expect(none.filter((i) => i.split === 'test')).toHaveLength(10);
    expect([...new Set(none.filter((i) => i.split === 'test').map((i) => i.subject))].sort()).toEqual([
      'college_computer_science',
      'college_mathematics',
      'college_physics',
      'electrical_engineering',
    ]);
    expect(
      none
        .filter((i) => i.split === 'val')
        .map((i) => i.subject)
        .sort(),
    ).toEqual(['conceptual_physics', 'electrical_engineering']);
    const choices = data().flatMap((i) => i.choices);
    expect(choices.every((c) => typeof c === 'string')).toBe(true);
    // Numeric coercion would turn these into 0.4 and 0.46.
    expect(choices).toContain('0.40');
    expect(choices).toContain('0.460');
    const nonAsciiFiles = new Set(
      data()
        .filter((i) => /[^\p{ASCII}]/u.test(i.question + i.choices.join('')))
        .map((i) => `${i.subject}/${i.split}`),
    );
    expect(nonAsciiFiles.size).toBe(103);
  });
});

describe('the subject map', () => {
  it('equals categories.json', () => {
    data();
    const json = JSON.parse(readFileSync(path.join(DIR, 'categories.json'), 'utf8'));
    const subcategoryOf = Object.fromEntries(
      Object.entries(json.subcategories as Record<string, string[]>).map(([s, [sub]]) => [s, sub]),
    );
    expect(MMLU_SUBJECT_SUBCATEGORY).toEqual(subcategoryOf);
    expect(MMLU_SUBJECT_SUBCATEGORY).toEqual(json.subject_to_subcategory);
    const categories = json.categories as Record<string, string[]>;
    expect(Object.keys(MMLU_SUBCATEGORIES).sort()).toEqual(Object.values(categories).flat().sort());
    for (const [category, subs] of Object.entries(categories))
      for (const sub of subs) expect(MMLU_SUBCATEGORIES[sub]).toBe(category);
    for (const s of MMLU_SUBJECTS) expect(subjectCategory(s)).toBe(json.subject_to_category[s]);
  });

  it('gives the test items per category of SOURCE.md, and the five domains their sizes', () => {
    const count = (f: (i: MmluItem) => boolean) => ofSplit('test').filter(f).length;
    expect(
      ['STEM', 'humanities', 'social sciences', 'other (business, health, misc.)'].map((c) =>
        count((i) => subjectCategory(i.subject) === c),
      ),
    ).toEqual([3018, 4705, 3077, 3242]);
    // Health + Business & other = the 3,242 of the fourth category.
    const [, , , health, business] = presetDomains('five-domains');
    expect(
      count((i) => health.subjects.includes(i.subject)) + count((i) => business.subjects.includes(i.subject)),
    ).toBe(3242);
  });
});

describe('the default sample', () => {
  it('is 5 x 200 test items, identical on every run, with the hash the Python oracle computes', async () => {
    const a = drawSample(data()).manifest;
    const b = drawSample(await loadMmluFolder(DIR, ['test'])).manifest;
    expect(b).toEqual(a);
    expect(a.items).toHaveLength(1000);
    expect(a.perDomain).toEqual({
      STEM: 200,
      Humanities: 200,
      'Social sciences': 200,
      Health: 200,
      'Business & other': 200,
    });
    expect(a.preset).toBe('five-domains');
    expect(a.seed).toBe(0);
    // From test/fixtures/mmlu/oracle/sample_manifest.py, a Python reimplementation of the documented algorithm.
    expect(a.hash).toBe('6a50e305b20c2e7233d9da4de7fcfd27e6b7981e7af46a4f4e18b57b4b523100');
    expect(resolveManifest(parseItemManifest(serializeItemManifest(a)), data()).ok).toBe(true);
  });

  it('a domain asked for more than it has says how many it has', () => {
    expect(() => drawSample(data(), { perDomain: 1603 })).toThrow(
      'domain "Business & other" has 1602 test items loaded; cannot draw 1603',
    );
  });
});
