import { describe, expect, it } from 'vitest';
import { wrapTitle } from '../../src/components/results/chart-export';

describe('wrapTitle', () => {
  it('breaks a long chart title at spaces so every line fits', () => {
    const title = 'SIMULATED — base (simulated): before scaling (ECE 0.292)';
    const lines = wrapTitle(title, 30);
    expect(lines).toEqual(['SIMULATED — base (simulated):', 'before scaling (ECE 0.292)']);
    expect(lines.every((l) => l.length <= 30)).toBe(true);
    expect(lines.join(' ')).toBe(title);
  });

  it('keeps a short title on one line and gives an over-long word its own line', () => {
    expect(wrapTitle('ECE per domain', 40)).toEqual(['ECE per domain']);
    expect(wrapTitle('a supercalifragilistic b', 10)).toEqual(['a', 'supercalifragilistic', 'b']);
    expect(wrapTitle('', 10)).toEqual(['']);
  });
});
