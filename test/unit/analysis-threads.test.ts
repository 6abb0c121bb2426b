import { describe, expect, it } from 'vitest';
import { analyzeVariants, analyzeVariantsWith, planAnalysis, runAnalysisJob } from '../../src/core/analysis';
import { threadJobRunner } from '../../scripts/lib/analysis-threads';
import { pairedVariant, syntheticVariant } from '../support/synthetic';

const base = { ...syntheticVariant({ n: 300, seed: 5 }), name: 'base' };
const variants = [base, pairedVariant(base, 6, 1.8, 'sft'), pairedVariant(base, 7, 2.6, 'grpo')];
const settings = { bootstrap: 300, permutations: 299 };

describe('analysis jobs', () => {
  it('plan one bootstrap per variant (both stages in one pool) and one permutation test per pair and stage, largest first', () => {
    const plan = planAnalysis(variants, settings);
    const boots = plan.jobs.filter((j) => j.kind === 'bootstrap');
    expect(boots).toHaveLength(3);
    expect(boots.every((j) => j.sets.length === 2)).toBe(true);
    expect(plan.jobs.filter((j) => j.kind === 'permutation')).toHaveLength(3 * 2);
    const size = (j: (typeof plan.jobs)[number]) => j.count * j.sets.reduce((t, p) => t + p.n, 0);
    for (let i = 1; i < plan.jobs.length; i++) expect(size(plan.jobs[i - 1])).toBeGreaterThanOrEqual(size(plan.jobs[i]));
  });

  it('give the same job result when run twice (they carry their own seed)', () => {
    const job = planAnalysis(variants, settings).jobs[0];
    expect(runAnalysisJob(job)).toEqual(runAnalysisJob(job));
  });

  it('on worker threads give exactly the single-thread report, for any thread count', async () => {
    const single = analyzeVariants(variants, settings);
    for (const threads of [1, 2, 3]) {
      const parallel = await analyzeVariantsWith(threadJobRunner(threads), variants, settings);
      expect(parallel).toEqual(single);
    }
  }, 60_000); // four analyses of three variants, smooth ECE resampling included

  it('surface a job that fails in a worker thread as a rejected promise', async () => {
    const run = threadJobRunner(2);
    const bad = { ...planAnalysis(variants, settings).jobs[0], bins: 0 };
    await expect(run([bad])).rejects.toThrow(/bins must be an integer/);
  });
});
