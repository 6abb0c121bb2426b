import { describe, expect, it } from 'vitest';
import { SimulatedEngine } from '../../src/engine/simulated';
import type { ItemLetterScore, ScoreRequest, SimulatedFaults, VariantRecord } from '../../src/engine/types';
import { simulatedVariant } from '../../src/engine/variants';
import {
  RunController,
  type ControlledEngine,
  type RunItem,
  type RunPlan,
  type RunProgress,
  type RunStore,
} from '../../src/services/run-controller';
import { StorageError, type RunRecord, type StoredResult } from '../../src/storage/db';

/** The controller's storage in memory, keyed exactly like the IndexedDB stores. */
class MemoryStore implements RunStore {
  results = new Map<string, StoredResult>();
  runs = new Map<string, RunRecord>();
  batches: number[] = [];
  failOnBatch: number | undefined;
  async scoredItemIds(variantKey: string, promptKey: string) {
    return new Set(
      [...this.results.values()]
        .filter((r) => r.variantKey === variantKey && r.promptKey === promptKey)
        .map((r) => r.itemId),
    );
  }
  async getRun(v: string, p: string, m: string) {
    return this.runs.get(JSON.stringify([v, p, m]));
  }
  async putRun(run: RunRecord) {
    this.runs.set(JSON.stringify([run.variantKey, run.promptKey, run.manifestHash]), structuredClone(run));
  }
  async putResults(batch: readonly StoredResult[]) {
    if (this.batches.length === this.failOnBatch) {
      this.batches.push(0);
      throw new StorageError('StorageQuotaError', 'Saving results: quota exhausted');
    }
    this.batches.push(batch.length);
    for (const r of batch) this.results.set(JSON.stringify([r.variantKey, r.promptKey, r.itemId]), structuredClone(r));
  }
  /** Results without timings, sorted: what must equal between an interrupted and an uninterrupted run. */
  scores(): unknown[] {
    return [...this.results.values()]
      .map(({ elapsedMs: _e, scoredAt: _s, ...r }) => r)
      .sort((a, b) => (a.variantKey + a.itemId).localeCompare(b.variantKey + b.itemId));
  }
}

const now = new Date('2025-01-01T00:00:00Z');
const variants: VariantRecord[] = [
  simulatedVariant('base-sim', 'base', { accuracy: 0.75 }, now),
  simulatedVariant('sft-sim', 'sft', { accuracy: 0.6, confidenceScale: 2 }, now),
];
const items: RunItem[] = Array.from({ length: 30 }, (_, i) => ({
  itemId: `subject/test/${i}`,
  prompt: `Question ${i}?\nAnswer:`,
  label: (i * 3) % 4,
  subject: 'subject',
  domain: 'd',
}));
const plan: RunPlan = {
  promptKey: 'mmlu-completion/k0/abc',
  manifestHash: 'h1',
  answerStrings: [' A', ' B', ' C', ' D'],
  items,
  variants,
};

/** Starts SimulatedEngines, the n-th with faults[n], and records what happens to them. */
function engines(faults: SimulatedFaults[] = []) {
  const log = { started: 0, loaded: 0, maxLoaded: 0, scores: 0, loadedNow: 0 };
  const start = (): ControlledEngine => {
    const engine = new SimulatedEngine({ faults: faults[log.started] });
    log.started++;
    let loaded = false;
    const setLoaded = (v: boolean) => {
      if (v !== loaded) log.loadedNow += v ? 1 : -1;
      loaded = v;
      log.maxLoaded = Math.max(log.maxLoaded, log.loadedNow);
    };
    return {
      load: async (...args) => {
        setLoaded(false);
        const r = await engine.load(...args);
        log.loaded++;
        setLoaded(true);
        return r;
      },
      score: (r) => {
        log.scores++;
        return engine.score(r);
      },
      unload: async () => {
        setLoaded(false);
        await engine.unload();
      },
      dispose: async () => {
        setLoaded(false);
        await engine.dispose();
      },
      terminate: () => setLoaded(false),
    };
  };
  return { log, start };
}

async function baseline(): Promise<MemoryStore> {
  const db = new MemoryStore();
  await new RunController({ db, startEngine: engines().start }).start(plan);
  return db;
}

describe('RunController', () => {
  it('scores every variant in turn with one model loaded at a time, in batched writes', async () => {
    const db = new MemoryStore();
    const { log, start } = engines();
    const seen: RunProgress[] = [];
    const final = await new RunController({
      db,
      startEngine: start,
      batchSize: 8,
      onProgress: (p) => seen.push(p),
    }).start(plan);
    expect(final).toMatchObject({ phase: 'done', queueDone: 60, queueTotal: 60, itemsDone: 30, variantIndex: 1 });
    expect(db.results.size).toBe(60);
    expect(db.batches).toEqual([8, 8, 8, 6, 8, 8, 8, 6]);
    expect(log).toMatchObject({ started: 1, loaded: 2, maxLoaded: 1, scores: 60 });
    for (const v of variants)
      expect(await db.getRun(v.key, plan.promptKey, 'h1')).toMatchObject({
        status: 'done',
        simulated: true,
        engine: { kind: 'simulated', method: 'simulated' },
      });
    const r = [...db.results.values()][0];
    expect(r).toMatchObject({
      method: 'simulated',
      simulated: true,
      subject: 'subject',
      domain: 'd',
      promptKey: plan.promptKey,
    });
    expect(seen.some((p) => p.phase === 'loading')).toBe(true);
    expect(seen.map((p) => p.variantIndex)).toContain(0);
  });

  it('costs no engine work when the run is already complete', async () => {
    const db = await baseline();
    const { log, start } = engines();
    const final = await new RunController({ db, startEngine: start }).start(plan);
    expect(final.phase).toBe('done');
    expect(log.started).toBe(0);
  });

  it('stops on a scoring error with what was received stored, and a new controller resumes to the same results', async () => {
    const db = new MemoryStore();
    const failed = await new RunController({
      db,
      startEngine: engines([{ failAtCall: 13 }]).start,
      batchSize: 5,
    }).start(plan);
    expect(failed.phase).toBe('error');
    expect(failed.error).toMatchObject({ name: 'ScoringError' });
    expect(db.results.size).toBe(13);
    expect(await db.getRun(variants[0].key, plan.promptKey, 'h1')).toMatchObject({
      status: 'error',
      error: { name: 'ScoringError' },
    });
    const { log, start } = engines();
    const resumed = await new RunController({ db, startEngine: start }).start(plan);
    expect(resumed.phase).toBe('done');
    expect(log.scores).toBe(60 - 13);
    expect(db.scores()).toEqual((await baseline()).scores());
  });

  it('recovers from a lost device with a fresh engine and resumes at the first unscored item', async () => {
    const db = new MemoryStore();
    const { log, start } = engines([{ loseDeviceAtCall: 17 }]);
    const final = await new RunController({ db, startEngine: start, batchSize: 4 }).start(plan);
    expect(final).toMatchObject({ phase: 'done', recoveries: 1 });
    expect(log.started).toBe(2);
    expect(log.scores).toBe(61);
    expect(db.scores()).toEqual((await baseline()).scores());
  });

  it('gives up after maxRecoveries fresh engines', async () => {
    const db = new MemoryStore();
    const { start } = engines([{ loseDeviceAtCall: 2 }, { loseDeviceAtCall: 0 }]);
    const final = await new RunController({ db, startEngine: start, maxRecoveries: 1 }).start(plan);
    expect(final).toMatchObject({ phase: 'error', recoveries: 1, error: { name: 'DeviceLostError' } });
    expect(db.results.size).toBe(2);
  });

  it('keeps earlier batches when a write fails, and says why', async () => {
    const db = new MemoryStore();
    db.failOnBatch = 1;
    const final = await new RunController({ db, startEngine: engines().start, batchSize: 4 }).start(plan);
    expect(final.phase).toBe('error');
    expect(final.error?.name).toBe('StorageQuotaError');
    expect(final.error?.action).toMatch(/no stored result was lost/);
    expect(db.results.size).toBe(4);
  });

  it('pauses after the item in flight and resumes where it stopped', async () => {
    const db = new MemoryStore();
    const { log, start } = engines();
    let paused!: () => void;
    const pausedNow = new Promise<void>((r) => (paused = r));
    let pausedOnce = false;
    const controller = new RunController({
      db,
      startEngine: start,
      onProgress: (p) => {
        if (p.phase === 'scoring' && p.queueDone === 7 && !pausedOnce) {
          pausedOnce = true;
          controller.pause();
        }
        if (p.phase === 'paused') paused();
      },
    });
    const done = controller.start(plan);
    await pausedNow;
    for (let i = 0; i < 5; i++) await new Promise((r) => setTimeout(r, 0));
    expect(log.scores).toBe(7);
    expect(db.results.size).toBe(7); // flushed on pause
    expect(controller.progress.phase).toBe('paused');
    controller.resume();
    expect((await done).phase).toBe('done');
    expect(db.scores()).toEqual((await baseline()).scores());
  });

  it('drops the reply that arrives after a cancel', async () => {
    const db = new MemoryStore();
    let release!: () => void;
    let requested!: () => void;
    const inFlight = new Promise<void>((r) => (requested = r));
    const gate = new Promise<void>((r) => (release = r));
    const inner = new SimulatedEngine();
    let arrived: ItemLetterScore | undefined;
    const engine: ControlledEngine = {
      load: (...a) => inner.load(...a),
      score: async (r: ScoreRequest) => {
        if (r.itemId !== items[5].itemId) return inner.score(r);
        const reply = await inner.score(r);
        requested();
        await gate;
        return (arrived = reply);
      },
      unload: () => inner.unload(),
      dispose: () => inner.dispose(),
    };
    const controller = new RunController({ db, startEngine: () => engine, batchSize: 100 });
    const done = controller.start(plan);
    await inFlight;
    controller.cancel();
    expect(controller.progress.phase).toBe('cancelled');
    const final = await done;
    release();
    await new Promise((r) => setTimeout(r, 0));
    expect(arrived?.itemId).toBe(items[5].itemId);
    expect(final.phase).toBe('cancelled');
    expect([...db.results.values()].map((r) => r.itemId)).toEqual(items.slice(0, 5).map((i) => i.itemId));
    expect(await db.getRun(variants[0].key, plan.promptKey, 'h1')).toMatchObject({ status: 'cancelled' });
  });

  it('refuses a reply for another request and never stores simulated output for a model variant', async () => {
    const inner = new SimulatedEngine();
    const db = new MemoryStore();
    const wrongId: ControlledEngine = {
      load: (...a) => inner.load(...a),
      score: async (r) => ({ ...(await inner.score(r)), requestId: r.requestId + 1 }),
      unload: () => inner.unload(),
      dispose: () => inner.dispose(),
    };
    const a = await new RunController({ db, startEngine: () => wrongId }).start(plan);
    expect(a.error?.message).toMatch(/the reply was dropped/);
    expect(db.results.size).toBe(0);

    const disguised: VariantRecord = {
      ...variants[0],
      simulated: false,
      engine: 'webllm',
      model: { modelId: 'm', modelUrl: 'http://x/m', modelLibUrl: 'http://x/l.wasm' },
    };
    const pretender: ControlledEngine = {
      load: async (v) => ({ variantKey: v.key, engine: 'webllm', method: 'logit-processor', loadMs: 0 }),
      score: async (r) => ({
        ...(await (async () => {
          await inner.load(
            { engine: 'simulated', key: r.variantKey, simulation: variants[0].simulation! },
            plan.answerStrings,
          );
          return inner.score(r);
        })()),
      }),
      unload: async () => {},
      dispose: async () => {},
    };
    const b = await new RunController({ db, startEngine: () => pretender }).start({ ...plan, variants: [disguised] });
    expect(b.phase).toBe('error');
    expect(b.error?.message).toMatch(/received a simulated reply; refusing to store it/);
    expect(db.results.size).toBe(0);
  });

  it('writes each result at once when scoring takes seconds (a reload then loses no scored item)', async () => {
    let t = 0;
    const db = new MemoryStore();
    const one: RunPlan = { ...plan, variants: [variants[0]], items: items.slice(0, 5) };
    // Every clock reading is 600 ms later: each item takes over a second, as on a slow GPU.
    await new RunController({ db, startEngine: engines().start, batchSize: 8, now: () => (t += 600) }).start(one);
    expect(db.batches).toEqual([1, 1, 1, 1, 1]);
    t = 0;
    const fast = new MemoryStore();
    await new RunController({ db: fast, startEngine: engines().start, batchSize: 8, now: () => (t += 1) }).start(one);
    expect(fast.batches).toEqual([5]);
  });

  it('reports items per second, prompt tokens per second and an ETA from its clock', async () => {
    let t = 0;
    const db = new MemoryStore();
    const one: RunPlan = { ...plan, variants: [variants[0]], items: items.slice(0, 10) };
    const seen: RunProgress[] = [];
    await new RunController({
      db,
      startEngine: engines().start,
      now: () => (t += 25),
      onProgress: (p) => seen.push(p),
    }).start(one);
    // Each item reads the clock before and after its request: 25 ms of scoring per item -> 40 items/s.
    const mid = seen.find((p) => p.queueDone === 4)!;
    expect(mid.itemsPerSecond).toBeCloseTo(40, 10);
    const tokens = Math.ceil(items[0].prompt.length / 4);
    expect(items.slice(0, 4).every((i) => Math.ceil(i.prompt.length / 4) === tokens)).toBe(true);
    expect(mid.promptTokensPerSecond).toBeCloseTo(40 * tokens, 10);
    expect(mid.etaSeconds).toBeCloseTo(6 / 40, 10);
  });

  it('refuses a plan with a duplicated item or an impossible label', async () => {
    const c = new RunController({ db: new MemoryStore(), startEngine: engines().start });
    await expect(c.start({ ...plan, items: [items[0], items[0]] })).rejects.toThrow(/twice/);
    await expect(c.start({ ...plan, items: [{ ...items[0], label: 4 }] })).rejects.toThrow(/label 4/);
  });
});

describe('planFromPrompts (wiring to src/core/prompts.ts)', () => {
  it('orders items as the manifest does, with labels from the items, domains from the manifest and one prompt key', async () => {
    const { buildPromptRecords } = await import('../../src/core/prompts');
    const { planFromPrompts } = await import('../../src/services/run-controller');
    const mk = (id: string, answer: number) => ({
      id,
      subject: 'astronomy',
      split: 'test' as const,
      row: Number(id.split('/')[2]),
      question: `Q ${id}`,
      choices: ['w', 'x', 'y', 'z'] as [string, string, string, string],
      answer,
    });
    const mmlu = [mk('astronomy/test/0', 2), mk('astronomy/test/1', 0)];
    const prompts = buildPromptRecords(mmlu, new Map(), { format: 'completion', kshot: 0 });
    const manifest = {
      hash: 'm1',
      items: [
        { id: 'astronomy/test/1', hash: 'x', domain: 'stem' },
        { id: 'astronomy/test/0', hash: 'y', domain: 'stem' },
      ],
    };
    const p = planFromPrompts(manifest, mmlu, prompts, variants);
    expect(p.items.map((i) => [i.itemId, i.label, i.domain, i.subject])).toEqual([
      ['astronomy/test/1', 0, 'stem', 'astronomy'],
      ['astronomy/test/0', 2, 'stem', 'astronomy'],
    ]);
    expect(p.items[0].prompt).toBe(prompts[1].text);
    expect(p.promptKey).toBe(prompts[0].template.key);
    expect(p.answerStrings).toEqual([' A', ' B', ' C', ' D']);
    expect(p.manifestHash).toBe('m1');
    expect(() =>
      planFromPrompts(
        { ...manifest, items: [{ id: 'astronomy/test/9', hash: 'z', domain: 'stem' }] },
        mmlu,
        prompts,
        variants,
      ),
    ).toThrow(/not among the loaded items/);
    const chat = buildPromptRecords(mmlu, new Map(), { format: 'chat', kshot: 0 });
    expect(() => planFromPrompts(manifest, mmlu, [prompts[0], chat[1]], variants)).toThrow(/mix templates/);
  });
});
