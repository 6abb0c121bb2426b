/**
 * Export: the versioned results JSON (src/core/results-file.ts, version 1) built from what storage holds,
 * and the per-item CSV. Everything here is a copy of stored records plus provenance; nothing is recomputed
 * except the 4-way probabilities in the CSV, which are softmax(letterLogits).
 */
import Papa from 'papaparse';
import { letterDistribution } from '../core/metrics';
import { promptTemplate } from '../core/prompts';
import { PROMPT_TEMPLATE_NAMES } from '../core/prompts';
import { runNames, serializeResultsFile } from '../core/results-file';
import {
  LETTERS,
  RESULTS_FILE_FORMAT,
  RESULTS_FILE_VERSION,
  VARIANT_ROLES,
  type AdapterInfo,
  type AnalysisReport,
  type ItemManifest,
  type ItemManifestRef,
  type LetterVector,
  type PromptFormat,
  type ResultsFile,
  type ResultsPrompt,
  type ResultsRun,
  type VariantRole,
} from '../core/types';
import type { VariantRecord } from '../engine/types';
import { resultsItemOf, type KitDb, type RunRecord, type StoredResult } from '../storage/db';

/** The label every simulated run carries in its engine parameters, the table and the charts. */
export const SIMULATED_LABEL = 'SIMULATED: scores from the simulated engine, not from a model';

/**
 * Every stored result of one (variant, prompt): the unit the analysis and the export work on. Results are keyed
 * by (variant, prompt, item), so the items a variant scored under one prompt in several sessions or runs (or
 * imported from several machines) form one group.
 */
export interface StoredRunGroup {
  variantKey: string;
  promptKey: string;
  /** The variant record, when storage still has it. */
  variant?: VariantRecord;
  /** The run records of this (variant, prompt), one per item manifest, oldest first. */
  runs: RunRecord[];
  /** In item-id order. */
  results: StoredResult[];
}

/** Identifies a group in selections: variant key and prompt key. */
export function groupId(g: Pick<StoredRunGroup, 'variantKey' | 'promptKey'>): string {
  return JSON.stringify([g.variantKey, g.promptKey]);
}

/** What export and analysis read from storage. */
export type StoredRunSource = Pick<KitDb, 'listVariants' | 'listRuns' | 'getResults'>;

const ROLE_ORDER: Record<VariantRole, number> = { grpo: 0, sft: 1, base: 2, other: 3, quantisation: 4 };

/**
 * Orders groups GRPO, SFT, base, other (then by name, variant key and prompt key). Analysing every pair "in
 * input order, the earlier minus the later" then gives the study's contrasts with the study's signs (GRPO - SFT,
 * GRPO - base, SFT - base), in the app and in the CLI reading the exported file alike.
 */
export function compareGroups(a: StoredRunGroup, b: StoredRunGroup): number {
  const role = (g: StoredRunGroup) => ROLE_ORDER[g.variant?.role ?? 'other'];
  const name = (g: StoredRunGroup) => g.variant?.name ?? g.variantKey;
  return role(a) - role(b) || cmp(name(a), name(b)) || cmp(a.variantKey, b.variantKey) || cmp(a.promptKey, b.promptKey);
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Every (variant, prompt) with at least one stored result, in compareGroups order. */
export async function readStoredRuns(db: StoredRunSource): Promise<StoredRunGroup[]> {
  const [variants, runs] = await Promise.all([db.listVariants(), db.listRuns()]);
  const variantByKey = new Map(variants.map((v) => [v.key, v]));
  const groups = new Map<string, StoredRunGroup>();
  for (const run of runs) {
    const id = groupId(run);
    let g = groups.get(id);
    if (!g)
      groups.set(
        id,
        (g = {
          variantKey: run.variantKey,
          promptKey: run.promptKey,
          variant: variantByKey.get(run.variantKey),
          runs: [],
          results: [],
        }),
      );
    g.runs.push(run);
  }
  const list = [...groups.values()];
  await Promise.all(
    list.map(async (g) => {
      g.results = await db.getResults(g.variantKey, g.promptKey);
      g.runs.sort((a, b) => cmp(a.startedAt, b.startedAt));
    }),
  );
  return list.filter((g) => g.results.length > 0).sort(compareGroups);
}

/** Whether a group holds simulated scores (any of its records says so). */
export function isSimulatedGroup(g: StoredRunGroup): boolean {
  return Boolean(g.variant?.simulated) || g.runs.some((r) => r.simulated) || g.results.some((r) => r.simulated);
}

/**
 * The prompt record of a prompt key. Keys the kit makes (`<template name>/k<k>/<16 hex digits>`, see
 * promptTemplate) give the format, k, the full pattern hash and the pattern text when the kit's template at
 * that k still has the same hash; any other key (an import's) gives the key alone with the completion format.
 */
export function promptRecordOf(promptKey: string, letterTokenIds?: LetterVector): ResultsPrompt {
  const m = /^([^/]+)\/k(\d+)\/([0-9a-f]{16})$/.exec(promptKey);
  const format = (Object.keys(PROMPT_TEMPLATE_NAMES) as PromptFormat[]).find(
    (f) => PROMPT_TEMPLATE_NAMES[f] === m?.[1],
  );
  const prompt: ResultsPrompt = { key: promptKey, format: format ?? 'completion', kshot: m ? Number(m[2]) : 0 };
  if (m && format) {
    try {
      const template = promptTemplate({ format, kshot: prompt.kshot });
      if (template.key === promptKey) {
        prompt.patternHash = template.patternHash;
        prompt.pattern = template.pattern;
      }
    } catch {
      // a k the kit no longer offers: keep the key alone
    }
  }
  if (letterTokenIds) prompt.letterTokenIds = [...letterTokenIds] as LetterVector;
  return prompt;
}

/** One results-file run of a group: the full variant record, prompt, engine and every stored item. */
export function resultsRunOf(g: StoredRunGroup): ResultsRun {
  const latest = g.runs.at(-1);
  const simulated = isSimulatedGroup(g);
  const v = g.variant;
  const role: VariantRole = v && VARIANT_ROLES.includes(v.role) ? v.role : 'other';
  const variant: ResultsRun['variant'] = { key: g.variantKey, name: v?.name ?? g.variantKey, role, simulated };
  if (v?.model) {
    variant.model = {
      id: v.model.modelId,
      url: v.model.modelUrl,
      modelLibUrl: v.model.modelLibUrl,
      ...(v.model.quantization ? { quantization: v.model.quantization } : {}),
      ...(v.model.overrides ? { overrides: { ...v.model.overrides } } : {}),
    };
  }
  const methods = [...new Set(g.results.map((r) => r.method))].sort();
  // A simulated variant's parameters travel whole under `simulation` (an import can run the variant again).
  const params: Record<string, unknown> = v?.simulation
    ? { simulation: { ...v.simulation } }
    : { ...(latest?.engine.params ?? {}) };
  params.methods = methods;
  if (simulated) params.label = SIMULATED_LABEL;
  const kind = latest?.engine.kind ?? (simulated ? 'simulated' : 'imported');
  const engine: ResultsRun['engine'] = { kind, params };
  const version = [...g.runs].reverse().find((r) => r.engine.version)?.engine.version;
  if (version) engine.version = version;
  const letterTokenIds = [...g.runs].reverse().find((r) => r.letterTokenIds)?.letterTokenIds;
  const run: ResultsRun = {
    variant,
    prompt: promptRecordOf(g.promptKey, letterTokenIds),
    engine,
    items: g.results.map(resultsItemOf),
  };
  const started = g.runs
    .map((r) => r.startedAt)
    .filter(isDate)
    .sort();
  if (started.length > 0) run.startedAt = started[0];
  const finished = g.runs
    .map((r) => r.finishedAt)
    .filter(isDate)
    .sort();
  if (finished.length > 0 && g.runs.every((r) => r.status === 'done')) run.finishedAt = finished.at(-1);
  return run;
}

function isDate(s: string | undefined): s is string {
  return s !== undefined && !Number.isNaN(Date.parse(s));
}

export interface ExportOptions {
  app: { name: string; version: string };
  /** The web-llm version the app bundles; runs that recorded their own version override it. */
  webllmVersion?: string;
  userAgent?: string;
  /** The adapter of this browser; else the first one a run recorded. */
  adapter?: AdapterInfo;
  /** The item manifest the runs scored (the whole manifest, with every item's content hash). */
  manifest?: ItemManifest;
  /** The analysis shown when exporting; include it only when it was computed from exactly these groups. */
  analysis?: { report: AnalysisReport };
  createdAt?: Date;
}

/** The results file of the given groups (in the order given: see compareGroups). */
export function buildResultsFile(groups: readonly StoredRunGroup[], options: ExportOptions): ResultsFile {
  if (groups.length === 0) throw new Error('Nothing to export: no stored results.');
  const runs = groups.map(resultsRunOf);
  const allRuns = groups.flatMap((g) => g.runs);
  const adapter = options.adapter ?? allRuns.find((r) => r.adapter)?.adapter;
  const webllmVersion =
    allRuns.find((r) => r.engine.kind === 'webllm' && r.engine.version)?.engine.version ?? options.webllmVersion;
  const file: ResultsFile = {
    format: RESULTS_FILE_FORMAT,
    version: RESULTS_FILE_VERSION,
    app: { ...options.app },
    createdAt: (options.createdAt ?? new Date()).toISOString(),
    environment: {
      ...(options.userAgent ? { userAgent: options.userAgent } : {}),
      ...(webllmVersion ? { webllmVersion } : {}),
      ...(adapter ? { adapter: { ...adapter } } : {}),
    },
    runs,
  };
  const manifest = manifestRefOf(allRuns, options.manifest);
  if (manifest) file.manifest = manifest;
  if (options.analysis) {
    const names = runNames(file);
    const reported = Object.keys(options.analysis.report.variants);
    if (reported.length !== names.length || !names.every((n) => reported.includes(n))) {
      throw new Error(
        `The analysis covers ${reported.join(', ')} but the export holds ${names.join(', ')}; recompute before exporting.`,
      );
    }
    file.analysis = { settings: { ...options.analysis.report.settings }, report: options.analysis.report };
  }
  return file;
}

/**
 * The manifest reference: the whole manifest when given, else the hash the runs share, else every hash the
 * runs scored (a manifest split across browsers, merged on import).
 */
function manifestRefOf(runs: readonly RunRecord[], manifest?: ItemManifest): ItemManifestRef | undefined {
  if (manifest) return { ...manifest };
  const hashes = [...new Set(runs.map((r) => r.manifestHash))].sort();
  if (hashes.length === 1) return { hash: hashes[0] };
  if (hashes.length > 1) return { hashes };
  return undefined;
}

/** The results file as JSON text (checked by reading it back; see serializeResultsFile). */
export function exportResultsJson(groups: readonly StoredRunGroup[], options: ExportOptions): string {
  return serializeResultsFile(buildResultsFile(groups, options));
}

/**
 * Columns of the per-item CSV. The logits-CSV importer reads it back with its provenance (variant, key, role,
 * simulated, engine, prompt key: LOGITS_CSV_PROVENANCE), one run per variant and prompt.
 */
export const ITEMS_CSV_COLUMNS = [
  'variant',
  'variant_key',
  'role',
  'simulated',
  'engine',
  'prompt_key',
  'item_id',
  'domain',
  'subject',
  'label',
  'logit_A',
  'logit_B',
  'logit_C',
  'logit_D',
  'p_A',
  'p_B',
  'p_C',
  'p_D',
  'prediction',
  'confidence',
  'correct',
  'letter_mass',
  'log_sum_exp',
  'token_A',
  'token_B',
  'token_C',
  'token_D',
  'prompt_tokens',
  'elapsed_ms',
] as const;

/**
 * One row per (run, item): the stored scores, the 4-way probabilities p = softmax(letterLogits), the prediction
 * (first argmax of p, ties to the earlier letter), its confidence max p and whether it is correct, all from
 * letterDistribution, so each equals the analysis's own to the last bit. Numbers are written
 * in full precision (shortest round-trip form); text cells are quoted as RFC 4180 requires.
 */
export function itemsCsv(file: ResultsFile): string {
  const names = runNames(file);
  const rows: (string | number)[][] = [];
  file.runs.forEach((run, r) => {
    for (const item of run.items) {
      const z = item.letterLogits;
      const { probs: p, prediction: pred } = letterDistribution(z);
      const tokens = item.letterTokenIds ?? run.prompt?.letterTokenIds;
      rows.push([
        names[r],
        run.variant.key,
        run.variant.role,
        run.variant.simulated ? 'SIMULATED' : 'no',
        run.engine.kind,
        run.prompt?.key ?? '',
        item.itemId,
        item.domain ?? '',
        item.subject ?? '',
        LETTERS[item.label],
        ...z,
        ...p,
        LETTERS[pred],
        p[pred],
        pred === item.label ? 1 : 0,
        item.letterMass ?? '',
        item.logSumExp ?? '',
        ...(tokens ?? ['', '', '', '']),
        item.promptTokens ?? '',
        item.elapsedMs ?? '',
      ]);
    }
  });
  return Papa.unparse({ fields: [...ITEMS_CSV_COLUMNS], data: rows }, { newline: '\n', escapeFormulae: false }) + '\n';
}
