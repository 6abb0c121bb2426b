import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { runAnalysisJob } from '../../src/core/analysis';
import { checkPublishedClaims } from '../../src/core/claims';
import { parseResultsFile } from '../../src/core/results-file';
import { exportResultsJson } from '../../src/services/export';
import { AnalysisService, poolJobRunner } from '../../src/services/analysis-service';
import { studyGroups } from '../support/stored-runs';

const run = promisify(execFile);
const dir = mkdtempSync(join(tmpdir(), 'kit-export-cli-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('the CLI on an exported file', () => {
  it('prints and writes the same report, per-domain table, scaling effects and claims as the app, for the same settings', async () => {
    const groups = [...studyGroups(120)].reverse();
    const settings = { bootstrap: 200, permutations: 199 };
    const view = await new AnalysisService(poolJobRunner([{ run: async (job) => runAnalysisJob(job) }])).analyze(
      groups,
      {
        requestId: 1,
        settings,
      },
    );
    const text = exportResultsJson(groups, {
      app: { name: 'kit', version: '0.1.0' },
      analysis: { report: view.report! },
    });
    const file = join(dir, 'export.json');
    const out = join(dir, 'out.json');
    writeFileSync(file, text);
    const { stdout } = await run(
      'node_modules/.bin/tsx',
      ['scripts/analyze.ts', file, '--json', out, '--bootstrap', '200', '--permutations', '199', '--threads', '1'],
      { cwd: process.cwd(), timeout: 120_000 },
    );
    const { domains, scalingEffects, claims, ...cli } = JSON.parse(readFileSync(out, 'utf8'));
    const exported = parseResultsFile(text, 'export.json').analysis!.report;
    const asJson = (x: unknown) => JSON.parse(JSON.stringify(x)); // NaN written as null
    // The exported report is the CLI's report.
    expect(cli).toEqual(asJson(exported));
    // The per-domain table, the scaling effects and the claims are the ones the results page shows.
    const shown = checkPublishedClaims(view.report!, view.scalingEffects);
    expect(view.domains.length).toBeGreaterThan(3);
    expect(view.scalingEffects.map((e) => e.variant)).toEqual(['grpo', 'sft', 'base']);
    expect(view.scalingEffects.every((e) => e.eceChangeCi !== undefined)).toBe(true);
    expect(shown.length).toBeGreaterThan(3);
    expect(domains).toEqual(asJson(view.domains));
    expect(scalingEffects).toEqual(asJson(view.scalingEffects));
    expect(claims).toEqual(asJson(shown));
    // And printed: a domain row, each variant's scaling effect, each claim's verdict.
    const d = view.domains[0];
    expect(stdout).toMatch(
      new RegExp(
        `${d.variant}\\s+${d.stage}\\s+${d.domain}\\s+${d.n}\\s+${d.accuracy.toFixed(4)}\\s+${d.ece.toFixed(4)}`,
      ),
    );
    for (const e of view.scalingEffects) expect(stdout).toContain(`${e.variant}  `);
    for (const e of view.scalingEffects)
      expect(stdout).toContain((e.eceChange >= 0 ? '+' : '') + e.eceChange.toFixed(4));
    for (const c of shown) expect(stdout).toContain(`${c.id}: ${c.summary}`);
    expect(Object.keys(cli.variants)).toEqual(['grpo', 'sft', 'base']);
    // And the terminal table shows those numbers: every variant's ECE before scaling, to the printed precision.
    for (const name of ['grpo', 'sft', 'base']) {
      expect(stdout).toContain(name);
      expect(stdout).toContain(exported.variants[name].uncalibrated.ece.toFixed(3));
    }
    expect(stdout).toMatch(/simulated/i);
  }, 180_000);
});
