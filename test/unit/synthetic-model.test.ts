import { describe, expect, it } from 'vitest';
import { Rng } from '../../src/core/random';
import {
  quantizedWeight,
  readLibraryMetadata,
  syntheticTensors,
  WEIGHT_AMPLITUDE,
} from '../../scripts/synthetic-model';

describe('q4f32_1 weights as mlc-llm packs them', () => {
  it('quantises each group of 32 to codes 0..14 with scale max|w| / 7, eight codes per uint32, element r in bits 4r', () => {
    const cols = 64;
    const { qWeight, qScale } = quantizedWeight(new Rng(7), 2, cols, WEIGHT_AMPLITUDE);
    expect(qWeight).toHaveLength((2 * cols) / 8);
    expect(qScale).toHaveLength((2 * cols) / 32);
    // Redraw the same stream: the float weights the codes stand for.
    const rng = new Rng(7);
    const w = Array.from({ length: 2 * cols }, () =>
      Math.fround(((rng.nextUint32() | 0) + 0.5) * (WEIGHT_AMPLITUDE / 2 ** 31)),
    );
    for (let g = 0; g < qScale.length; g++) {
      const group = w.slice(32 * g, 32 * g + 32);
      const maxAbs = Math.max(...group.map(Math.abs));
      expect(qScale[g]).toBe(Math.fround(maxAbs / 7));
      for (let i = 0; i < 32; i++) {
        const word = qWeight[(32 * g + i) >> 3];
        const code = (word >>> (4 * (i & 7))) & 0xf;
        expect(code).toBeGreaterThanOrEqual(0);
        expect(code).toBeLessThanOrEqual(14);
        // Dequantised as the library does: (code - 7) * scale, within half a step of the drawn weight.
        expect(Math.abs((code - 7) * qScale[g] - group[i])).toBeLessThanOrEqual(qScale[g] / 2 + 1e-9);
        if (Math.abs(group[i]) === maxAbs) expect(code).toBe(group[i] > 0 ? 14 : 0);
      }
    }
  });

  it('refuses a width that is not whole groups', () => {
    expect(() => quantizedWeight(new Rng(1), 1, 40, 0.05)).toThrow(/multiple of 32/);
  });
});

describe("the library's metadata and the tensors drawn for it", () => {
  const params = [
    { name: 'm.embed.q_weight', shape: [3, 4], dtype: 'uint32' },
    { name: 'm.embed.q_scale', shape: [3, 1], dtype: 'float32' },
    { name: 'm.layers.0.input_layernorm.weight', shape: [32], dtype: 'float32' },
    { name: 'm.layers.0.attn.bias', shape: [5], dtype: 'float32' },
  ];

  it('reads the {"model_type": ...} JSON out of the .wasm bytes', () => {
    const json = JSON.stringify({
      model_type: 'qwen2',
      quantization: 'q4f32_1',
      note: 'a } and a \\" in a string',
      params,
    });
    const bytes = new Uint8Array([0, 97, 115, 109, 1, 0, 0, 0, ...Buffer.from(json, 'latin1'), 0, 7]);
    const meta = readLibraryMetadata(bytes);
    expect(meta.model_type).toBe('qwen2');
    expect(meta.params).toEqual(params);
    expect(() => readLibraryMetadata(new Uint8Array([0, 97, 115, 109]), 'x.wasm')).toThrow(
      /^x\.wasm: no \{"model_type"/,
    );
  });

  it('draws every tensor at its size, norms at 1, the same bytes for the same seed whatever the order', () => {
    const t = syntheticTensors(params, 3);
    expect(t.get('m.embed.q_weight')!.byteLength).toBe(3 * 4 * 4);
    expect(t.get('m.embed.q_scale')!.byteLength).toBe(3 * 4);
    const norm = new Float32Array(t.get('m.layers.0.input_layernorm.weight')!.slice().buffer);
    expect([...norm]).toEqual(new Array(32).fill(1));
    const bias = new Float32Array(t.get('m.layers.0.attn.bias')!.slice().buffer);
    for (const b of bias) expect(Math.abs(b)).toBeLessThan(WEIGHT_AMPLITUDE);
    const reversed = syntheticTensors([...params].reverse(), 3);
    for (const [name, bytes] of t) expect(reversed.get(name)).toEqual(bytes);
    expect(syntheticTensors(params, 4).get('m.layers.0.attn.bias')).not.toEqual(t.get('m.layers.0.attn.bias'));
  });
});
