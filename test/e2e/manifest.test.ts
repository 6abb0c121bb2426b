import { readFileSync, writeFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import { freshContext, launch, loadSmallSample, openApp, SMALL_SAMPLE } from './support';

let browser: Browser;
const dir = mkdtempSync(join(tmpdir(), 'kit-e2e-manifest-'));

beforeAll(async () => {
  browser = await launch();
});
afterAll(async () => {
  await browser?.close();
});

async function exportManifest(page: Page): Promise<string> {
  const [download] = await Promise.all([
    page.waitForEvent('download'),
    page.getByRole('button', { name: 'Export the manifest' }).click(),
  ]);
  const path = join(dir, download.suggestedFilename());
  await download.saveAs(path);
  return path;
}

describe('item manifests', () => {
  it('exports the drawn manifest, re-imports it into a fresh profile as the same items, and refuses edited files', async () => {
    const context = await freshContext(browser);
    const page = await context.newPage();
    await openApp(page);
    await loadSmallSample(page);
    const hash = await page.getByTestId('manifest-hash').textContent();
    const path = await exportManifest(page);
    const manifest = JSON.parse(readFileSync(path, 'utf8'));
    expect(manifest.items).toHaveLength(SMALL_SAMPLE.domains.length * SMALL_SAMPLE.perDomain);
    expect(manifest.hash.startsWith(hash)).toBe(true);
    await context.close();

    // A fresh profile with every domain at the default size: importing the manifest gives back exactly its items.
    const fresh = await freshContext(browser);
    const other = await fresh.newPage();
    await openApp(other);
    await loadSmallSample(other);
    await other.getByTestId('seed').fill('7');
    await other.getByTestId('seed').dispatchEvent('change');
    await other.waitForFunction(
      (h) => document.querySelector('[data-testid="manifest-hash"]')?.textContent !== h,
      hash,
    );
    await other.getByTestId('manifest-file').setInputFiles(path);
    await other.getByTestId('manifest-summary').filter({ hasText: 'Imported manifest' }).waitFor();
    expect(await other.getByTestId('manifest-hash').textContent()).toBe(hash);
    const ids = await other.getByRole('table').filter({ hasText: 'Question' }).getByRole('button').allTextContents();
    expect(ids.map((s) => s.trim()).sort()).toEqual(manifest.items.map((i: { id: string }) => i.id).sort());

    // An edited item hash: the file's own hash no longer matches, the import is refused by name and field.
    const edited = structuredClone(manifest);
    edited.items[3].hash = '0'.repeat(64);
    const editedPath = join(dir, 'edited-manifest.json');
    writeFileSync(editedPath, JSON.stringify(edited));
    await other.getByTestId('manifest-file').setInputFiles(editedPath);
    const error = other.getByTestId('items-error');
    await error.waitFor();
    expect(await error.textContent()).toMatch(/^edited-manifest\.json: hash .* does not match the content/);
    expect(await other.getByTestId('manifest-hash').textContent()).toBe(hash);

    // Not JSON at all, and a wrong field type: refused, the manifest in use unchanged, also after a reload.
    const notJson = join(dir, 'notes.json');
    writeFileSync(notJson, 'id,hash\n');
    await other.getByTestId('manifest-file').setInputFiles(notJson);
    await other.getByTestId('items-error').filter({ hasText: 'notes.json: not JSON' }).waitFor();
    const badSeed = join(dir, 'bad-seed.json');
    writeFileSync(badSeed, JSON.stringify({ ...manifest, seed: -1 }));
    await other.getByTestId('manifest-file').setInputFiles(badSeed);
    await other
      .getByTestId('items-error')
      .filter({ hasText: 'bad-seed.json: seed: expected an integer >= 0' })
      .waitFor();
    await other.reload();
    await other.locator('main[data-restored="true"]').waitFor();
    expect(await other.getByTestId('manifest-hash').textContent()).toBe(hash);
    await fresh.close();
  });
});
