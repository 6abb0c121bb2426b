/**
 * The run panel's live table: what storage holds of each queued variant for the current items and prompt,
 * and the latest stored items. Read where the database is (the analysis worker), so a run's thousands of
 * stored results never cross the page's main thread; every number comes from core's letterDistribution.
 */
import { letterDistribution } from '../core/metrics';
import { LETTERS, type VariantRole } from '../core/types';
import type { KitDb, StoredResult } from '../storage/db';

/** One queued variant, as the live table names it. */
export interface LiveVariant {
  key: string;
  name: string;
  role: VariantRole;
  simulated: boolean;
}

export interface LiveTableRequest {
  promptKey: string;
  /** The current sample's item ids: stored items outside it are not counted. */
  itemIds: readonly string[];
  variants: readonly LiveVariant[];
  /** How many of the latest stored items to list. */
  recent: number;
}

/** What storage holds of one queued variant for the current items and prompt. */
export interface VariantLive extends LiveVariant {
  stored: number;
  total: number;
  /** Over the stored items (undefined before the first). */
  accuracy?: number;
  meanConfidence?: number;
  meanLetterMass?: number;
}

/** One recently stored item, for the live list. */
export interface RecentItem {
  variant: string;
  itemId: string;
  gold: string;
  predicted: string;
  confidence: number;
}

export interface LiveTable {
  live: VariantLive[];
  recent: RecentItem[];
}

/** The live table of the queue: accuracy and mean confidence as the analysis defines them (top label of p). */
export async function liveTable(db: Pick<KitDb, 'getResults'>, request: LiveTableRequest): Promise<LiveTable> {
  const wanted = new Set(request.itemIds);
  const total = wanted.size;
  const live: VariantLive[] = [];
  let recent: (StoredResult & { variant: string })[] = [];
  for (const v of request.variants) {
    const rows = (await db.getResults(v.key, request.promptKey)).filter((r) => wanted.has(r.itemId));
    let correct = 0;
    let confidence = 0;
    let mass = 0;
    let massN = 0;
    for (const r of rows) {
      const { prediction, confidence: p } = letterDistribution(r.letterLogits);
      if (prediction === r.label) correct++;
      confidence += p;
      if (r.letterMass !== undefined) {
        mass += r.letterMass;
        massN++;
      }
    }
    const n = rows.length;
    live.push({
      key: v.key,
      name: v.name,
      role: v.role,
      simulated: v.simulated,
      stored: n,
      total,
      ...(n ? { accuracy: correct / n, meanConfidence: confidence / n } : {}),
      ...(massN ? { meanLetterMass: mass / massN } : {}),
    });
    recent.push(...rows.map((r) => ({ ...r, variant: v.name })));
  }
  recent = recent
    .sort((a, b) => (a.scoredAt < b.scoredAt ? 1 : a.scoredAt > b.scoredAt ? -1 : 0))
    .slice(0, request.recent);
  return {
    live,
    recent: recent.map((r) => {
      const { prediction, confidence } = letterDistribution(r.letterLogits);
      return {
        variant: r.variant,
        itemId: r.itemId,
        gold: LETTERS[r.label],
        predicted: LETTERS[prediction],
        confidence,
      };
    }),
  };
}
