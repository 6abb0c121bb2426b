/**
 * The Results view in the page's URL (its query string; the hash names the step): the analysis settings that
 * differ from the defaults and the runs chosen for analysis, so a link opens the same view for anyone holding
 * the same stored or imported data. Parameters are the settings' own names; `run` repeats, once per chosen run
 * (its groupId). A link is outside data: each value is checked, and a bad one is dropped with a note, never
 * passed to the analysis.
 */
import * as v from 'valibot';
import { DEFAULT_ANALYSIS_SETTINGS, INTERVAL_METHODS, type AnalysisSettings } from './types';

const int = (min: number, max: number) =>
  v.pipe(v.string(), v.regex(/^\d+$/), v.transform(Number), v.integer(), v.minValue(min), v.maxValue(max));
const num = (min: number, max: number) =>
  v.pipe(v.string(), v.regex(/^\d+(\.\d+)?(e-?\d+)?$/i), v.transform(Number), v.minValue(min), v.maxValue(max));

/** Each setting's parameter and the values a link may carry (the Settings panel's own ranges). */
const SETTING_SCHEMAS: { [K in keyof AnalysisSettings]: v.GenericSchema<string, AnalysisSettings[K]> } = {
  bins: int(1, 255),
  mceMinCount: int(1, 1_000_000),
  scaling: v.picklist(['none', 'temperature', 'vector', 'matrix']),
  folds: int(2, 50),
  inSample: v.pipe(
    v.picklist(['true', 'false']),
    v.transform((s) => s === 'true'),
  ),
  lambda: num(0, 1e6),
  mu: num(0, 1e6),
  bootstrap: int(0, 100_000),
  permutations: int(0, 100_000),
  confidence: v.pipe(
    num(0, 1),
    v.check((x) => x > 0 && x < 1, 'between 0 and 1 (exclusive)'),
  ),
  seed: int(0, 2 ** 32 - 1),
  interval: v.picklist(INTERVAL_METHODS),
};
const SETTING_KEYS = Object.keys(SETTING_SCHEMAS) as (keyof AnalysisSettings)[];

/** The query string (with its `?`, or '' for the default view) for these settings and this run selection. */
export function resultsQuery(settings: AnalysisSettings, selection: readonly string[] | undefined): string {
  const params = new URLSearchParams();
  for (const key of SETTING_KEYS) {
    if (settings[key] !== DEFAULT_ANALYSIS_SETTINGS[key]) params.set(key, String(settings[key]));
  }
  for (const id of selection ?? []) params.append('run', id);
  const text = params.toString();
  return text ? `?${text}` : '';
}

export interface ResultsLink {
  /** The settings the link names (the others stay at their defaults). */
  settings: Partial<AnalysisSettings>;
  /** The runs to analyse; undefined: every stored run. */
  selection?: string[];
  /** One line per parameter that was dropped. */
  problems: string[];
}

/** Reads a Results view from a query string (location.search). Unknown parameters are left alone. */
export function parseResultsQuery(search: string): ResultsLink {
  const params = new URLSearchParams(search);
  const settings: Partial<AnalysisSettings> = {};
  const problems: string[] = [];
  for (const key of SETTING_KEYS) {
    const raw = params.get(key);
    if (raw === null) continue;
    const parsed = v.safeParse(SETTING_SCHEMAS[key], raw);
    if (parsed.success) (settings as Record<string, unknown>)[key] = parsed.output;
    else problems.push(`The link's ${key}=${raw} was ignored (expected ${describe(key)}).`);
  }
  const runs = params.getAll('run').filter((id) => id !== '');
  return { settings, ...(runs.length ? { selection: runs } : {}), problems };
}

function describe(key: keyof AnalysisSettings): string {
  if (key === 'scaling') return 'none, temperature, vector or matrix';
  if (key === 'inSample') return 'true or false';
  if (key === 'interval') return INTERVAL_METHODS.join(', ');
  if (key === 'confidence') return 'a number between 0 and 1';
  return key === 'lambda' || key === 'mu' ? 'a number ≥ 0' : 'a whole number in range';
}

/** Whether a query string names any part of a Results view. */
export function hasResultsView(search: string): boolean {
  const params = new URLSearchParams(search);
  return params.has('run') || SETTING_KEYS.some((k) => params.has(k));
}

/** The query string `search` with the Results view's parameters replaced by `query`'s, others kept. */
export function withResultsQuery(search: string, query: string): string {
  const params = new URLSearchParams(search);
  for (const key of [...SETTING_KEYS, 'run']) params.delete(key);
  for (const [k, value] of new URLSearchParams(query)) params.append(k, value);
  const text = params.toString();
  return text ? `?${text}` : '';
}
