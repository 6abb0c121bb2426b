// Shared by tests that read the real MMLU data: loads it once, or fails the calling test with the reason.
import { existsSync } from 'node:fs';
import path from 'node:path';
import type { MmluItem } from '../../src/core/types';
import { loadMmluFolder, mmluDataDir } from '../../scripts/mmlu-folder';

let loading: Promise<MmluItem[]> | undefined;

/** Every item of the real MMLU CSVs ($MMLU_DIR or ../shared/data/mmlu); rejects with a message if absent. */
export function realMmluItems(): Promise<MmluItem[]> {
  loading ??= (async () => {
    const dir = mmluDataDir();
    if (!existsSync(path.join(dir, 'categories.json')) || !existsSync(path.join(dir, 'data', 'test'))) {
      throw new Error(
        `MMLU data not found at ${dir} (expected categories.json and data/{dev,val,test}/); set MMLU_DIR to its folder`,
      );
    }
    return loadMmluFolder(dir);
  })();
  return loading;
}
