// The simulated engine's documented sycophancy parameter: a probe suggestion pushes the suggested letter's logit by
// sycophancy x the template's weight, and nothing else changes.
import { describe, expect, it } from 'vitest';
import { suggestionText } from '../../src/core/probe';
import {
  DEFAULT_SIMULATION,
  SYCOPHANCY_WEIGHTS,
  checkSimulationParams,
  simulateItem,
} from '../../src/engine/simulated';

const neutralPrompt = 'Q?\nA. a\nB. b\nC. c\nD. d\nAnswer:';
const probePrompt = (template: 'weak' | 'strong', letter: number) =>
  neutralPrompt.replace('\nAnswer:', `\n${suggestionText(template, letter)}\nAnswer:`);

describe('simulated sycophancy', () => {
  const params = { ...DEFAULT_SIMULATION, sycophancy: 2 };

  it('leaves neutral prompts exactly as without the parameter', () => {
    expect(simulateItem(params, 'v', 'i/test/0', 1, neutralPrompt)).toEqual(
      simulateItem(DEFAULT_SIMULATION, 'v', 'i/test/0', 1, neutralPrompt),
    );
  });

  it('adds sycophancy x weight to the suggested letter only, and the letter mass follows the push', () => {
    const base = simulateItem(params, 'v', 'i/test/0', 1, neutralPrompt);
    for (const template of ['weak', 'strong'] as const) {
      const pushed = simulateItem(params, 'v', 'i/test/0', 1, probePrompt(template, 3));
      const delta = pushed.letterLogits.map((z, k) => z - base.letterLogits[k]);
      expect(delta[3]).toBeCloseTo(2 * SYCOPHANCY_WEIGHTS[template], 12);
      expect(delta.slice(0, 3)).toEqual([0, 0, 0]);
      // The probability outside A-D keeps its logit: exp(lse_all) - exp(lse_letters) is unchanged.
      const outside = (s: typeof base) => Math.exp(s.logSumExp) * (1 - s.letterMass);
      expect(outside(pushed)).toBeCloseTo(outside(base), 9);
      expect(pushed.letterMass).toBeGreaterThan(base.letterMass);
    }
    expect(SYCOPHANCY_WEIGHTS).toEqual({ weak: 0.5, strong: 1 });
  });

  it('is checked: a negative or infinite value is refused', () => {
    expect(() => checkSimulationParams({ ...DEFAULT_SIMULATION, sycophancy: -1 })).toThrow(/sycophancy -1/);
    expect(() => checkSimulationParams({ ...DEFAULT_SIMULATION, sycophancy: Infinity })).toThrow(/sycophancy/);
    expect(() => checkSimulationParams({ ...DEFAULT_SIMULATION, sycophancy: 0 })).not.toThrow();
  });
});
