/**
 * The analyze CLI end to end: spawned as `npx tsx scripts/analyze.ts` on files written here and on the
 * fixtures. Resample counts are kept small; what is checked is exit codes, the one-line errors, the --json
 * shape, and that the three input kinds holding the same items give the same numbers.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Rng } from '../../src/core/random';
import { METRICS, type AnalysisReport, type ResultsFile } from '../../src/core/types';
import { itemsCsv } from '../../src/services/export';

const root = fileURLToPath(new URL('../..', import.meta.url));
const fixture = (path: string) => join(root, 'test/fixtures', path);
const FAST = ['--bootstrap', '200', '--permutations', '200', '--folds', '3'];

/** `npx tsx scripts/analyze.ts ...args`, calling the tsx that npx would resolve directly (saves npx's startup). */
function analyze(...args: string[]) {
  const tsx = join(root, 'node_modules/.bin/tsx');
  const r = spawnSync(tsx, ['scripts/analyze.ts', ...args], { cwd: root, encoding: 'utf8', timeout: 120_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** The same items for two variants, with gold labels, and logits rounded to 3 decimals so CSV text is exact. */
interface GenItem {
  subject: string;
  row: number;
  label: number;
  z: Record<'base' | 'sft', [number, number, number, number]>;
}

function generateItems(): GenItem[] {
  const rng = new Rng(2024);
  const items: GenItem[] = [];
  const logits = (label: number, sharpness: number): [number, number, number, number] => {
    const z = [0, 1, 2, 3].map(() => Math.round((rng.nextFloat() * 4 - 2) * 1000) / 1000);
    if (rng.nextFloat() < 0.7) z[label] += sharpness; // mostly right, more or less confidently
    return z.map((x) => Math.round(x * 1000) / 1000) as [number, number, number, number];
  };
  // Sorted by subject then row: the order every format writes them in.
  for (const subject of ['anatomy', 'astronomy']) {
    for (let row = 0; row < 24; row++) {
      const label = rng.nextInt(4);
      items.push({ subject, row, label, z: { base: logits(label, 1.5), sft: logits(label, 3) } });
    }
  }
  return items;
}

/** A per-item constant, different in each format, that the analysis must not see. */
const shift = (i: number, format: 'jsonl' | 'json') => (format === 'jsonl' ? -(4 + (i % 7) * 1.75) : (i % 5) * 0.5 - 1);

let dir: string;
let items: GenItem[];

function writeFormats() {
  items = generateItems();
  const id = (it: GenItem) => `${it.subject}/test/${it.row}`;
  for (const variant of ['base', 'sft'] as const) {
    const csv = ['item_id,label,logit_A,logit_B,logit_C,logit_D,subject'];
    items.forEach((it) => csv.push([id(it), 'ABCD'[it.label], ...it.z[variant], it.subject].join(',')));
    writeFileSync(join(dir, `${variant}.csv`), csv.join('\n') + '\n');

    // lm-eval: one samples file per subject, log-likelihoods = logits + a per-item constant, as strings.
    mkdirSync(join(dir, `${variant}-lm-eval`), { recursive: true });
    for (const subject of ['anatomy', 'astronomy']) {
      const lines = items
        .map((it, i) => ({ it, i }))
        .filter(({ it }) => it.subject === subject)
        .map(({ it, i }) =>
          JSON.stringify({
            doc_id: it.row,
            doc: { question: 'q', subject, choices: ['a', 'b', 'c', 'd'], answer: it.label },
            target: String(it.label),
            resps: it.z[variant].map((z) => [[String(z + shift(i, 'jsonl')), 'False']]),
            filtered_resps: it.z[variant].map((z) => [String(z + shift(i, 'jsonl')), 'False']),
            filter: 'none',
            metrics: ['acc'],
          }),
        );
      writeFileSync(
        join(dir, `${variant}-lm-eval`, `samples_mmlu_${subject}_2025-01-01T00-00-00.jsonl`),
        lines.join('\n') + '\n',
      );
    }
  }
  const results: ResultsFile = {
    format: 'calibration-kit/results',
    version: 1,
    app: { name: 'calibration-collapse-kit', version: 'test' },
    createdAt: '2025-01-01T00:00:00.000Z',
    environment: {},
    runs: (['base', 'sft'] as const).map((variant) => ({
      variant: { key: `k-${variant}`, name: variant, role: variant, simulated: false },
      engine: { kind: 'imported' as const },
      items: items.map((it, i) => ({
        itemId: id(it),
        label: it.label,
        letterLogits: it.z[variant].map((z) => z + shift(i, 'json')) as [number, number, number, number],
        subject: it.subject,
      })),
    })),
  };
  writeFileSync(join(dir, 'both.json'), JSON.stringify(results));
  const simulated = structuredClone(results);
  simulated.runs[1].variant.simulated = true;
  simulated.runs[1].variant.name = 'sim';
  writeFileSync(join(dir, 'simulated.json'), JSON.stringify(simulated));
}

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'analyze-cli-'));
  writeFormats();
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Every number in a and b equal to 1e-9 relative (only rounding can differ); everything else identical. */
function expectSameNumbers(a: unknown, b: unknown, path = 'report'): void {
  if (typeof a === 'number' && typeof b === 'number') {
    if (Math.abs(a - b) > 1e-9 * Math.max(1, Math.abs(a), Math.abs(b))) throw new Error(`${path}: ${a} vs ${b}`);
    return;
  }
  if (Array.isArray(a) && Array.isArray(b)) {
    expect(a.length, path).toBe(b.length);
    a.forEach((x, i) => expectSameNumbers(x, b[i], `${path}[${i}]`));
    return;
  }
  if (a && b && typeof a === 'object' && typeof b === 'object') {
    expect(Object.keys(a).sort(), path).toEqual(Object.keys(b).sort());
    for (const k of Object.keys(a)) expectSameNumbers((a as any)[k], (b as any)[k], `${path}.${k}`);
    return;
  }
  expect(a, path).toEqual(b);
}

describe('analyze CLI', () => {
  it('gives the same numbers for the same items as a logits CSV, lm-eval samples and a results file', () => {
    const reports: AnalysisReport[] = [];
    const runs = [
      ['--variant', `base=${join(dir, 'base.csv')}`, '--variant', `sft=${join(dir, 'sft.csv')}`],
      [
        // one file per subject, joined by repeating the name / by giving the directory
        '--variant',
        `base=${join(dir, 'base-lm-eval', 'samples_mmlu_anatomy_2025-01-01T00-00-00.jsonl')}`,
        '--variant',
        `base=${join(dir, 'base-lm-eval', 'samples_mmlu_astronomy_2025-01-01T00-00-00.jsonl')}`,
        '--variant',
        `sft=${join(dir, 'sft-lm-eval')}`,
      ],
      [join(dir, 'both.json')],
    ];
    for (const [i, inputs] of runs.entries()) {
      const out = join(dir, `report-${i}.json`);
      const r = analyze(...inputs, ...FAST, '--json', out);
      expect(r.stderr).toBe('');
      expect(r.status).toBe(0);
      reports.push(JSON.parse(readFileSync(out, 'utf8')));
    }
    // Roles come only from the results file, and so do the claims that need them; everything else must agree
    // (the report, the per-domain table and the scaling effects).
    for (const v of Object.values(reports[2].variants)) delete v.role;
    for (const r of reports) delete (r as { claims?: unknown }).claims;
    expect((reports[0] as unknown as { domains: unknown[] }).domains.length).toBeGreaterThan(0);
    expectSameNumbers(reports[0], reports[1]);
    expectSameNumbers(reports[0], reports[2]);
    // And the numbers are the items' own: accuracy counted here from the generated logits.
    const argmax = (z: number[]) => z.indexOf(Math.max(...z));
    const correct = items.filter((it) => argmax(it.z.sft) === it.label).length;
    expect(reports[0].variants.sft.uncalibrated.accuracy).toBeCloseTo(correct / items.length, 12);
    expect(reports[0].variants.sft.n).toBe(48);
  }, 120_000);

  it('keeps SIMULATED through the per-item CSV: its rows say so, and the CLI labels the variant', () => {
    const file = JSON.parse(readFileSync(join(dir, 'simulated.json'), 'utf8')) as ResultsFile;
    const csvPath = join(dir, 'sim-items.csv');
    writeFileSync(csvPath, itemsCsv({ ...file, runs: [file.runs[1]] }));
    const out = join(dir, 'sim-items.json');
    const r = analyze('--variant', `sim=${csvPath}`, ...FAST, '--json', out);
    expect(r.status).toBe(0);
    const report = JSON.parse(readFileSync(out, 'utf8')) as AnalysisReport;
    expect(report.variants.sim.simulated).toBe(true);
    expect(r.stdout).toMatch(/^sim {2}\[SIMULATED: scores from the simulated engine, not from a model\]$/m);
  }, 120_000);

  it('reports smooth ECE at both stages and records the interval method (--interval bca)', () => {
    const out = join(dir, 'bca.json');
    const r = analyze(join(dir, 'simulated.json'), ...FAST, '--interval', 'bca', '--json', out);
    expect(r.status).toBe(0);
    const report = JSON.parse(readFileSync(out, 'utf8')) as AnalysisReport;
    expect(report.settings.interval).toBe('bca');
    for (const v of Object.values(report.variants)) {
      for (const stage of [v.uncalibrated, v.scaled!]) {
        expect(stage.smooth_ece).toBeGreaterThan(0);
        expect(stage.smooth_ece_bandwidth).toBeGreaterThan(0);
        expect(stage.ci!.smooth_ece).toHaveLength(2);
      }
    }
    expect(r.stdout).toContain('CIs: 95% BCa bootstrap (Efron 1987), 200 resamples');
    expect(r.stdout).toMatch(/^ {2}smooth ECE +\d\.\d{4} \[/m);
    expect(analyze(join(dir, 'simulated.json'), '--interval', 'studentized').stderr).toMatch(/--interval.*studentized/);
  }, 120_000);

  it('writes the documented --json shape and prints the table with its settings', () => {
    const out = join(dir, 'shape.json');
    const r = analyze(join(dir, 'simulated.json'), ...FAST, '--json', out);
    expect(r.status).toBe(0);
    const report = JSON.parse(readFileSync(out, 'utf8')) as AnalysisReport;
    expect(Object.keys(report.variants)).toEqual(['base', 'sim']);
    for (const v of Object.values(report.variants)) {
      expect(v.n).toBe(48);
      for (const stage of [v.uncalibrated, v.scaled!]) {
        for (const m of METRICS) {
          expect(typeof stage[m]).toBe('number');
          expect(stage.ci![m]).toHaveLength(2);
          expect(stage.ci![m][0]).toBeLessThanOrEqual(stage.ci![m][1]);
        }
      }
      expect(v.scaling).toEqual({
        method: 'matrix',
        folds: 3,
        lambda: 0.01,
        mu: 0.01,
        in_sample: false,
        resampling: 'fixed-calibrated-logits',
      });
    }
    expect(report.variants.sim.simulated).toBe(true);
    expect(report.variants.base.simulated).toBe(false);
    expect(report.settings).toMatchObject({
      bins: 15,
      scaling: 'matrix',
      folds: 3,
      bootstrap: 200,
      permutations: 200,
      seed: 0,
    });
    // Default comparisons: every pair in input order, each metric at both stages.
    expect(report.comparisons).toHaveLength(2 * METRICS.length);
    for (const c of report.comparisons) {
      expect(Object.keys(c).sort()).toEqual(['a', 'b', 'ci', 'diff', 'metric', 'n', 'p', 'stage', 'unmatched']);
      expect([c.a, c.b]).toEqual(['base', 'sim']);
      expect(c.p).toBeGreaterThan(0);
      expect(c.p).toBeLessThanOrEqual(1);
    }
    const ece = report.variants.base;
    expect(ece.ece_reduction_pct).toBeCloseTo(
      (100 * (ece.uncalibrated.ece - ece.scaled!.ece)) / ece.uncalibrated.ece,
      9,
    );

    expect(r.stdout).toMatch(/^SIMULATED variants \(numbers from the simulated engine, not from a model\): sim$/m);
    expect(r.stdout).toMatch(/^sim {2}\[SIMULATED: scores from the simulated engine, not from a model\]$/m);
    expect(r.stdout).toMatch(/^base$/m);
    expect(r.stdout).toContain('Scaling: matrix scaling with ODIR lambda = 0.01, mu = 0.01, 3-fold cross-fitted');
    expect(r.stdout).toContain('the scaler is not refitted per resample');
    expect(r.stdout).toContain('after matrix scaling (3-fold cross-fitted) (95% CI)');
    // The printed ECE of base is the report's, rounded to 4 places, with its CI.
    const lo = ece.uncalibrated.ci!.ece[0].toFixed(4);
    expect(r.stdout).toContain(`ECE            ${ece.uncalibrated.ece.toFixed(4)} [${lo}, `);
    const change = -ece.ece_reduction_pct!;
    expect(r.stdout).toContain(`ECE change ${change >= 0 ? '+' : ''}${change.toFixed(1)}%; accuracy change `);
    expect(r.stdout).toMatch(/^ {2}base - sim {2}scaled {8}NLL /m);
  }, 60_000);

  it('says when the scaler is fitted in-sample, and honours --compare and --scaling none', () => {
    const out = join(dir, 'insample.json');
    const r = analyze(
      join(dir, 'simulated.json'),
      '--in-sample',
      '--scaling',
      'temperature',
      '--compare',
      'sim:base',
      '--bootstrap',
      '0',
      '--permutations',
      '0',
      '--json',
      out,
    );
    expect(r.status).toBe(0);
    expect(r.stdout).toContain(
      'Scaling: temperature scaling, fitted in-sample (scaler fitted and evaluated on the same items: optimistic).',
    );
    expect(r.stdout).toContain('CIs: none (--bootstrap 0). p-values: none (--permutations 0).');
    const report = JSON.parse(readFileSync(out, 'utf8')) as AnalysisReport;
    expect(report.variants.base.scaling.in_sample).toBe(true);
    expect(report.variants.base.uncalibrated.ci).toBeUndefined();
    expect(
      report.comparisons.every((c) => c.a === 'sim' && c.b === 'base' && c.p === undefined && c.ci === undefined),
    ).toBe(true);

    const none = analyze(
      join(dir, 'simulated.json'),
      '--scaling',
      'none',
      '--bootstrap',
      '0',
      '--permutations',
      '0',
      '--json',
      out,
    );
    expect(none.status).toBe(0);
    expect(none.stdout).toContain('Scaling: no post-hoc scaling.');
    const plain = JSON.parse(readFileSync(out, 'utf8')) as AnalysisReport;
    expect(plain.variants.base.scaled).toBeUndefined();
    expect(plain.comparisons.map((c) => c.stage)).toEqual(METRICS.map(() => 'uncalibrated'));
  }, 60_000);

  it.each([
    [
      ['--variant', `a=${fixture('logits/nan-logit.csv')}`],
      `${fixture('logits/nan-logit.csv')}: line 3: logit_B: expected a finite number, got "nan"`,
    ],
    [
      ['--variant', `a=${fixture('logits/bad-label.csv')}`],
      `${fixture('logits/bad-label.csv')}: line 3: label: unknown label "E"; expected a letter A-D or an index 0-3`,
    ],
    [
      ['--variant', `a=${fixture('logits/bad-columns.csv')}`],
      `${fixture('logits/bad-columns.csv')}: line 3: expected 6 fields as in the header, got 5`,
    ],
    [
      ['--variant', `a=${fixture('logits/duplicate-id.csv')}`],
      `${fixture('logits/duplicate-id.csv')}: line 4: duplicate item id "q1" (first on line 2)`,
    ],
    [
      ['--variant', `a=${fixture('logits/header-only.csv')}`],
      `${fixture('logits/header-only.csv')}: no items: the header is not followed by any row`,
    ],
    [
      ['--variant', `a=${fixture('logits/empty.csv')}`],
      `${fixture('logits/empty.csv')}: empty file; expected a header row item_id,label,logit_A,logit_B,logit_C,logit_D`,
    ],
    [
      ['--variant', `a=${fixture('lm-eval/inf-loglikelihood.jsonl')}`],
      `${fixture('lm-eval/inf-loglikelihood.jsonl')}: line 3: filtered_resps[3][0]: expected a finite number, got "-inf" (infinite)`,
    ],
    [
      ['--variant', `a=${fixture('lm-eval/bad-target.jsonl')}`],
      `${fixture('lm-eval/bad-target.jsonl')}: line 2: target: unknown label "E"; expected an index 0-3 or a letter A-D`,
    ],
    [
      [fixture('results/empty-run.json')],
      `${fixture('results/empty-run.json')}: runs[1].items: expected at least one scored item (a run with no items), got 0`,
    ],
    [
      [fixture('results/bad-logit-string.json')],
      `${fixture('results/bad-logit-string.json')}: runs[0].items[1].letterLogits[2]: expected a number, got "0.5"`,
    ],
    [
      [fixture('logits/good.csv')],
      `${fixture('logits/good.csv')}: only results files (.json) can be given without a name; give CSV and lm-eval samples as --variant NAME=PATH`,
    ],
    [['--variant', 'a=no/such/file.csv'], 'no/such/file.csv: cannot read (ENOENT)'],
    [
      ['--variant', `a=${fixture('results/two-runs.json')}#sft`],
      `${fixture('results/two-runs.json')}: no run named "sft"; the runs are base, grpo`,
    ],
    [
      [fixture('results/two-runs.json'), '--compare', 'base:sft'],
      '--compare base:sft: expected A:B with A and B among the variants (base, grpo)',
    ],
    [
      [fixture('results/two-runs.json'), '--bins', '300', '--scaling', 'none'],
      'bins must be an integer from 1 to 255, got 300',
    ],
    [[fixture('results/two-runs.json')], 'variant base has 3 items, fewer than the 5 cross-fitting folds'],
    [
      ['--bins', '1.5', fixture('results/two-runs.json')],
      "error: option '--bins <B>' argument '1.5' is invalid. expected an integer >= 1",
    ],
    [
      ['--scaling', 'platt', fixture('results/two-runs.json')],
      /^error: option '--scaling <method>' argument 'platt' is invalid\. Allowed choices are none, temperature, vector, matrix\.$/,
    ],
    [[], 'no inputs; expected --variant NAME=PATH or results files (run with --help for usage)'],
  ])(
    'refuses bad input %# with one line on stderr, exit 1, no result',
    (args, message) => {
      const out = join(dir, 'must-not-exist.json');
      const r = analyze(...args, '--bootstrap', '10', '--permutations', '10', '--json', out);
      expect(r.status).toBe(1);
      expect(r.stdout).toBe('');
      const lines = r.stderr.split('\n').filter((l) => l !== '');
      expect(lines).toHaveLength(1);
      if (typeof message === 'string') expect(lines[0]).toBe(message);
      else expect(lines[0]).toMatch(message);
      expect(existsSync(out)).toBe(false);
    },
    60_000,
  );
});
