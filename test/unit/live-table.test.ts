import { describe, expect, it } from 'vitest';
import { accuracy, predictionsFromLogits, topLabel } from '../../src/core/metrics';
import { liveTable } from '../../src/services/live-table';
import { MemoryRunStore, PROMPT_KEY, itemIds, simulatedGroup } from '../support/stored-runs';

describe("liveTable: the run panel's table, read where the database is", () => {
  const items = itemIds(30);
  const base = simulatedGroup('base', 'base', { accuracy: 0.7, seed: 1 }, items);
  const grpo = simulatedGroup('grpo', 'grpo', { accuracy: 0.7, confidenceScale: 1.8, seed: 3 }, items);
  // The newest items: three of grpo's, stored later than everything else.
  grpo.results.slice(0, 3).forEach((r, i) => (r.scoredAt = `2026-01-02T00:00:0${i}.000Z`));
  const store = MemoryRunStore.of([base, grpo]);
  const variant = (g: typeof base) => ({
    key: g.variantKey,
    name: g.variant!.name,
    role: g.variant!.role,
    simulated: true,
  });

  it("counts only the current sample and gives the analysis's accuracy and mean confidence", async () => {
    const sample = items.slice(0, 20).map((i) => i.itemId);
    const table = await liveTable(store, {
      promptKey: PROMPT_KEY,
      itemIds: sample,
      variants: [variant(base), variant(grpo)],
      recent: 4,
    });
    expect(table.live.map((v) => [v.name, v.stored, v.total])).toEqual([
      ['base', 20, 20],
      ['grpo', 20, 20],
    ]);
    for (const [g, row] of [base, grpo].map((g, i) => [g, table.live[i]] as const)) {
      const rows = g.results.filter((r) => sample.includes(r.itemId));
      const pred = predictionsFromLogits(
        Float64Array.from(rows.flatMap((r) => r.letterLogits)),
        Uint8Array.from(rows.map((r) => r.label)),
      );
      expect(row.accuracy).toBe(accuracy(pred));
      expect(row.meanConfidence).toBeCloseTo(topLabel(pred).confidence.reduce((s, c) => s + c, 0) / rows.length, 14);
      expect(row.meanLetterMass).toBeGreaterThan(0);
    }
    // The latest stored items first, and only as many as asked for.
    expect(table.recent.map((r) => [r.variant, r.itemId])).toEqual([
      ['grpo', grpo.results[2].itemId],
      ['grpo', grpo.results[1].itemId],
      ['grpo', grpo.results[0].itemId],
      expect.arrayContaining(['base']),
    ]);
    expect(table.recent.every((r) => 'ABCD'.includes(r.gold) && 'ABCD'.includes(r.predicted))).toBe(true);
  });

  it('has no rates for a variant with nothing stored', async () => {
    const table = await liveTable(store, {
      promptKey: 'other-prompt',
      itemIds: items.map((i) => i.itemId),
      variants: [variant(base)],
      recent: 6,
    });
    expect(table.live).toEqual([
      { key: base.variantKey, name: 'base', role: 'base', simulated: true, stored: 0, total: 30 },
    ]);
    expect(table.recent).toEqual([]);
  });
});
