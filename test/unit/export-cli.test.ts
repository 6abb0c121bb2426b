import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { runAnalysisJob } from '../../src/core/analysis';
import { parseResultsFile } from '../../src/core/results-file';
import { exportResultsJson } from '../../src/services/export';
import { AnalysisService, poolJobRunner } from '../../src/services/analysis-service';
import { studyGroups } from '../support/stored-runs';

const run = promisify(execFile);
const dir = mkdtempSync(join(tmpdir(), 'kit-export-cli-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('the CLI on an exported file', () => {
  it('prints and writes the same numbers as the report the app exported, for the same settings', async () => {
    const groups = [...studyGroups(120)].reverse();
    const settings = { bootstrap: 200, permutations: 199 };
    const view = await new AnalysisService(poolJobRunner([{ run: async (job) => runAnalysisJob(job) }])).analyze(groups, {
      requestId: 1,
      settings,
    });
    const text = exportResultsJson(groups, { app: { name: 'kit', version: '0.1.0' }, analysis: { report: view.report! } });
    const file = join(dir, 'export.json');
    const out = join(dir, 'out.json');
    writeFileSync(file, text);
    const { stdout } = await run(
      'node_modules/.bin/tsx',
      ['scripts/analyze.ts', file, '--json', out, '--bootstrap', '200', '--permutations', '199', '--threads', '1'],
      { cwd: process.cwd(), timeout: 120_000 },
    );
    const cli = JSON.parse(readFileSync(out, 'utf8'));
    const exported = parseResultsFile(text, 'export.json').analysis!.report;
    // The exported report, as JSON (NaN written as null), is the CLI's report.
    expect(cli).toEqual(JSON.parse(JSON.stringify(exported)));
    expect(Object.keys(cli.variants)).toEqual(['grpo', 'sft', 'base']);
    // And the terminal table shows those numbers: every variant's ECE before scaling, to the printed precision.
    for (const name of ['grpo', 'sft', 'base']) {
      expect(stdout).toContain(name);
      expect(stdout).toContain(exported.variants[name].uncalibrated.ece.toFixed(3));
    }
    expect(stdout).toMatch(/simulated/i);
  }, 180_000);
});
