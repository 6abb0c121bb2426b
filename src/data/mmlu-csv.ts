/**
 * Reads the original Hendrycks MMLU CSVs (`<subject>_<split>.csv`: no header; question, A, B, C, D, answer
 * letter) into MmluItems. Text in, items out; every field stays the exact string of the file.
 */
import Papa from 'papaparse';
import * as v from 'valibot';
import { isMmluSplit, isMmluSubject, mmluItemId } from '../core/mmlu';
import type { MmluItem, MmluSplit } from '../core/types';

/** Thrown for an MMLU source file that cannot be read as MMLU; the message names the file and the place. */
export class MmluDataError extends Error {
  override name = 'MmluDataError';
}

const FILE_NAME = /^([a-z_]+)_(dev|val|test)\.csv$/;

/**
 * Subject and split from a CSV file name such as `college_physics_val.csv` (a leading folder path is
 * ignored). Returns undefined for a name that is not an MMLU CSV of a known subject.
 */
export function parseMmluCsvName(path: string): { subject: string; split: MmluSplit } | undefined {
  const base = path.split(/[\\/]/).pop() ?? '';
  const m = FILE_NAME.exec(base);
  if (!m || !isMmluSubject(m[1]) || !isMmluSplit(m[2])) return undefined;
  return { subject: m[1], split: m[2] };
}

const FIELDS = ['question', 'A', 'B', 'C', 'D', 'answer'] as const;
const CsvRecord = v.strictTuple(
  [
    v.string(),
    v.string(),
    v.string(),
    v.string(),
    v.string(),
    v.picklist(['A', 'B', 'C', 'D'], 'expected an answer letter A, B, C or D'),
  ],
  'expected six fields: question, A, B, C, D, answer',
);

export interface CsvSource {
  /** File name or path, for messages; the subject and split come from it unless given. */
  fileName: string;
  subject?: string;
  split?: MmluSplit;
}

/**
 * Parses one MMLU CSV. RFC 4180 quoting (`""` escapes, line breaks inside quotes kept byte for byte,
 * CRLF included); records separated by LF or CRLF (papaparse detects which from the text outside quotes);
 * a missing final newline is fine; blank lines are skipped; a leading BOM is dropped. Row numbers count
 * records from 0. Errors name the file, the line the record starts on, and what was expected.
 */
export function parseMmluCsv(text: string, source: CsvSource): MmluItem[] {
  const named = parseMmluCsvName(source.fileName);
  const subject = source.subject ?? named?.subject;
  const split = source.split ?? named?.split;
  if (!subject || !split) {
    throw new MmluDataError(
      `${source.fileName}: not an MMLU CSV name (expected <subject>_<dev|val|test>.csv with one of the 57 subjects)`,
    );
  }
  if (!isMmluSubject(subject)) throw new MmluDataError(`${source.fileName}: unknown MMLU subject "${subject}"`);
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);

  // Line numbers for messages: the line each record starts on, counted incrementally from the cursor.
  let counted = 0;
  let line = 1;
  const lineAt = (offset: number) => {
    for (; counted < offset; counted++) if (text.charCodeAt(counted) === 10) line++;
    return line;
  };
  const skipBreaks = (offset: number) => {
    while (offset < text.length && (text[offset] === '\n' || text[offset] === '\r')) offset++;
    return offset;
  };

  const items: MmluItem[] = [];
  let start = 0;
  let failure: MmluDataError | undefined;
  Papa.parse<string[]>(text, {
    delimiter: ',',
    quoteChar: '"',
    skipEmptyLines: true,
    dynamicTyping: false,
    step: (result, parser) => {
      const recordLine = lineAt(skipBreaks(start));
      start = result.meta.cursor;
      const where = `${source.fileName}, record ${items.length + 1} (line ${recordLine})`;
      if (result.errors.length > 0) {
        failure = new MmluDataError(`${where}: ${result.errors[0].message}`);
        parser.abort();
        return;
      }
      const fields = [...result.data];
      // A file mixing CRLF and LF records, parsed as LF, leaves the CR on the answer letter.
      if (fields.length === 6 && fields[5].endsWith('\r')) fields[5] = fields[5].slice(0, -1);
      if (fields.length !== FIELDS.length) {
        failure = new MmluDataError(
          `${where}: expected six fields (question, A, B, C, D, answer), got ${fields.length}`,
        );
        parser.abort();
        return;
      }
      const parsed = v.safeParse(CsvRecord, fields);
      if (!parsed.success) {
        const field = parsed.issues[0].path?.[0]?.key;
        const label = typeof field === 'number' ? ` field ${field + 1} (${FIELDS[field]})` : '';
        const got = typeof field === 'number' ? `, got ${JSON.stringify(fields[field])}` : '';
        failure = new MmluDataError(`${where}${label}: ${parsed.issues[0].message}${got}`);
        parser.abort();
        return;
      }
      const [question, a, b, c, d, letter] = parsed.output;
      const row = items.length;
      items.push({
        id: mmluItemId(subject, split, row),
        subject,
        split,
        row,
        question,
        choices: [a, b, c, d],
        answer: 'ABCD'.indexOf(letter),
      });
    },
  });
  if (failure) throw failure;
  if (items.length === 0) throw new MmluDataError(`${source.fileName}: no records`);
  return items;
}

/** A file given as text, e.g. from a dropped folder or from disk. */
export interface TextFile {
  /** Path or name; only the base name decides the subject and split. */
  name: string;
  text: string;
}

/**
 * Parses many MMLU CSVs (any order, e.g. a dropped `data/` folder); files whose names are not MMLU CSVs
 * are ignored. The same subject and split twice is an error. Items come back in canonical order
 * (subject, split, row).
 */
export function parseMmluCsvFiles(files: readonly TextFile[]): MmluItem[] {
  const seen = new Map<string, string>();
  const parsed: { key: string; items: MmluItem[] }[] = [];
  for (const f of files) {
    const named = parseMmluCsvName(f.name);
    if (!named) continue;
    const key = `${named.subject}/${named.split}`;
    const earlier = seen.get(key);
    if (earlier !== undefined) throw new MmluDataError(`${f.name}: ${key} was already read from ${earlier}`);
    seen.set(key, f.name);
    parsed.push({ key, items: parseMmluCsv(f.text, { fileName: f.name, ...named }) });
  }
  parsed.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  return parsed.flatMap((p) => p.items);
}
