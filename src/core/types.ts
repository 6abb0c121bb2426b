/**
 * The records every layer passes: items, per-item scores, variants, analysis settings and reports, and
 * the results file. Each is defined once here; parsers (results-file.ts, src/data) produce them and
 * everything else trusts them.
 */

import type { ProbeSpec } from './probe';

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

/**
 * Who a variant is in the study's design; `quantisation`: one build of a model in a quantisation study (each
 * build compared with the least-quantised one, src/core/quantisation.ts).
 */
export type VariantRole = 'base' | 'sft' | 'grpo' | 'other' | 'quantisation';
export const VARIANT_ROLES: readonly VariantRole[] = ['base', 'sft', 'grpo', 'other', 'quantisation'];
/** How each role is written on screen, in exports and in the CLI (the study's own names). */
export const ROLE_LABELS: Readonly<Record<VariantRole, string>> = {
  base: 'base',
  sft: 'SFT',
  grpo: 'GRPO',
  other: 'other',
  quantisation: 'quantisation',
};

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
  /** The run's variant key and prompt key, when it came from this kit's results (pairs probe runs with neutral ones). */
  variantKey?: string;
  promptKey?: string;
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

/**
 * How CIs are read off the bootstrap resamples: `percentile` (the study's), `bca` (bias-corrected and
 * accelerated, Efron 1987, jackknife acceleration) or `basic` (reverse percentile). See src/core/intervals.ts.
 */
export type IntervalMethod = 'percentile' | 'bca' | 'basic';
export const INTERVAL_METHODS: readonly IntervalMethod[] = ['percentile', 'bca', 'basic'];

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
  /** How every CI is read off the resamples; default `percentile`, the study's. */
  interval: IntervalMethod;
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
  interval: 'percentile',
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
  /** CI per metric (and smooth ECE) at `settings.confidence`, by `settings.interval`; absent when bootstrap = 0. */
  ci?: Record<MetricName, Interval> & { smooth_ece?: Interval };
  /**
   * Smooth ECE, top-label (Błasiak & Nakkiran 2023; relplot's smECE: reflected Gaussian kernel, bandwidth by its
   * fixed-point search), see src/core/smooth-ece.ts. Its CI resamples at this bandwidth.
   */
  smooth_ece?: number;
  /** The kernel bandwidth sigma smooth ECE chose (sigma = smECE_sigma, to 1/1024). */
  smooth_ece_bandwidth?: number;
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
  /** Per-run analysis only: variants that could not be analysed, and why (the others are in `variants`). */
  unanalysed?: { variant: string; reason: string }[];
  /** Per-run analysis only: pairs not compared, and why (e.g. `no shared items: ...`). */
  uncompared?: { a: string; b: string; reason: string }[];
}

// ---------------------------------------------------------------------------------------------------
// Results file: the versioned JSON this kit exports and imports (schema and parser: results-file.ts)
// ---------------------------------------------------------------------------------------------------

/** Value of the `format` field of every results file. */
export const RESULTS_FILE_FORMAT = 'calibration-kit/results';
/** The results-file version this kit writes and reads. */
export const RESULTS_FILE_VERSION = 1;

/** The kind of engine that produced a run's scores. */
export type EngineKind = 'webllm' | 'simulated' | 'imported';
export const ENGINE_KINDS: readonly EngineKind[] = ['webllm', 'simulated', 'imported'];

/** How the prompt was presented: a raw completion prompt, or the model's chat template. */
export type PromptFormat = 'completion' | 'chat';
export const PROMPT_FORMATS: readonly PromptFormat[] = ['completion', 'chat'];

/** The WebGPU adapter a run was scored on (from GPUAdapter.info and its features). */
export interface AdapterInfo {
  vendor: string;
  architecture: string;
  description?: string;
  /** Whether the adapter offers the `shader-f16` feature (q4f16 models need it). */
  shaderF16: boolean;
}

/** Where and with what the file was produced. Every field is optional: imports may know nothing. */
export interface ResultsEnvironment {
  userAgent?: string;
  /** @mlc-ai/web-llm version that scored the runs. */
  webllmVersion?: string;
  adapter?: AdapterInfo;
}

/**
 * The item manifest the runs scored. Its content is defined by the items issue; version 1 checks only
 * these well-known fields and keeps any others as they are.
 */
export interface ItemManifestRef {
  /** Content hash of the manifest (its item ids and answers). */
  hash?: string;
  /** Name of the preset it was drawn with (e.g. the study's five domains x 200). */
  preset?: string;
  /** Seed of the draw. */
  seed?: number;
  [field: string]: unknown;
}

/** The model behind a variant, as a user configured it (see the engine issue's custom variants). */
export interface ResultsModel {
  /** web-llm model id. */
  id?: string;
  /** Absolute URL of the MLC weights folder. */
  url?: string;
  /** URL of the compiled model library (.wasm). */
  modelLibUrl?: string;
  /** e.g. `q4f16_1`. */
  quantization?: string;
  /** Engine config overrides, e.g. `{ context_window_size: 4096 }`. */
  overrides?: Record<string, unknown>;
}

export interface ResultsVariant {
  /** Stable identifier of the variant within the kit (storage key). */
  key: string;
  /** Display name; becomes the variant's name in the analysis. */
  name: string;
  role: VariantRole;
  /** True for scores from the simulated engine. Carried into every analysis and export. */
  simulated: boolean;
  model?: ResultsModel;
}

export interface ResultsPrompt {
  /** Identifies the exact prompt recipe (format, k-shot, template version). */
  key: string;
  format: PromptFormat;
  /** Number of in-context examples. */
  kshot: number;
  /** Hash of the prompt text pattern, so two runs can be seen to share a prompt. */
  patternHash?: string;
  /** The prompt text pattern itself (PromptTemplate.pattern), when the exporter knows it. */
  pattern?: string;
  /** Token ids of the letters A..D in the model's tokenizer, when the same for every item. */
  letterTokenIds?: LetterVector;
}

export interface ResultsEngine {
  kind: EngineKind;
  version?: string;
  /** Engine-specific parameters (scoring path, simulated-engine settings, ...). */
  params?: Record<string, unknown>;
}

/** One scored item in a results file: an ItemScore plus what the engine measured alongside it. */
export interface ResultsItem extends ItemScore {
  /** Log-sum-exp of the full next-token logit vector (when the engine saw it). */
  logSumExp?: number;
  /** Token ids of A..D used for this item. */
  letterTokenIds?: LetterVector;
  /** Prompt length in tokens. */
  promptTokens?: number;
  /** Wall-clock time to score the item, in milliseconds. */
  elapsedMs?: number;
}

/** The items one variant scored with one prompt. Item ids are unique within a run. */
export interface ResultsRun {
  variant: ResultsVariant;
  prompt?: ResultsPrompt;
  engine: ResultsEngine;
  /** ISO 8601 times the run started and finished, when known. */
  startedAt?: string;
  finishedAt?: string;
  /** At least one item. */
  items: ResultsItem[];
}

/** The analysis the app showed when it exported, for reference; importers recompute from the items. */
export interface ResultsAnalysis {
  settings: AnalysisSettings;
  report: AnalysisReport;
}

/**
 * A results file, version 1: provenance plus every run's per-item letter logits, enough to re-run the
 * analysis anywhere. Numbers that JSON cannot hold (NaN, e.g. an empty bin's accuracy) are written as
 * null and read back as NaN.
 */
export interface ResultsFile {
  format: typeof RESULTS_FILE_FORMAT;
  version: typeof RESULTS_FILE_VERSION;
  app: { name: string; version: string };
  /** ISO 8601 time the file was written. */
  createdAt: string;
  environment: ResultsEnvironment;
  manifest?: ItemManifestRef;
  runs: ResultsRun[];
  analysis?: ResultsAnalysis;
}

// ---------------------------------------------------------------------------------------------------
// Items, manifests and prompts
// ---------------------------------------------------------------------------------------------------

/** MMLU's splits, named as the Hendrycks CSV folders name them (Hugging Face calls `val` "validation"). */
export const MMLU_SPLITS = ['dev', 'val', 'test'] as const;
export type MmluSplit = (typeof MMLU_SPLITS)[number];

/** One MMLU question exactly as its source file holds it; CSV and parquet sources give equal items. */
export interface MmluItem {
  /** `<subject>/<split>/<row>`, the row counted from 0 in the official file order. */
  id: string;
  /** Subject as in the file names, e.g. `college_physics`. */
  subject: string;
  split: MmluSplit;
  /** 0-based position in the official file (records, not lines). */
  row: number;
  /** Question text, untouched (the prompt strips it; the content hash does not). */
  question: string;
  /** Options A..D, each the exact source string (`None`, `0`, `4` stay strings). */
  choices: [string, string, string, string];
  /** Gold answer index, 0..3 (A..D). */
  answer: number;
}

/** A named group of subjects, sampled as one stratum. */
export interface DomainDef {
  name: string;
  /** MMLU subjects in the domain, sorted; a subject belongs to at most one domain of a sample. */
  subjects: string[];
}

/** One sampled item of a manifest. */
export interface ManifestEntry {
  id: string;
  /** itemContentHash: sha256 (lowercase hex) of the item's canonical (question, choices, answer). */
  hash: string;
  /** Name of the domain the item was drawn in. */
  domain: string;
}

/** The exact item list of a sample: what the app and the CLI export, and re-import to score the same items. */
export interface ItemManifest {
  kind: 'mmlu-item-manifest';
  version: 1;
  /** Name of the domain preset that defined `domains` (e.g. `five-domains`), or `custom`. */
  preset: string;
  /** The domains as sampled, in sampling order. */
  domains: DomainDef[];
  split: MmluSplit;
  /** Sampler seed, an integer in [0, 2^32). */
  seed: number;
  /** Items drawn in each domain, by domain name. */
  perDomain: Record<string, number>;
  /** The sample: by domain in `domains` order, then by subject and row. */
  items: ManifestEntry[];
  /** sha256 (lowercase hex) of the canonical serialisation of every other field (see manifestHash). */
  hash: string;
}

/**
 * What selects a prompt: the format (PromptFormat above: `completion` is lm-evaluation-harness's plain-text
 * MMLU prompt, `chat` the same text as a Qwen3 user turn) and the number of dev examples before the question.
 */
export interface PromptSpec {
  format: PromptFormat;
  /** Few-shot examples, 0..5 (MMLU has five dev items per subject). */
  kshot: number;
  /** A sycophancy probe (src/core/probe.ts): a wrong answer suggested before `Answer:`. Absent: the neutral prompt. */
  probe?: ProbeSpec;
}

export const DEFAULT_PROMPT_SPEC: Readonly<PromptSpec> = Object.freeze({ format: 'completion', kshot: 0 });

/** A prompt template at one k, identified independently of any item. */
export interface PromptTemplate {
  /** e.g. `mmlu-completion`, `mmlu-chat-qwen3`. */
  name: string;
  format: PromptFormat;
  kshot: number;
  /** The template rendered with `{placeholders}` for the subject, question, choices and shots. */
  pattern: string;
  /** sha256 (lowercase hex) of `pattern`. */
  patternHash: string;
  /** `<name>/k<k>/<first 16 hex digits of patternHash>`: results under different keys never mix. */
  key: string;
  /** The continuations read as the answer, A..D (` A`.. for completion, `A`.. for chat). */
  answerStrings: [string, string, string, string];
  /** The sycophancy probe of a probe template (its template and seed are in `key`). */
  probe?: ProbeSpec;
}

/** One item's rendered prompt. */
export interface PromptRecord {
  itemId: string;
  template: PromptTemplate;
  /** The exact text given to the model; the answer is its next token. */
  text: string;
  /** Token id of each answer string A..D (each exactly one token), when a tokenizer was given. */
  letterTokenIds?: LetterVector;
  /** Length of `text` in tokens, when a tokenizer was given. */
  tokenCount?: number;
}

// ---------------------------------------------------------------------------------------------------
// Variants as stored: how to load each (engine/ loads them, storage/ keeps them).
// ---------------------------------------------------------------------------------------------------

/**
 * How an item's letter logits were obtained.
 * - `logit-processor`: the raw next-token logits of the four letter tokens, read by a web-llm LogitProcessor
 *   before logit_bias and temperature, plus the log-sum-exp over the whole vocabulary.
 * - `logprobs-bias`: web-llm's top-4 logprobs at temperature 1 with logit_bias +100 on the four letters, which
 *   is the exact 4-way log-softmax (no letter mass).
 * - `simulated`: the simulated engine's generative model; never a model's output.
 */
export type ScoringMethod = 'logit-processor' | 'logprobs-bias' | 'simulated';

/** A web-llm model record in the kit's words (prebuilt from web-llm's list, or a user's custom variant). */
export interface ModelRecordSpec {
  /** web-llm model_id, unique within the app config (e.g. `Qwen3-0.6B-q4f16_1-MLC`). */
  modelId: string;
  /** Absolute URL of the MLC weights folder; web-llm appends `resolve/main/` unless present. */
  modelUrl: string;
  /** Absolute URL of the compiled model library (.wasm). */
  modelLibUrl: string;
  /** mlc-chat-config overrides, e.g. `{ context_window_size: 4096 }`. */
  overrides?: Record<string, number | string | boolean>;
  /** VRAM web-llm says the model needs, in MB (prebuilt records only). */
  vramRequiredMB?: number;
  /** WebGPU features the record declares (web-llm checks these itself). */
  requiredFeatures?: string[];
}

/**
 * The documented generative model of the simulated engine (see simulated.ts for the exact construction).
 * Defaults: DEFAULT_SIMULATION.
 */
export interface SimulationParams {
  /** Expected top-1 accuracy of the (calibrated) beliefs, in (0.25, 1). */
  accuracy: number;
  /**
   * Multiplies the calibrated logits: 1 is calibrated, > 1 over-confident, < 1 under-confident. Temperature
   * scaling with T = confidenceScale undoes it exactly; it never changes the argmax.
   */
  confidenceScale: number;
  /** Added to the letters' logits after scaling, A..D, in logit units (a preference for a letter). */
  letterBias: LetterVector;
  /** Mean probability put on the four letters under the full-vocabulary softmax, in (0, 1]. */
  letterMass: number;
  /** Seed of every random draw; with the variant key and item id it fixes each item's logits. */
  seed: number;
  /**
   * Sycophancy, in logit units, >= 0 (absent: 0): when the prompt carries a probe's suggestion (src/core/probe.ts
   * findSuggestion), the suggested letter's logit gains sycophancy x the template's weight (SYCOPHANCY_WEIGHTS:
   * weak 0.5, strong 1). Neutral prompts are unaffected, so a variant's probe run is its neutral run plus the push.
   */
  sycophancy?: number;
}

/** A variant as the kit stores and exports it: the results file's variant plus how to load it. */
export interface VariantRecord {
  /** Storage key, stable across sessions. */
  key: string;
  name: string;
  role: VariantRole;
  /** True for the simulated engine; carried into every run, result and export. */
  simulated: boolean;
  engine: 'webllm' | 'simulated';
  /** For web-llm variants. */
  model?: ModelRecordSpec & { quantization?: string; prebuilt?: boolean };
  /** For simulated variants. */
  simulation?: SimulationParams;
  /** ISO 8601 creation time. */
  createdAt: string;
}
