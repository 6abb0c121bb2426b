/**
 * The variants a run scores and how it prompts them: prebuilt Qwen3 builds from web-llm's own list, custom
 * MLC variants (a user's SFT or GRPO checkpoint: model URL, model_lib URL, overrides), the simulated demo,
 * their roles, the queue order, and the prompt format and k. Variants persist in the results database.
 */
import { DEFAULT_PROBE_SEED, type ProbeTemplateName } from '../core/probe';
import { promptTemplate } from '../core/prompts';
import {
  VARIANT_ROLES,
  type PromptFormat,
  type PromptSpec,
  type PromptTemplate,
  type VariantRole,
} from '../core/types';
import { startWebLLMEngine } from '../engine/remote';
import type { CacheStatus, CatalogEntry, VariantRecord } from '../engine/types';
import { VariantInputError, parseCustomVariant, prebuiltVariant, simulatedVariant } from '../engine/variants';
import type { ItemDb, KitDb } from '../storage/db';

const SESSION_QUEUE = 'variants.queue';

/** The study's three roles as a simulated demo: the base calibrated-ish, SFT and GRPO increasingly over-confident. */
export function simulatedDemoVariants(now = new Date()): VariantRecord[] {
  return [
    simulatedVariant(
      'base (simulated)',
      'base',
      { accuracy: 0.72, confidenceScale: 1.15, letterBias: [0, 0, 0, 0], seed: 0, sycophancy: 0.5 },
      now,
    ),
    simulatedVariant(
      'SFT (simulated)',
      'sft',
      { accuracy: 0.7, confidenceScale: 1.5, letterBias: [0.15, 0, 0, -0.1], seed: 0, sycophancy: 1 },
      now,
    ),
    simulatedVariant(
      'GRPO (simulated)',
      'grpo',
      { accuracy: 0.71, confidenceScale: 1.75, letterBias: [0.3, 0, -0.1, 0], seed: 0, sycophancy: 3 },
      now,
    ),
  ];
}

/**
 * A simulated stand-in for a quantisation study of Qwen3-0.6B: one variant per build web-llm offers, the more
 * quantised a little less accurate and more over-confident. Only for trying the comparison without a GPU: the
 * numbers are the simulated engine's (labelled SIMULATED), not what quantisation does to a model.
 */
export function simulatedQuantisationVariants(now = new Date()): VariantRecord[] {
  const builds: [string, number, number][] = [
    ['q0f32', 0.72, 1.15],
    ['q0f16', 0.72, 1.17],
    ['q4f32_1', 0.7, 1.35],
    ['q4f16_1', 0.7, 1.4],
  ];
  return builds.map(([q, accuracy, confidenceScale]) =>
    simulatedVariant(
      `Qwen3-0.6B-${q} (simulated)`,
      'quantisation',
      { accuracy, confidenceScale, letterBias: [0, 0, 0, 0], seed: 0 },
      now,
    ),
  );
}

/** Form input for a custom variant, as the form holds it (strings). */
export interface CustomVariantForm {
  name: string;
  role: VariantRole;
  modelUrl: string;
  modelLibUrl: string;
  modelId: string;
  contextWindowSize: string;
}

export class VariantsState {
  /** Every stored variant, by creation time. */
  stored = $state.raw<VariantRecord[]>([]);
  /** Keys of the variants the run scores, in queue order. */
  queue = $state.raw<string[]>([]);
  format = $state<PromptFormat>('completion');
  kshot = $state(0);
  /** The sycophancy probe the run's prompt carries ('' : the neutral prompt), and its planting seed. */
  probe = $state<ProbeTemplateName | ''>('');
  probeSeed = $state(DEFAULT_PROBE_SEED);
  catalog = $state.raw<CatalogEntry[] | undefined>(undefined);
  catalogError = $state<string | undefined>(undefined);
  catalogLoading = $state(false);
  cache = $state.raw<Record<string, CacheStatus>>({});
  /** Problems with the last custom-variant form, each naming its field. */
  formProblems = $state.raw<string[]>([]);
  error = $state<string | undefined>(undefined);

  constructor(
    private readonly db: () => KitDb | undefined,
    private readonly store: () => ItemDb | undefined,
  ) {}

  get template(): PromptTemplate {
    return promptTemplate(this.promptSpec);
  }

  /** The prompt every queued variant is scored with. */
  get promptSpec(): PromptSpec {
    return {
      format: this.format,
      kshot: this.kshot,
      ...(this.probe ? { probe: { template: this.probe, seed: this.probeSeed } } : {}),
    };
  }

  get queued(): VariantRecord[] {
    const byKey = new Map(this.stored.map((v) => [v.key, v]));
    return this.queue.map((k) => byKey.get(k)).filter((v): v is VariantRecord => v !== undefined);
  }

  /** Any variant of the queue is simulated: the page, the run and the export say so. */
  get simulatedInQueue(): boolean {
    return this.queued.some((v) => v.simulated);
  }

  async restore(): Promise<void> {
    const db = this.db();
    if (db) this.stored = sortByCreation(await db.listVariants());
    const saved = await this.store()?.getSession<{
      queue: string[];
      format: PromptFormat;
      kshot: number;
      probe?: ProbeTemplateName | '';
      probeSeed?: number;
    }>(SESSION_QUEUE);
    if (saved) {
      const known = new Set(this.stored.map((v) => v.key));
      this.queue = saved.queue.filter((k) => known.has(k));
      this.format = saved.format;
      this.kshot = saved.kshot;
      if (saved.probe === 'weak' || saved.probe === 'strong') this.probe = saved.probe;
      if (Number.isInteger(saved.probeSeed) && saved.probeSeed! >= 0 && saved.probeSeed! < 2 ** 32)
        this.probeSeed = saved.probeSeed!;
    }
  }

  private persistQueue(): void {
    const session = {
      queue: [...this.queue],
      format: this.format,
      kshot: this.kshot,
      probe: this.probe,
      probeSeed: this.probeSeed,
    };
    void this.store()
      ?.putSession(SESSION_QUEUE, session)
      .catch(() => {});
  }

  setFormat(format: PromptFormat): void {
    this.format = format;
    this.persistQueue();
  }

  setKshot(k: number): void {
    this.kshot = k;
    this.persistQueue();
  }

  /** Scores the queue with a sycophancy probe prompt ('' : the neutral prompt); a bad seed is ignored. */
  setProbe(probe: ProbeTemplateName | '', seed: number = this.probeSeed): void {
    this.probe = probe;
    if (Number.isInteger(seed) && seed >= 0 && seed < 2 ** 32) this.probeSeed = seed;
    this.persistQueue();
  }

  private async save(variants: VariantRecord[], enqueue = true): Promise<void> {
    const db = this.db();
    if (!db) {
      this.error = 'The results database is not open, so variants cannot be saved.';
      return;
    }
    try {
      for (const v of variants) await db.putVariant(v);
      const byKey = new Map(this.stored.map((v) => [v.key, v]));
      for (const v of variants) byKey.set(v.key, v);
      this.stored = sortByCreation([...byKey.values()]);
      if (enqueue) this.queue = [...this.queue, ...variants.map((v) => v.key).filter((k) => !this.queue.includes(k))];
      this.error = undefined;
      this.persistQueue();
    } catch (e) {
      this.error = (e as Error).message;
    }
  }

  /** Adds the simulated base / SFT / GRPO demo to the queue (every number they give is labelled simulated). */
  addSimulatedDemo(): Promise<void> {
    return this.save(simulatedDemoVariants());
  }

  /** Adds the simulated quantisation stand-ins (role quantisation, labelled SIMULATED). */
  addSimulatedQuantisation(): Promise<void> {
    return this.save(simulatedQuantisationVariants());
  }

  /**
   * The quantisation study: queues one model (default Qwen3-0.6B) in every quantisation web-llm offers that this
   * adapter runs (f16 builds need shader-f16), each with role quantisation. Results compares each build with the
   * least-quantised one.
   */
  addQuantisationStudy(size = '0.6B', shaderF16 = false): Promise<void> {
    const builds = (this.catalog ?? []).filter((e) => e.size === size && (shaderF16 || !e.needsShaderF16));
    if (builds.length < 2) {
      this.error = `web-llm offers fewer than two builds of Qwen3-${size} that this adapter runs${this.catalog ? '' : " (show web-llm's list first)"}.`;
      return Promise.resolve();
    }
    return this.save(builds.map((e) => prebuiltVariant(e, 'quantisation', e.modelId)));
  }

  addPrebuilt(modelId: string, role: VariantRole, name?: string): Promise<void> {
    const entry = this.catalog?.find((e) => e.modelId === modelId);
    if (!entry) {
      this.error = `${modelId} is not in web-llm's prebuilt list.`;
      return Promise.resolve();
    }
    return this.save([prebuiltVariant(entry, role, name?.trim() || `${entry.modelId}`)]);
  }

  /** Adds a custom variant; on bad input `formProblems` names each field and nothing is saved. */
  async addCustom(form: CustomVariantForm): Promise<boolean> {
    const context = form.contextWindowSize.trim();
    const input = {
      name: form.name,
      role: form.role,
      modelUrl: form.modelUrl,
      modelLibUrl: form.modelLibUrl,
      ...(form.modelId.trim() ? { modelId: form.modelId } : {}),
      ...(context ? { contextWindowSize: Number(context) } : {}),
    };
    try {
      const record = parseCustomVariant(input);
      this.formProblems = [];
      await this.save([record]);
      return true;
    } catch (e) {
      this.formProblems = e instanceof VariantInputError ? e.problems : [(e as Error).message];
      return false;
    }
  }

  /** Changes a variant's role (its key, and so its stored results, stay). */
  async setRole(key: string, role: VariantRole): Promise<void> {
    const v = this.stored.find((x) => x.key === key);
    if (v && VARIANT_ROLES.includes(role)) await this.save([{ ...v, role }], false);
  }

  toggleQueued(key: string, on: boolean): void {
    this.queue = on
      ? this.queue.includes(key)
        ? this.queue
        : [...this.queue, key]
      : this.queue.filter((k) => k !== key);
    this.persistQueue();
  }

  move(key: string, delta: -1 | 1): void {
    const i = this.queue.indexOf(key);
    const j = i + delta;
    if (i < 0 || j < 0 || j >= this.queue.length) return;
    const q = [...this.queue];
    [q[i], q[j]] = [q[j], q[i]];
    this.queue = q;
    this.persistQueue();
  }

  /** How many results are stored for a variant: what deleting it also deletes (for the confirmation). */
  async storedResults(key: string): Promise<number> {
    return (await this.db()?.countVariantResults(key)) ?? 0;
  }

  /**
   * Deletes the variant with its runs and stored results (one transaction), so no stored result outlives its
   * variant on the Results page. Returns how many results were deleted.
   */
  async remove(key: string): Promise<number> {
    const deleted = (await this.db()?.deleteVariantAndResults(key)) ?? 0;
    this.stored = this.stored.filter((v) => v.key !== key);
    this.toggleQueued(key, false);
    return deleted;
  }

  /**
   * web-llm's prebuilt Qwen3 list, read from its own prebuiltAppConfig inside a short-lived web-llm worker (the
   * web-llm chunk loads there, never on the main thread), with what the browser cache holds of each.
   */
  async loadCatalog(): Promise<void> {
    if (this.catalog || this.catalogLoading) return;
    this.catalogLoading = true;
    const worker = startWebLLMEngine();
    try {
      const catalog = await worker.guard(worker.remote.listPrebuiltModels());
      this.catalog = catalog;
      const statuses = await worker.guard(
        worker.remote.cacheStatus(catalog.map(({ size: _s, quantization: _q, needsShaderF16: _f, ...spec }) => spec)),
      );
      this.cache = Object.fromEntries(statuses.map((s) => [s.modelId, s]));
      this.catalogError = undefined;
    } catch (e) {
      this.catalogError = `web-llm's model list could not be read: ${(e as Error).message}`;
    } finally {
      worker.terminate();
      this.catalogLoading = false;
    }
  }

  /** Deletes a model's downloaded files from web-llm's cache. */
  async deleteCached(variant: VariantRecord): Promise<void> {
    if (!variant.model) return;
    const worker = startWebLLMEngine();
    try {
      const { quantization: _q, prebuilt: _p, ...spec } = variant.model;
      await worker.guard(worker.remote.deleteFromCache(spec));
      const [status] = await worker.guard(worker.remote.cacheStatus([spec]));
      this.cache = { ...this.cache, [status.modelId]: status };
    } catch (e) {
      this.error = (e as Error).message;
    } finally {
      worker.terminate();
    }
  }
}

function sortByCreation(variants: VariantRecord[]): VariantRecord[] {
  return [...variants].sort((a, b) =>
    a.createdAt < b.createdAt ? -1 : a.createdAt > b.createdAt ? 1 : a.key < b.key ? -1 : 1,
  );
}
