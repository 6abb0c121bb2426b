/**
 * MMLU items in the study's terms: the subject -> subcategory -> category map, the domain presets, item ids
 * and content hashes, the seeded per-domain sampler, and the item manifest that pins a sample down.
 */
import { sha256 } from '@noble/hashes/sha2.js';
import { bytesToHex, utf8ToBytes } from '@noble/hashes/utils.js';
import { Rng, deriveSeed } from './random';
import {
  MMLU_SPLITS,
  type DomainDef,
  type ItemManifest,
  type ManifestEntry,
  type MmluItem,
  type MmluSplit,
} from './types';

// ---------------------------------------------------------------------------------------------------
// Subjects, subcategories, categories (Hendrycks et al. 2021, `categories.py` of github.com/hendrycks/test)
// ---------------------------------------------------------------------------------------------------

/** The four categories, spelled as in Hendrycks et al.'s `categories.py`. */
export const MMLU_CATEGORIES = ['STEM', 'humanities', 'social sciences', 'other (business, health, misc.)'] as const;
export type MmluCategory = (typeof MMLU_CATEGORIES)[number];

/** The 17 subcategories and the category each belongs to. */
export const MMLU_SUBCATEGORIES: Readonly<Record<string, MmluCategory>> = Object.freeze({
  physics: 'STEM',
  chemistry: 'STEM',
  biology: 'STEM',
  'computer science': 'STEM',
  math: 'STEM',
  engineering: 'STEM',
  history: 'humanities',
  philosophy: 'humanities',
  law: 'humanities',
  politics: 'social sciences',
  culture: 'social sciences',
  economics: 'social sciences',
  geography: 'social sciences',
  psychology: 'social sciences',
  other: 'other (business, health, misc.)',
  business: 'other (business, health, misc.)',
  health: 'other (business, health, misc.)',
});

/** The 57 subjects (as in the file names) and the subcategory each belongs to. */
export const MMLU_SUBJECT_SUBCATEGORY: Readonly<Record<string, string>> = Object.freeze({
  abstract_algebra: 'math',
  anatomy: 'health',
  astronomy: 'physics',
  business_ethics: 'business',
  clinical_knowledge: 'health',
  college_biology: 'biology',
  college_chemistry: 'chemistry',
  college_computer_science: 'computer science',
  college_mathematics: 'math',
  college_medicine: 'health',
  college_physics: 'physics',
  computer_security: 'computer science',
  conceptual_physics: 'physics',
  econometrics: 'economics',
  electrical_engineering: 'engineering',
  elementary_mathematics: 'math',
  formal_logic: 'philosophy',
  global_facts: 'other',
  high_school_biology: 'biology',
  high_school_chemistry: 'chemistry',
  high_school_computer_science: 'computer science',
  high_school_european_history: 'history',
  high_school_geography: 'geography',
  high_school_government_and_politics: 'politics',
  high_school_macroeconomics: 'economics',
  high_school_mathematics: 'math',
  high_school_microeconomics: 'economics',
  high_school_physics: 'physics',
  high_school_psychology: 'psychology',
  high_school_statistics: 'math',
  high_school_us_history: 'history',
  high_school_world_history: 'history',
  human_aging: 'health',
  human_sexuality: 'culture',
  international_law: 'law',
  jurisprudence: 'law',
  logical_fallacies: 'philosophy',
  machine_learning: 'computer science',
  management: 'business',
  marketing: 'business',
  medical_genetics: 'health',
  miscellaneous: 'other',
  moral_disputes: 'philosophy',
  moral_scenarios: 'philosophy',
  nutrition: 'health',
  philosophy: 'philosophy',
  prehistory: 'history',
  professional_accounting: 'other',
  professional_law: 'law',
  professional_medicine: 'health',
  professional_psychology: 'psychology',
  public_relations: 'politics',
  security_studies: 'politics',
  sociology: 'culture',
  us_foreign_policy: 'politics',
  virology: 'health',
  world_religions: 'philosophy',
});

/** All 57 subjects, sorted. */
export const MMLU_SUBJECTS: readonly string[] = Object.freeze(Object.keys(MMLU_SUBJECT_SUBCATEGORY).sort());

export function isMmluSubject(subject: string): boolean {
  return Object.hasOwn(MMLU_SUBJECT_SUBCATEGORY, subject);
}

export function subjectCategory(subject: string): MmluCategory {
  const sub = MMLU_SUBJECT_SUBCATEGORY[subject];
  if (sub === undefined) throw new MmluSampleError(`unknown MMLU subject "${subject}"`);
  return MMLU_SUBCATEGORIES[sub];
}

/** Thrown for a bad domain definition, sample request or item id. */
export class MmluSampleError extends Error {
  override name = 'MmluSampleError';
}

// ---------------------------------------------------------------------------------------------------
// Domains and presets
// ---------------------------------------------------------------------------------------------------

function subjectsWhere(test: (subject: string) => boolean): string[] {
  return MMLU_SUBJECTS.filter(test);
}

function bySubcategories(name: string, subcategories: string[]): DomainDef {
  return { name, subjects: subjectsWhere((s) => subcategories.includes(MMLU_SUBJECT_SUBCATEGORY[s])) };
}

function byCategory(name: string, category: MmluCategory): DomainDef {
  return { name, subjects: subjectsWhere((s) => subjectCategory(s) === category) };
}

export interface DomainPreset {
  name: string;
  description: string;
  domains: DomainDef[];
}

/**
 * Domain presets. `five-domains` is the study's: the three canonical categories STEM, humanities and
 * social sciences, and the fourth category ("other") split into Health (the subcategory health) and
 * Business & other (the subcategories business and other).
 */
export const DOMAIN_PRESETS: Readonly<Record<string, DomainPreset>> = Object.freeze({
  'five-domains': {
    name: 'five-domains',
    description: "The study's five domains: STEM, Humanities, Social sciences, Health, Business & other",
    domains: [
      byCategory('STEM', 'STEM'),
      byCategory('Humanities', 'humanities'),
      byCategory('Social sciences', 'social sciences'),
      bySubcategories('Health', ['health']),
      bySubcategories('Business & other', ['business', 'other']),
    ],
  },
  categories: {
    name: 'categories',
    description: "Hendrycks et al.'s four categories",
    domains: MMLU_CATEGORIES.map((c) => byCategory(c, c)),
  },
  subcategories: {
    name: 'subcategories',
    description: "Hendrycks et al.'s 17 subcategories",
    domains: Object.keys(MMLU_SUBCATEGORIES).map((s) => bySubcategories(s, [s])),
  },
  subjects: {
    name: 'subjects',
    description: 'Each of the 57 subjects on its own',
    domains: MMLU_SUBJECTS.map((s) => ({ name: s, subjects: [s] })),
  },
});

export const DEFAULT_PRESET = 'five-domains';
/** Preset name recorded in a manifest whose domains a user defined. */
export const CUSTOM_PRESET = 'custom';

/** The domains of a preset; the error lists the presets there are. */
export function presetDomains(preset: string): DomainDef[] {
  const p = Object.hasOwn(DOMAIN_PRESETS, preset) ? DOMAIN_PRESETS[preset] : undefined;
  if (!p) {
    throw new MmluSampleError(`unknown domain preset "${preset}" (presets: ${Object.keys(DOMAIN_PRESETS).join(', ')})`);
  }
  return p.domains.map((d) => ({ name: d.name, subjects: [...d.subjects] }));
}

/**
 * Checks user-defined domains and returns them normalised (subjects sorted): names non-empty and unique,
 * every subject known, no domain empty, and no subject in two domains (an item must have one domain).
 */
export function checkDomains(domains: readonly DomainDef[]): DomainDef[] {
  if (domains.length === 0) throw new MmluSampleError('no domains given');
  const names = new Set<string>();
  const owner = new Map<string, string>();
  return domains.map((d) => {
    if (typeof d.name !== 'string' || d.name.trim() === '') throw new MmluSampleError('a domain has an empty name');
    if (names.has(d.name)) throw new MmluSampleError(`domain "${d.name}" is defined twice`);
    names.add(d.name);
    if (d.subjects.length === 0) throw new MmluSampleError(`domain "${d.name}" has no subjects`);
    for (const s of d.subjects) {
      if (!isMmluSubject(s)) throw new MmluSampleError(`domain "${d.name}": unknown MMLU subject "${s}"`);
      const other = owner.get(s);
      if (other !== undefined) {
        throw new MmluSampleError(`subject "${s}" is in two domains ("${other}" and "${d.name}")`);
      }
      owner.set(s, d.name);
    }
    return { name: d.name, subjects: [...d.subjects].sort(compareStrings) };
  });
}

// ---------------------------------------------------------------------------------------------------
// Item ids and content hashes
// ---------------------------------------------------------------------------------------------------

/** `<subject>/<split>/<row>`. */
export function mmluItemId(subject: string, split: MmluSplit, row: number): string {
  return `${subject}/${split}/${row}`;
}

const ITEM_ID = /^([a-z_]+)\/(dev|val|test)\/(0|[1-9][0-9]*)$/;

/** Parses an item id; throws on anything that is not `<known subject>/<split>/<row>`. */
export function parseMmluItemId(id: string): { subject: string; split: MmluSplit; row: number } {
  const m = ITEM_ID.exec(id);
  if (!m || !isMmluSubject(m[1])) {
    throw new MmluSampleError(`"${id}" is not an MMLU item id (<subject>/<dev|val|test>/<row>, e.g. anatomy/test/0)`);
  }
  return { subject: m[1], split: m[2] as MmluSplit, row: Number(m[3]) };
}

export function isMmluSplit(s: string): s is MmluSplit {
  return (MMLU_SPLITS as readonly string[]).includes(s);
}

/** sha256 of the UTF-8 bytes of a string, lowercase hex. */
export function sha256Hex(text: string): string {
  return bytesToHex(sha256(utf8ToBytes(text)));
}

/**
 * The content hash of an item: sha256 (lowercase hex) of the UTF-8 bytes of
 * `JSON.stringify([question, choiceA, choiceB, choiceC, choiceD, answerIndex])`, i.e. the compact JSON
 * array (Python: `json.dumps([...], ensure_ascii=False, separators=(",", ":"))`). The strings are the
 * exact source strings, so the CSV and the parquet copy of an item hash alike, and any edit shows.
 */
export function itemContentHash(item: Pick<MmluItem, 'question' | 'choices' | 'answer'>): string {
  let hash = contentHashes.get(item);
  if (hash === undefined) {
    const [a, b, c, d] = item.choices;
    hash = sha256Hex(JSON.stringify([item.question, a, b, c, d, item.answer]));
    contentHashes.set(item, hash);
  }
  return hash;
}

/** Hashes of item records already hashed (records are never changed in place), so redrawing a sample is cheap. */
const contentHashes = new WeakMap<object, string>();

/**
 * Canonical JSON of plain data (strings, finite numbers, booleans, null, arrays, objects): no whitespace,
 * object keys sorted by UTF-16 code units, strings and numbers as JSON.stringify writes them. For the
 * integers and strings of a manifest this is RFC 8785 (JCS) output.
 */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value === 'string' || typeof value === 'boolean') return JSON.stringify(value);
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw new TypeError('canonicalJson: non-finite number');
    return JSON.stringify(value);
  }
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => compareStrings(a, b));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  throw new TypeError(`canonicalJson: cannot serialise a ${typeof value}`);
}

/** Ordering by UTF-16 code units (what Array.prototype.sort does by default), as a comparator. */
export function compareStrings(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Canonical item order: subject (code-unit order), then split, then row. */
export function compareItems(a: MmluItem, b: MmluItem): number {
  return compareStrings(a.subject, b.subject) || compareStrings(a.split, b.split) || a.row - b.row;
}

/** `pool` with `added` merged in by item id (an added item replaces the pooled one), ordered by id. */
export function mergeIntoPool(pool: readonly MmluItem[], added: readonly MmluItem[]): MmluItem[] {
  const byId = new Map(pool.map((i) => [i.id, i]));
  for (const item of added) byId.set(item.id, item);
  return [...byId.values()].sort((a, b) => compareStrings(a.id, b.id));
}

// ---------------------------------------------------------------------------------------------------
// The seeded sample
// ---------------------------------------------------------------------------------------------------

/** An item and the domain it was drawn in. */
export interface SampledItem {
  domain: string;
  item: MmluItem;
}

export interface SampleOptions {
  /** Items per domain: one number for every domain, or a count per domain name. */
  perDomain?: number | Readonly<Record<string, number>>;
  /** Integer in [0, 2^32). */
  seed?: number;
  split?: MmluSplit;
}

export const DEFAULT_PER_DOMAIN = 200;
export const DEFAULT_SEED = 0;
export const DEFAULT_SAMPLE_SPLIT: MmluSplit = 'test';

function checkSeed(seed: number): number {
  if (!Number.isInteger(seed) || seed < 0 || seed > 0xffffffff) {
    throw new MmluSampleError(`seed must be an integer in [0, 4294967295], got ${seed}`);
  }
  return seed;
}

function countFor(perDomain: SampleOptions['perDomain'], domain: string): number {
  const n = typeof perDomain === 'number' ? perDomain : perDomain?.[domain];
  if (n === undefined) throw new MmluSampleError(`no item count given for domain "${domain}"`);
  if (!Number.isInteger(n) || n < 0) {
    throw new MmluSampleError(`domain "${domain}": the item count must be a whole number >= 0, got ${n}`);
  }
  return n;
}

/**
 * Draws `perDomain` items uniformly without replacement inside each domain. The algorithm, exactly (so
 * anyone can reimplement it):
 *
 * 1. For each domain, in the order given: its pool is every item of `split` whose subject is in the
 *    domain, sorted by subject (UTF-16 code-unit order) then row. A pool must not hold the same id twice.
 * 2. With n = pool size and k = the domain's count (k > n is an error naming the domain and n), make
 *    `rng = new Rng(deriveSeed(seed, domainName))` (src/core/random.ts: xoshiro128** seeded through
 *    splitmix32; deriveSeed hashes the name's UTF-16 code units with FNV-1a).
 * 3. Partial Fisher-Yates: for i = 0 .. k-1, j = i + rng.nextInt(n - i) (Lemire's unbiased bounded
 *    integer), swap pool[i] and pool[j]. pool[0..k) is the domain's sample.
 * 4. The domain's sample is sorted back into canonical order (subject, then row); domains follow each
 *    other in the order given.
 *
 * Each domain's stream depends only on the seed and its name, so adding, removing or resizing another
 * domain never changes a domain's draw; and the first k picks of a larger draw are the draw of size k
 * (before sorting), so growing a sample keeps the items already chosen.
 */
export function sampleDomains(
  items: readonly MmluItem[],
  domains: readonly DomainDef[],
  { perDomain = DEFAULT_PER_DOMAIN, seed = DEFAULT_SEED, split = DEFAULT_SAMPLE_SPLIT }: SampleOptions = {},
): SampledItem[] {
  checkSeed(seed);
  const checked = checkDomains(domains);
  const domainOf = new Map<string, string>();
  for (const d of checked) for (const s of d.subjects) domainOf.set(s, d.name);
  const pools = new Map<string, MmluItem[]>(checked.map((d) => [d.name, []]));
  for (const item of items) {
    if (item.split !== split) continue;
    const d = domainOf.get(item.subject);
    if (d !== undefined) pools.get(d)!.push(item);
  }
  const out: SampledItem[] = [];
  for (const d of checked) {
    const pool = pools.get(d.name)!.sort(compareItems);
    for (let i = 1; i < pool.length; i++) {
      if (pool[i].id === pool[i - 1].id) throw new MmluSampleError(`item ${pool[i].id} is loaded twice`);
    }
    const k = countFor(perDomain, d.name);
    const n = pool.length;
    if (k > n) {
      throw new MmluSampleError(
        `domain "${d.name}" has ${n} ${split} item${n === 1 ? '' : 's'} loaded; cannot draw ${k} without replacement`,
      );
    }
    const rng = new Rng(deriveSeed(seed, d.name));
    for (let i = 0; i < k; i++) {
      const j = i + rng.nextInt(n - i);
      const tmp = pool[i];
      pool[i] = pool[j];
      pool[j] = tmp;
    }
    for (const item of pool.slice(0, k).sort(compareItems)) out.push({ domain: d.name, item });
  }
  return out;
}

// ---------------------------------------------------------------------------------------------------
// Manifests
// ---------------------------------------------------------------------------------------------------

/**
 * The manifest hash: sha256 (lowercase hex) of the UTF-8 bytes of canonicalJson(manifest without its
 * `hash` field). Any change to an id, an item hash, a domain, the preset, the seed or a count changes it.
 */
export function manifestHash(manifest: Omit<ItemManifest, 'hash'> & { hash?: string }): string {
  const { hash: _ignored, ...rest } = manifest;
  return sha256Hex(canonicalJson(rest));
}

export interface ManifestOptions {
  /** Preset name, or `custom` when the domains were user-defined. */
  preset: string;
  domains: readonly DomainDef[];
  split: MmluSplit;
  seed: number;
}

/** The manifest of a drawn sample. `perDomain` counts the sampled items of each domain (0 included). */
export function buildManifest(
  sampled: readonly SampledItem[],
  { preset, domains, split, seed }: ManifestOptions,
): ItemManifest {
  const checked = checkDomains(domains);
  const perDomain: Record<string, number> = Object.fromEntries(checked.map((d) => [d.name, 0]));
  const items: ManifestEntry[] = sampled.map(({ domain, item }) => {
    if (!Object.hasOwn(perDomain, domain)) throw new MmluSampleError(`item ${item.id} has unknown domain "${domain}"`);
    perDomain[domain]++;
    return { id: item.id, hash: itemContentHash(item), domain };
  });
  const body: Omit<ItemManifest, 'hash'> = {
    kind: 'mmlu-item-manifest',
    version: 1,
    preset,
    domains: checked,
    split,
    seed: checkSeed(seed),
    perDomain,
    items,
  };
  return { ...body, hash: manifestHash(body) };
}

export interface DrawOptions extends SampleOptions {
  /** Preset name (default five-domains); ignored when `domains` is given. */
  preset?: string;
  /** User-defined domains; the manifest then records the preset as `custom`. */
  domains?: readonly DomainDef[];
}

/** Draws a sample and its manifest: the app's and the CLI's one entry point (defaults: the study's). */
export function drawSample(
  items: readonly MmluItem[],
  {
    preset = DEFAULT_PRESET,
    domains,
    perDomain = DEFAULT_PER_DOMAIN,
    seed = DEFAULT_SEED,
    split = DEFAULT_SAMPLE_SPLIT,
  }: DrawOptions = {},
): { manifest: ItemManifest; sampled: SampledItem[] } {
  const defs = domains ? checkDomains(domains) : presetDomains(preset);
  const sampled = sampleDomains(items, defs, { perDomain, seed, split });
  const manifest = buildManifest(sampled, { preset: domains ? CUSTOM_PRESET : preset, domains: defs, split, seed });
  return { manifest, sampled };
}

export interface ManifestCheck {
  /** True when every id was found with an unchanged content hash. */
  ok: boolean;
  /** The manifest's items, in its order, for the ids found unchanged. */
  sampled: SampledItem[];
  /** Ids of the manifest not among the loaded items. */
  missing: string[];
  /** Ids whose loaded content hash differs from the manifest's. */
  changed: string[];
}

/**
 * Resolves a manifest against loaded items: the exact list it names, or which ids are missing or changed.
 * (The manifest's own integrity, its hash, is checked where it is parsed: manifest-file.ts.)
 */
export function resolveManifest(manifest: ItemManifest, items: readonly MmluItem[]): ManifestCheck {
  const byId = new Map<string, MmluItem>();
  for (const item of items) byId.set(item.id, item);
  const sampled: SampledItem[] = [];
  const missing: string[] = [];
  const changed: string[] = [];
  for (const entry of manifest.items) {
    const item = byId.get(entry.id);
    if (!item) missing.push(entry.id);
    else if (itemContentHash(item) !== entry.hash) changed.push(entry.id);
    else sampled.push({ domain: entry.domain, item });
  }
  return { ok: missing.length === 0 && changed.length === 0, sampled, missing, changed };
}

/** A one-line account of a failed resolveManifest, listing the first few ids of each kind. */
export function describeManifestCheck(check: ManifestCheck, show = 5): string {
  const part = (label: string, ids: string[]) =>
    ids.length === 0
      ? []
      : [`${ids.length} ${label} (${ids.slice(0, show).join(', ')}${ids.length > show ? ', ...' : ''})`];
  const parts = [...part('missing', check.missing), ...part('changed', check.changed)];
  return parts.length === 0 ? 'all items found unchanged' : `manifest items ${parts.join('; ')}`;
}

/** What the Items step asks of the pool: draw a sample with these options, or resolve a manifest it was given. */
export type PoolSelection = { kind: 'draw'; options: DrawOptions } | { kind: 'manifest'; manifest: ItemManifest };

/**
 * The answer to a PoolSelection, as plain data (the items worker computes it, the page maps the manifest's ids
 * back to its own item records): the manifest, with `problem` when some of its items are missing from the pool
 * or changed there, or `error` when no sample can be drawn.
 */
export type SelectionOutcome = { manifest: ItemManifest; problem?: string } | { error: string };

/**
 * Draws or resolves on `pool`: drawSample or resolveManifest with describeManifestCheck. Hashing the items
 * (sha256 of each) is what costs here, tens of ms for the 1,000 items of the study's sample, which is why the
 * page runs it in the items worker.
 */
export function selectFromPool(pool: readonly MmluItem[], selection: PoolSelection): SelectionOutcome {
  if (selection.kind === 'manifest') {
    const check = resolveManifest(selection.manifest, pool);
    return check.ok
      ? { manifest: selection.manifest }
      : { manifest: selection.manifest, problem: describeManifestCheck(check) };
  }
  try {
    return { manifest: drawSample(pool, selection.options).manifest };
  } catch (e) {
    return { error: (e as Error).message };
  }
}
