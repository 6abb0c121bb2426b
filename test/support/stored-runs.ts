/**
 * Stored runs of simulated variants, built in memory the way the run controller stores them (same record
 * shapes, simulateItem's scores), for export, import and analysis tests in Node and Chromium.
 */
import type { VariantRole } from '../../src/core/types';
import { simulateItem } from '../../src/engine/simulated';
import type { SimulationParams, VariantRecord } from '../../src/engine/types';
import { simulatedVariant } from '../../src/engine/variants';
import type { StoredRunGroup } from '../../src/services/export';
import type { RunRecord, StoredResult } from '../../src/storage/db';

export const PROMPT_KEY = 'mmlu-completion/k0/0123456789abcdef';
export const DOMAINS = ['stem', 'humanities', 'social', 'health', 'other'];

export function itemIds(
  n: number,
  prefix = 'subject',
): { itemId: string; label: number; domain: string; subject: string }[] {
  return Array.from({ length: n }, (_, i) => ({
    itemId: `${prefix}_${i % 7}/test/${String(i).padStart(4, '0')}`,
    label: (i * 7 + 3) % 4,
    domain: DOMAINS[i % DOMAINS.length],
    subject: `${prefix}_${i % 7}`,
  }));
}

/** One simulated variant's stored run over the given items. */
export function simulatedGroup(
  name: string,
  role: VariantRole,
  params: Partial<SimulationParams>,
  items: ReturnType<typeof itemIds>,
  promptKey = PROMPT_KEY,
): StoredRunGroup {
  const variant: VariantRecord = simulatedVariant(name, role, params, new Date(0));
  const run: RunRecord = {
    variantKey: variant.key,
    promptKey,
    manifestHash: 'manifest-hash-1',
    status: 'done',
    itemCount: items.length,
    simulated: true,
    engine: { kind: 'simulated', method: 'simulated', params: { ...variant.simulation } },
    startedAt: '2026-01-01T00:00:00.000Z',
    updatedAt: '2026-01-01T00:10:00.000Z',
    finishedAt: '2026-01-01T00:10:00.000Z',
  };
  const results: StoredResult[] = items
    .map((it, i) => {
      const s = simulateItem(variant.simulation!, variant.key, it.itemId, it.label);
      return {
        itemId: it.itemId,
        label: it.label,
        letterLogits: s.letterLogits,
        subject: it.subject,
        domain: it.domain,
        letterMass: s.letterMass,
        logSumExp: s.logSumExp,
        promptTokens: 100 + i,
        elapsedMs: 1.5,
        variantKey: variant.key,
        promptKey,
        method: 'simulated' as const,
        simulated: true,
        scoredAt: '2026-01-01T00:05:00.000Z',
      };
    })
    .sort((a, b) => (a.itemId < b.itemId ? -1 : 1));
  return { variantKey: variant.key, promptKey, variant, runs: [run], results };
}

/** The study's three roles, simulated: base calibrated, SFT a little and GRPO more over-confident. */
export function studyGroups(n = 60): StoredRunGroup[] {
  const items = itemIds(n);
  return [
    simulatedGroup('base', 'base', { accuracy: 0.7, confidenceScale: 1, seed: 1 }, items),
    simulatedGroup('sft', 'sft', { accuracy: 0.72, confidenceScale: 1.3, seed: 2 }, items),
    simulatedGroup(
      'grpo',
      'grpo',
      { accuracy: 0.71, confidenceScale: 1.8, letterBias: [0.4, 0, 0, 0], seed: 3 },
      items,
    ),
  ];
}

/** An in-memory store with KitDb's read and import methods (import all-or-nothing, as in IndexedDB). */
export class MemoryRunStore {
  variants = new Map<string, VariantRecord>();
  runs = new Map<string, RunRecord>();
  results = new Map<string, StoredResult>();

  static of(groups: readonly StoredRunGroup[]): MemoryRunStore {
    const store = new MemoryRunStore();
    for (const g of groups) {
      if (g.variant) store.variants.set(g.variant.key, g.variant);
      for (const r of g.runs) store.runs.set(JSON.stringify([r.variantKey, r.promptKey, r.manifestHash]), r);
      for (const r of g.results) store.results.set(JSON.stringify([r.variantKey, r.promptKey, r.itemId]), r);
    }
    return store;
  }

  async listVariants() {
    return [...this.variants.values()];
  }
  async listRuns() {
    return [...this.runs.values()];
  }
  async getResults(variantKey: string, promptKey: string) {
    return [...this.results.values()]
      .filter((r) => r.variantKey === variantKey && r.promptKey === promptKey)
      .sort((a, b) => (a.itemId < b.itemId ? -1 : a.itemId > b.itemId ? 1 : 0));
  }
  async deleteRunGroup(variantKey: string, promptKey: string) {
    let deleted = 0;
    for (const [key, r] of this.results) {
      if (r.variantKey !== variantKey || r.promptKey !== promptKey) continue;
      this.results.delete(key);
      deleted++;
    }
    for (const [key, r] of this.runs)
      if (r.variantKey === variantKey && r.promptKey === promptKey) this.runs.delete(key);
    return deleted;
  }
  async countResults(variantKey: string, promptKey: string) {
    return (await this.getResults(variantKey, promptKey)).length;
  }
  async importRecords(
    records: { variants: readonly VariantRecord[]; runs: readonly RunRecord[]; results: readonly StoredResult[] },
    check: (stored: StoredResult, incoming: StoredResult) => void,
    sameItem?: (stored: StoredResult, incoming: StoredResult) => void,
  ) {
    if (sameItem) {
      const own = new Set(records.results.map((r) => JSON.stringify([r.variantKey, r.promptKey])));
      for (const r of records.results) {
        const other = [...this.results.values()].find(
          (s) => s.itemId === r.itemId && !own.has(JSON.stringify([s.variantKey, s.promptKey])),
        );
        if (other) sameItem(other, r);
      }
    }
    const counts = { variantsAdded: 0, runsAdded: 0, resultsAdded: 0, resultsKept: 0 };
    const variants = new Map(this.variants);
    const runs = new Map(this.runs);
    const results = new Map(this.results);
    for (const v of records.variants) {
      if (variants.has(v.key)) continue;
      variants.set(v.key, v);
      counts.variantsAdded++;
    }
    for (const r of records.runs) {
      const key = JSON.stringify([r.variantKey, r.promptKey, r.manifestHash]);
      if (runs.has(key)) continue;
      runs.set(key, r);
      counts.runsAdded++;
    }
    for (const r of records.results) {
      const key = JSON.stringify([r.variantKey, r.promptKey, r.itemId]);
      const stored = results.get(key);
      if (stored) {
        check(stored, r);
        counts.resultsKept++;
      } else {
        results.set(key, r);
        counts.resultsAdded++;
      }
    }
    this.variants = variants;
    this.runs = runs;
    this.results = results;
    return counts;
  }
}
