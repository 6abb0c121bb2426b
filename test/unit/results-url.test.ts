import { describe, expect, it } from 'vitest';
import { DEFAULT_ANALYSIS_SETTINGS } from '../../src/core/types';
import { hasResultsView, parseResultsQuery, resultsQuery, withResultsQuery } from '../../src/core/results-url';

const RUN_A = JSON.stringify(['simulated:base-simulated:1a2b', 'completion:0:9f']);
const RUN_B = JSON.stringify(['qwen3-8b-sft', 'chat:5:77']);

describe('the Results view in the URL', () => {
  it('writes nothing for the default view, and only the settings that differ', () => {
    expect(resultsQuery({ ...DEFAULT_ANALYSIS_SETTINGS }, undefined)).toBe('');
    expect(
      resultsQuery({ ...DEFAULT_ANALYSIS_SETTINGS, bins: 10, scaling: 'temperature', inSample: true }, undefined),
    ).toBe('?bins=10&scaling=temperature&inSample=true');
  });

  it('round-trips settings and the chosen runs (ids with quotes, colons and commas)', () => {
    const settings = { ...DEFAULT_ANALYSIS_SETTINGS, bins: 20, lambda: 0.5, confidence: 0.9, seed: 7, bootstrap: 0 };
    const query = resultsQuery(settings, [RUN_A, RUN_B]);
    const back = parseResultsQuery(query);
    expect({ ...DEFAULT_ANALYSIS_SETTINGS, ...back.settings }).toEqual(settings);
    expect(back.selection).toEqual([RUN_A, RUN_B]);
    expect(back.problems).toEqual([]);
    expect(parseResultsQuery('').selection).toBeUndefined();
  });

  it('drops each bad value with a note naming the parameter, and keeps the rest', () => {
    const back = parseResultsQuery(
      '?bins=0&folds=3&scaling=platt&confidence=1&seed=-1&mu=abc&inSample=yes&permutations=500',
    );
    expect(back.settings).toEqual({ folds: 3, permutations: 500 });
    expect(back.problems).toEqual([
      "The link's bins=0 was ignored (expected a whole number in range).",
      "The link's scaling=platt was ignored (expected none, temperature, vector or matrix).",
      "The link's inSample=yes was ignored (expected true or false).",
      "The link's mu=abc was ignored (expected a number ≥ 0).",
      "The link's confidence=1 was ignored (expected a number between 0 and 1).",
      "The link's seed=-1 was ignored (expected a whole number in range).",
    ]);
  });

  it('replaces only its own parameters in a query string', () => {
    expect(withResultsQuery('?utm=x&bins=3&run=a', '?bins=10')).toBe('?utm=x&bins=10');
    expect(withResultsQuery('?bins=3', '')).toBe('');
    expect(hasResultsView('?utm=x')).toBe(false);
    expect(hasResultsView('?run=a')).toBe(true);
    expect(hasResultsView('?seed=1')).toBe(true);
  });
});
