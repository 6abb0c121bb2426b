import { describe, expect, it } from 'vitest';
import {
  estimateStorage,
  openKitDb,
  requestPersistentStorage,
  resultsItemOf,
  storageErrorFrom,
  type StoredResult,
} from '../../src/storage/db';

describe('storage errors', () => {
  it('maps quota, unavailable and other failures to named errors that keep the cause', () => {
    const quota = storageErrorFrom(
      new DOMException('The quota has been exceeded.', 'QuotaExceededError'),
      'Saving 8 results',
    );
    expect(quota.name).toBe('StorageQuotaError');
    expect(quota.message).toMatch(/^Saving 8 results: .*quota/);
    expect(storageErrorFrom(new DOMException('no', 'InvalidStateError'), 'x').name).toBe('StorageUnavailableError');
    expect(storageErrorFrom(new DOMException('opening failed', 'UnknownError'), 'Opening', true).name).toBe(
      'StorageUnavailableError',
    );
    const write = storageErrorFrom(new DOMException('bad key', 'DataError'), 'Saving');
    expect(write.name).toBe('StorageWriteError');
    expect(write.message).toBe('Saving: DataError: bad key');
    expect(storageErrorFrom(write, 'again')).toBe(write);
  });

  it('refuses to open where there is no IndexedDB (Node has none)', async () => {
    await expect(openKitDb({ name: 'x' })).rejects.toMatchObject({ name: 'StorageUnavailableError' });
  });
});

describe('resultsItemOf', () => {
  it('drops only the storage fields, so export is a copy of the stored item', () => {
    const stored: StoredResult = {
      itemId: 'college_physics/test/3',
      label: 2,
      letterLogits: [1, 2, 3, 4],
      subject: 'college_physics',
      domain: 'stem',
      letterMass: 0.9,
      logSumExp: 5,
      letterTokenIds: [362, 425, 356, 422],
      promptTokens: 120,
      elapsedMs: 33,
      variantKey: 'v',
      promptKey: 'p',
      method: 'logit-processor',
      simulated: false,
      scoredAt: '2025-01-01T00:00:00.000Z',
    };
    expect(resultsItemOf(stored)).toEqual({
      itemId: 'college_physics/test/3',
      label: 2,
      letterLogits: [1, 2, 3, 4],
      subject: 'college_physics',
      domain: 'stem',
      letterMass: 0.9,
      logSumExp: 5,
      letterTokenIds: [362, 425, 356, 422],
      promptTokens: 120,
      elapsedMs: 33,
    });
  });
});

describe('persistent storage', () => {
  const manager = (persisted: boolean, grant: boolean) =>
    ({
      persisted: async () => persisted,
      persist: async () => grant,
      estimate: async () => ({ usage: 10, quota: 100 }),
    }) as unknown as StorageManager;

  it('reports what the browser granted', async () => {
    await expect(requestPersistentStorage(manager(true, false))).resolves.toBe('persisted');
    await expect(requestPersistentStorage(manager(false, true))).resolves.toBe('persisted');
    await expect(requestPersistentStorage(manager(false, false))).resolves.toBe('not-persisted');
    await expect(requestPersistentStorage(undefined)).resolves.toBe('unsupported');
    await expect(estimateStorage(manager(false, false))).resolves.toEqual({ usage: 10, quota: 100 });
    await expect(estimateStorage(undefined)).resolves.toBeUndefined();
  });
});
