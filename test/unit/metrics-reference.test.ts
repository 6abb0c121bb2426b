import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  adaptiveCalibrationError,
  debiasedL2CalibrationError,
  expectedCalibrationError,
  predictionsFromProbabilities,
} from '../../src/core/metrics';

// Values from an independent numpy implementation of verified_calibration's definitions (the script beside
// the fixture), on confidences off the bin edges: the formulas agree, not only the hand cases.
interface ReferenceCase {
  name: string;
  bins: number;
  probs: number[][];
  labels: number[];
  ece: number;
  adaptiveEce: number;
  pluginL2EqualMass: number;
  debiasedL2: number;
}
const fixture = JSON.parse(
  readFileSync(path.resolve(import.meta.dirname, '../fixtures/calibration/verified_calibration_cases.json'), 'utf8'),
) as { cases: ReferenceCase[] };

describe('metrics against verified_calibration definitions (numpy reference)', () => {
  it('has cases of several sizes, one with a positive debiased error', () => {
    expect(fixture.cases.length).toBeGreaterThanOrEqual(3);
    expect(fixture.cases.some((c) => c.debiasedL2 > 0)).toBe(true);
  });

  for (const c of fixture.cases) {
    it(`${c.name}: ECE, adaptive ECE and debiased L2 equal the reference`, () => {
      const pred = predictionsFromProbabilities(c.probs.flat(), Uint8Array.from(c.labels));
      expect(expectedCalibrationError(pred, c.bins)).toBeCloseTo(c.ece, 12);
      expect(adaptiveCalibrationError(pred, c.bins)).toBeCloseTo(c.adaptiveEce, 12);
      expect(debiasedL2CalibrationError(pred, c.bins)).toBeCloseTo(c.debiasedL2, 12);
      // Every case has a bin of 2+ items with both right and wrong answers, so the correction is positive.
      expect(debiasedL2CalibrationError(pred, c.bins)).toBeLessThan(c.pluginL2EqualMass);
    });
  }
});
