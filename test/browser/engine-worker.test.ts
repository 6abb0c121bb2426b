import { describe, expect, it } from 'vitest';
import { probeAdapter } from '../../src/engine/adapter';
import { startSimulatedEngine } from '../../src/engine/remote';
import { simulateItem } from '../../src/engine/simulated';
import type { LoadProgress } from '../../src/engine/types';
import { engineVariantOf, simulatedVariant } from '../../src/engine/variants';

const answers = [' A', ' B', ' C', ' D'] as const;
const variant = simulatedVariant('sim', 'base', { accuracy: 0.7, seed: 3 }, new Date(0));
const req = (i: number) => ({
  requestId: i,
  variantKey: variant.key,
  itemId: `item-${i}`,
  prompt: `Q${i}`,
  label: i % 4,
});

describe('the simulated engine in a real Worker, over comlink', () => {
  it('loads with progress carried across and scores exactly what the same code computes on this thread', async () => {
    const handle = startSimulatedEngine();
    try {
      const progress: LoadProgress[] = [];
      const loaded = await handle.load(engineVariantOf(variant), answers, (p) => progress.push(p));
      expect(loaded).toMatchObject({ engine: 'simulated', method: 'simulated', variantKey: variant.key });
      expect(progress.map((p) => p.phase)).toEqual(['done']);
      for (let i = 0; i < 5; i++) {
        const r = await handle.score(req(i));
        expect(r.requestId).toBe(i);
        expect(r.letterLogits).toEqual(simulateItem(variant.simulation!, variant.key, `item-${i}`, i % 4).letterLogits);
      }
    } finally {
      handle.terminate();
    }
  });

  it('carries errors across by name', async () => {
    const handle = startSimulatedEngine();
    try {
      await expect(handle.score(req(0))).rejects.toMatchObject({ name: 'ModelNotLoadedError' });
      await handle.guard(handle.remote.setFaults({ failAtCall: 1, loseDeviceAtCall: 2 }));
      await handle.load(engineVariantOf(variant), answers);
      await expect(handle.score(req(1))).rejects.toMatchObject({
        name: 'ScoringError',
        message: expect.stringContaining('item-1'),
      });
      await expect(handle.score(req(2))).rejects.toMatchObject({ name: 'DeviceLostError' });
      expect(handle.dead).toBe(false);
    } finally {
      handle.terminate();
    }
  });

  it('turns a real worker crash (an uncaught error in the worker) into WorkerCrashedError for the pending call', async () => {
    const handle = startSimulatedEngine();
    await handle.guard(handle.remote.setFaults({ crashAtCall: 1 }));
    await handle.load(engineVariantOf(variant), answers);
    await expect(handle.score(req(0))).resolves.toMatchObject({ itemId: 'item-0' });
    const error = await handle.score(req(1)).catch((e) => e);
    expect(error).toMatchObject({
      name: 'WorkerCrashedError',
      message: expect.stringContaining('Simulated worker crash'),
    });
    expect(handle.dead).toBe(true);
    await expect(handle.score(req(2))).rejects.toMatchObject({ name: 'WorkerCrashedError' });
  });

  it('rejects calls pending when the worker is terminated instead of hanging', async () => {
    const handle = startSimulatedEngine();
    await handle.guard(handle.remote.setFaults({ delayMs: 60_000 }));
    await handle.load(engineVariantOf(variant), answers);
    const pending = handle.score(req(0));
    handle.terminate();
    await expect(pending).rejects.toMatchObject({ name: 'WorkerCrashedError' });
  });
});

describe('the WebGPU adapter of this Chromium', () => {
  it('is found, and its shader-f16 flag is what the adapter itself reports', async () => {
    const probed = await probeAdapter();
    const adapter = await navigator.gpu.requestAdapter({ powerPreference: 'high-performance' });
    expect(probed === null).toBe(adapter === null);
    if (adapter && probed) {
      expect(probed.shaderF16).toBe(adapter.features.has('shader-f16'));
      expect(probed.features).toEqual([...adapter.features].sort());
      expect(probed.vendor).toBe(adapter.info.vendor);
    }
  });
});
