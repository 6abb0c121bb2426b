/**
 * A content hash of everything an analysis reads, so a finished analysis can be kept and found again: the same
 * key means the same report, any change to the items, names, roles or settings gives another key.
 */
import { sha256 } from '@noble/hashes/sha2.js';
import { bytesToHex, utf8ToBytes } from '@noble/hashes/utils.js';
import type { AnalysisSettings, VariantScores } from './types';

/**
 * Bump when the analysis computes anything differently (a new metric, another estimator, a new view field),
 * so analyses kept by an older kit are not shown as this one's.
 */
export const ANALYSIS_VERSION = 2;

/**
 * SHA-256 (hex) of the canonical JSON of the analysis version, the resolved settings (keys sorted), the compared
 * pairs and every variant in order with its items sorted by id (id, label, logits, domain, subject, letter mass),
 * so the order items were stored in does not matter.
 */
export function analysisCacheKey(
  variants: readonly VariantScores[],
  settings: AnalysisSettings,
  compare?: readonly [string, string][],
): string {
  const sortedSettings = Object.fromEntries(Object.entries(settings).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
  const canonical = {
    version: ANALYSIS_VERSION,
    settings: sortedSettings,
    compare: compare ?? null,
    variants: variants.map((v) => ({
      name: v.name,
      role: v.role ?? null,
      // The prompt pairs probe runs with neutral ones (version 2).
      promptKey: v.promptKey ?? null,
      simulated: v.simulated,
      items: [...v.items]
        .sort((a, b) => (a.itemId < b.itemId ? -1 : a.itemId > b.itemId ? 1 : 0))
        .map((it) => [
          it.itemId,
          it.label,
          it.letterLogits,
          it.domain ?? null,
          it.subject ?? null,
          it.letterMass ?? null,
        ]),
    })),
  };
  return bytesToHex(sha256(utf8ToBytes(JSON.stringify(canonical))));
}
