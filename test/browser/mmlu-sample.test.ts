// The default item sample computed in real Chromium equals the one computed in Node: same CSV parsing, the
// same seeded draw, the same hashes.
import { expect, it } from 'vitest';
import { commands } from 'vitest/browser';
import { drawSample } from '../../src/core/mmlu';
import { parseItemManifest, serializeItemManifest } from '../../src/core/manifest-file';
import type { ItemManifest, MmluSplit } from '../../src/core/types';
import { parseMmluCsvFiles, type TextFile } from '../../src/data/mmlu-csv';

declare module 'vitest/browser' {
  interface BrowserCommands {
    readMmluCsvFiles: (split: MmluSplit) => Promise<TextFile[]>;
    mmluDefaultManifestInNode: () => Promise<ItemManifest>;
  }
}

it('the default manifest computed in Chromium equals the one computed in Node', async () => {
  expect(navigator.userAgent).toContain('Chrome');
  const files = await commands.readMmluCsvFiles('test');
  expect(files).toHaveLength(57);
  const items = parseMmluCsvFiles(files);
  expect(items).toHaveLength(14042);
  const inBrowser = drawSample(items).manifest;
  expect(drawSample([...items].reverse()).manifest).toEqual(inBrowser);
  const inNode = await commands.mmluDefaultManifestInNode();
  expect(inBrowser).toEqual(inNode);
  expect(inBrowser.items).toHaveLength(1000);
  // The exported file reads back to the same manifest in the browser too.
  expect(parseItemManifest(serializeItemManifest(inBrowser))).toEqual(inNode);
}, 120_000);
