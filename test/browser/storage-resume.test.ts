import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Rng } from '../../src/core/random';
import { startSimulatedEngine, type EngineHandle } from '../../src/engine/remote';
import type { SimulatedFaults, SimulatedWorkerApi } from '../../src/engine/types';
import { simulatedVariant } from '../../src/engine/variants';
import {
  RunController,
  type ControlledEngine,
  type RunItem,
  type RunPlan,
  type RunProgress,
} from '../../src/services/run-controller';
import { deleteKitDb, openKitDb, type KitDb } from '../../src/storage/db';

// Real Workers running the simulated engine, real IndexedDB: every interruption must end with exactly the
// results of an uninterrupted run, none lost, none stored twice.

const created = new Date(0);
const variants = [
  simulatedVariant('base-sim', 'base', { accuracy: 0.8, seed: 11 }, created),
  simulatedVariant(
    'grpo-sim',
    'grpo',
    { accuracy: 0.65, confidenceScale: 2.5, letterBias: [0.5, 0, 0, 0], seed: 11 },
    created,
  ),
];
const items: RunItem[] = Array.from({ length: 40 }, (_, i) => ({
  itemId: `subject_${i % 3}/test/${i}`,
  prompt: `Question ${i}\nA. a\nB. b\nC. c\nD. d\nAnswer:`,
  label: (i * 5 + 1) % 4,
  subject: `subject_${i % 3}`,
}));
const plan: RunPlan = {
  promptKey: 'mmlu-completion/k0/test',
  manifestHash: 'manifest',
  answerStrings: [' A', ' B', ' C', ' D'],
  items,
  variants,
};
const total = items.length * variants.length;

/** Starts real simulated workers: the n-th gets faults[n]; counts workers and score calls. */
function workers(faults: SimulatedFaults[] = []) {
  const handles: EngineHandle<SimulatedWorkerApi>[] = [];
  let scoreCalls = 0;
  const start = (): ControlledEngine => {
    const handle = startSimulatedEngine();
    const f = faults[handles.length];
    handles.push(handle);
    const ready = f ? handle.guard(handle.remote.setFaults(f)) : Promise.resolve();
    return {
      load: async (...args) => {
        await ready;
        return handle.load(...args);
      },
      score: (r) => {
        scoreCalls++;
        return handle.score(r);
      },
      unload: handle.unload,
      dispose: handle.dispose,
      terminate: handle.terminate,
    };
  };
  return {
    start,
    handles,
    get scoreCalls() {
      return scoreCalls;
    },
  };
}

const names: string[] = [];
async function freshDb(): Promise<{ name: string; db: KitDb }> {
  const name = `kit-resume-${Date.now()}-${names.length}`;
  names.push(name);
  return { name, db: await openKitDb({ name }) };
}

/** Every stored result of the plan without timings, sorted. */
async function scores(db: KitDb): Promise<unknown[]> {
  const rows = (await Promise.all(variants.map((v) => db.getResults(v.key, plan.promptKey)))).flat();
  return rows
    .map(({ elapsedMs: _e, scoredAt: _s, ...r }) => r)
    .sort((a, b) => (a.variantKey + a.itemId).localeCompare(b.variantKey + b.itemId));
}

let baseline: unknown[];
beforeAll(async () => {
  const { db } = await freshDb();
  const w = workers();
  const final = await new RunController({ db, startEngine: w.start }).start(plan);
  expect(final.phase).toBe('done');
  baseline = await scores(db);
  expect(baseline).toHaveLength(total);
  expect(w.scoreCalls).toBe(total);
  db.close();
});
afterAll(async () => {
  for (const name of names) await deleteKitDb(name);
});

describe('resuming runs with real Workers and real IndexedDB', () => {
  it('after a reload: a new controller on the same database finishes the run with identical results', async () => {
    const { name, db } = await freshDb();
    const first = workers();
    let killed = false;
    const controller = new RunController({
      db,
      startEngine: first.start,
      batchSize: 4,
      onProgress: (p) => {
        // Closing the tab: the page's database connection and its worker vanish mid-run.
        if (!killed && p.queueDone === 23) {
          killed = true;
          db.close();
          first.handles.forEach((h) => h.terminate());
        }
      },
    });
    const interrupted = await controller.start(plan);
    expect(interrupted.phase).toBe('error');

    const reopened = await openKitDb({ name });
    const stored = (await reopened.scoredItemIds(variants[0].key, plan.promptKey)).size;
    expect(stored).toBeGreaterThanOrEqual(20);
    expect(stored).toBeLessThan(23); // the unwritten batch was lost with the tab and is scored again
    const second = workers();
    const final = await new RunController({ db: reopened, startEngine: second.start }).start(plan);
    expect(final).toMatchObject({ phase: 'done', queueDone: total });
    expect(second.scoreCalls).toBe(total - stored);
    expect(await scores(reopened)).toEqual(baseline);
    reopened.close();
  });

  it('after a worker crash (terminated mid-run, or an uncaught error in the worker): a fresh worker resumes', async () => {
    const { db } = await freshDb();
    const w = workers([{}, { crashAtCall: 25 }]);
    let killed = false;
    const seen: RunProgress[] = [];
    const final = await new RunController({
      db,
      startEngine: w.start,
      batchSize: 3,
      onProgress: (p) => {
        seen.push(p);
        if (!killed && p.queueDone === 11) {
          killed = true;
          w.handles[0].terminate();
        }
      },
    }).start(plan);
    expect(final).toMatchObject({ phase: 'done', recoveries: 2 });
    expect(w.handles).toHaveLength(3);
    expect(seen.some((p) => p.phase === 'recovering' && p.error?.name === 'WorkerCrashedError')).toBe(true);
    expect(await scores(db)).toEqual(baseline);
    db.close();
  });

  for (const seed of [1, 2, 3, 4, 5]) {
    it(`after a lost device at a random item (seed ${seed})`, async () => {
      const at = new Rng(seed).nextInt(total);
      const { db } = await freshDb();
      const w = workers([{ loseDeviceAtCall: at }]);
      const final = await new RunController({ db, startEngine: w.start, batchSize: 5 }).start(plan);
      expect(final).toMatchObject({ phase: 'done', recoveries: 1, queueDone: total });
      expect(w.handles).toHaveLength(2);
      expect(w.scoreCalls).toBe(total + 1); // only the failed request is repeated
      expect(await scores(db)).toEqual(baseline);
      db.close();
    });
  }

  it('a finished run re-opened costs no GPU work', async () => {
    const { db } = await freshDb();
    await new RunController({ db, startEngine: workers().start }).start(plan);
    const again = workers();
    const final = await new RunController({ db, startEngine: again.start }).start(plan);
    expect(final).toMatchObject({ phase: 'done', queueDone: total });
    expect(again.handles).toHaveLength(0);
    for (const v of variants)
      expect(await db.getRun(v.key, plan.promptKey, plan.manifestHash)).toMatchObject({ status: 'done' });
    db.close();
  });

  it('a cancel mid-request drops the reply in flight; starting again completes the same results', async () => {
    const { db } = await freshDb();
    const slow = workers([{ delayMs: 30 }]);
    let cancelled = false;
    const controller = new RunController({
      db,
      startEngine: slow.start,
      onProgress: (p) => {
        if (!cancelled && p.queueDone === 6) {
          cancelled = true;
          queueMicrotask(() => controller.cancel()); // the 7th request is now in flight
        }
      },
    });
    const stopped = await controller.start(plan);
    expect(stopped.phase).toBe('cancelled');
    expect((await db.scoredItemIds(variants[0].key, plan.promptKey)).size).toBe(6);
    expect(slow.handles[0].dead).toBe(true); // the worker was stopped, freeing the GPU
    expect(await db.getRun(variants[0].key, plan.promptKey, plan.manifestHash)).toMatchObject({ status: 'cancelled' });
    const final = await new RunController({ db, startEngine: workers().start }).start(plan);
    expect(final.phase).toBe('done');
    expect(await scores(db)).toEqual(baseline);
    db.close();
  });
});
