/**
 * scripts/analyze.mjs, what `npm run analyze` starts: it runs scripts/analyze.ts from a cached esbuild bundle.
 * It must print and write exactly what the unbundled script does (through tsx), and build its bundle again when
 * a file it was built from has changed.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../..', import.meta.url));
const inputsFile = join(root, 'node_modules/.cache/calibration-kit/analyze-cli.inputs.json');
const dir = mkdtempSync(join(tmpdir(), 'kit-launcher-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const good = join(root, 'test/fixtures/logits/good.csv');
const args = (json: string) => [
  '--variant',
  `a=${good}`,
  '--scaling',
  'none',
  '--bootstrap',
  '200',
  '--permutations',
  '0',
  '--threads',
  '2',
  '--json',
  json,
];

function run(command: string, argv: string[]) {
  const r = spawnSync(command, argv, { cwd: root, encoding: 'utf8', timeout: 120_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}
const bundled = (...argv: string[]) => run(process.execPath, ['scripts/analyze.mjs', ...argv]);
const unbundled = (...argv: string[]) => run(join(root, 'node_modules/.bin/tsx'), ['scripts/analyze.ts', ...argv]);

describe('npm run analyze (scripts/analyze.mjs)', () => {
  it('prints and writes exactly what scripts/analyze.ts does through tsx, errors included', () => {
    const a = bundled(...args(join(dir, 'bundled.json')));
    const b = unbundled(...args(join(dir, 'tsx.json')));
    expect(a.stderr).toBe('');
    expect(a.status).toBe(0);
    expect(a.stdout).toContain('ECE');
    expect(a.stdout).toBe(b.stdout);
    expect(readFileSync(join(dir, 'bundled.json'), 'utf8')).toBe(readFileSync(join(dir, 'tsx.json'), 'utf8'));

    const bad = ['--variant', `a=${join(root, 'test/fixtures/logits/bad-label.csv')}`];
    const c = bundled(...bad);
    expect(c.status).toBe(1);
    expect(c.stderr).toMatch(/bad-label\.csv: line 3: label: unknown label "E"/);
    expect(c).toEqual(unbundled(...bad));
  }, 120_000);

  it('builds its bundle again when a file it was built from changed', () => {
    expect(bundled('--help').status).toBe(0);
    const inputs = JSON.parse(readFileSync(inputsFile, 'utf8')) as [string, number, number][];
    const at = inputs.findIndex(([path]) => path === 'src/core/metrics.ts');
    expect(at).toBeGreaterThanOrEqual(0);
    // As if metrics.ts had been edited after the bundle was built.
    inputs[at] = [inputs[at][0], inputs[at][1], inputs[at][2] - 1000];
    writeFileSync(inputsFile, JSON.stringify(inputs));
    const r = bundled('--help');
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/^Usage: npm run analyze/);
    const rebuilt = JSON.parse(readFileSync(inputsFile, 'utf8')) as [string, number, number][];
    expect(rebuilt[rebuilt.findIndex(([path]) => path === 'src/core/metrics.ts')]).not.toEqual(inputs[at]);
  }, 60_000);
});
