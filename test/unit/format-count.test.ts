import { expect, it } from 'vitest';
import { fmtCount } from '../../src/components/results/format';

it('writes counts as toLocaleString("en") does, without Intl', () => {
  const cases = [
    0,
    7,
    42,
    999,
    1000,
    1531,
    14042,
    15858,
    100000,
    999999,
    1000000,
    123456789,
    -1234,
    Number.MAX_SAFE_INTEGER,
  ];
  for (const n of cases) expect(fmtCount(n)).toBe(n.toLocaleString('en'));
  expect(fmtCount(15858)).toBe('15,858');
});
