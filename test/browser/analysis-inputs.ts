// The seeded inputs both sides of the Node/Chromium determinism test analyse.
import { pairedVariant, syntheticVariant } from '../support/synthetic';
import type { VariantScores } from '../../src/core/types';

export function determinismVariants(): VariantScores[] {
  const base = { ...syntheticVariant({ n: 240, seed: 11 }), name: 'base', role: 'base' as const };
  const sft = { ...pairedVariant(base, 12, 1.2, 'sft'), role: 'sft' as const };
  const grpo = { ...pairedVariant(base, 13, 2.2, 'grpo'), role: 'grpo' as const, items: [] as VariantScores['items'] };
  // grpo misses a few items, so the unmatched-item path is exercised too.
  grpo.items = pairedVariant(base, 13, 2.2, 'grpo').items.slice(7);
  return [base, sft, grpo];
}
