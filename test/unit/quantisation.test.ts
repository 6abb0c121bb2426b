// The quantisation study's bookkeeping: codes read from names, the precision order, and comparisons read off the
// report as (build - least-quantised build), turned round where the report compared them the other way.
import { describe, expect, it } from 'vitest';
import {
  compareQuantisation,
  quantisationComparison,
  quantisationOf,
  quantisationPrecision,
} from '../../src/core/quantisation';
import type { AnalysisReport, Comparison } from '../../src/core/types';

describe('quantisation codes', () => {
  it('are read from model ids and names, and ordered from the least quantised', () => {
    expect(quantisationOf('Qwen3-0.6B-q4f16_1-MLC')).toBe('q4f16_1');
    expect(quantisationOf('Qwen3-0.6B-q0f32 (simulated)')).toBe('q0f32');
    expect(quantisationOf('Qwen3-0.6B-q0f32 (simulated)/mmlu-completion/k0/0123')).toBe('q0f32');
    expect(quantisationOf('my-sft')).toBeUndefined();
    expect(quantisationPrecision('q0f16')).toEqual([16, 16]);
    expect(quantisationPrecision('q4f32_1')).toEqual([4, 32]);
    expect(['q4f16_1', 'q0f16', 'q4f32_1', 'q0f32'].sort(compareQuantisation)).toEqual([
      'q0f32',
      'q0f16',
      'q4f32_1',
      'q4f16_1',
    ]);
  });
});

describe('quantisationComparison', () => {
  const variant = (role: 'quantisation' | 'base') =>
    ({ n: 10, simulated: true, role }) as unknown as AnalysisReport['variants'][string];
  const cmp = (a: string, b: string, diff: number, ci: [number, number], p: number): Comparison => ({
    a,
    b,
    metric: 'ece',
    stage: 'uncalibrated',
    diff,
    ci,
    p,
    n: 10,
    unmatched: { onlyA: 0, onlyB: 0 },
  });
  const report = {
    settings: {} as AnalysisReport['settings'],
    variants: {
      'm-q4f16_1': variant('quantisation'),
      'm-q0f32': variant('quantisation'),
      'm-q4f32_1': variant('quantisation'),
      'other-q4f16_1': variant('base'),
    },
    comparisons: [
      cmp('m-q4f16_1', 'm-q0f32', 0.02, [0.01, 0.03], 0.01),
      cmp('m-q0f32', 'm-q4f32_1', -0.01, [-0.02, 0.005], 0.2),
      cmp('m-q4f16_1', 'm-q4f32_1', 0.01, [0, 0.02], 0.5),
    ],
  } as AnalysisReport;

  it('takes q0f32 as reference and gives each other build minus it, turning reversed comparisons round', () => {
    const [group] = quantisationComparison(
      report,
      Object.keys(report.variants).map((name) => ({ name })),
    );
    expect(group.reference).toBe('m-q0f32');
    expect(group.rows.map((r) => [r.run, r.diff, r.ci, r.p])).toEqual([
      ['m-q4f32_1', 0.01, [-0.005, 0.02], 0.2],
      ['m-q4f16_1', 0.02, [0.01, 0.03], 0.01],
    ]);
  });

  it('keeps groups apart and needs two builds of role quantisation', () => {
    const groups = quantisationComparison(report, [
      { name: 'm-q4f16_1', group: 'x' },
      { name: 'm-q0f32', group: 'y' },
      { name: 'other-q4f16_1', group: 'x' },
    ]);
    expect(groups).toEqual([]);
  });
});
