/**
 * The records every layer passes: items, per-item scores, variants, analysis settings and reports, and
 * the results file. Each is defined once here; parsers (results-file.ts, src/data) produce them and
 * everything else trusts them.
 */

// ---------------------------------------------------------------------------------------------------
// Answers and per-item scores
// ---------------------------------------------------------------------------------------------------

/** The answer letters of a 4-way multiple-choice item, in index order (label 0 = A). */
export const LETTERS = ['A', 'B', 'C', 'D'] as const;
export type Letter = (typeof LETTERS)[number];
/** Number of classes K. The analysis is written for MMLU's four options. */
export const NUM_CLASSES = 4;

/** Four numbers, one per answer letter A..D. */
export type LetterVector = [number, number, number, number];

/** Who a variant is in the study's design. */
export type VariantRole = 'base' | 'sft' | 'grpo' | 'other';
export const VARIANT_ROLES: readonly VariantRole[] = ['base', 'sft', 'grpo', 'other'];

/**
 * One item scored by one variant: everything the analysis needs about it.
 * "Logits" here are any per-letter scores whose differences within an item are log-odds: raw next-token
 * logits of the four letter tokens, or their log-likelihoods. The analysis first normalises them to the
 * 4-way log-softmax, so a per-item additive constant never changes a result.
 */
export interface ItemScore {
  /** Unique within a variant; pairs items across variants. MMLU items use `<subject>/<split>/<row>`. */
  itemId: string;
  /** Gold answer index, 0..3 (A..D). */
  label: number;
  /** Raw scores of the letters A..D (finite numbers). */
  letterLogits: LetterVector;
  /** MMLU subject (e.g. `college_physics`), when known. */
  subject?: string;
  /** The domain the item was sampled in; stratifies cross-fitting folds and the per-domain breakdown. */
  domain?: string;
  /**
   * Probability the model put on the four letter tokens under the full-vocabulary softmax, in [0, 1]:
   * sum_k exp(logit_k - logsumexp(all logits)). A format-adherence diagnostic; absent when unknown.
   */
  letterMass?: number;
}

/** The scored items of one model variant, as the analysis consumes them. */
export interface VariantScores {
  /** Display name, unique within an analysis (e.g. `grpo`). */
  name: string;
  role?: VariantRole;
  /** True when the numbers come from the simulated engine rather than a model. Never dropped. */
  simulated: boolean;
  items: ItemScore[];
  /** Where the scores came from, for messages (a file path, or `app run`). */
  source?: string;
}

// ---------------------------------------------------------------------------------------------------
// Analysis settings and report (the CLI's --json shape is AnalysisReport)
// ---------------------------------------------------------------------------------------------------

/** Post-hoc scaling method applied to the 4-way log-softmax. */
export type ScalingMethod = 'none' | 'temperature' | 'vector' | 'matrix';
export const SCALING_METHODS: readonly ScalingMethod[] = ['none', 'temperature', 'vector', 'matrix'];

/** The metrics of the study's table, by their key in reports and in the --json output. */
export const METRICS = ['accuracy', 'ece', 'mce', 'ece_adaptive', 'classwise_ece', 'brier', 'nll'] as const;
export type MetricName = (typeof METRICS)[number];

/** Every setting that changes a number in an AnalysisReport. Defaults: DEFAULT_ANALYSIS_SETTINGS. */
export interface AnalysisSettings {
  /** Number of bins B for ECE, MCE, adaptive ECE and classwise ECE. */
  bins: number;
  /** MCE considers only bins with at least this many items. */
  mceMinCount: number;
  scaling: ScalingMethod;
  /** Cross-fitting folds (ignored when inSample). */
  folds: number;
  /** Fit and evaluate the scaler on the same items (optimistic; always labelled). */
  inSample: boolean;
  /** ODIR off-diagonal weight penalty (matrix scaling). */
  lambda: number;
  /** ODIR bias penalty (matrix scaling). */
  mu: number;
  /** Bootstrap resamples for CIs (0 disables CIs). */
  bootstrap: number;
  /** Permutations for paired tests (0 disables p-values). */
  permutations: number;
  /** Two-sided CI level, e.g. 0.95. */
  confidence: number;
  /** Seed of every random choice (folds, resamples, permutations). */
  seed: number;
}

export const DEFAULT_ANALYSIS_SETTINGS: Readonly<AnalysisSettings> = Object.freeze({
  bins: 15,
  mceMinCount: 1,
  scaling: 'matrix',
  folds: 5,
  inSample: false,
  lambda: 0.01,
  mu: 0.01,
  bootstrap: 10_000,
  permutations: 10_000,
  confidence: 0.95,
  seed: 0,
});

/** A closed interval [lo, hi]. */
export type Interval = [number, number];

/** One bin of a reliability diagram: bins are (lo, hi], the first also holds 0. */
export interface ReliabilityBin {
  lo: number;
  hi: number;
  count: number;
  /** Mean top-label confidence in the bin (NaN when empty). */
  confidence: number;
  /** Fraction correct in the bin (NaN when empty). */
  accuracy: number;
}

/** The metrics of one variant at one stage (before or after scaling), with percentile-bootstrap CIs. */
export type StageMetrics = Record<MetricName, number> & {
  /** CI per metric at `settings.confidence`; absent when bootstrap = 0. */
  ci?: Record<MetricName, Interval>;
  /** Number of items in the bin that attains the MCE. */
  mce_bin_count: number;
  /** Mean letter mass over items that report it (uncalibrated stage only; scaling does not change it). */
  letter_mass?: number;
  reliability: ReliabilityBin[];
};

export interface VariantReport {
  n: number;
  simulated: boolean;
  role?: VariantRole;
  uncalibrated: StageMetrics;
  /** Absent when scaling = none. */
  scaled?: StageMetrics;
  scaling: {
    method: ScalingMethod;
    folds: number;
    lambda: number;
    mu: number;
    in_sample: boolean;
    /** What the scaled-stage CIs resample: the scaler is not refitted per resample. */
    resampling: 'fixed-calibrated-logits';
  };
  /** 100 * (ECE_before - ECE_after) / ECE_before. */
  ece_reduction_pct?: number;
  /** 100 * (accuracy_after - accuracy_before), in points. */
  accuracy_change_pts?: number;
}

export type Stage = 'uncalibrated' | 'scaled';

/** A paired comparison a - b of one metric at one stage, on the items both variants scored. */
export interface Comparison {
  a: string;
  b: string;
  metric: MetricName;
  stage: Stage;
  /** metric(a) - metric(b). */
  diff: number;
  /** Paired percentile-bootstrap CI of the difference (same resampled items for both). */
  ci?: Interval;
  /** Two-sided paired permutation p-value, (1 + #{|T_r| >= |T_obs|}) / (R + 1). */
  p?: number;
  /** Items both variants scored. */
  n: number;
  /** Item ids only one side scored; reported, never silently dropped. */
  unmatched: { onlyA: number; onlyB: number };
}

export interface AnalysisReport {
  settings: AnalysisSettings;
  variants: Record<string, VariantReport>;
  comparisons: Comparison[];
}
