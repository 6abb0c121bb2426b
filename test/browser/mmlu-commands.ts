// Node-side vitest browser commands for test/browser/mmlu-sample.test.ts: the real MMLU CSV texts for the
// browser to parse, and the default manifest as Node computes it, to compare with Chromium's.
import { existsSync } from 'node:fs';
import path from 'node:path';
import type { BrowserCommandContext } from 'vitest/node';
import { drawSample } from '../../src/core/mmlu';
import type { ItemManifest, MmluSplit } from '../../src/core/types';
import { findMmluFiles, loadMmluFolder, mmluDataDir, readUtf8 } from '../../scripts/mmlu-folder';
import { parseMmluCsvName, type TextFile } from '../../src/data/mmlu-csv';

function dataDir(): string {
  const dir = mmluDataDir();
  if (!existsSync(path.join(dir, 'categories.json')) || !existsSync(path.join(dir, 'data', 'test'))) {
    throw new Error(
      `MMLU data not found at ${dir} (expected categories.json and data/{dev,val,test}/); set MMLU_DIR to its folder`,
    );
  }
  return dir;
}

export const mmluCommands = {
  /** The real CSVs of one split, as name and UTF-8 text. */
  readMmluCsvFiles(_ctx: BrowserCommandContext, split: MmluSplit): TextFile[] {
    const dir = dataDir();
    return findMmluFiles(dir)
      .csv.filter((f) => parseMmluCsvName(f)?.split === split)
      .map((f) => ({ name: path.relative(dir, f), text: readUtf8(f) }));
  },
  /** The default manifest (five domains x 200 test items, seed 0) computed in Node. */
  async mmluDefaultManifestInNode(_ctx: BrowserCommandContext): Promise<ItemManifest> {
    return drawSample(await loadMmluFolder(dataDir(), ['test'])).manifest;
  },
};
