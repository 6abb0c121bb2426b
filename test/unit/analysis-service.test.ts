import { describe, expect, it } from 'vitest';
import { analyzeVariants, runAnalysisJob, type AnalysisJob, type AnalysisJobResult } from '../../src/core/analysis';
import { runNames, variantScoresFromResults } from '../../src/core/results-file';
import { METRICS, type AnalysisReport, type LetterVector } from '../../src/core/types';
import { buildResultsFile, groupId, type StoredRunGroup } from '../../src/services/export';
import {
  AnalysisService,
  AnalysisSupersededError,
  createAnalysisWorkerApi,
  poolJobRunner,
  type JobRunner,
} from '../../src/services/analysis-service';
import { scalingEffects, type AnalysisView } from '../../src/core/report-views';
import type { JobWorker } from '../../src/services/analysis-api';
import { checkPublishedClaims, findComparison } from '../../src/core/claims';
import { MemoryRunStore, simulatedGroup, studyGroups } from '../support/stored-runs';

const app = { name: 'kit', version: '0' };
const local: JobWorker = { run: async (job) => runAnalysisJob(job) };
const settings = { bootstrap: 200, permutations: 99, seed: 5 };

/** A job worker whose jobs wait until `release` is called; `ran` lists the jobs it was given. */
function gatedWorker(): { slow: JobWorker; ran: string[]; release: () => void } {
  const ran: string[] = [];
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  const slow: JobWorker = {
    run: async (job: AnalysisJob) => {
      ran.push(job.key);
      await gate;
      return runAnalysisJob(job);
    },
  };
  return { slow, ran, release };
}

describe('AnalysisService', () => {
  it('gives the report the core gives on the same runs named and ordered as the export names them', async () => {
    const groups = [...studyGroups(80)].reverse(); // already in GRPO, SFT, base order
    const partials: AnalysisView[] = [];
    const progress: number[] = [];
    // Progress of every job (no least interval between reports).
    const view = await new AnalysisService(poolJobRunner([local, local]), 1, undefined, 0).analyze(
      groups,
      { requestId: 1, settings },
      (p) => partials.push(p),
      (done) => progress.push(done),
    );
    const expected = analyzeVariants(variantScoresFromResults(buildResultsFile(groups, { app })), settings);
    expect(view.report).toEqual(expected);
    expect(view.partial).toBe(false);
    expect(Object.keys(view.report!.variants)).toEqual(['grpo', 'sft', 'base']);
    expect([...new Set(view.report!.comparisons.map((c) => `${c.a}-${c.b}`))]).toEqual([
      'grpo-sft',
      'grpo-base',
      'sft-base',
    ]);
    expect(view.runs.map((r) => [r.name, r.role, r.simulated, r.items])).toEqual([
      ['grpo', 'grpo', true, 80],
      ['sft', 'sft', true, 80],
      ['base', 'base', true, 80],
    ]);
    expect(progress).toEqual(Array.from({ length: view.jobsTotal }, (_, i) => i + 1));

    // Points first: the same point estimates, no CIs and no p-values yet.
    expect(partials).toHaveLength(1);
    const points = partials[0].report!;
    expect(partials[0].partial).toBe(true);
    for (const [name, v] of Object.entries(points.variants)) {
      expect(v.uncalibrated.ci).toBeUndefined();
      for (const m of METRICS) {
        expect(v.uncalibrated[m]).toBe(expected.variants[name].uncalibrated[m]);
        expect(v.scaled![m]).toBe(expected.variants[name].scaled![m]);
      }
    }
    expect(points.comparisons.map((c) => [c.diff, c.p])).toEqual(
      expected.comparisons.map((c) => [expect.closeTo(c.diff, 12), undefined]),
    );
    expect(points.settings).toEqual(expected.settings);
  }, 30_000); // both analyses include smooth ECE resampling: a few seconds on a busy 2-core machine

  it('analyses only the selected runs and still lists every stored run', async () => {
    const groups = studyGroups(30);
    const view = await new AnalysisService(poolJobRunner([local])).analyze(groups, {
      requestId: 1,
      settings: { bootstrap: 0, permutations: 0 },
      selection: [groupId(groups[0]), groupId(groups[2])],
    });
    expect(Object.keys(view.report!.variants)).toEqual(['base', 'grpo']);
    expect(view.analysed).toEqual([groupId(groups[0]), groupId(groups[2])]);
    expect(view.runs).toHaveLength(3);
    const none = await new AnalysisService(poolJobRunner([local])).analyze(groups, {
      requestId: 2,
      settings: {},
      selection: [],
    });
    expect(none.report).toBeUndefined();
    expect(none.runs).toHaveLength(3);
    // An empty store is a plain empty view (the page says "no stored results yet"), not an error.
    const empty = await new AnalysisService(poolJobRunner([local])).analyze([], { requestId: 3, settings: {} });
    expect(empty.report).toBeUndefined();
    expect(empty.runs).toEqual([]);
  });

  it('drops a request superseded by a newer one: it hands out no further job and rejects', async () => {
    const groups = studyGroups(20);
    const { slow, ran, release } = gatedWorker();
    const service = new AnalysisService(poolJobRunner([slow]));
    const first = service.analyze(groups, { requestId: 1, settings });
    await new Promise((r) => setTimeout(r, 0));
    await Promise.resolve();
    const second = service.analyze(groups, { requestId: 2, settings: { ...settings, bootstrap: 0, permutations: 0 } });
    release();
    await expect(first).rejects.toBeInstanceOf(AnalysisSupersededError);
    await expect(second).resolves.toMatchObject({ requestId: 2, partial: false });
    expect(ran).toHaveLength(1);
  });

  it('starts the resampling before computing the points view, and reports progress after it, at most every progressMs', async () => {
    const groups = studyGroups(20);
    const { slow, ran, release } = gatedWorker();
    // A least interval no run reaches: only the first finished job and the last are reported.
    const service = new AnalysisService(poolJobRunner([slow]), 1, undefined, 3_600_000);
    const events: string[] = [];
    const view = service.analyze(
      groups,
      { requestId: 1, settings },
      (p) => events.push(`partial ${p.jobsDone} of ${p.jobsTotal}, ${ran.length} job given out`),
      (done, total) => events.push(`progress ${done} of ${total}`),
    );
    await new Promise((r) => setTimeout(r, 0));
    release();
    const { jobsTotal } = await view;
    expect(jobsTotal).toBeGreaterThan(2);
    expect(events).toEqual([
      `partial 0 of ${jobsTotal}, 1 job given out`,
      `progress 1 of ${jobsTotal}`,
      `progress ${jobsTotal} of ${jobsTotal}`,
    ]);
  });

  it('sends a progress count held back by progressMs when the interval ends, not only with the next job', async () => {
    const groups = studyGroups(20);
    // Each job waits for a release of its own.
    const releases: (() => void)[] = [];
    const stepped: JobWorker = {
      run: async (job: AnalysisJob) => {
        await new Promise<void>((r) => releases.push(r));
        return runAnalysisJob(job);
      },
    };
    const progress: number[] = [];
    const view = new AnalysisService(poolJobRunner([stepped]), 1, undefined, 50).analyze(
      groups,
      { requestId: 1, settings },
      undefined,
      (done) => progress.push(done),
    );
    const release = async () => {
      await expect.poll(() => releases.length, { timeout: 10_000 }).toBeGreaterThan(0);
      releases.shift()!();
    };
    await release();
    await expect.poll(() => progress, { timeout: 10_000 }).toEqual([1]);
    // The second job ends within the interval: held back, then sent while the third is still running.
    await release();
    await expect.poll(() => progress, { timeout: 10_000 }).toEqual([1, 2]);
    await expect.poll(() => releases.length, { timeout: 10_000 }).toBe(1);
    // The rest, released as they come.
    let finished = false;
    void view.finally(() => (finished = true));
    while (!finished) {
      releases.shift()?.();
      await new Promise((r) => setTimeout(r, 1));
    }
    const { jobsTotal } = await view;
    expect(jobsTotal).toBeGreaterThan(3);
    expect(progress.at(-1)).toBe(jobsTotal);
    expect(progress).toEqual([...progress].sort((a, b) => a - b));
  });

  it('cancels a request whose page closed: it hands out no further job and rejects; the next request runs', async () => {
    const groups = studyGroups(20);
    const { slow, ran, release } = gatedWorker();
    const service = new AnalysisService(poolJobRunner([slow]));
    const first = service.analyze(groups, { requestId: 7, settings });
    await new Promise((r) => setTimeout(r, 0));
    await Promise.resolve();
    service.supersede(7);
    release();
    await expect(first).rejects.toBeInstanceOf(AnalysisSupersededError);
    expect(ran).toHaveLength(1);
    await expect(service.analyze(groups, { requestId: 8, settings })).resolves.toMatchObject({
      requestId: 8,
      partial: false,
    });
  });

  it('breaks calibration down by domain and histograms confidence in the report bins (hand-computed)', async () => {
    // p_A = 5/8 = 0.625 for [log 5, 0, 0, 0]; p_A = 9/12 = 0.75 for [log 9, 0, 0, 0].
    const g = simulatedGroup('tiny', 'base', {}, []);
    const item = (itemId: string, label: number, z: LetterVector, domain: string) => ({
      ...g.runs[0],
      itemId,
      label,
      letterLogits: z,
      domain,
      variantKey: g.variantKey,
      promptKey: g.promptKey,
      method: 'simulated' as const,
      simulated: true,
      scoredAt: 't',
    });
    const group: StoredRunGroup = {
      ...g,
      results: [
        item('x1', 0, [Math.log(5), 0, 0, 0], 'x'),
        item('x2', 1, [Math.log(5), 0, 0, 0], 'x'),
        item('y1', 0, [Math.log(9), 0, 0, 0], 'y'),
      ],
    };
    const view = await new AnalysisService(poolJobRunner([local])).analyze([group], {
      requestId: 1,
      settings: { scaling: 'none', bins: 10, bootstrap: 0, permutations: 0 },
    });
    expect(view.domains).toEqual([
      {
        variant: 'tiny',
        domain: 'x',
        stage: 'uncalibrated',
        n: 2,
        accuracy: 0.5,
        ece: expect.closeTo(0.125, 12),
        mce: expect.closeTo(0.125, 12),
        confidence: expect.closeTo(0.625, 12),
      },
      {
        variant: 'tiny',
        domain: 'y',
        stage: 'uncalibrated',
        n: 1,
        accuracy: 1,
        ece: expect.closeTo(0.25, 12),
        mce: expect.closeTo(0.25, 12),
        confidence: expect.closeTo(0.75, 12),
      },
    ]);
    expect(view.histograms).toHaveLength(1);
    const bins = view.histograms[0].bins;
    expect(bins).toHaveLength(10);
    expect(bins.map((b) => [b.correct, b.wrong])).toEqual([
      [0, 0],
      [0, 0],
      [0, 0],
      [0, 0],
      [0, 0],
      [0, 0],
      [1, 1],
      [1, 0],
      [0, 0],
      [0, 0],
    ]);
    expect(view.scalingEffects).toEqual([]);
  });

  it('reads stored runs through the worker API and reopens a closed database', async () => {
    const store = Object.assign(MemoryRunStore.of(studyGroups(25)), { isClosed: false });
    let opened = 0;
    const api = createAnalysisWorkerApi({
      spawnJobWorker: () => local,
      poolSize: 2,
      openDatabase: async () => {
        opened++;
        return store;
      },
    });
    const a = await api.analyzeStored('db', { requestId: 1, settings: { bootstrap: 0, permutations: 0 } });
    expect(Object.keys(a.report!.variants)).toEqual(['grpo', 'sft', 'base']);
    await api.analyzeStored('db', { requestId: 2, settings: { bootstrap: 0, permutations: 0 } });
    expect(opened).toBe(1);
    store.isClosed = true;
    await api.analyzeStored('db', { requestId: 3, settings: { bootstrap: 0, permutations: 0 } });
    expect(opened).toBe(2);
  }, 30_000); // smooth ECE resampling included

  it('exports, fingerprints and imports through the worker API', async () => {
    const groups = studyGroups(10);
    const source = Object.assign(MemoryRunStore.of(groups), { isClosed: false });
    const target = Object.assign(new MemoryRunStore(), { isClosed: false });
    const api = createAnalysisWorkerApi({
      spawnJobWorker: () => local,
      poolSize: 1,
      openDatabase: async (name) => (name === 'source' ? source : target),
    });
    const view = await api.analyzeStored('source', { requestId: 1, settings: { bootstrap: 20, permutations: 0 } });
    const text = await api.exportResults('source', { app, report: view.report });
    const emptySignature = await api.storeSignature('target');
    const outcome = await api.importFiles('target', [{ file: new File([text], 'e.json') }]);
    expect(outcome).toMatchObject({ resultsAdded: 30, runsAdded: 3, variantsAdded: 3 });
    expect(outcome).not.toHaveProperty('results');
    expect(await api.storeSignature('target')).not.toBe(emptySignature);
    expect(await api.storeSignature('target')).toBe(await api.storeSignature('source'));
    // The imported profile gives the same table.
    const again = await api.analyzeStored('target', { requestId: 2, settings: { bootstrap: 20, permutations: 0 } });
    expect(again.report).toEqual(view.report);
    // Only the selected runs are exported; an analysis of other runs is refused.
    const one = [groupId(groups[0])];
    await expect(api.exportResults('source', { app, selection: one, report: view.report })).rejects.toThrow(
      /recompute before exporting/,
    );
    expect((await api.exportItemsCsv('source', one)).trim().split('\n')).toHaveLength(11);
  });
});

describe('scalingEffects', () => {
  it('reads paired CIs of the ECE and accuracy change from the two stages resample tables', () => {
    // Two resamples; METRICS order: accuracy, ece, ...
    const row = (acc: number, ece: number) => [acc, ece, 0, 0, 0, 0, 0];
    const before = Float64Array.from([...row(0.6, 0.1), ...row(0.7, 0.2)]);
    const after = Float64Array.from([...row(0.62, 0.05), ...row(0.74, 0.08)]);
    // One bootstrap job per variant: group 0 the uncalibrated stage, group 1 the scaled stage.
    const results: AnalysisJobResult[] = [{ key: 'bootstrap:v', group0: before, group1: after }];
    const report = {
      settings: { confidence: 0.5 },
      variants: { v: { uncalibrated: { accuracy: 0.65, ece: 0.15 }, scaled: { accuracy: 0.68, ece: 0.06 } } },
      comparisons: [],
    } as unknown as AnalysisReport;
    const [e] = scalingEffects(report, results);
    expect(e.variant).toBe('v');
    expect(e.eceChange).toBeCloseTo(-0.09, 12);
    expect(e.accuracyChangePts).toBeCloseTo(3, 12);
    // Differences after - before: ECE -0.05, -0.12; accuracy +0.02, +0.04. 50% percentile interval of two values:
    // quantiles 0.25 and 0.75 interpolate a quarter of the way in from each end.
    expect(e.eceChangeCi![0]).toBeCloseTo(-0.12 + 0.25 * 0.07, 12);
    expect(e.eceChangeCi![1]).toBeCloseTo(-0.12 + 0.75 * 0.07, 12);
    expect(e.accuracyChangePtsCi![0]).toBeCloseTo(2.5, 10);
    expect(e.accuracyChangePtsCi![1]).toBeCloseTo(3.5, 10);
  });
});

describe('checkPublishedClaims', () => {
  const variant = (role: string, ece: number, mce: number, scaledEce: number, accBefore: number, accAfter: number) => ({
    role,
    uncalibrated: { ece, mce, accuracy: accBefore },
    scaled: { ece: scaledEce, accuracy: accAfter },
    ece_reduction_pct: (100 * (ece - scaledEce)) / ece,
    accuracy_change_pts: 100 * (accAfter - accBefore),
  });
  const cmp = (a: string, b: string, metric: string, stage: string, diff: number, ci: [number, number], p: number) => ({
    a,
    b,
    metric,
    stage,
    diff,
    ci,
    p,
  });
  const report = {
    settings: { scaling: 'matrix', inSample: false },
    variants: {
      grpo: variant('grpo', 0.1, 0.3, 0.05, 0.6, 0.62),
      sft: variant('sft', 0.08, 0.25, 0.06, 0.62, 0.61),
      base: variant('base', 0.09, 0.2, 0.04, 0.61, 0.635),
    },
    comparisons: [
      cmp('grpo', 'sft', 'mce', 'uncalibrated', 0.05, [0.01, 0.09], 0.03),
      cmp('grpo', 'base', 'ece', 'uncalibrated', 0.01, [-0.02, 0.04], 0.6),
      cmp('grpo', 'sft', 'ece', 'scaled', -0.01, [-0.03, 0.01], 0.2),
    ],
  } as unknown as AnalysisReport;

  it('judges each claim on every criterion that applies, never on the direction alone', () => {
    const checks = Object.fromEntries(checkPublishedClaims(report).map((c) => [c.id, c]));
    // +0.01 with a CI that includes 0: the direction alone does not reproduce the claim.
    expect(checks['ece-grpo-base']).toMatchObject({
      value: 0.01,
      verdict: 'partly reproduced',
      directionMatches: true,
      ciExcludesZero: false,
      ciMeetsPublished: true,
      p: 0.6,
      published: '+0.006',
    });
    // MCE: the study found it not significant, so only direction and the CI containing +0.010 count.
    expect(checks['mce-grpo-sft']).toMatchObject({
      value: 0.05,
      verdict: 'reproduced',
      ciExcludesZero: true,
      ciExcludesZeroRequired: false,
      ciMeetsPublished: true,
    });
    // The study's p = 0.41 belongs to the MCE difference GRPO - SFT; here p = 0.03, so non-significance is not reproduced.
    expect(checks['p-mce-grpo-sft']).toMatchObject({ value: 0.03, verdict: 'not reproduced', published: 'p = 0.41' });
    // Without the scaling effects' CIs nothing about scaling is "reproduced", however good the estimate.
    expect(checks['ece-reduction-grpo']).toMatchObject({
      value: expect.closeTo(-50, 10),
      verdict: 'partly reproduced',
      inPublishedRange: true,
    });
    expect(checks['ece-reduction-grpo'].summary).toBe(
      'direction matches; no CI yet; inside the published -40% to -64%',
    );
    expect(checks['accuracy-gain-sft']).toMatchObject({
      value: expect.closeTo(-1, 10),
      verdict: 'not reproduced',
      inPublishedRange: false,
      directionMatches: false,
    });
    expect(checks['scaled-ece-grpo-sft']).toMatchObject({
      value: -0.01,
      verdict: 'not reproduced',
      ciExcludesZero: false,
      ciMeetsPublished: true,
    });
  });

  it('flips a comparison stored the other way round, and says what is missing', () => {
    const flipped = findComparison(report, 'base', 'grpo', 'ece', 'uncalibrated')!;
    expect(flipped).toMatchObject({ a: 'base', b: 'grpo', diff: -0.01, ci: [-0.04, 0.02], p: 0.6 });
    const noSft = { ...report, variants: { grpo: report.variants.grpo, base: report.variants.base } } as AnalysisReport;
    const checks = Object.fromEntries(checkPublishedClaims(noSft).map((c) => [c.id, c]));
    expect(checks['mce-grpo-sft']).toMatchObject({
      verdict: 'not available',
      note: 'no analysed variant has the role SFT',
    });
    expect(checks['ece-reduction-sft']).toMatchObject({ verdict: 'not available' });
    const notSignificant = {
      ...report,
      comparisons: report.comparisons.map((c) =>
        c.metric === 'mce' && c.stage === 'uncalibrated' ? { ...c, p: 0.5 } : c,
      ),
    } as AnalysisReport;
    expect(checkPublishedClaims(notSignificant).find((c) => c.id === 'p-mce-grpo-sft')).toMatchObject({
      verdict: 'reproduced',
      value: 0.5,
    });
  });

  it('checks a real simulated report end to end without throwing and names the study runs', async () => {
    const groups = [...studyGroups(60)].reverse();
    const view = await new AnalysisService(poolJobRunner([local])).analyze(groups, { requestId: 1, settings });
    const checks = checkPublishedClaims(view.report!, view.scalingEffects);
    expect(checks.map((c) => c.id)).toEqual([
      'ece-grpo-base',
      'mce-grpo-sft',
      'p-mce-grpo-sft',
      'ece-reduction-base',
      'accuracy-gain-base',
      'ece-reduction-sft',
      'accuracy-gain-sft',
      'ece-reduction-grpo',
      'accuracy-gain-grpo',
      'scaled-ece-grpo-sft',
    ]);
    expect(checks.every((c) => c.verdict !== 'not available')).toBe(true);
    expect(runNames(buildResultsFile(groups, { app }))).toEqual(['grpo', 'sft', 'base']);
  });
});

// JobRunner is part of the worker's contract; keep its signature in view.
const _runner: JobRunner = poolJobRunner([local]);
void _runner;
