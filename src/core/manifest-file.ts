/**
 * The item manifest as a file: the one parser of an imported manifest (valibot schema, internal
 * consistency, its hash) and the writer of an exported one.
 */
import * as v from 'valibot';
import { MMLU_SPLITS, type ItemManifest } from './types';
import { checkDomains, manifestHash, parseMmluItemId, MmluSampleError } from './mmlu';

/** Thrown for a manifest file that cannot be used; the message names the file and the field. */
export class ManifestError extends Error {
  override name = 'ManifestError';
}

const Hex64 = v.pipe(v.string(), v.regex(/^[0-9a-f]{64}$/, 'a sha256 as 64 lowercase hex digits'));
const Count = v.pipe(v.number(), v.integer('a whole number'), v.minValue(0, 'a whole number >= 0'));

const ManifestSchema = v.strictObject({
  kind: v.literal('mmlu-item-manifest', '"mmlu-item-manifest"'),
  version: v.literal(1, 'version 1'),
  preset: v.pipe(v.string(), v.minLength(1, 'a preset name')),
  domains: v.pipe(
    v.array(v.strictObject({ name: v.string(), subjects: v.array(v.string()) })),
    v.minLength(1, 'at least one domain'),
  ),
  split: v.picklist(MMLU_SPLITS, 'one of dev, val, test'),
  seed: v.pipe(
    v.number(),
    v.integer('an integer'),
    v.minValue(0, 'an integer >= 0'),
    v.maxValue(0xffffffff, 'an integer < 2^32'),
  ),
  perDomain: v.record(v.string(), Count),
  items: v.array(v.strictObject({ id: v.string(), hash: Hex64, domain: v.string() })),
  hash: Hex64,
});

function fieldPath(issue: v.BaseIssue<unknown>): string {
  return (
    issue.path
      ?.map((p) => (typeof p.key === 'number' ? `[${p.key}]` : `.${String(p.key)}`))
      .join('')
      .replace(/^\./, '') || '(top level)'
  );
}

/**
 * An issue in words: our schema messages name what was expected; valibot's own ("Invalid type: ...")
 * already say what was received.
 */
export function describeIssue(issue: v.BaseIssue<unknown>): string {
  return issue.message.startsWith('Invalid ') ? issue.message : `expected ${issue.message}, got ${issue.received}`;
}

/**
 * Parses and checks a manifest file: the schema; domains well-formed and disjoint; ids well-formed, unique,
 * of the manifest's split, each in its domain; per-domain counts equal to the items; and the hash equal to
 * the content's (so an edited file is refused rather than silently scoring other items).
 */
export function parseItemManifest(text: string, fileName = 'manifest'): ItemManifest {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new ManifestError(`${fileName}: not JSON (${(e as Error).message})`);
  }
  const parsed = v.safeParse(ManifestSchema, json);
  if (!parsed.success) {
    const issue = parsed.issues[0];
    throw new ManifestError(`${fileName}: ${fieldPath(issue)}: ${describeIssue(issue)}`);
  }
  const m = parsed.output as ItemManifest;
  const fail = (msg: string): never => {
    throw new ManifestError(`${fileName}: ${msg}`);
  };
  try {
    checkDomains(m.domains);
  } catch (e) {
    if (e instanceof MmluSampleError) fail(`domains: ${e.message}`);
    throw e;
  }
  const domainOf = new Map<string, string>();
  for (const d of m.domains) for (const s of d.subjects) domainOf.set(s, d.name);
  const counts = new Map<string, number>(m.domains.map((d) => [d.name, 0]));
  const seen = new Set<string>();
  m.items.forEach((entry, i) => {
    let id: ReturnType<typeof parseMmluItemId>;
    try {
      id = parseMmluItemId(entry.id);
    } catch (e) {
      return fail(`items[${i}].id: ${(e as Error).message}`);
    }
    if (seen.has(entry.id)) fail(`items[${i}].id: ${entry.id} appears twice`);
    seen.add(entry.id);
    if (id.split !== m.split) fail(`items[${i}].id: ${entry.id} is not in the manifest's split "${m.split}"`);
    if (!counts.has(entry.domain)) fail(`items[${i}].domain: "${entry.domain}" is not one of the manifest's domains`);
    if (domainOf.get(id.subject) !== entry.domain)
      fail(`items[${i}]: subject ${id.subject} is not in domain "${entry.domain}"`);
    counts.set(entry.domain, counts.get(entry.domain)! + 1);
  });
  const declared = Object.keys(m.perDomain);
  for (const name of declared) if (!counts.has(name)) fail(`perDomain: "${name}" is not one of the manifest's domains`);
  for (const [name, n] of counts) {
    if (m.perDomain[name] !== n)
      fail(
        `perDomain["${name}"] is ${m.perDomain[name] ?? 'missing'} but the manifest lists ${n} items in that domain`,
      );
  }
  const actual = manifestHash(m);
  if (actual !== m.hash)
    fail(`hash ${m.hash} does not match the content (${actual}): the file was changed after it was made`);
  return m;
}

/** The manifest as a file: indented JSON with a final newline. Re-parsing gives an equal manifest. */
export function serializeItemManifest(manifest: ItemManifest): string {
  return `${JSON.stringify(manifest, null, 2)}\n`;
}
