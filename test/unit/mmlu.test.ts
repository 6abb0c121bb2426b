import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  DOMAIN_PRESETS,
  MMLU_SUBJECTS,
  MmluSampleError,
  buildManifest,
  canonicalJson,
  checkDomains,
  describeManifestCheck,
  drawSample,
  itemContentHash,
  manifestHash,
  mmluItemId,
  parseMmluItemId,
  presetDomains,
  resolveManifest,
  sampleDomains,
  subjectCategory,
} from '../../src/core/mmlu';
import { ManifestError, parseItemManifest, serializeItemManifest } from '../../src/core/manifest-file';
import { Rng, deriveSeed } from '../../src/core/random';
import type { DomainDef, MmluItem, MmluSplit } from '../../src/core/types';

function item(subject: string, split: MmluSplit, row: number, answer = 0): MmluItem {
  return {
    id: `${subject}/${split}/${row}`,
    subject,
    split,
    row,
    question: `${subject} question ${row}?`,
    choices: [`a${row}`, `b${row}`, `c${row}`, `d${row}`],
    answer,
  };
}

function items(subject: string, n: number, split: MmluSplit = 'test'): MmluItem[] {
  return Array.from({ length: n }, (_, row) => item(subject, split, row, row % 4));
}

const sha = (s: string) => createHash('sha256').update(s, 'utf8').digest('hex');

describe('subjects and presets', () => {
  it('has 57 subjects in 4 categories with 18 / 13 / 12 / 14 subjects', () => {
    expect(MMLU_SUBJECTS).toHaveLength(57);
    const count = (c: string) => MMLU_SUBJECTS.filter((s) => subjectCategory(s) === c).length;
    expect([
      count('STEM'),
      count('humanities'),
      count('social sciences'),
      count('other (business, health, misc.)'),
    ]).toEqual([18, 13, 12, 14]);
    expect(subjectCategory('virology')).toBe('other (business, health, misc.)');
    expect(() => subjectCategory('astrology')).toThrow(MmluSampleError);
  });

  it('five-domains splits the fourth category into Health (8 subjects) and Business & other (6)', () => {
    const d = presetDomains('five-domains');
    expect(d.map((x) => x.name)).toEqual(['STEM', 'Humanities', 'Social sciences', 'Health', 'Business & other']);
    expect(d.map((x) => x.subjects.length)).toEqual([18, 13, 12, 8, 6]);
    expect(d[4].subjects).toEqual([
      'business_ethics',
      'global_facts',
      'management',
      'marketing',
      'miscellaneous',
      'professional_accounting',
    ]);
    expect(d[3].subjects).toContain('virology');
    expect(d[3].subjects).not.toContain('marketing');
    // Every subject exactly once.
    expect(d.flatMap((x) => x.subjects).sort()).toEqual([...MMLU_SUBJECTS]);
  });

  it('every preset covers each subject once', () => {
    for (const p of Object.values(DOMAIN_PRESETS)) {
      expect(p.domains.flatMap((x) => x.subjects).sort()).toEqual([...MMLU_SUBJECTS]);
      expect(() => checkDomains(p.domains)).not.toThrow();
    }
    expect(DOMAIN_PRESETS.subcategories.domains).toHaveLength(17);
    expect(() => presetDomains('nine-domains')).toThrow(
      /unknown domain preset "nine-domains" \(presets: five-domains, categories/,
    );
  });

  it('presetDomains returns a copy the caller may change', () => {
    presetDomains('five-domains')[0].subjects.push('x');
    expect(presetDomains('five-domains')[0].subjects).not.toContain('x');
  });

  it('checkDomains refuses empty, duplicate, unknown and overlapping definitions', () => {
    expect(() => checkDomains([])).toThrow('no domains given');
    expect(() => checkDomains([{ name: ' ', subjects: ['anatomy'] }])).toThrow('empty name');
    expect(() => checkDomains([{ name: 'A', subjects: [] }])).toThrow('domain "A" has no subjects');
    expect(() =>
      checkDomains([
        { name: 'A', subjects: ['anatomy'] },
        { name: 'A', subjects: ['virology'] },
      ]),
    ).toThrow('defined twice');
    expect(() => checkDomains([{ name: 'A', subjects: ['anatomyy'] }])).toThrow(
      'domain "A": unknown MMLU subject "anatomyy"',
    );
    expect(() =>
      checkDomains([
        { name: 'A', subjects: ['anatomy'] },
        { name: 'B', subjects: ['virology', 'anatomy'] },
      ]),
    ).toThrow('subject "anatomy" is in two domains ("A" and "B")');
    expect(checkDomains([{ name: 'A', subjects: ['virology', 'anatomy'] }])).toEqual([
      { name: 'A', subjects: ['anatomy', 'virology'] },
    ]);
  });
});

describe('item ids and hashes', () => {
  it('formats and parses <subject>/<split>/<row>', () => {
    expect(mmluItemId('college_physics', 'val', 12)).toBe('college_physics/val/12');
    expect(parseMmluItemId('college_physics/val/12')).toEqual({ subject: 'college_physics', split: 'val', row: 12 });
    for (const bad of [
      'college_physics/validation/1',
      'college_physics/test/01',
      'astrology/test/1',
      'anatomy/test/-1',
      'anatomy/test',
    ]) {
      expect(() => parseMmluItemId(bad), bad).toThrow(MmluSampleError);
    }
  });

  it('hashes the compact JSON array [question, A, B, C, D, answer]', () => {
    const it0: MmluItem = {
      ...item('anatomy', 'test', 0),
      question: 'Q "1"\r\nß?',
      choices: ['None', '0', 'b', 'é'],
      answer: 2,
    };
    expect(itemContentHash(it0)).toBe(sha('["Q \\"1\\"\\r\\nß?","None","0","b","é",2]'));
    // The id, subject and split are not content: the same question elsewhere hashes alike.
    expect(
      itemContentHash({ ...it0, id: 'virology/val/9', subject: 'virology', split: 'val', row: 9 } as MmluItem),
    ).toBe(itemContentHash(it0));
    expect(itemContentHash({ ...it0, answer: 3 })).not.toBe(itemContentHash(it0));
    expect(itemContentHash({ ...it0, question: ` ${it0.question}` })).not.toBe(itemContentHash(it0));
  });

  it('canonicalJson sorts keys, drops undefined, and writes no whitespace', () => {
    expect(canonicalJson({ b: 1, a: [1, 'x'], c: { e: null, d: true }, u: undefined })).toBe(
      '{"a":[1,"x"],"b":1,"c":{"d":true,"e":null}}',
    );
    expect(canonicalJson({ B: 0, a: 0, _: 0 })).toBe('{"B":0,"_":0,"a":0}');
    expect(() => canonicalJson({ x: Number.NaN })).toThrow(TypeError);
  });
});

describe('sampleDomains', () => {
  const X: DomainDef = { name: 'X', subjects: ['anatomy', 'virology'] };
  const Y: DomainDef = { name: 'Y', subjects: ['marketing'] };
  const pool = [
    ...items('virology', 3),
    ...items('anatomy', 4),
    ...items('marketing', 6),
    ...items('anatomy', 5, 'dev'),
  ];

  it('is a partial Fisher-Yates over the canonical pool with rng = Rng(deriveSeed(seed, name))', () => {
    // By hand, following the documented steps for domain X (anatomy 0..3 then virology 0..2), k = 3, seed 7.
    const canonical = [...items('anatomy', 4), ...items('virology', 3)].map((i) => i.id);
    const rng = new Rng(deriveSeed(7, 'X'));
    for (let i = 0; i < 3; i++) {
      const j = i + rng.nextInt(canonical.length - i);
      [canonical[i], canonical[j]] = [canonical[j], canonical[i]];
    }
    const expected = canonical.slice(0, 3).sort((a, b) => {
      const [sa, , ra] = a.split('/');
      const [sb, , rb] = b.split('/');
      return sa < sb ? -1 : sa > sb ? 1 : Number(ra) - Number(rb);
    });
    const got = sampleDomains(pool, [X], { perDomain: 3, seed: 7 });
    expect(got.map((s) => s.item.id)).toEqual(expected);
    expect(got.every((s) => s.domain === 'X')).toBe(true);
  });

  it('does not depend on the order items are given in', () => {
    const a = sampleDomains(pool, [X, Y], { perDomain: 3, seed: 11 });
    const b = sampleDomains([...pool].reverse(), [X, Y], { perDomain: 3, seed: 11 });
    expect(b).toEqual(a);
  });

  it('draws only from the requested split and the domain subjects', () => {
    const got = sampleDomains(pool, [{ name: 'D', subjects: ['anatomy'] }], { perDomain: 5, split: 'dev' });
    expect(got.map((s) => s.item.id).sort()).toEqual(
      items('anatomy', 5, 'dev')
        .map((i) => i.id)
        .sort(),
    );
  });

  it('k = n returns the whole domain in canonical order and k = 0 nothing', () => {
    expect(sampleDomains(pool, [Y], { perDomain: 6 }).map((s) => s.item.row)).toEqual([0, 1, 2, 3, 4, 5]);
    expect(sampleDomains(pool, [Y], { perDomain: 0 })).toEqual([]);
  });

  it('asking for more than a domain has names the domain and its size', () => {
    expect(() => sampleDomains(pool, [X, Y], { perDomain: 7 })).toThrow(
      'domain "Y" has 6 test items loaded; cannot draw 7 without replacement',
    );
    expect(() => sampleDomains(pool, [Y], { perDomain: { Y: 2, X: 1 } })).not.toThrow();
    expect(() => sampleDomains(pool, [X, Y], { perDomain: { Y: 2 } })).toThrow('no item count given for domain "X"');
    expect(() => sampleDomains(pool, [Y], { perDomain: 1.5 })).toThrow('whole number');
  });

  it('refuses seeds outside [0, 2^32) and items loaded twice', () => {
    expect(() => sampleDomains(pool, [Y], { perDomain: 1, seed: -1 })).toThrow('seed must be an integer');
    expect(() => sampleDomains(pool, [Y], { perDomain: 1, seed: 2 ** 32 })).toThrow('seed must be an integer');
    expect(() => sampleDomains(pool, [Y], { perDomain: 1, seed: 0.5 })).toThrow('seed must be an integer');
    expect(() => sampleDomains([...pool, item('marketing', 'test', 2)], [Y], { perDomain: 1 })).toThrow(
      'marketing/test/2 is loaded twice',
    );
  });

  it("a domain's draw depends only on the seed and its name", () => {
    const both = sampleDomains(pool, [X, Y], { perDomain: { X: 2, Y: 4 }, seed: 5 });
    const yAlone = sampleDomains(pool, [Y], { perDomain: 4, seed: 5 });
    expect(both.filter((s) => s.domain === 'Y')).toEqual(yAlone);
    const renamed = sampleDomains(pool, [{ ...Y, name: 'Z' }], { perDomain: 4, seed: 5 });
    expect(renamed.map((s) => s.item.id)).not.toEqual(yAlone.map((s) => s.item.id));
  });

  it('a smaller draw is a subset of a larger one with the same seed', () => {
    for (let seed = 0; seed < 20; seed++) {
      const small = new Set(sampleDomains(pool, [Y], { perDomain: 2, seed }).map((s) => s.item.id));
      const large = new Set(sampleDomains(pool, [Y], { perDomain: 4, seed }).map((s) => s.item.id));
      for (const id of small) expect(large.has(id)).toBe(true);
    }
  });

  it('includes each item with probability k/n', () => {
    // 10 items, k = 3, 3000 seeds: each count ~ Binomial(3000, 0.3), sd ~ 25; 6 sd = 150.
    const ten = items('marketing', 10);
    const counts = new Array(10).fill(0);
    for (let seed = 0; seed < 3000; seed++) {
      for (const s of sampleDomains(ten, [Y], { perDomain: 3, seed })) counts[s.item.row]++;
    }
    for (const c of counts) expect(Math.abs(c - 900)).toBeLessThan(150);
  });
});

describe('manifests', () => {
  const domains: DomainDef[] = [
    { name: 'Health', subjects: ['anatomy', 'virology'] },
    { name: 'Biz', subjects: ['marketing'] },
  ];
  const pool = [...items('anatomy', 5), ...items('virology', 5), ...items('marketing', 5)];

  it('records ids, item hashes, domains, preset, seed, split and counts, hashed canonically', () => {
    const { manifest, sampled } = drawSample(pool, { domains, perDomain: { Health: 3, Biz: 2 }, seed: 9 });
    expect(manifest.preset).toBe('custom');
    expect(manifest.seed).toBe(9);
    expect(manifest.split).toBe('test');
    expect(manifest.perDomain).toEqual({ Health: 3, Biz: 2 });
    expect(manifest.items.map((e) => e.id)).toEqual(sampled.map((s) => s.item.id));
    expect(manifest.items.map((e) => e.domain)).toEqual(['Health', 'Health', 'Health', 'Biz', 'Biz']);
    for (const [i, e] of manifest.items.entries()) expect(e.hash).toBe(itemContentHash(sampled[i].item));
    const { hash, ...body } = manifest;
    expect(hash).toBe(sha(canonicalJson(body)));
    expect(manifestHash(manifest)).toBe(hash);
  });

  it('is identical across runs and changes with the seed', () => {
    const a = drawSample(pool, { domains, perDomain: 2, seed: 1 }).manifest;
    const b = drawSample([...pool].reverse(), { domains, perDomain: 2, seed: 1 }).manifest;
    expect(b).toEqual(a);
    expect(drawSample(pool, { domains, perDomain: 2, seed: 2 }).manifest.hash).not.toBe(a.hash);
  });

  it('resolves to exactly its items, or says which ids are missing or changed', () => {
    const { manifest, sampled } = drawSample(pool, { domains, perDomain: 2, seed: 3 });
    expect(resolveManifest(manifest, pool)).toEqual({ ok: true, sampled, missing: [], changed: [] });
    const [first, second] = manifest.items;
    const edited = pool
      .filter((i) => i.id !== first.id)
      .map((i) =>
        i.id === second.id
          ? { ...i, choices: [i.choices[0], i.choices[1], i.choices[2], 'edited'] as MmluItem['choices'] }
          : i,
      );
    const check = resolveManifest(manifest, edited);
    expect(check.ok).toBe(false);
    expect(check.missing).toEqual([first.id]);
    expect(check.changed).toEqual([second.id]);
    expect(check.sampled).toHaveLength(manifest.items.length - 2);
    expect(describeManifestCheck(check)).toBe(`manifest items 1 missing (${first.id}); 1 changed (${second.id})`);
  });

  it('buildManifest counts empty domains as 0 and refuses items of unknown domains', () => {
    const m = buildManifest([], { preset: 'custom', domains, split: 'test', seed: 0 });
    expect(m.perDomain).toEqual({ Health: 0, Biz: 0 });
    expect(() =>
      buildManifest([{ domain: 'Nope', item: pool[0] }], { preset: 'custom', domains, split: 'test', seed: 0 }),
    ).toThrow('unknown domain "Nope"');
  });
});

describe('manifest files', () => {
  const domains: DomainDef[] = [
    { name: 'Health', subjects: ['anatomy'] },
    { name: 'Biz', subjects: ['marketing'] },
  ];
  const pool = [...items('anatomy', 4), ...items('marketing', 4)];
  const { manifest } = drawSample(pool, { domains, perDomain: 2, seed: 4 });
  const text = serializeItemManifest(manifest);
  const edit = (f: (m: any) => void, rehash = true) => {
    const m = JSON.parse(text);
    f(m);
    if (rehash) m.hash = manifestHash(m);
    return JSON.stringify(m);
  };

  it('round-trips', () => {
    expect(parseItemManifest(text, 'm.json')).toEqual(manifest);
    expect(text.endsWith('}\n')).toBe(true);
  });

  it('names the file and the field of a schema error', () => {
    expect(() => parseItemManifest('{', 'm.json')).toThrow(/^m\.json: not JSON/);
    expect(() =>
      parseItemManifest(
        edit((m) => (m.kind = 'results')),
        'm.json',
      ),
    ).toThrow('m.json: kind:');
    expect(() =>
      parseItemManifest(
        edit((m) => (m.items[1].hash = 'abc')),
        'm.json',
      ),
    ).toThrow('m.json: items[1].hash: expected a sha256 as 64 lowercase hex digits, got "abc"');
    expect(() =>
      parseItemManifest(
        edit((m) => (m.seed = -2)),
        'm.json',
      ),
    ).toThrow('m.json: seed: expected an integer >= 0');
    expect(() =>
      parseItemManifest(
        edit((m) => (m.extra = 1)),
        'm.json',
      ),
    ).toThrow('m.json: extra');
  });

  it('refuses an edited file whose hash no longer matches', () => {
    expect(() =>
      parseItemManifest(
        edit((m) => (m.items[0].id = 'anatomy/test/3'), false),
        'm.json',
      ),
    ).toThrow(/m\.json: hash [0-9a-f]{64} does not match the content/);
  });

  it('checks ids, domains and counts against each other', () => {
    const err = (f: (m: any) => void) => () => parseItemManifest(edit(f), 'm.json');
    expect(err((m) => (m.items[0].id = 'anatomy/test/x'))).toThrow(
      'items[0].id: "anatomy/test/x" is not an MMLU item id',
    );
    expect(err((m) => (m.items[1].id = m.items[0].id))).toThrow(
      'items[1].id: ' + manifest.items[0].id + ' appears twice',
    );
    expect(err((m) => (m.items[0].id = 'anatomy/dev/0'))).toThrow('not in the manifest\'s split "test"');
    expect(err((m) => (m.items[0].domain = 'Biz'))).toThrow('items[0]: subject anatomy is not in domain "Biz"');
    expect(err((m) => (m.items[0].domain = 'Other'))).toThrow(
      'items[0].domain: "Other" is not one of the manifest\'s domains',
    );
    expect(err((m) => (m.perDomain.Health = 3))).toThrow('perDomain["Health"] is 3 but the manifest lists 2 items');
    expect(err((m) => (m.perDomain.Other = 0))).toThrow('perDomain: "Other" is not one of the manifest\'s domains');
    expect(err((m) => (m.domains[1].subjects = ['anatomy']))).toThrow('domains: subject "anatomy" is in two domains');
  });

  it('errors carry the name ManifestError', () => {
    try {
      parseItemManifest('[]', 'm.json');
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(ManifestError);
      expect((e as Error).name).toBe('ManifestError');
    }
  });
});
