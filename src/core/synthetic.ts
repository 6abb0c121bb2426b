/**
 * Seeded synthetic variants for analysis tests and benchmarks: each item has a gold answer, a latent
 * "true" 4-way distribution from a softmax of noisy scores, and the variant reports those scores times a
 * sharpness factor (> 1 overconfident, < 1 underconfident). Nothing here pretends to be a model's output.
 */
import { Rng } from './random';
import { exp } from './detmath';
import type { ItemScore, LetterVector, VariantScores } from './types';

export interface SyntheticOptions {
  n: number;
  seed: number;
  /** Multiplies the calibrated scores: 1 calibrated, > 1 overconfident. */
  sharpness?: number;
  /** Signal strength of the gold answer in the latent scores. */
  signal?: number;
  /** Domains to spread items over, round-robin. */
  domains?: string[];
  name?: string;
  idPrefix?: string;
}

/** Items whose labels are drawn from the softmax of the latent scores, so sharpness 1 is calibrated. */
export function syntheticVariant(o: SyntheticOptions): VariantScores {
  const rng = new Rng(o.seed);
  const items: ItemScore[] = [];
  const domains = o.domains ?? ['stem', 'humanities', 'social', 'health', 'other'];
  for (let i = 0; i < o.n; i++) {
    const scores = [0, 1, 2, 3].map(() => (o.signal ?? 1.5) * (rng.nextFloat() * 2 - 1) * 1.5) as LetterVector;
    const p = scores.map(exp);
    const total = p.reduce((s, x) => s + x, 0);
    let u = rng.nextFloat() * total;
    let label = 0;
    while (label < 3 && u >= p[label]) u -= p[label++];
    const sharp = o.sharpness ?? 1;
    items.push({
      itemId: `${o.idPrefix ?? 'item'}/${String(i).padStart(5, '0')}`,
      label,
      letterLogits: scores.map((s) => s * sharp + 7) as LetterVector,
      domain: domains[i % domains.length],
    });
  }
  return { name: o.name ?? `synthetic-${o.seed}`, simulated: true, items };
}

/** A second variant on the same items and labels as `base`, with other scores (a paired competitor). */
export function pairedVariant(base: VariantScores, seed: number, sharpness: number, name: string): VariantScores {
  const rng = new Rng(seed);
  return {
    name,
    simulated: true,
    items: base.items.map((it) => ({
      ...it,
      letterLogits: it.letterLogits.map((z) => (z - 7) * sharpness + 0.3 * (rng.nextFloat() * 2 - 1)) as LetterVector,
    })),
  };
}
