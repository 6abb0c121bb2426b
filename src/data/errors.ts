/** The error every outside-format loader in src/data throws for a file it cannot read. */

/**
 * A data file (logits CSV, lm-evaluation-harness samples, a variant's inputs) that cannot be read.
 * `message` is one line: `<file>: line <n>: <what was expected>` (lines 1-based, as an editor counts
 * them), or `<file>: <what was wrong>` for the file as a whole.
 */
export class DataFileError extends Error {
  override name = 'DataFileError' as const;
  constructor(
    readonly fileName: string,
    /** 1-based line, when the problem is on one line. */
    readonly line: number | undefined,
    readonly detail: string,
  ) {
    super(line === undefined ? `${fileName}: ${detail}` : `${fileName}: line ${line}: ${detail}`);
  }
}

/** JSON.stringify for values quoted in messages, shortened so a message stays one readable line. */
export function quote(value: unknown, max = 40): string {
  const text = value === undefined ? 'nothing' : (JSON.stringify(value) ?? String(value));
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

/** A decimal number as written by Python, numpy, R or a spreadsheet: `-1.25`, `3`, `.5`, `1e-05`. */
const DECIMAL = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;

/**
 * Parses a logit written as text. Returns the number, or a description of what is wrong: not a decimal
 * number (`nan`, `abc`, empty, hex), or too large to be finite (`inf`, `1e400`).
 */
export function parseFiniteNumber(text: string): number | string {
  const s = text.trim();
  if (s === '') return 'expected a finite number, got an empty value';
  if (!DECIMAL.test(s)) {
    return /^[+-]?(inf(inity)?)$/i.test(s)
      ? `expected a finite number, got ${quote(text)} (infinite)`
      : `expected a finite number, got ${quote(text)}`;
  }
  const x = Number(s);
  return Number.isFinite(x) ? x : `expected a finite number, got ${quote(text)} (infinite)`;
}

/** Label as a letter A-D (any case) or an index 0-3; undefined for anything else. */
export function parseLabel(value: string | number): number | undefined {
  if (typeof value === 'number') return Number.isInteger(value) && value >= 0 && value <= 3 ? value : undefined;
  const s = value.trim();
  const letter = 'ABCD'.indexOf(s.toUpperCase());
  if (s.length === 1 && letter >= 0) return letter;
  return /^[0-3]$/.test(s) ? Number(s) : undefined;
}
