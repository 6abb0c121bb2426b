import { describe, expect, it } from 'vitest';
import { describeEngineError } from '../../src/core/errors';
import { EngineError } from '../../src/engine/types';

describe('describeEngineError', () => {
  it("reads web-llm's worker-protocol strings, which are err.toString(): 'Name: message'", () => {
    const d = describeEngineError('ShaderF16SupportError: This model requires WebGPU extension shader-f16.');
    expect(d.name).toBe('ShaderF16SupportError');
    expect(d.message).toBe('This model requires WebGPU extension shader-f16.');
    expect(d.action).toMatch(/q4f32_1/);
  });

  it('keeps names of errors rebuilt by comlink (plain objects with name and message)', () => {
    const d = describeEngineError(Object.assign(new Error('lost'), { name: 'DeviceLostError' }));
    expect(d.name).toBe('DeviceLostError');
    expect(d.action).toMatch(/resumes at the first unscored item/);
    expect(describeEngineError({ name: 'StorageQuotaError', message: 'full' }).action).toMatch(/no stored result was lost/);
    expect(describeEngineError(new EngineError('WebGPUNotAvailableError', 'none')).action).toMatch(/simulated run/);
  });

  it('unwraps a generic Error whose message carries a name, and spots device loss in free text', () => {
    expect(describeEngineError(new Error('DeviceLostError: gone')).name).toBe('DeviceLostError');
    expect(describeEngineError(new Error('GPU device was lost (reason: destroyed)')).name).toBe('DeviceLostError');
  });

  it('gives a generic action for anything else', () => {
    const d = describeEngineError(42);
    expect(d).toMatchObject({ name: 'Error', message: '42' });
    expect(d.action).toMatch(/Resume the run/);
  });
});
