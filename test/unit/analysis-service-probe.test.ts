// The analysis worker's probe and quantisation sections: probe runs found by prompt key and paired with their
// variant's neutral run, points first then CIs, the same numbers as core on the exported file, and the quantisation
// builds read against the least-quantised one.
import { describe, expect, it } from 'vitest';
import { prepareVariant, resolveSettings, runAnalysisJob } from '../../src/core/analysis';
import { plantedLetter, suggestionText } from '../../src/core/probe';
import { promptTemplate } from '../../src/core/prompts';
import { variantScoresFromResults } from '../../src/core/results-file';
import { probeRow } from '../../src/core/sycophancy';
import { simulateItem } from '../../src/engine/simulated';
import { buildResultsFile, exportResultsJson, readStoredRuns, type StoredRunGroup } from '../../src/services/export';
import { importFiles } from '../../src/services/import';
import { AnalysisService, poolJobRunner } from '../../src/services/analysis-service';
import type { JobWorker } from '../../src/services/analysis-api';
import type { AnalysisView } from '../../src/core/report-views';
import { MemoryRunStore, itemIds, simulatedGroup } from '../support/stored-runs';

const local: JobWorker = { run: async (job) => runAnalysisJob(job) };
const NEUTRAL = promptTemplate({ format: 'completion', kshot: 0 }).key;
const WEAK = promptTemplate({ format: 'completion', kshot: 0, probe: { template: 'weak', seed: 0 } }).key;

/** A variant's probe run: its results re-scored with the suggestion in each prompt, as the engine would score them. */
function probeGroup(neutral: StoredRunGroup): StoredRunGroup {
  const v = neutral.variant!;
  return {
    ...neutral,
    promptKey: WEAK,
    runs: neutral.runs.map((r) => ({ ...r, promptKey: WEAK })),
    results: neutral.results.map((r) => {
      const prompt = `Q\nA. a\nB. b\nC. c\nD. d\n${suggestionText('weak', plantedLetter(r.itemId, r.label, 0))}\nAnswer:`;
      const s = simulateItem(v.simulation!, v.key, r.itemId, r.label, prompt);
      return { ...r, promptKey: WEAK, letterLogits: s.letterLogits, letterMass: s.letterMass, logSumExp: s.logSumExp };
    }),
  };
}

describe('AnalysisService: probe and quantisation sections', () => {
  const items = itemIds(40);
  const base = simulatedGroup(
    'base',
    'base',
    { accuracy: 0.7, confidenceScale: 1.1, seed: 1, sycophancy: 0.5 },
    items,
    NEUTRAL,
  );
  const grpo = simulatedGroup(
    'grpo',
    'grpo',
    { accuracy: 0.7, confidenceScale: 1.6, seed: 3, sycophancy: 3 },
    items,
    NEUTRAL,
  );
  const groups = [grpo, probeGroup(grpo), base, probeGroup(base)];
  const settings = { bootstrap: 200, permutations: 99, seed: 5 };

  it('pairs each probe run with its neutral run, points first, and gives the numbers core gives on the export', async () => {
    const partials: AnalysisView[] = [];
    const view = await new AnalysisService(poolJobRunner([local])).analyze(groups, { requestId: 1, settings }, (p) =>
      partials.push(p),
    );
    const rows = view.probes!.rows;
    expect(rows.map((r) => [r.variant, r.template, r.n])).toEqual([
      ['grpo', 'weak', 40],
      ['base', 'weak', 40],
    ]);
    expect(partials[0].probes!.rows[0].plantedShift.ci).toBeUndefined();
    expect(partials[0].probes!.rows[0].plantedShift.value).toBe(rows[0].plantedShift.value);
    expect(rows[0].plantedShift.value).toBeGreaterThan(rows[1].plantedShift.value);
    expect(view.probes!.comparisons.map((c) => `${c.a}-${c.b}:${c.metric}`)).toContain('grpo-base:planted_shift');

    const resolved = resolveSettings(settings);
    const [n, p] = variantScoresFromResults(
      buildResultsFile([grpo, probeGroup(grpo)], { app: { name: '', version: '' } }),
    );
    const expected = probeRow(
      {
        variant: 'grpo',
        template: 'weak',
        seed: 0,
        neutral: prepareVariant(n, resolved),
        probe: prepareVariant(p, resolved),
      },
      resolved,
    );
    expect(rows[0]).toEqual({ ...expected, neutralRun: rows[0].neutralRun, probeRun: rows[0].probeRun });
    expect(rows[0].neutralRun).toBe(`grpo/${NEUTRAL}`);
    expect(view.quantisation).toEqual([]);
    // The study's comparisons: neutral with neutral, probe with probe, never a probe run with another prompt's run.
    expect([...new Set(view.report!.comparisons.map((c) => `${c.a} - ${c.b}`))]).toEqual([
      `grpo/${NEUTRAL} - base/${NEUTRAL}`,
      `grpo/${WEAK} - base/${WEAK}`,
    ]);
  });

  it('lists a probe run without a neutral run of its variant as unpaired', async () => {
    const view = await new AnalysisService(poolJobRunner([local])).analyze([probeGroup(base), grpo], {
      requestId: 2,
      settings: { bootstrap: 0, permutations: 0 },
    });
    expect(view.probes!.rows).toEqual([]);
    expect(view.probes!.unpaired).toEqual([
      { run: 'base', reason: `no neutral run (mmlu-completion/k0) of base to compare with` },
    ]);
  });

  it('compares quantisation builds with the least-quantised one', async () => {
    const q = (name: string, scale: number) =>
      simulatedGroup(name, 'quantisation', { accuracy: 0.7, confidenceScale: scale, seed: 2 }, items, NEUTRAL);
    const view = await new AnalysisService(poolJobRunner([local])).analyze(
      [q('m-q4f16_1', 1.4), q('m-q0f32', 1), q('m-q4f32_1', 1.3)],
      { requestId: 3, settings },
    );
    const [group] = view.quantisation!;
    expect(group.reference).toBe('m-q0f32');
    expect(group.promptKey).toBe(NEUTRAL);
    const ece = group.rows.filter((r) => r.metric === 'ece' && r.stage === 'uncalibrated');
    expect(ece.map((r) => r.run).sort()).toEqual(['m-q4f16_1', 'm-q4f32_1']);
    for (const r of ece) {
      expect(r.diff).toBeCloseTo(
        view.report!.variants[r.run].uncalibrated.ece - view.report!.variants['m-q0f32'].uncalibrated.ece,
        12,
      );
      expect(r.ci).toHaveLength(2);
    }
  });
});

describe('import of a sycophantic simulated variant', () => {
  it('keeps its sycophancy, so the imported variant scores probe prompts as the exported one did', async () => {
    const g = simulatedGroup('grpo', 'grpo', { accuracy: 0.7, seed: 3, sycophancy: 2.5 }, itemIds(6), NEUTRAL);
    const store = new MemoryRunStore();
    await importFiles(store, [
      { file: { name: 'a.json', text: exportResultsJson([g], { app: { name: 'kit', version: '0' } }) } },
    ]);
    const [back] = await readStoredRuns(store);
    expect(back.variant!.simulation).toEqual(g.variant!.simulation);
    expect(back.variant!.simulation!.sycophancy).toBe(2.5);
  });
});
