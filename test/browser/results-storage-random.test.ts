/**
 * Randomised sequences of runs, imports (good, conflicting, disjoint, duplicate, malformed, too small to
 * analyse) and deletions against real IndexedDB, through the analysis worker's API (run on this thread). After
 * every step: what is stored is exactly what the steps say (nothing lost, nothing half-written), and the analysis
 * lists every stored run, analyses it or names why not, and compares every analysed pair or names why not. The
 * analysis (which may come from the cache and the index of the store revision: a refused import writes nothing)
 * is exactly the one computed afresh from what is stored, and a revisit right after reads no stored result.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { runAnalysisJob } from '../../src/core/analysis';
import { Rng } from '../../src/core/random';
import type { VariantRole } from '../../src/core/types';
import {
  exportResultsJson,
  groupId,
  itemsCsv,
  buildResultsFile,
  readStoredRuns,
  type StoredRunGroup,
} from '../../src/services/export';
import { AnalysisService, createAnalysisWorkerApi, poolJobRunner } from '../../src/services/analysis-service';
import type { AnalysisView } from '../../src/core/report-views';
import { deleteKitDb, openKitDb, type KitDb } from '../../src/storage/db';
import { itemIds, simulatedGroup } from '../support/stored-runs';

const app = { name: 'kit', version: '0' };
const ROLES: VariantRole[] = ['base', 'sft', 'grpo', 'other'];
const SETTINGS = { bootstrap: 20, permutations: 0, seed: 3 };

const opened: KitDb[] = [];
const names: string[] = [];
afterEach(async () => {
  for (const db of opened.splice(0)) db.close();
  for (const name of names.splice(0)) await deleteKitDb(name);
});

/** What the sequences went through, over all seeds (so the test shows it exercised every case). */
const seen = new Set<string>();

/** A picked file, as the page hands it to the worker. */
const picked = (f: { name: string; text: string }) => new File([f.text], f.name);

/** What the store must hold: per groupId, item id -> label. */
type Model = Map<string, Map<string, number>>;

async function storedModel(db: KitDb): Promise<Model> {
  const groups = await readStoredRuns(db);
  return new Map(groups.map((g) => [groupId(g), new Map(g.results.map((r) => [r.itemId, r.label]))]));
}

function addToModel(model: Model, groups: readonly StoredRunGroup[]): void {
  for (const g of groups) {
    const m = model.get(groupId(g)) ?? new Map<string, number>();
    for (const r of g.results) m.set(r.itemId, r.label);
    model.set(groupId(g), m);
  }
}

function checkView(view: AnalysisView, model: Model): void {
  const ids = [...model.keys()].sort();
  // Every stored run is listed; never an empty page while something is stored.
  expect(view.runs.map((r) => r.id).sort()).toEqual(ids);
  if (ids.length === 0) return;
  expect(view.report).toBeDefined();
  const report = view.report!;
  // Each run is analysed or named with its reason, never both, never neither.
  for (const run of view.runs) {
    const analysed = view.analysed.includes(run.id);
    const problem = view.unanalysable.find((u) => u.id === run.id);
    expect(analysed !== (problem !== undefined), `${run.name}: analysed or named`).toBe(true);
    if (problem) {
      expect(problem.reason).toMatch(/\S/);
      expect(run.problem).toBe(problem.reason);
      expect(report.unanalysed?.map((u) => u.variant)).toContain(run.name);
    } else {
      expect(report.variants[run.name], run.name).toBeDefined();
      expect(report.variants[run.name].n).toBe(run.items);
      expect(Number.isFinite(report.variants[run.name].uncalibrated.ece)).toBe(true);
      expect(report.variants[run.name].uncalibrated.ci).toBeDefined();
    }
  }
  expect(Object.keys(report.variants)).toHaveLength(view.analysed.length);
  // Every pair of runs is compared, or listed as not compared with the reason.
  const listed = view.runs.map((r) => r.name);
  for (let i = 0; i < listed.length; i++) {
    for (let j = i + 1; j < listed.length; j++) {
      const [a, b] = [listed[i], listed[j]];
      const compared = report.comparisons.some((c) => c.a === a && c.b === b);
      const why = report.uncompared?.find((u) => u.a === a && u.b === b)?.reason;
      expect(compared !== (why !== undefined), `${a} - ${b}: compared or named`).toBe(true);
      if (!compared) expect(why).toMatch(/no shared items|could not be analysed|gold answer/);
    }
  }
}

async function runSequence(seed: number, steps: number): Promise<string[]> {
  const name = `random-store-${seed}-${Date.now()}`;
  names.push(name);
  const db = await openKitDb({ name });
  opened.push(db);
  // The worker API's database, counting the reads of stored results.
  let reads = 0;
  const counted = new Proxy(db, {
    get(target, property) {
      if (property === 'getResults')
        return (variantKey: string, promptKey: string) => {
          reads++;
          return target.getResults(variantKey, promptKey);
        };
      const value = Reflect.get(target, property, target);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
  const local = { run: async (job: Parameters<typeof runAnalysisJob>[0]) => runAnalysisJob(job) };
  const api = createAnalysisWorkerApi({ spawnJobWorker: () => local, poolSize: 1, openDatabase: async () => counted });
  const afresh = new AnalysisService(poolJobRunner([local]));
  const content = ({ requestId: _id, source: _source, ...rest }: AnalysisView) => rest;
  const rng = new Rng(seed);
  const pick = <T>(xs: readonly T[]): T => xs[rng.nextInt(xs.length)];
  const shared = itemIds(24);
  const model: Model = new Map();
  const imported: { name: string; text: string; as?: { name: string; role: VariantRole } }[] = [];
  const log: string[] = [];
  let counter = 0;
  const fresh = () => `v${seed}-${counter++}`;
  const group = (items = shared) => {
    const k = shared === items ? 12 + rng.nextInt(13) : items.length;
    const subset = items.slice(0, k);
    return simulatedGroup(
      fresh(),
      pick(ROLES),
      { seed: rng.nextInt(1000), confidenceScale: 0.5 + rng.nextInt(20) / 10 },
      subset,
    );
  };
  const refused = async (file: { name: string; text: string }, as?: { name: string; role: VariantRole }) => {
    const before = JSON.stringify([...(await storedModel(db))]);
    await expect(api.importFiles(db.name, [{ file: picked(file), ...(as ? { as } : {}) }])).rejects.toThrow(
      new RegExp(`^${file.name.replace('.', '\\.')}: `),
    );
    expect(JSON.stringify([...(await storedModel(db))])).toBe(before);
  };

  for (let step = 0; step < steps; step++) {
    const groups = await readStoredRuns(db);
    const op = pick([
      'run',
      'run',
      'good',
      'conflicting',
      'disjoint',
      'duplicate',
      'malformed',
      'tiny',
      'delete-run',
      'delete-variant',
    ] as const);
    log.push(op);
    switch (op) {
      case 'run': {
        // As the run controller stores a run: variant, run record, results in batches.
        const g = group();
        await db.putVariant(g.variant!);
        await db.putRun(g.runs[0]);
        await db.putResults(g.results.slice(0, 5));
        await db.putResults(g.results.slice(5));
        addToModel(model, [g]);
        break;
      }
      case 'good': {
        const g = group();
        const file = { name: `good-${counter}.json`, text: exportResultsJson([g], { app }) };
        await api.importFiles(db.name, [{ file: picked(file) }]);
        imported.push(file);
        addToModel(model, [g]);
        break;
      }
      case 'conflicting': {
        // Another variant's CSV that gives one shared item a different gold answer than the stored one.
        const target = groups.find((g) => g.results.some((r) => shared.some((s) => s.itemId === r.itemId)));
        if (!target) break;
        const flip = pick(target.results);
        const rows = shared.map(
          (s) => `${s.itemId},${'ABCD'[s.itemId === flip.itemId ? (flip.label + 1) % 4 : s.label]},1,0.5,0,-1`,
        );
        await refused(
          {
            name: `conflict-${counter}.csv`,
            text: `item_id,label,logit_A,logit_B,logit_C,logit_D\n${rows.join('\n')}\n`,
          },
          { name: fresh(), role: 'other' },
        );
        break;
      }
      case 'disjoint': {
        const g = group(itemIds(10, `disjoint${counter}`));
        const file = { name: `disjoint-${counter}.csv`, text: itemsCsv(buildResultsFile([g], { app })) };
        await api.importFiles(db.name, [{ file: picked(file) }]);
        imported.push(file);
        addToModel(model, [g]);
        break;
      }
      case 'duplicate': {
        if (imported.length === 0) break;
        const file = pick(imported);
        const storedBefore = JSON.stringify([...(await storedModel(db))]);
        const outcome = await api
          .importFiles(db.name, [{ file: picked(file), ...(file.as ? { as: file.as } : {}) }])
          .catch((e: Error) => e);
        // A file whose runs were deleted since comes back whole; one still stored adds nothing.
        if (outcome instanceof Error) throw outcome;
        if (outcome.resultsAdded === 0) expect(JSON.stringify([...(await storedModel(db))])).toBe(storedBefore);
        const again = await storedModel(db);
        for (const [id, items] of again) if (!model.has(id)) model.set(id, items);
        break;
      }
      case 'malformed': {
        const bad = pick([
          { name: `bad-${counter}.csv`, text: 'item_id,label,logit_A,logit_B,logit_C,logit_D\nx/test/1,A,1,2,nan,4\n' },
          { name: `bad-${counter}.json`, text: '{"format": "calibration-kit/results", "version": 1, "runs": [' },
          { name: `bad-${counter}.csv`, text: 'item_id,label,logit_A,logit_B,logit_C,logit_D\nx/test/1,Q,1,2,3,4\n' },
        ]);
        await refused(bad, { name: fresh(), role: 'sft' });
        break;
      }
      case 'tiny': {
        // Fewer items than cross-fitting folds: stored, listed, and named as not analysable.
        const g = group(shared.slice(0, 3));
        const file = { name: `tiny-${counter}.json`, text: exportResultsJson([g], { app }) };
        await api.importFiles(db.name, [{ file: picked(file) }]);
        imported.push(file);
        addToModel(model, [g]);
        break;
      }
      case 'delete-run': {
        if (groups.length === 0) break;
        const g = pick(groups);
        expect(await api.countRun(db.name, groupId(g))).toBe(g.results.length);
        expect(await api.deleteRun(db.name, groupId(g))).toBe(g.results.length);
        model.delete(groupId(g));
        break;
      }
      case 'delete-variant': {
        if (groups.length === 0) break;
        const g = pick(groups);
        const all = groups.filter((x) => x.variantKey === g.variantKey);
        const count = all.reduce((t, x) => t + x.results.length, 0);
        expect(await db.countVariantResults(g.variantKey)).toBe(count);
        expect(await db.deleteVariantAndResults(g.variantKey)).toBe(count);
        for (const x of all) model.delete(groupId(x));
        expect(await db.getVariant(g.variantKey)).toBeUndefined();
        expect(await db.listRuns(g.variantKey)).toEqual([]);
        break;
      }
    }
    const stored = await storedModel(db);
    expect([...stored.keys()].sort(), `after step ${step} (${op})`).toEqual([...model.keys()].sort());
    for (const [id, items] of model) expect(stored.get(id), `${id} after ${op}`).toEqual(items);
    const view = await api.analyzeStored(db.name, { requestId: 2 * step + 1, settings: SETTINGS });
    checkView(view, model);
    const computed = await afresh.analyze(await readStoredRuns(db), { requestId: 1, settings: SETTINGS });
    expect(content(view), `analysis after ${op}`).toEqual(content(computed));
    const readsBefore = reads;
    const revisit = await api.analyzeStored(db.name, { requestId: 2 * step + 2, settings: SETTINGS });
    expect(content(revisit)).toEqual(content(computed));
    if (model.size > 0) {
      expect(revisit.source).toBe('cache');
      expect(reads, `results read by a revisit after ${op}`).toBe(readsBefore);
    }
    if (view.source === 'cache') seen.add('an analysis served from the cache');
    seen.add(op);
    if (view.unanalysable.length > 0) seen.add('a run named as not analysable');
    if (view.report?.uncompared?.some((u) => u.reason.startsWith('no shared items')))
      seen.add('a pair with no shared items');
    if (view.analysed.length >= 2 && (view.report?.comparisons.length ?? 0) > 0) seen.add('a comparison');
  }
  return log;
}

describe('no stored data can disable Results (real IndexedDB, randomised)', () => {
  for (const seed of [1, 2, 3, 4]) {
    it(`seed ${seed}: after every run, import and deletion every stored run is analysed or named`, async () => {
      const log = await runSequence(seed, 20);
      expect(log).toHaveLength(20);
    }, 180_000);
  }

  it('went through every kind of step and every kind of outcome', () => {
    expect([...seen].sort()).toEqual(
      [
        'run',
        'good',
        'conflicting',
        'disjoint',
        'duplicate',
        'malformed',
        'tiny',
        'delete-run',
        'delete-variant',
        'a run named as not analysable',
        'a pair with no shared items',
        'a comparison',
        'an analysis served from the cache',
      ].sort(),
    );
  });
});
