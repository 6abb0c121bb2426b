/**
 * Turns input files into the analysis's VariantScores: decides each file's kind from its name, dispatches
 * to the right parser, and joins several files of one variant. Text in, variants out: the CLI reads the
 * disk, the app reads File objects, both call this.
 */
import { parseResultsFile, runNames, variantScoresFromResults } from '../core/results-file';
import type { ItemScore, VariantRole, VariantScores } from '../core/types';
import { DataFileError, quote } from './errors';
import { parseLmEvalSamples } from './lm-eval-samples';
import { parseLogitsCsv, parseLogitsCsvRuns } from './logits-csv';

/** The three kinds of input file, by extension: `.json`, `.jsonl`, `.csv` (any case). */
export type InputKind = 'results' | 'lm-eval-samples' | 'logits-csv';

export interface InputFile {
  /** File name or path, used for the kind and in messages. */
  name: string;
  text: string;
}

/** The kind of a file from its name; throws DataFileError for any other extension. */
export function inputKindOf(fileName: string): InputKind {
  const lower = fileName.toLowerCase();
  if (lower.endsWith('.jsonl')) return 'lm-eval-samples';
  if (lower.endsWith('.json')) return 'results';
  if (lower.endsWith('.csv')) return 'logits-csv';
  return fail(
    fileName,
    'unknown kind of file; expected a results file (.json), lm-evaluation-harness samples (.jsonl) or a logits CSV (.csv)',
  );
}

function fail(fileName: string, detail: string): never {
  throw new DataFileError(fileName, undefined, detail);
}

/** A `--variant` argument: `NAME=PATH`, or `NAME=PATH#RUN` to pick one run of a results file. */
export interface VariantSpec {
  name: string;
  path: string;
  /** Run selector for a results file holding several runs. */
  run?: string;
}

/**
 * Parses `NAME=PATH` / `NAME=PATH#RUN`. The name is everything before the first `=`; `#RUN` is recognised
 * only after a `.json` path, so `#` elsewhere stays part of the path.
 */
export function parseVariantSpec(spec: string): VariantSpec {
  const eq = spec.indexOf('=');
  const name = eq < 0 ? '' : spec.slice(0, eq).trim();
  const rest = eq < 0 ? '' : spec.slice(eq + 1);
  if (name === '' || rest === '') {
    throw new DataFileError(
      '--variant',
      undefined,
      `expected NAME=PATH (or NAME=PATH#RUN for one run of a results file), got ${quote(spec)}`,
    );
  }
  const m = /^(.*\.json)#(.+)$/i.exec(rest);
  return m ? { name, path: m[1], run: m[2] } : { name, path: rest };
}

/** Every run of a results file, each as its own variant (a bare results-file input). */
export function variantsFromResultsFile(file: InputFile): VariantScores[] {
  if (inputKindOf(file.name) !== 'results') {
    fail(
      file.name,
      'only results files (.json) can be given without a name; give CSV and lm-eval samples as --variant NAME=PATH',
    );
  }
  return variantScoresFromResults(parseResultsFile(file.text, file.name), file.name);
}

/**
 * The one run of a results file that a selector names. The selector matches, in order: a run's analysis
 * name (runNames: the variant name, made unique), its variant key, its variant name. Without a selector
 * the file must hold exactly one run.
 */
function pickRun(file: InputFile, run: string | undefined): VariantScores {
  const results = parseResultsFile(file.text, file.name);
  const variants = variantScoresFromResults(results, file.name);
  const names = runNames(results);
  if (run === undefined) {
    if (variants.length === 1) return variants[0];
    fail(
      file.name,
      `holds ${variants.length} runs (${names.join(', ')}); pick one with NAME=PATH#RUN, or give the file without NAME= to analyse every run`,
    );
  }
  const matchers = [
    (i: number) => names[i] === run,
    (i: number) => results.runs[i].variant.key === run,
    (i: number) => results.runs[i].variant.name === run,
  ];
  for (const match of matchers) {
    const hits = variants.filter((_, i) => match(i));
    if (hits.length === 1) return hits[0];
    if (hits.length > 1)
      fail(
        file.name,
        `#${run} matches ${hits.length} runs (${hits.map((h) => h.name).join(', ')}); use one of these names`,
      );
  }
  return fail(file.name, `no run named ${quote(run)}; the runs are ${names.join(', ')}`);
}

/** One file's contribution to a variant. */
interface Part {
  fileName: string;
  items: ItemScore[];
  simulated: boolean;
  role?: VariantRole;
}

function readPart(file: InputFile, run: string | undefined): Part {
  const kind = inputKindOf(file.name);
  if (kind !== 'results' && run !== undefined)
    fail(file.name, `#${run} selects a run of a results file (.json); this file has no runs`);
  switch (kind) {
    case 'results': {
      const v = pickRun(file, run);
      return { fileName: file.name, items: v.items, simulated: v.simulated, role: v.role };
    }
    case 'lm-eval-samples':
      return { fileName: file.name, items: parseLmEvalSamples(file.text, file.name), simulated: false };
    case 'logits-csv': {
      // The kit's per-item CSV says which rows are SIMULATED; that label is never dropped.
      const [only, ...more] = parseLogitsCsvRuns(file.text, file.name);
      if (more.length > 0) parseLogitsCsv(file.text, file.name); // throws, naming the runs
      return {
        fileName: file.name,
        items: only.items,
        simulated: only.simulated,
        ...(only.role ? { role: only.role } : {}),
      };
    }
  }
}

/**
 * One variant from one or more files, e.g. one lm-eval samples file per MMLU subject, or the halves of a
 * manifest scored in two browsers. The items are concatenated in the order given; an item id in two files
 * is refused. The variant is simulated when any part is; its role is the results files' role when they agree.
 */
export function loadVariant(name: string, files: { file: InputFile; run?: string }[]): VariantScores {
  if (files.length === 0) fail(name, 'a variant with no input files');
  const parts = files.map(({ file, run }) => readPart(file, run));
  const seenIn = new Map<string, string>();
  const items: ItemScore[] = [];
  for (const part of parts) {
    for (const item of part.items) {
      const other = seenIn.get(item.itemId);
      if (other !== undefined) {
        fail(
          part.fileName,
          `duplicate item id ${quote(item.itemId)} (also in ${other}); the files of variant ${quote(name)} must not overlap`,
        );
      }
      seenIn.set(item.itemId, part.fileName);
      items.push(item);
    }
  }
  if (items.length === 0) fail(name, 'a variant with no items');
  const roles = new Set(parts.map((p) => p.role));
  const role = roles.size === 1 ? parts[0].role : undefined;
  const variant: VariantScores = {
    name,
    simulated: parts.some((p) => p.simulated),
    items,
    source: parts.map((p) => p.fileName).join(', '),
  };
  if (role !== undefined) variant.role = role;
  return variant;
}
