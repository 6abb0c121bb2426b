import { describe, expect, it } from 'vitest';
import { ENGINE_ERROR_NAMES, STORAGE_ERROR_NAMES, WEBLLM_ERROR_NAMES, describeError } from '../../src/core/errors';
import { EngineError } from '../../src/engine/types';

describe('describeError', () => {
  it('gives every named error its own action, and anything else the generic one', () => {
    const generic = describeError(new Error('something odd')).action;
    const names = [...ENGINE_ERROR_NAMES, ...STORAGE_ERROR_NAMES, ...WEBLLM_ERROR_NAMES];
    const actions = names.map((name) => describeError(Object.assign(new Error('x'), { name })).action);
    expect(actions.filter((a) => a === generic)).toEqual([]);
    expect(new Set(actions).size).toBeGreaterThan(names.length - 3);
    // A name that is only on the prototype chain of a plain object is not an action.
    expect(describeError(Object.assign(new Error('x'), { name: 'toString' })).action).toBe(generic);
  });

  it("reads web-llm's worker-protocol strings, which are err.toString(): 'Name: message'", () => {
    const d = describeError('ShaderF16SupportError: This model requires WebGPU extension shader-f16.');
    expect(d.name).toBe('ShaderF16SupportError');
    expect(d.message).toBe('This model requires WebGPU extension shader-f16.');
    expect(d.action).toMatch(/q4f32_1/);
  });

  it('keeps names of errors rebuilt by comlink (plain objects with name and message)', () => {
    const d = describeError(Object.assign(new Error('lost'), { name: 'DeviceLostError' }));
    expect(d.name).toBe('DeviceLostError');
    expect(d.action).toMatch(/resumes at the first unscored item/);
    expect(describeError({ name: 'StorageQuotaError', message: 'full' }).action).toMatch(/no stored result was lost/);
    expect(describeError(new EngineError('WebGPUNotAvailableError', 'none')).action).toMatch(/simulated run/);
  });

  it('unwraps a generic Error whose message carries a name, and spots device loss in free text', () => {
    expect(describeError(new Error('DeviceLostError: gone')).name).toBe('DeviceLostError');
    expect(describeError(new Error('GPU device was lost (reason: destroyed)')).name).toBe('DeviceLostError');
  });

  it('gives a generic action for anything else', () => {
    const d = describeError(42);
    expect(d).toMatchObject({ name: 'Error', message: '42' });
    expect(d.action).toMatch(/Resume the run/);
  });
});
