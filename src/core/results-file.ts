/**
 * The results file: the one parser of this kit's exported JSON (format "calibration-kit/results",
 * version 1), its writer, and the step from a parsed file to the analysis's VariantScores.
 * Bad input becomes a ResultsFileError naming the file, the field path and what was expected.
 */
import * as v from 'valibot';
import {
  ENGINE_KINDS,
  INTERVAL_METHODS,
  LETTERS,
  METRICS,
  PROMPT_FORMATS,
  RESULTS_FILE_FORMAT,
  RESULTS_FILE_VERSION,
  SCALING_METHODS,
  VARIANT_ROLES,
  type AnalysisReport,
  type AnalysisSettings,
  type LetterVector,
  type MetricName,
  type ResultsFile,
  type VariantScores,
} from './types';

/**
 * A results file that cannot be read. `message` is one line: `<file>: <field path>: <what was expected>`,
 * e.g. `run.json: runs[0].items[12].letterLogits[2]: expected a finite number, got null`.
 */
export class ResultsFileError extends Error {
  override name = 'ResultsFileError' as const;
  constructor(
    readonly fileName: string,
    /** Field path such as `runs[0].items[12].label`, or '' for the file as a whole. */
    readonly field: string,
    readonly detail: string,
  ) {
    super(field ? `${fileName}: ${field}: ${detail}` : `${fileName}: ${detail}`);
  }
}

// ---------------------------------------------------------------------------------------------------
// Schema (version 1)
// ---------------------------------------------------------------------------------------------------

const finiteNumber = v.pipe(v.number(), v.finite('expected a finite number'));
const nonNegative = v.pipe(finiteNumber, v.minValue(0, 'expected a number >= 0'));
const count = v.pipe(v.number(), v.integer('expected an integer'), v.minValue(0, 'expected an integer >= 0'));
const nonEmptyString = v.pipe(v.string(), v.minLength(1, 'expected a non-empty string'));
const dateTime = v.pipe(
  v.string(),
  v.check((s) => !Number.isNaN(Date.parse(s)), 'expected an ISO 8601 date-time'),
);

/** Exactly four numbers, one per letter A..D. */
function letterVectorOf(item: typeof finiteNumber | typeof count) {
  return v.pipe(
    v.array(item),
    v.length(4, `expected 4 numbers, one per letter ${LETTERS.join(', ')}`),
    v.transform((x) => x as LetterVector),
  );
}
const letterLogits = letterVectorOf(finiteNumber);
const tokenIds = letterVectorOf(count);

const label = v.pipe(
  v.number(),
  v.integer('expected an answer index 0-3'),
  v.minValue(0, 'expected an answer index 0-3'),
  v.maxValue(3, 'expected an answer index 0-3'),
);

/**
 * A number in a stored report. JSON has no NaN (an empty bin's accuracy, a reduction relative to a zero
 * ECE), so those are written as null and read back as NaN.
 */
const reportNumber = v.pipe(
  v.nullable(v.number()),
  v.transform((x) => (x === null ? Number.NaN : x)),
);
const interval = v.pipe(
  v.array(reportNumber),
  v.length(2, 'expected an interval [lo, hi]'),
  v.transform((x) => x as [number, number]),
);

function perMetric<T extends v.GenericSchema>(item: T) {
  const entries = {} as Record<MetricName, T>;
  for (const m of METRICS) entries[m] = item;
  return v.object(entries);
}

const AnalysisSettingsSchema = v.object({
  bins: v.pipe(count, v.minValue(1, 'expected an integer >= 1')),
  mceMinCount: count,
  scaling: v.picklist(SCALING_METHODS),
  folds: count,
  inSample: v.boolean(),
  lambda: nonNegative,
  mu: nonNegative,
  bootstrap: count,
  permutations: count,
  confidence: v.pipe(
    finiteNumber,
    v.gtValue(0, 'expected a level in (0, 1)'),
    v.ltValue(1, 'expected a level in (0, 1)'),
  ),
  seed: count,
  // Files written before intervals were a setting used the percentile interval.
  interval: v.optional(v.picklist(INTERVAL_METHODS), 'percentile'),
});

const ReliabilityBinSchema = v.object({
  lo: reportNumber,
  hi: reportNumber,
  count,
  confidence: reportNumber,
  accuracy: reportNumber,
});

const StageMetricsSchema = v.object({
  ...perMetric(reportNumber).entries,
  ci: v.optional(v.object({ ...perMetric(interval).entries, smooth_ece: v.optional(interval) })),
  smooth_ece: v.optional(reportNumber),
  smooth_ece_bandwidth: v.optional(reportNumber),
  mce_bin_count: count,
  letter_mass: v.optional(reportNumber),
  reliability: v.array(ReliabilityBinSchema),
});

const VariantReportSchema = v.object({
  n: count,
  simulated: v.boolean(),
  role: v.optional(v.picklist(VARIANT_ROLES)),
  uncalibrated: StageMetricsSchema,
  scaled: v.optional(StageMetricsSchema),
  scaling: v.object({
    method: v.picklist(SCALING_METHODS),
    folds: count,
    lambda: reportNumber,
    mu: reportNumber,
    in_sample: v.boolean(),
    resampling: v.literal('fixed-calibrated-logits'),
  }),
  ece_reduction_pct: v.optional(reportNumber),
  accuracy_change_pts: v.optional(reportNumber),
});

const ComparisonSchema = v.object({
  a: v.string(),
  b: v.string(),
  metric: v.picklist(METRICS),
  stage: v.picklist(['uncalibrated', 'scaled']),
  diff: reportNumber,
  ci: v.optional(interval),
  p: v.optional(reportNumber),
  n: count,
  unmatched: v.object({ onlyA: count, onlyB: count }),
});

const AnalysisReportSchema = v.object({
  settings: AnalysisSettingsSchema,
  variants: v.record(v.string(), VariantReportSchema),
  comparisons: v.array(ComparisonSchema),
  unanalysed: v.optional(v.array(v.object({ variant: v.string(), reason: v.string() }))),
  uncompared: v.optional(v.array(v.object({ a: v.string(), b: v.string(), reason: v.string() }))),
});

const ResultsItemSchema = v.object({
  itemId: nonEmptyString,
  label,
  letterLogits,
  subject: v.optional(v.string()),
  domain: v.optional(v.string()),
  letterMass: v.optional(
    v.pipe(
      finiteNumber,
      v.minValue(0, 'expected a probability in [0, 1]'),
      v.maxValue(1, 'expected a probability in [0, 1]'),
    ),
  ),
  logSumExp: v.optional(finiteNumber),
  letterTokenIds: v.optional(tokenIds),
  promptTokens: v.optional(count),
  elapsedMs: v.optional(nonNegative),
});

const ResultsRunSchema = v.object({
  variant: v.object({
    key: nonEmptyString,
    name: nonEmptyString,
    role: v.picklist(VARIANT_ROLES),
    simulated: v.boolean(),
    model: v.optional(
      v.object({
        id: v.optional(v.string()),
        url: v.optional(v.string()),
        modelLibUrl: v.optional(v.string()),
        quantization: v.optional(v.string()),
        overrides: v.optional(v.record(v.string(), v.unknown())),
      }),
    ),
  }),
  prompt: v.optional(
    v.object({
      key: nonEmptyString,
      format: v.picklist(PROMPT_FORMATS),
      kshot: count,
      patternHash: v.optional(v.string()),
      pattern: v.optional(v.string()),
      letterTokenIds: v.optional(tokenIds),
    }),
  ),
  engine: v.object({
    kind: v.picklist(ENGINE_KINDS),
    version: v.optional(v.string()),
    params: v.optional(v.record(v.string(), v.unknown())),
  }),
  startedAt: v.optional(dateTime),
  finishedAt: v.optional(dateTime),
  items: v.pipe(v.array(ResultsItemSchema), v.minLength(1, 'expected at least one scored item (a run with no items)')),
});

/** The version-1 results file. Unknown fields are dropped, except inside `manifest` (kept as they are). */
export const ResultsFileSchema = v.object({
  format: v.literal(RESULTS_FILE_FORMAT),
  version: v.literal(RESULTS_FILE_VERSION),
  app: v.object({ name: v.string(), version: v.string() }),
  createdAt: dateTime,
  environment: v.object({
    userAgent: v.optional(v.string()),
    webllmVersion: v.optional(v.string()),
    adapter: v.optional(
      v.object({
        vendor: v.string(),
        architecture: v.string(),
        description: v.optional(v.string()),
        shaderF16: v.boolean(),
      }),
    ),
  }),
  manifest: v.optional(
    v.looseObject({
      hash: v.optional(v.string()),
      preset: v.optional(v.string()),
      seed: v.optional(v.number()),
    }),
  ),
  runs: v.pipe(v.array(ResultsRunSchema), v.minLength(1, 'expected at least one run')),
  analysis: v.optional(v.object({ settings: AnalysisSettingsSchema, report: AnalysisReportSchema })),
});

// Compile-time check that the schema's output and the interfaces in types.ts describe the same record:
// each must be assignable to the other (optional fields, extra fields and types all count).
type MutuallyAssignable<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
const schemaMatchesResultsFile: MutuallyAssignable<v.InferOutput<typeof ResultsFileSchema>, ResultsFile> = true;
const schemaMatchesSettings: MutuallyAssignable<v.InferOutput<typeof AnalysisSettingsSchema>, AnalysisSettings> = true;
const schemaMatchesReport: MutuallyAssignable<v.InferOutput<typeof AnalysisReportSchema>, AnalysisReport> = true;
void [schemaMatchesResultsFile, schemaMatchesSettings, schemaMatchesReport];

// ---------------------------------------------------------------------------------------------------
// Parse and serialize
// ---------------------------------------------------------------------------------------------------

/** `runs[0].items[12].letterLogits[2]` from a valibot issue path. */
function fieldPath(issue: v.BaseIssue<unknown>): string {
  let out = '';
  for (const step of issue.path ?? []) {
    const key = step.key;
    if (typeof key === 'number') out += `[${key}]`;
    else if (typeof key === 'string' && /^[A-Za-z_$][\w$]*$/.test(key)) out += out ? `.${key}` : key;
    else out += `[${JSON.stringify(String(key))}]`;
  }
  return out;
}

const TYPE_WORDS: Record<string, string> = {
  Array: 'an array',
  Object: 'an object',
  number: 'a number',
  string: 'a string',
  boolean: 'true or false',
};

function describeIssue(issue: v.BaseIssue<unknown>): string {
  if (issue.kind === 'schema') {
    if (issue.received === 'undefined') return 'missing; this field is required';
    const expected = issue.expected === null ? 'another value' : (TYPE_WORDS[issue.expected] ?? issue.expected);
    return `expected ${expected}, got ${issue.received}`;
  }
  return `${issue.message}, got ${issue.received}`;
}

/** 1-based line and column of a character offset, as an editor counts them. */
function lineColumn(text: string, offset: number): string {
  let line = 1;
  let lineStart = 0;
  for (let i = 0; i < offset && i < text.length; i++) {
    if (text.charCodeAt(i) === 10) {
      line++;
      lineStart = i + 1;
    }
  }
  return `line ${line}, column ${offset - lineStart + 1}`;
}

/**
 * Reads a results file. Checks, in order: JSON syntax, the `format` marker, the version, the schema,
 * then per run that item ids are unique, and across runs that no (variant key, prompt key) pair repeats
 * (runs of one variant made on several machines must be merged into one run before export).
 */
export function parseResultsFile(text: string, fileName: string): ResultsFile {
  const body = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
  if (body.trim() === '')
    throw new ResultsFileError(fileName, '', 'empty file; expected a calibration-kit results JSON');
  let data: unknown;
  try {
    data = JSON.parse(body);
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    const at = /position (\d+)/.exec(message);
    const where = at ? ` at ${lineColumn(body, Number(at[1]))}` : '';
    throw new ResultsFileError(fileName, '', `malformed JSON${where}: ${message.replace(/\s*\n\s*/g, ' ')}`);
  }
  if (typeof data !== 'object' || data === null || Array.isArray(data)) {
    throw new ResultsFileError(fileName, '', 'expected a JSON object with format "calibration-kit/results"');
  }
  const record = data as Record<string, unknown>;
  if (record.format !== RESULTS_FILE_FORMAT) {
    const hint =
      'results' in record && 'configs' in record
        ? ' (this looks like lm-evaluation-harness results_*.json, which holds no per-item scores: use its samples_*.jsonl files)'
        : '';
    throw new ResultsFileError(
      fileName,
      'format',
      `expected "${RESULTS_FILE_FORMAT}", got ${JSON.stringify(record.format) ?? 'nothing'}${hint}`,
    );
  }
  if (typeof record.version === 'number' && record.version > RESULTS_FILE_VERSION) {
    throw new ResultsFileError(
      fileName,
      'version',
      `version ${record.version} is newer than this kit reads (${RESULTS_FILE_VERSION}); update the kit`,
    );
  }
  const result = v.safeParse(ResultsFileSchema, data, { abortEarly: true });
  if (!result.success) {
    const issue = result.issues[0];
    throw new ResultsFileError(fileName, fieldPath(issue), describeIssue(issue));
  }
  const file = result.output;
  const runOf = new Map<string, number>();
  file.runs.forEach((run, r) => {
    const firstAt = new Map<string, number>();
    run.items.forEach((item, i) => {
      const prev = firstAt.get(item.itemId);
      if (prev !== undefined) {
        throw new ResultsFileError(
          fileName,
          `runs[${r}].items[${i}].itemId`,
          `duplicate item id ${JSON.stringify(item.itemId)} (also at runs[${r}].items[${prev}]); expected each item once per run`,
        );
      }
      firstAt.set(item.itemId, i);
    });
    const runKey = JSON.stringify([run.variant.key, run.prompt?.key ?? null]);
    const prevRun = runOf.get(runKey);
    if (prevRun !== undefined) {
      throw new ResultsFileError(
        fileName,
        `runs[${r}]`,
        `duplicate run of variant key ${JSON.stringify(run.variant.key)} with prompt key ${JSON.stringify(run.prompt?.key ?? null)} (also runs[${prevRun}]); expected one run per variant and prompt`,
      );
    }
    runOf.set(runKey, r);
  });
  return file;
}

/**
 * Writes a results file as JSON text, and reads it back through parseResultsFile first, so the kit never
 * writes a file it would refuse to import. NaN numbers in the report become null (see reportNumber).
 */
export function serializeResultsFile(file: ResultsFile): string {
  const text = JSON.stringify(file, null, 1) + '\n';
  parseResultsFile(text, 'results file being written');
  return text;
}

// ---------------------------------------------------------------------------------------------------
// To the analysis
// ---------------------------------------------------------------------------------------------------

/**
 * Display names of a file's runs, unique within the file: the variant's name, or, when several runs share
 * it, `name/promptKey` (then `name/variantKey/promptKey`, then a `#<run index>` suffix) so that every run
 * becomes its own variant in the analysis.
 */
export function runNames(file: ResultsFile): string[] {
  const candidates = [
    (r: ResultsFile['runs'][number]) => r.variant.name,
    (r: ResultsFile['runs'][number]) => `${r.variant.name}/${r.prompt?.key ?? 'no-prompt'}`,
    (r: ResultsFile['runs'][number]) => `${r.variant.name}/${r.variant.key}/${r.prompt?.key ?? 'no-prompt'}`,
  ];
  const names = file.runs.map(() => '');
  let pending = file.runs.map((_, i) => i);
  for (const candidate of candidates) {
    const counts = new Map<string, number>();
    for (const i of pending) counts.set(candidate(file.runs[i]), (counts.get(candidate(file.runs[i])) ?? 0) + 1);
    const still: number[] = [];
    for (const i of pending) {
      const name = candidate(file.runs[i]);
      if (counts.get(name) === 1 && !names.includes(name)) names[i] = name;
      else still.push(i);
    }
    pending = still;
  }
  for (const i of pending) names[i] = `${file.runs[i].variant.name}#${i}`;
  return names;
}

/**
 * One VariantScores per run, named by runNames. The `simulated` flag and the role are carried through;
 * `source` (e.g. the file name) is recorded for messages.
 */
export function variantScoresFromResults(file: ResultsFile, source?: string): VariantScores[] {
  const names = runNames(file);
  return file.runs.map((run, r) => ({
    name: names[r],
    role: run.variant.role,
    simulated: run.variant.simulated,
    ...(source === undefined ? {} : { source: `${source}#${names[r]}` }),
    variantKey: run.variant.key,
    ...(run.prompt ? { promptKey: run.prompt.key } : {}),
    items: run.items.map((item) => {
      const score: VariantScores['items'][number] = {
        itemId: item.itemId,
        label: item.label,
        letterLogits: [...item.letterLogits] as LetterVector,
      };
      if (item.subject !== undefined) score.subject = item.subject;
      if (item.domain !== undefined) score.domain = item.domain;
      if (item.letterMass !== undefined) score.letterMass = item.letterMass;
      return score;
    }),
  }));
}
