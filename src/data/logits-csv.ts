/**
 * Reads a logits CSV, the simplest way to bring scores from any other tool: one row per item with its gold
 * label and four letter logits. Text in, ItemScores out; the caller reads the file.
 */
import Papa from 'papaparse';
import {
  ENGINE_KINDS,
  VARIANT_ROLES,
  type EngineKind,
  type ItemScore,
  type LetterVector,
  type VariantRole,
} from '../core/types';
import { DataFileError, parseFiniteNumber, parseLabel, quote } from './errors';

/** Columns every logits CSV has (matched case-insensitively, in any order). */
export const LOGITS_CSV_REQUIRED = ['item_id', 'label', 'logit_A', 'logit_B', 'logit_C', 'logit_D'] as const;
/** Columns read when present; any other column is ignored. */
export const LOGITS_CSV_OPTIONAL = ['subject', 'domain', 'letter_mass'] as const;
/**
 * Provenance columns of the kit's per-item CSV (src/services/export.ts itemsCsv), read when present: whose scores a
 * row holds (`variant`, `variant_key`, `role`, `prompt_key`), the `engine` and whether they are `simulated`
 * (`SIMULATED`, or `no`). Rows are grouped into runs by variant key (else variant name) and prompt key.
 */
export const LOGITS_CSV_PROVENANCE = ['variant', 'variant_key', 'role', 'simulated', 'engine', 'prompt_key'] as const;

/** The rows of one run in a logits CSV, with the provenance its columns carry. */
export interface LogitsCsvRun {
  variant?: string;
  variantKey?: string;
  role?: VariantRole;
  /** True when any row says SIMULATED or engine `simulated`: simulated scores stay labelled. */
  simulated: boolean;
  engine?: EngineKind;
  promptKey?: string;
  items: ItemScore[];
  /** The 1-based line each item starts on (parallel to items). */
  lines: number[];
}

/**
 * The single run of a logits CSV (see parseLogitsCsvRuns); refuses a file holding the rows of several runs.
 * `lines`, when given, receives the 1-based line of each item.
 */
export function parseLogitsCsv(text: string, fileName: string, lines?: number[]): ItemScore[] {
  const runs = parseLogitsCsvRuns(text, fileName);
  if (runs.length > 1) {
    throw new DataFileError(
      fileName,
      undefined,
      `holds the rows of ${runs.length} runs (${runs.map((r) => r.variant ?? r.variantKey).join(', ')}); import it into the app, which keeps each run, or keep one run's rows`,
    );
  }
  lines?.push(...runs[0].lines);
  return runs[0].items;
}

/**
 * Parses a logits CSV into its runs (one, unless the provenance columns name several):
 * - a header row naming at least `item_id,label,logit_A,logit_B,logit_C,logit_D` (any case, any order),
 *   optionally `subject`, `domain` and `letter_mass`; other columns are ignored;
 * - `label` is a letter A-D (any case) or an index 0-3; logits are finite decimal numbers (`1e-05` fine;
 *   `nan`, `inf`, empty cells refused); `letter_mass`, when filled, is a number in [0, 1]; empty
 *   `subject`/`domain`/`letter_mass` cells mean unknown;
 * - comma-separated (tab or semicolon detected when the header uses them), RFC 4180 quoting, LF or CRLF,
 *   an optional BOM; blank lines are skipped;
 * - every row has as many fields as the header, and item ids are unique (within a run) and non-empty;
 * - the provenance columns (LOGITS_CSV_PROVENANCE), when present, are read as the per-item CSV writes them.
 * Errors name the file and the line (1-based, the line a row starts on) and what was expected.
 */
export function parseLogitsCsvRuns(text: string, fileName: string): LogitsCsvRun[] {
  const body = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
  if (body.trim() === '')
    throw new DataFileError(
      fileName,
      undefined,
      'empty file; expected a header row item_id,label,logit_A,logit_B,logit_C,logit_D',
    );

  let lineCounted = 0;
  let line = 1;
  const lineOf = (offset: number) => {
    for (; lineCounted < offset; lineCounted++) if (body.charCodeAt(lineCounted) === 10) line++;
    return line;
  };

  let columns: Record<string, number> | undefined;
  let width = 0;
  const runs = new Map<string, LogitsCsvRun & { firstLine: Map<string, number> }>();
  let items = 0;
  let failure: DataFileError | undefined;
  let rowStart = 0;

  const fail = (at: number | undefined, detail: string) => {
    failure = new DataFileError(fileName, at, detail);
  };

  // Positions of the columns a row reads, found once in the header (-1: absent).
  let place = { itemId: -1, label: -1, logits: [-1, -1, -1, -1], subject: -1, domain: -1, letterMass: -1 };
  let provenance: Record<(typeof LOGITS_CSV_PROVENANCE)[number], number> | undefined;

  const readHeader = (row: string[], at: number) => {
    const index: Record<string, number> = {};
    row.forEach((name, i) => {
      const key = name.trim().toLowerCase();
      if (key in index) fail(at, `column ${quote(name.trim())} appears twice in the header`);
      index[key] = i;
    });
    const missing = LOGITS_CSV_REQUIRED.filter((c) => !(c.toLowerCase() in index));
    if (missing.length > 0 && !failure) {
      fail(
        at,
        `header lacks ${missing.join(', ')}; expected columns ${LOGITS_CSV_REQUIRED.join(',')} (optional: ${LOGITS_CSV_OPTIONAL.join(', ')})`,
      );
    }
    columns = index;
    width = row.length;
    const pos = (name: string) => index[name.toLowerCase()] ?? -1;
    place = {
      itemId: pos('item_id'),
      label: pos('label'),
      logits: ['A', 'B', 'C', 'D'].map((letter) => pos(`logit_${letter}`)),
      subject: pos('subject'),
      domain: pos('domain'),
      letterMass: pos('letter_mass'),
    };
    // Without any provenance column every row belongs to the one run, and none of its checks can fail.
    if (LOGITS_CSV_PROVENANCE.some((c) => c in index))
      provenance = Object.fromEntries(LOGITS_CSV_PROVENANCE.map((c) => [c, pos(c)])) as typeof provenance;
  };

  /** The run a row belongs to, from its provenance cells; undefined after a failure on them. */
  const runOf = (row: string[], at: number) => {
    const text = (i: number) => (i >= 0 ? row[i].trim() : '');
    const p = provenance;
    const role = p ? text(p.role) : '';
    const engine = p ? text(p.engine) : '';
    const variant = p ? text(p.variant) : '';
    const sim = p ? text(p.simulated).toLowerCase() : '';
    if (p) {
      if (role !== '' && !VARIANT_ROLES.includes(role as VariantRole))
        return fail(at, `role: expected one of ${VARIANT_ROLES.join(', ')}, got ${quote(role)}`);
      if (engine !== '' && !ENGINE_KINDS.includes(engine as EngineKind))
        return fail(at, `engine: expected one of ${ENGINE_KINDS.join(', ')}, got ${quote(engine)}`);
      if (!['', 'simulated', 'true', 'yes', '1', 'no', 'false', '0'].includes(sim))
        return fail(at, `simulated: expected SIMULATED or no, got ${quote(text(p.simulated))}`);
    }
    const simulated = ['simulated', 'true', 'yes', '1'].includes(sim);
    if (engine === 'simulated' && sim !== '' && !simulated)
      return fail(
        at,
        'simulated: expected SIMULATED for a row of the simulated engine (simulated scores are always labelled)',
      );
    const variantKey = p ? text(p.variant_key) : '';
    const promptKey = p ? text(p.prompt_key) : '';
    const runKey = p ? JSON.stringify([variantKey || variant, promptKey]) : '';
    let run = runs.get(runKey);
    if (!run) {
      run = { simulated: false, items: [], lines: [], firstLine: new Map() };
      if (variant) run.variant = variant;
      if (variantKey) run.variantKey = variantKey;
      if (role) run.role = role as VariantRole;
      if (engine) run.engine = engine as EngineKind;
      if (promptKey) run.promptKey = promptKey;
      runs.set(runKey, run);
    } else if ((run.role ?? '') !== role || (run.engine ?? '') !== engine || (run.variant ?? '') !== variant) {
      return fail(
        at,
        `variant, role and engine must be the same on every row of a run; this row differs from line ${run.lines[0]}`,
      );
    }
    run.simulated ||= simulated || engine === 'simulated';
    return run;
  };

  const readRow = (row: string[], at: number) => {
    if (row.length !== width) {
      fail(at, `expected ${width} fields as in the header, got ${row.length}`);
      return;
    }
    const c = place;
    const itemId = row[c.itemId].trim();
    if (itemId === '') return fail(at, 'item_id: expected a non-empty item id');
    const run = runOf(row, at);
    if (!run) return;
    const firstLine = run.firstLine;
    const earlier = firstLine.get(itemId);
    if (earlier !== undefined) return fail(at, `duplicate item id ${quote(itemId)} (first on line ${earlier})`);
    const label = parseLabel(row[c.label]);
    if (label === undefined)
      return fail(at, `label: unknown label ${quote(row[c.label])}; expected a letter A-D or an index 0-3`);
    const logits: number[] = [];
    for (let k = 0; k < 4; k++) {
      const x = parseFiniteNumber(row[c.logits[k]]);
      if (typeof x === 'string') return fail(at, `logit_${'ABCD'[k]}: ${x}`);
      logits.push(x);
    }
    const score: ItemScore = { itemId, label, letterLogits: logits as LetterVector };
    if (c.subject >= 0 && row[c.subject].trim() !== '') score.subject = row[c.subject].trim();
    if (c.domain >= 0 && row[c.domain].trim() !== '') score.domain = row[c.domain].trim();
    if (c.letterMass >= 0 && row[c.letterMass].trim() !== '') {
      const mass = parseFiniteNumber(row[c.letterMass]);
      if (typeof mass === 'string') return fail(at, `letter_mass: ${mass}`);
      if (mass < 0 || mass > 1) return fail(at, `letter_mass: expected a probability in [0, 1], got ${mass}`);
      score.letterMass = mass;
    }
    firstLine.set(itemId, at);
    run.items.push(score);
    run.lines.push(at);
    items++;
  };

  Papa.parse<string[]>(body, {
    delimitersToGuess: [',', '\t', ';'],
    skipEmptyLines: false,
    step: (result, parser) => {
      const at = lineOf(rowStart);
      rowStart = result.meta.cursor;
      const row = result.data;
      if (result.errors.length > 0) {
        fail(at, `${result.errors[0].message.toLowerCase()}; expected CSV with RFC 4180 quoting`);
      } else if (row.length === 1 && row[0].trim() === '') {
        return; // blank line
      } else if (columns === undefined) {
        readHeader(row, at);
      } else {
        readRow(row, at);
      }
      if (failure) parser.abort();
    },
  });
  if (failure) throw failure;
  if (columns === undefined) throw new DataFileError(fileName, undefined, 'empty file; expected a header row');
  if (items === 0) throw new DataFileError(fileName, undefined, 'no items: the header is not followed by any row');
  return [...runs.values()].map(({ firstLine: _f, ...run }) => run);
}
