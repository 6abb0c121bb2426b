/**
 * Import into storage: this kit's results JSON (runs made on several machines merge, since results are keyed by
 * variant, prompt and item), lm-evaluation-harness samples and logits CSVs. Every file is read and checked
 * first (the parsers in src/core and src/data are the boundary); then everything is written in one
 * transaction, so a bad file, or a conflict with what is stored, leaves storage exactly as it was.
 */
import { parseResultsFile } from '../core/results-file';
import {
  VARIANT_ROLES,
  type EngineKind,
  type ItemScore,
  type LetterVector,
  type ResultsFile,
  type ResultsItem,
  type ResultsRun,
  type VariantRole,
} from '../core/types';
import { checkSimulationParams } from '../engine/simulated';
import type { SimulationParams, VariantRecord } from '../engine/types';
import type { KitDb, RunRecord, StoredMethod, StoredResult } from '../storage/db';
import { quote } from '../data/errors';
import { inputKindOf, type InputFile } from '../data/load-variant';
import { parseLmEvalSamples } from '../data/lm-eval-samples';
import { parseLogitsCsvRuns } from '../data/logits-csv';

/**
 * An import that cannot go ahead. `message` is one line naming the file, the field and what was expected:
 * `<file>: <field>: <detail>`.
 */
export class ImportError extends Error {
  override name = 'ImportError' as const;
  constructor(
    readonly fileName: string,
    readonly field: string,
    readonly detail: string,
  ) {
    super(field ? `${fileName}: ${field}: ${detail}` : `${fileName}: ${detail}`);
  }
}

/** For files that carry no variant of their own (lm-eval samples, logits CSV): whose scores they are. */
export interface ExternalVariant {
  name: string;
  role: VariantRole;
  /** Groups the scores with others made with the same prompt; default `imported/<kind>`. */
  promptKey?: string;
}

export interface ImportInput {
  file: InputFile;
  /** Required for `.jsonl` and `.csv` files; ignored for `.json`. */
  as?: ExternalVariant;
}

/** What an import writes (before the store decides what is new). */
export interface ImportRecords {
  variants: VariantRecord[];
  runs: RunRecord[];
  results: StoredResult[];
  /** The file each result came from (parallel to `results`), for messages. */
  resultFiles: string[];
  /** Where in its file each result is (parallel to `results`): `line 12`, or `runs[0].items[3]` in a results file. */
  resultPlaces: string[];
  /** Per imported run: file, variant name, prompt key and item count, for the message shown afterwards. */
  summary: { fileName: string; variant: string; promptKey: string; items: number; simulated: boolean }[];
}

export interface ImportOutcome extends ImportRecords {
  variantsAdded: number;
  runsAdded: number;
  resultsAdded: number;
  /** Results already stored with the same answer and letter logits (a repeated import). */
  resultsKept: number;
}

function slug(text: string): string {
  return (
    text
      .trim()
      .toLowerCase()
      .replace(/[^a-z0-9._-]+/g, '-')
      .replace(/^-+|-+$/g, '') || 'variant'
  );
}

const sameScores = (a: Pick<ResultsItem, 'label' | 'letterLogits'>, b: Pick<ResultsItem, 'label' | 'letterLogits'>) =>
  a.label === b.label && a.letterLogits.every((z, k) => Object.is(z, b.letterLogits[k]));

/** The simulation parameters an exported simulated run carries, when they are complete and valid. */
function simulationOf(params: Record<string, unknown> | undefined): SimulationParams | undefined {
  const s = params?.simulation as SimulationParams | undefined;
  if (!s || typeof s !== 'object') return undefined;
  try {
    checkSimulationParams(s);
    const sycophancy = s.sycophancy === undefined ? {} : { sycophancy: s.sycophancy };
    return {
      accuracy: s.accuracy,
      confidenceScale: s.confidenceScale,
      letterBias: [...s.letterBias] as LetterVector,
      letterMass: s.letterMass,
      seed: s.seed,
      ...sycophancy,
    };
  } catch {
    return undefined;
  }
}

/** The variant record of an exported run: the same key, so runs of one variant from several machines merge. */
function variantFromRun(run: ResultsRun, now: Date): VariantRecord {
  const { variant, engine } = run;
  const record: VariantRecord = {
    key: variant.key,
    name: variant.name,
    role: variant.role,
    simulated: variant.simulated,
    engine: variant.simulated ? 'simulated' : 'webllm',
    createdAt: now.toISOString(),
  };
  const simulation = variant.simulated ? simulationOf(engine.params) : undefined;
  if (simulation) record.simulation = simulation;
  const m = variant.model;
  if (!variant.simulated && m?.id && m.url && m.modelLibUrl) {
    const overrides = Object.fromEntries(
      Object.entries(m.overrides ?? {}).filter(
        ([, x]) => typeof x === 'number' || typeof x === 'string' || typeof x === 'boolean',
      ),
    ) as Record<string, number | string | boolean>;
    record.model = {
      modelId: m.id,
      modelUrl: m.url,
      modelLibUrl: m.modelLibUrl,
      ...(Object.keys(overrides).length > 0 ? { overrides } : {}),
      ...(m.quantization ? { quantization: m.quantization } : {}),
      prebuilt: variant.key.startsWith('webllm:'),
    };
  }
  return record;
}

function methodOf(run: ResultsRun, item: ResultsItem): StoredMethod {
  if (run.variant.simulated || run.engine.kind === 'simulated') return 'simulated';
  const methods = run.engine.params?.methods;
  if (
    Array.isArray(methods) &&
    methods.length === 1 &&
    (methods[0] === 'logit-processor' || methods[0] === 'logprobs-bias')
  )
    return methods[0];
  if (run.engine.kind === 'imported') return 'imported';
  return item.logSumExp !== undefined ? 'logit-processor' : 'logprobs-bias';
}

/** Storage records of one kit results file. */
function recordsOfResultsFile(file: ResultsFile, fileName: string, now: Date, out: ImportRecords): void {
  const manifestHash =
    typeof file.manifest?.hash === 'string' && file.manifest.hash !== '' ? file.manifest.hash : `imported:${fileName}`;
  const manifestItems = Array.isArray(file.manifest?.items) ? file.manifest.items.length : undefined;
  file.runs.forEach((run, r) => {
    const simulated = run.variant.simulated || run.engine.kind === 'simulated';
    if (simulated !== run.variant.simulated) {
      throw new ImportError(
        fileName,
        `runs[${r}].variant.simulated`,
        'expected true for a run of the simulated engine (simulated scores are always labelled)',
      );
    }
    const promptKey = run.prompt?.key ?? 'imported/no-prompt';
    const scoredAt = run.finishedAt ?? file.createdAt;
    const methods = new Set<StoredMethod>();
    run.items.forEach((item, i) => {
      const method = methodOf(run, item);
      methods.add(method);
      out.results.push({ ...item, variantKey: run.variant.key, promptKey, method, simulated, scoredAt });
      out.resultPlaces.push(`runs[${r}].items[${i}]`);
    });
    out.variants.push(variantFromRun(run, now));
    const record: RunRecord = {
      variantKey: run.variant.key,
      promptKey,
      manifestHash,
      status: 'done',
      itemCount: Math.max(manifestItems ?? 0, run.items.length),
      simulated,
      engine: {
        kind: run.engine.kind,
        ...(run.engine.version ? { version: run.engine.version } : {}),
        ...(methods.size === 1 ? { method: [...methods][0] } : {}),
        ...(run.engine.params ? { params: { ...run.engine.params } } : {}),
      },
      startedAt: run.startedAt ?? file.createdAt,
      updatedAt: now.toISOString(),
      finishedAt: run.finishedAt ?? file.createdAt,
    };
    const tokens = run.prompt?.letterTokenIds;
    if (tokens) record.letterTokenIds = [...tokens] as LetterVector;
    if (file.environment.adapter) record.adapter = { ...file.environment.adapter };
    out.runs.push(record);
    out.summary.push({ fileName, variant: run.variant.name, promptKey, items: run.items.length, simulated });
  });
}

/**
 * Storage records of an lm-eval samples file or a logits CSV. The variant is the one named in `as`; a per-item CSV
 * exported by this kit names its own (variant, role, engine, simulated, prompt key per row), and those are kept:
 * `as` then only renames a single run. Simulated rows stay simulated whatever `as` says.
 */
function recordsOfExternal(input: InputFile, as: ExternalVariant | undefined, now: Date, out: ImportRecords): void {
  const kind = inputKindOf(input.name);
  const iso = now.toISOString();
  const named = as !== undefined && as.name.trim() !== '';
  if (named && !VARIANT_ROLES.includes(as.role)) {
    throw new ImportError(input.name, 'role', `expected one of ${VARIANT_ROLES.join(', ')}, got ${quote(as.role)}`);
  }
  type Part = {
    items: ItemScore[];
    lines: number[];
    variant?: string;
    variantKey?: string;
    role?: VariantRole;
    simulated: boolean;
    engine?: EngineKind;
    promptKey?: string;
  };
  let parts: Part[];
  if (kind === 'lm-eval-samples') {
    const lines: number[] = [];
    parts = [{ items: parseLmEvalSamples(input.text, input.name, lines), lines, simulated: false }];
  } else {
    parts = parseLogitsCsvRuns(input.text, input.name);
  }
  const carriesVariant = parts.every((p) => p.variant !== undefined || p.variantKey !== undefined);
  if (!named && !carriesVariant) {
    throw new ImportError(input.name, 'variant name', 'expected the name of the variant whose scores this file holds');
  }
  if (named && parts.length > 1) {
    throw new ImportError(
      input.name,
      'variant name',
      `the file holds ${parts.length} runs (${parts.map((p) => p.variant ?? p.variantKey).join(', ')}), each naming its variant; import it without a name`,
    );
  }
  for (const part of parts) {
    const name = named ? as.name.trim() : (part.variant ?? part.variantKey)!;
    const role: VariantRole = named ? as.role : (part.role ?? 'other');
    const simulated = part.simulated;
    const promptKey = (named ? as.promptKey?.trim() : undefined) || part.promptKey || `imported/${kind}`;
    // Analysis-only variant: no model record, so it is never offered for a run. A kit CSV keeps its variant key,
    // so re-importing rows already stored merges with them.
    const variantKey = !named && part.variantKey ? part.variantKey : `imported:${slug(name)}`;
    const engineKind: EngineKind = simulated ? 'simulated' : (part.engine ?? 'imported');
    const method: StoredMethod = simulated ? 'simulated' : 'imported';
    out.variants.push({
      key: variantKey,
      name,
      role,
      simulated,
      engine: simulated ? 'simulated' : 'webllm',
      createdAt: iso,
    });
    out.runs.push({
      variantKey,
      promptKey,
      manifestHash: `imported:${input.name}`,
      status: 'done',
      itemCount: part.items.length,
      simulated,
      engine: {
        kind: engineKind,
        method,
        params: { source: kind, fileName: input.name, ...(part.engine ? { engine: part.engine } : {}) },
      },
      startedAt: iso,
      updatedAt: iso,
      finishedAt: iso,
    });
    part.items.forEach((item, i) => {
      out.results.push({ ...item, variantKey, promptKey, method, simulated, scoredAt: iso });
      out.resultPlaces.push(`line ${part.lines[i]}`);
    });
    out.summary.push({ fileName: input.name, variant: name, promptKey, items: part.items.length, simulated });
  }
}

const LETTER = (label: number) => 'ABCD'[label] ?? String(label);

/** The refusal of an item whose gold answer differs from another record of the same item id. */
function goldConflict(
  fileName: string,
  place: string,
  incoming: StoredResult,
  other: StoredResult,
  where: string,
): ImportError {
  return new ImportError(
    fileName,
    place,
    `item ${quote(incoming.itemId)} has gold answer ${LETTER(incoming.label)} here but ${LETTER(other.label)} in ${where} ` +
      `(variant ${quote(other.variantKey)}, prompt ${quote(other.promptKey)}); an item has one gold answer, so nothing was imported`,
  );
}

/**
 * Reads every file into storage records, or throws (ResultsFileError, DataFileError or ImportError, each naming
 * the file and the field or line). Two files that hold the same item of the same variant and prompt must agree
 * on its answer and letter logits: the copy is kept once; a disagreement is refused.
 */
export function planImport(inputs: readonly ImportInput[], now = new Date()): ImportRecords {
  if (inputs.length === 0) throw new ImportError('import', '', 'no files given');
  const out: ImportRecords = { variants: [], runs: [], results: [], resultFiles: [], resultPlaces: [], summary: [] };
  const fileOfResult: string[] = [];
  for (const { file, as } of inputs) {
    const before = out.results.length;
    const kind = inputKindOf(file.name);
    if (kind === 'results') recordsOfResultsFile(parseResultsFile(file.text, file.name), file.name, now, out);
    else recordsOfExternal(file, as, now, out);
    for (let i = before; i < out.results.length; i++) fileOfResult.push(file.name);
  }
  // Merge across files: one record per key.
  const firstAt = new Map<string, number>();
  const results: StoredResult[] = [];
  const resultFiles: string[] = [];
  const resultPlaces: string[] = [];
  const goldAt = new Map<string, number>();
  out.results.forEach((r, i) => {
    const gold = goldAt.get(r.itemId);
    if (gold === undefined) goldAt.set(r.itemId, i);
    else if (out.results[gold].label !== r.label) {
      throw goldConflict(
        fileOfResult[i],
        out.resultPlaces[i],
        r,
        out.results[gold],
        `${fileOfResult[gold]} (${out.resultPlaces[gold]})`,
      );
    }
    const key = JSON.stringify([r.variantKey, r.promptKey, r.itemId]);
    const j = firstAt.get(key);
    if (j === undefined) {
      firstAt.set(key, i);
      results.push(r);
      resultFiles.push(fileOfResult[i]);
      resultPlaces.push(out.resultPlaces[i]);
      return;
    }
    if (!sameScores(out.results[j], r)) {
      throw new ImportError(
        fileOfResult[i],
        `item ${quote(r.itemId)}`,
        `variant ${quote(r.variantKey)} scored this item differently in ${fileOfResult[j]} (answer or letter logits differ); import one of the two files`,
      );
    }
  });
  const variants = new Map<string, VariantRecord>();
  for (const v of out.variants) {
    const seen = variants.get(v.key);
    if (seen && (seen.name !== v.name || seen.role !== v.role || seen.simulated !== v.simulated)) {
      throw new ImportError(
        'import',
        `variant ${quote(v.key)}`,
        `two files describe it differently (name ${quote(seen.name)} vs ${quote(v.name)}, role ${seen.role} vs ${v.role})`,
      );
    }
    if (!seen) variants.set(v.key, v);
  }
  const runs = new Map<string, RunRecord>();
  for (const r of out.runs) {
    const key = JSON.stringify([r.variantKey, r.promptKey, r.manifestHash]);
    const seen = runs.get(key);
    runs.set(key, seen ? { ...seen, itemCount: Math.max(seen.itemCount, r.itemCount) } : r);
  }
  return {
    variants: [...variants.values()],
    runs: [...runs.values()],
    results,
    resultFiles,
    resultPlaces,
    summary: out.summary,
  };
}

/**
 * Imports files into storage, all or nothing: parse and check everything (planImport), then write in one
 * transaction that also refuses an item already stored with a different answer or different letter logits.
 */
export async function importFiles(
  db: Pick<KitDb, 'importRecords'>,
  inputs: readonly ImportInput[],
  now = new Date(),
): Promise<ImportOutcome> {
  const records = planImport(inputs, now);
  const fileOf = new Map(records.results.map((r, i) => [r, records.resultFiles[i]]));
  const placeOf = new Map(records.results.map((r, i) => [r, records.resultPlaces[i]]));
  const refuseGold = (stored: StoredResult, incoming: StoredResult) => {
    if (stored.label !== incoming.label) {
      throw goldConflict(
        fileOf.get(incoming) ?? 'import',
        placeOf.get(incoming) ?? `item ${quote(incoming.itemId)}`,
        incoming,
        stored,
        'a stored run',
      );
    }
  };
  const counts = await db.importRecords(
    records,
    (stored, incoming) => {
      refuseGold(stored, incoming);
      if (!sameScores(stored, incoming)) {
        throw new ImportError(
          fileOf.get(incoming) ?? 'import',
          `item ${quote(incoming.itemId)}`,
          `variant ${quote(incoming.variantKey)} already has this item stored with a different answer or letter logits; delete that stored run first, or import into a fresh profile`,
        );
      }
    },
    refuseGold,
  );
  return { ...records, ...counts };
}
