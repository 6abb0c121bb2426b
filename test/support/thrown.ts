/** The error `fn` throws, checked to be an instance of `type`; fails the test when nothing (or another error) is thrown. */
import { expect } from 'vitest';

export function thrownBy<E extends Error>(type: new (...args: never[]) => E, fn: () => unknown): E {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(type);
    return err as E;
  }
  throw new Error(`expected a ${type.name}, nothing was thrown`);
}
