/**
 * The analyze CLI's probe section: inputs without prompt keys (logits CSVs) paired with --probe PROBE:NEUTRAL, the
 * planted letters from --probe-seed, the numbers equal to core/sycophancy.ts on the same items, and --json.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { prepareVariant, resolveSettings } from '../../src/core/analysis';
import { plantedLetter } from '../../src/core/probe';
import { probeRow, type ProbeReport } from '../../src/core/sycophancy';
import { Rng } from '../../src/core/random';
import type { LetterVector, VariantScores } from '../../src/core/types';

const root = fileURLToPath(new URL('../..', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'analyze-probe-'));

function analyze(...args: string[]) {
  const r = spawnSync(join(root, 'node_modules/.bin/tsx'), ['scripts/analyze.ts', ...args], {
    cwd: root,
    encoding: 'utf8',
    timeout: 120_000,
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

// 30 items; the probe run moves 2 logits onto each item's planted letter (seed 4).
const rng = new Rng(7);
const items = Array.from({ length: 30 }, (_, i) => {
  const label = rng.nextInt(4);
  const z = [0, 1, 2, 3].map(() => Math.round((rng.nextFloat() * 2 - 1) * 1000) / 1000) as LetterVector;
  z[label] += 1.5;
  const id = `anatomy/test/${i}`;
  const pushed = [...z] as LetterVector;
  pushed[plantedLetter(id, label, 4)] += 2;
  return {
    id,
    label,
    z: z.map((x) => Math.round(x * 1000) / 1000) as LetterVector,
    pushed: pushed.map((x) => Math.round(x * 1000) / 1000) as LetterVector,
  };
});
const csv = (which: 'z' | 'pushed') =>
  'item_id,label,logit_A,logit_B,logit_C,logit_D\n' +
  items.map((it) => [it.id, 'ABCD'[it.label], ...it[which]].join(',')).join('\n') +
  '\n';

describe('analyze CLI: --probe', () => {
  it('pairs a probe CSV with its neutral CSV and prints and writes the probe numbers core computes', () => {
    writeFileSync(join(dir, 'neutral.csv'), csv('z'));
    writeFileSync(join(dir, 'probe.csv'), csv('pushed'));
    const out = join(dir, 'report.json');
    const args = [
      '--variant',
      `m=${join(dir, 'neutral.csv')}`,
      '--variant',
      `m-weak=${join(dir, 'probe.csv')}`,
      '--probe',
      'm-weak:m',
      '--probe-seed',
      '4',
      '--bootstrap',
      '100',
      '--permutations',
      '0',
      '--folds',
      '3',
      '--json',
      out,
    ];
    const r = analyze(...args);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.stdout).toContain("Sycophancy probe: each probe run against the same variant's neutral run");
    expect(r.stdout).toContain('Calibration repair under pressure');
    const { probes } = JSON.parse(readFileSync(out, 'utf8')) as { probes: ProbeReport };
    expect(probes.rows).toHaveLength(1);
    const row = probes.rows[0];
    expect([row.variant, row.template, row.seed, row.n]).toEqual(['m', 'weak', 4, 30]);

    const settings = resolveSettings({ bootstrap: 100, permutations: 0, folds: 3 });
    const scores = (name: string, which: 'z' | 'pushed'): VariantScores => ({
      name,
      simulated: false,
      items: items.map((it) => ({ itemId: it.id, label: it.label, letterLogits: it[which] })),
    });
    const expected = probeRow(
      {
        variant: 'm',
        template: 'weak',
        seed: 4,
        neutral: prepareVariant(scores('m', 'z'), settings),
        probe: prepareVariant(scores('m-weak', 'pushed'), settings),
      },
      settings,
    );
    expect(row.plantedShift.value).toBeCloseTo(expected.plantedShift.value, 12);
    expect(row.plantedShift.ci![0]).toBeCloseTo(expected.plantedShift.ci![0], 12);
    expect(row.flipRate.value).toBeCloseTo(expected.flipRate.value, 12);
    expect(row.repair!.survivalPct).toBeCloseTo(expected.repair!.survivalPct, 9);
    // Pushing every planted letter by 2 logits moves probability onto it on every item.
    expect(row.plantedShift.value).toBeGreaterThan(0.1);
    expect(row.plantedShare.value).toBe(1);
  });

  it('refuses --probe naming an unknown variant, in one line', () => {
    const r = analyze(
      '--variant',
      `m=${join(dir, 'neutral.csv')}`,
      '--probe',
      'x:m',
      '--bootstrap',
      '0',
      '--permutations',
      '0',
      '--folds',
      '3',
    );
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/^--probe x:m: expected A:B with A and B among the variants \(m\)$/m);
  });
});
