import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  ResultsFileError,
  parseResultsFile,
  runNames,
  serializeResultsFile,
  variantScoresFromResults,
} from '../../src/core/results-file';
import {
  DEFAULT_ANALYSIS_SETTINGS,
  type AnalysisReport,
  type ResultsFile,
  type StageMetrics,
} from '../../src/core/types';
import { thrownBy } from '../support/thrown';

const fixture = (name: string) => readFileSync(new URL(`../fixtures/results/${name}`, import.meta.url), 'utf8');
const twoRuns = fixture('two-runs.json');

/** The fixture as a plain object to mutate, re-serialised and parsed under the name `x.json`. */
function parseMutated(mutate: (file: any) => void): ResultsFile {
  const data = JSON.parse(twoRuns);
  mutate(data);
  return parseResultsFile(JSON.stringify(data), 'x.json');
}

const errorOf = (fn: () => unknown) => thrownBy(ResultsFileError, fn);

describe('parseResultsFile', () => {
  it('reads a valid file with its provenance and keeps unknown manifest fields', () => {
    const file = parseResultsFile(twoRuns, 'two-runs.json');
    expect(file.version).toBe(1);
    expect(file.environment.adapter).toEqual({ vendor: 'nvidia', architecture: 'ampere', shaderF16: true });
    expect(file.manifest).toEqual({ hash: 'sha256:abc123', preset: 'study-5x200', seed: 0, itemCount: 3 });
    expect(file.runs).toHaveLength(2);
    expect(file.runs[0].prompt).toEqual({
      key: 'completion-k0',
      format: 'completion',
      kshot: 0,
      letterTokenIds: [32, 33, 34, 35],
    });
    expect(file.runs[0].variant.model?.overrides).toEqual({ context_window_size: 4096 });
    expect(file.runs[0].items[0]).toEqual({
      itemId: 'college_physics/test/0',
      label: 2,
      letterLogits: [1.5, 0.25, 3, -1],
      subject: 'college_physics',
      domain: 'stem',
      letterMass: 0.93,
      logSumExp: 3.2,
      promptTokens: 120,
      elapsedMs: 850.5,
    });
    expect(file.runs[1].variant.simulated).toBe(true);
    expect(file.runs[1].engine).toEqual({ kind: 'simulated', params: { accuracy: 0.7, overconfidence: 1.5 } });
  });

  it('drops unknown fields outside the manifest', () => {
    const file = parseMutated((f) => {
      f.extra = 1;
      f.runs[0].items[0].note = 'x';
    });
    expect('extra' in file).toBe(false);
    expect('note' in file.runs[0].items[0]).toBe(false);
  });

  it('accepts a byte-order mark and a file with no optional sections', () => {
    const minimal = {
      format: 'calibration-kit/results',
      version: 1,
      app: { name: 'kit', version: '1' },
      createdAt: '2025-01-01T00:00:00Z',
      environment: {},
      runs: [
        {
          variant: { key: 'k', name: 'm', role: 'other', simulated: false },
          engine: { kind: 'imported' },
          items: [{ itemId: 'a', label: 0, letterLogits: [0, 0, 0, 0] }],
        },
      ],
    };
    const file = parseResultsFile('\uFEFF' + JSON.stringify(minimal), 'min.json');
    expect(file.runs[0].items).toEqual([{ itemId: 'a', label: 0, letterLogits: [0, 0, 0, 0] }]);
  });

  it.each([
    [
      'a string logit',
      (f: any) => (f.runs[0].items[1].letterLogits[2] = 'abc'),
      'x.json: runs[0].items[1].letterLogits[2]: expected a number, got "abc"',
    ],
    [
      'three logits',
      (f: any) => f.runs[0].items[1].letterLogits.pop(),
      'x.json: runs[0].items[1].letterLogits: expected 4 numbers, one per letter A, B, C, D, got 3',
    ],
    [
      'five logits',
      (f: any) => f.runs[0].items[1].letterLogits.push(1),
      'x.json: runs[0].items[1].letterLogits: expected 4 numbers, one per letter A, B, C, D, got 5',
    ],
    [
      'a null logit',
      (f: any) => (f.runs[1].items[0].letterLogits[0] = null),
      'x.json: runs[1].items[0].letterLogits[0]: expected a number, got null',
    ],
    [
      'a missing label',
      (f: any) => delete f.runs[0].items[1].label,
      'x.json: runs[0].items[1].label: missing; this field is required',
    ],
    [
      'label 4',
      (f: any) => (f.runs[0].items[1].label = 4),
      'x.json: runs[0].items[1].label: expected an answer index 0-3, got 4',
    ],
    [
      'label 1.5',
      (f: any) => (f.runs[0].items[1].label = 1.5),
      'x.json: runs[0].items[1].label: expected an answer index 0-3, got 1.5',
    ],
    [
      'label "A"',
      (f: any) => (f.runs[0].items[1].label = 'A'),
      'x.json: runs[0].items[1].label: expected a number, got "A"',
    ],
    [
      'an unknown role',
      (f: any) => (f.runs[0].variant.role = 'boss'),
      'x.json: runs[0].variant.role: expected ("base" | "sft" | "grpo" | "other" | "quantisation"), got "boss"',
    ],
    [
      'simulated missing',
      (f: any) => delete f.runs[1].variant.simulated,
      'x.json: runs[1].variant.simulated: missing; this field is required',
    ],
    [
      'an unknown engine',
      (f: any) => (f.runs[0].engine.kind = 'gpu'),
      'x.json: runs[0].engine.kind: expected ("webllm" | "simulated" | "imported"), got "gpu"',
    ],
    [
      'letter mass above 1',
      (f: any) => (f.runs[0].items[0].letterMass = 1.5),
      'x.json: runs[0].items[0].letterMass: expected a probability in [0, 1], got 1.5',
    ],
    [
      'a bad date',
      (f: any) => (f.createdAt = 'yesterday'),
      'x.json: createdAt: expected an ISO 8601 date-time, got "yesterday"',
    ],
    ['items not an array', (f: any) => (f.runs[0].items = 'x'), 'x.json: runs[0].items: expected an array, got "x"'],
    ['no runs', (f: any) => (f.runs = []), 'x.json: runs: expected at least one run, got 0'],
    [
      'an empty run',
      (f: any) => (f.runs[1].items = []),
      'x.json: runs[1].items: expected at least one scored item (a run with no items), got 0',
    ],
    ['version 0', (f: any) => (f.version = 0), 'x.json: version: expected 1, got 0'],
    [
      'version 2',
      (f: any) => (f.version = 2),
      'x.json: version: version 2 is newer than this kit reads (1); update the kit',
    ],
    [
      'another format',
      (f: any) => (f.format = 'other/results'),
      'x.json: format: expected "calibration-kit/results", got "other/results"',
    ],
    [
      'a duplicate item id',
      (f: any) => (f.runs[1].items[2].itemId = 'college_physics/test/0'),
      'x.json: runs[1].items[2].itemId: duplicate item id "college_physics/test/0" (also at runs[1].items[0]); expected each item once per run',
    ],
    [
      'two runs of one variant and prompt',
      (f: any) => {
        f.runs[1].variant.key = 'qwen3-8b-base';
        f.runs[1].prompt = { key: 'completion-k0', format: 'completion', kshot: 0 };
      },
      'x.json: runs[1]: duplicate run of variant key "qwen3-8b-base" with prompt key "completion-k0" (also runs[0]); expected one run per variant and prompt',
    ],
  ])('refuses %s, naming the file and the field', (_what, mutate, message) => {
    const err = errorOf(() => parseMutated(mutate));
    expect(err.name).toBe('ResultsFileError');
    expect(err.message).toBe(message);
  });

  it('refuses an infinite logit written as an overflowing number', () => {
    const err = errorOf(() =>
      parseResultsFile(twoRuns.replace('[1.5, 0.25, 3, -1]', '[1.5, 0.25, 1e999, -1]'), 'inf.json'),
    );
    expect(err.message).toBe('inf.json: runs[0].items[0].letterLogits[2]: expected a finite number, got Infinity');
    expect(err.field).toBe('runs[0].items[0].letterLogits[2]');
  });

  it.each([
    ['bad-logit-string.json', 'bad-logit-string.json: runs[0].items[1].letterLogits[2]: expected a number, got "0.5"'],
    [
      'duplicate-item.json',
      'duplicate-item.json: runs[1].items[2].itemId: duplicate item id "college_physics/test/1" (also at runs[1].items[1]); expected each item once per run',
    ],
    ['empty-run.json', 'empty-run.json: runs[1].items: expected at least one scored item (a run with no items), got 0'],
  ])('refuses the bad fixture %s', (name, message) => {
    expect(errorOf(() => parseResultsFile(fixture(name), name)).message).toBe(message);
  });

  it('points lm-evaluation-harness results files to their samples files', () => {
    const err = errorOf(() => parseResultsFile(fixture('lm-eval-results.json'), 'results_2024.json'));
    expect(err.message).toMatch(
      /^results_2024\.json: format: expected "calibration-kit\/results", got nothing \(this looks like lm-evaluation-harness/,
    );
    expect(err.message).toContain('samples_*.jsonl');
  });

  it('refuses malformed JSON, an empty file and a non-object in one line naming the file', () => {
    const truncated = errorOf(() => parseResultsFile(fixture('truncated.json'), 'truncated.json'));
    expect(truncated.message).toMatch(/^truncated\.json: malformed JSON/);
    expect(truncated.message).not.toContain('\n');
    expect(errorOf(() => parseResultsFile('  \n', 'e.json')).message).toBe(
      'e.json: empty file; expected a calibration-kit results JSON',
    );
    expect(errorOf(() => parseResultsFile('[1, 2]', 'a.json')).message).toBe(
      'a.json: expected a JSON object with format "calibration-kit/results"',
    );
  });
});

describe('variantScoresFromResults', () => {
  it('turns each run into a variant, carrying simulated and role, and keeps only the analysis fields', () => {
    const variants = variantScoresFromResults(parseResultsFile(twoRuns, 'two-runs.json'), 'two-runs.json');
    expect(variants.map((v) => [v.name, v.role, v.simulated, v.items.length])).toEqual([
      ['base', 'base', false, 3],
      ['grpo', 'grpo', true, 3],
    ]);
    expect(variants[0].source).toBe('two-runs.json#base');
    expect(variants[0].items[0]).toEqual({
      itemId: 'college_physics/test/0',
      label: 2,
      letterLogits: [1.5, 0.25, 3, -1],
      subject: 'college_physics',
      domain: 'stem',
      letterMass: 0.93,
    });
    expect(variants[1].items[2]).toEqual({ itemId: 'philosophy/test/7', label: 3, letterLogits: [-1, -1, -1, 2] });
  });

  it('copies the logits, so the analysis cannot alter the parsed file', () => {
    const file = parseResultsFile(twoRuns, 'two-runs.json');
    const [base] = variantScoresFromResults(file);
    base.items[0].letterLogits[0] = 99;
    expect(file.runs[0].items[0].letterLogits[0]).toBe(1.5);
  });

  it('gives runs that share a name distinct names: by prompt key, then variant key, then index', () => {
    const file = parseMutated((f) => {
      f.runs[1].variant.name = 'base';
      f.runs[1].prompt = { key: 'chat-k5', format: 'chat', kshot: 5 };
    });
    expect(runNames(file)).toEqual(['base/completion-k0', 'base/chat-k5']);
    const samePrompt = parseMutated((f) => {
      f.runs[1].variant.name = 'base';
      f.runs[1].prompt = { key: 'completion-k0', format: 'completion', kshot: 0 };
    });
    expect(runNames(samePrompt)).toEqual(['base/qwen3-8b-base/completion-k0', 'base/sim-grpo/completion-k0']);
  });
});

describe('serializeResultsFile', () => {
  const stage = (ece: number): StageMetrics => ({
    accuracy: 2 / 3,
    ece,
    mce: 0.5,
    ece_adaptive: 0.2,
    classwise_ece: 0.1,
    brier: 0.4,
    nll: 0.9,
    mce_bin_count: 1,
    ci: {
      accuracy: [0, 1],
      ece: [0, 0.6],
      mce: [0, 1],
      ece_adaptive: [0, 0.5],
      classwise_ece: [0, 0.3],
      brier: [0.1, 0.8],
      nll: [0.2, 1.5],
    },
    reliability: [
      { lo: 0, hi: 0.5, count: 0, confidence: Number.NaN, accuracy: Number.NaN },
      { lo: 0.5, hi: 1, count: 3, confidence: 0.7, accuracy: 2 / 3 },
    ],
  });

  it('round-trips a file with an analysis; NaN in the report is written as null and read back as NaN', () => {
    const file = parseResultsFile(twoRuns, 'two-runs.json');
    const report: AnalysisReport = {
      settings: { ...DEFAULT_ANALYSIS_SETTINGS },
      variants: {
        base: {
          n: 3,
          simulated: false,
          role: 'base',
          uncalibrated: { ...stage(0.25), letter_mass: 0.93 },
          scaled: stage(0),
          scaling: {
            method: 'matrix',
            folds: 5,
            lambda: 0.01,
            mu: 0.01,
            in_sample: false,
            resampling: 'fixed-calibrated-logits',
          },
          ece_reduction_pct: 100,
          accuracy_change_pts: 0,
        },
      },
      comparisons: [
        {
          a: 'grpo',
          b: 'base',
          metric: 'ece',
          stage: 'uncalibrated',
          diff: 0.006,
          ci: [-0.01, 0.02],
          p: 0.41,
          n: 3,
          unmatched: { onlyA: 0, onlyB: 0 },
        },
      ],
    };
    const withAnalysis: ResultsFile = { ...file, analysis: { settings: { ...DEFAULT_ANALYSIS_SETTINGS }, report } };
    const text = serializeResultsFile(withAnalysis);
    expect(text).toContain('"confidence": null');
    const back = parseResultsFile(text, 'back.json');
    expect(back).toEqual(withAnalysis); // toEqual treats NaN as equal to NaN
    expect(Number.isNaN(back.analysis!.report.variants.base.uncalibrated.reliability[0].accuracy)).toBe(true);
    expect(back.runs).toEqual(file.runs);
  });

  it('refuses to write a file the kit would refuse to read', () => {
    const file = parseResultsFile(twoRuns, 'two-runs.json');
    file.runs[0].items[1].letterLogits[3] = Number.NaN;
    const err = errorOf(() => serializeResultsFile(file));
    expect(err.message).toBe(
      'results file being written: runs[0].items[1].letterLogits[3]: expected a number, got null',
    );
  });
});
