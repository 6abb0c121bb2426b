import { describe, expect, it } from 'vitest';
import {
  analyzeVariants,
  analyzeVariantsWith,
  assembleReport,
  resolveSettings,
  jobCost,
  mergeJobResults,
  planAnalysis,
  runAnalysisJob,
  splitJobs,
  ChunkQueue,
  type AnalysisJob,
} from '../../src/core/analysis';
import { analyzeOnThreads, startThreadPool, threadJobRunner } from '../../scripts/lib/analysis-threads';
import { reportWithViews } from '../../src/core/report-views';
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
    for (let i = 1; i < plan.jobs.length; i++)
      expect(size(plan.jobs[i - 1])).toBeGreaterThanOrEqual(size(plan.jobs[i]));
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

  it('split into chunks for several workers, merge back to exactly the unsplit results', () => {
    const plan = planAnalysis(variants, settings);
    const whole = plan.jobs.map(runAnalysisJob);
    for (const workers of [2, 3, 8]) {
      const chunks = splitJobs(plan.jobs, workers);
      expect(chunks.length).toBeGreaterThan(plan.jobs.length);
      expect(chunks.reduce((t, j) => t + jobCost(j), 0)).toBe(plan.jobs.reduce((t, j) => t + jobCost(j), 0));
      const merged = mergeJobResults(chunks, [...chunks].reverse().map(runAnalysisJob));
      expect(new Map(merged.map((r) => [r.key, r]))).toEqual(new Map(whole.map((r) => [r.key, r])));
    }
    expect(splitJobs(plan.jobs, 1)).toEqual(plan.jobs);
  });

  it('split a smooth ECE bootstrap by resample, and merge its chunks back to exactly the whole run', () => {
    const plan = planAnalysis(variants.slice(0, 1), { bootstrap: 1_000, permutations: 0 });
    const smooth = plan.jobs.filter((j) => j.kind === 'smooth-bootstrap');
    expect(smooth).toHaveLength(1);
    const chunks = splitJobs(smooth, 4);
    expect(chunks.length).toBeGreaterThan(1);
    expect(chunks.every((c) => c.chunk?.of === smooth[0].key)).toBe(true);
    const merged = mergeJobResults(chunks, [...chunks].reverse().map(runAnalysisJob));
    expect(merged).toEqual([runAnalysisJob(smooth[0])]);
  });

  it('split so that workers handed chunks largest first all finish within a small chunk of each other', () => {
    const plan = planAnalysis(variants, { bootstrap: 10_000, permutations: 10_000 });
    for (const workers of [2, 4]) {
      const chunks = splitJobs(plan.jobs, workers);
      const load = new Array(workers).fill(0);
      for (const c of chunks) load[load.indexOf(Math.min(...load))] += jobCost(c); // the pool: next chunk to the first free
      const fair = load.reduce((t, x) => t + x, 0) / workers;
      expect(Math.max(...load) / fair).toBeLessThan(1.15);
    }
  });

  it("queue each job's chunks to one worker in turn, as balanced, handing out every chunk once", () => {
    const plan = planAnalysis(variants, { bootstrap: 10_000, permutations: 10_000 });
    const of = (job: AnalysisJob) => job.chunk?.of ?? job.key;
    for (const workers of [2, 3, 4]) {
      const chunks = splitJobs(plan.jobs, workers);
      // The pool: the next chunk to the first free worker; (worker, job) pairs = where a job's pools get built.
      const schedule = (take: (worker: number) => AnalysisJob | undefined) => {
        const load = new Array(workers).fill(0);
        const taken: string[] = [];
        const builds = new Set<string>();
        for (;;) {
          const w = load.indexOf(Math.min(...load));
          const job = take(w);
          if (!job) break;
          load[w] += jobCost(job);
          taken.push(job.key);
          builds.add(`${w} ${of(job)}`);
        }
        return { taken, builds: builds.size, spread: Math.max(...load) / (load.reduce((t, x) => t + x, 0) / workers) };
      };
      const queue = new ChunkQueue(chunks);
      const affine = schedule((w) => queue.take(w));
      const plain = [...chunks];
      const inOrder = schedule(() => plain.shift());
      expect(affine.taken.toSorted()).toEqual(chunks.map((c) => c.key).toSorted());
      expect(queue.size).toBe(0);
      // Each job built on one worker, but for a few shared at the end (in order: 20 to 32 builds of 12 jobs' pools).
      const jobs = new Set(chunks.map(of)).size;
      expect(affine.builds).toBeLessThanOrEqual(jobs + workers - 1);
      expect(inOrder.builds).toBeGreaterThan(jobs + workers - 1);
      expect(affine.spread).toBeLessThan(1.05);
    }
    // Urgent chunks (a variant's own jobs) all go out first, however small, even to a worker with a job to go on with.
    const perms = splitJobs(plan.jobs, 2).filter((c) => c.kind === 'permutation');
    const own = planAnalysis(variants.slice(0, 1), { bootstrap: 50, permutations: 0 }).jobs;
    const queue = new ChunkQueue(perms);
    const first = queue.take('w');
    queue.add(own, true);
    expect(own.map(() => queue.take('w')!.key).toSorted()).toEqual(own.map((j) => j.key).toSorted());
    expect(first!.kind).toBe('permutation');
    expect(queue.size).toBe(perms.length - 1);
  });

  it('prepare the variants on the threads too, for exactly the single-thread report', async () => {
    const single = analyzeVariants(variants, settings);
    const pool = startThreadPool(2);
    try {
      expect(await analyzeOnThreads(pool, variants, settings)).toEqual(single);
      // A variant the scaler cannot be cross-fitted on fails with its error's name, as on this thread.
      const tiny = { ...variants[0], name: 'tiny', items: variants[0].items.slice(0, 3) };
      await expect(analyzeOnThreads(pool, [variants[1], tiny], settings)).rejects.toMatchObject({
        name: 'AnalysisError',
        message: expect.stringMatching(/tiny has 3 items, fewer than the 5 cross-fitting folds/),
      });
      // Refusals of the whole plan come after the variants are prepared (and their own jobs begun), as on one thread.
      await expect(
        analyzeOnThreads(pool, [variants[0], { ...variants[1], name: variants[0].name }], settings),
      ).rejects.toMatchObject({
        name: 'AnalysisError',
        message: expect.stringMatching(/two variants are named/),
      });
      await expect(analyzeOnThreads(pool, [], settings)).rejects.toThrow(/no variants to analyse/);
      // Four variants on two threads: prepared variants' jobs run while the last ones are prepared; the same report.
      const four = [...variants, { ...variants[1], name: 'fourth' }];
      expect(await analyzeOnThreads(pool, four, settings)).toEqual(analyzeVariants(four, settings));
    } finally {
      await pool.close();
    }
  }, 60_000);

  it("compute each variant's part of the report and the views while the pairs' tests still run, as they would be at the end", async () => {
    // Few resamples, many permutations: every variant's own jobs end long before the last pair's test.
    const busy = { bootstrap: 200, permutations: 20_000 };
    const pool = startThreadPool(2);
    try {
      const { plan, results, ready, views } = await pool.analyze(variants, resolveSettings(busy), {});
      expect([...ready.keys()].toSorted()).toEqual(['base', 'grpo', 'sft']);
      const report = assembleReport(plan, results);
      for (const [name, part] of ready) expect(part, name).toEqual(report.variants[name]);
      expect(assembleReport(plan, results, ready)).toEqual(report);
      expect(report).toEqual(analyzeVariants(variants, busy));
      // The views computed meanwhile: the plan's domains and histograms, and every variant's scaling effect.
      const whole = reportWithViews(plan, results);
      expect(views.domains).toEqual(whole.domains);
      expect(views.histograms).toEqual(whole.histograms);
      expect([...views.effects!.keys()].toSorted()).toEqual(['base', 'grpo', 'sft']);
      expect(whole.scalingEffects.map((e) => views.effects!.get(e.variant))).toEqual(whole.scalingEffects);
      expect(reportWithViews(plan, results, ready, views)).toEqual(whole);
    } finally {
      await pool.close();
    }
  }, 60_000);

  it('surface a job that fails in a worker thread as a rejected promise', async () => {
    const run = threadJobRunner(2);
    const bad = { ...planAnalysis(variants, settings).jobs[0], bins: 0 };
    await expect(run([bad])).rejects.toThrow(/bins must be an integer/);
  });
});
