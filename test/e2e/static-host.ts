/**
 * The built app as a plain static host serves it: dist/ copied under /kit/ of `python3 -m http.server` (no
 * rewrites, no headers of ours), plus a recorder of everything a page reports as broken (console errors, uncaught
 * exceptions, failed requests, HTTP errors).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Page } from 'playwright-core';
import { repoRoot } from './support';

export interface StaticHost {
  /** The URL a user opens: http://127.0.0.1:<port>/kit/ */
  url: string;
  /** The folder served as /kit/ (a copy of dist/; a test may change it to publish a "new version"). */
  dir: string;
  close(): Promise<void>;
}

/** Copies dist/ to <tmp>/kit/ and serves <tmp> with Python's http.server on a free port. */
export async function serveDistUnderKit(): Promise<StaticHost> {
  const root = mkdtempSync(path.join(tmpdir(), 'kit-host-'));
  cpSync(path.join(repoRoot, 'dist'), path.join(root, 'kit'), { recursive: true });
  const server: ChildProcess = spawn(
    'python3',
    ['-u', '-m', 'http.server', '0', '--bind', '127.0.0.1', '--directory', root],
    {
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let output = '';
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`python3 -m http.server did not start:\n${output}`)), 30_000);
    const onData = (d: Buffer) => {
      output += d;
      const m = /port (\d+)/.exec(output);
      if (m) {
        clearTimeout(timer);
        resolve(Number(m[1]));
      }
    };
    server.stdout?.on('data', onData);
    server.stderr?.on('data', (d: Buffer) => (output += d));
    server.once('error', (e) => reject(new Error(`python3 -m http.server could not start: ${e.message}`)));
    server.once('exit', (code) => reject(new Error(`python3 -m http.server exited with code ${code}:\n${output}`)));
  });
  return {
    url: `http://127.0.0.1:${port}/kit/`,
    dir: path.join(root, 'kit'),
    close: async () => {
      if (server.exitCode === null) {
        server.kill();
        await new Promise((r) => server.once('exit', r));
      }
      rmSync(root, { recursive: true, force: true });
    },
  };
}

/** Everything the page reports as broken from now on, and every URL it requested. */
export function recordProblems(page: Page): { problems: string[]; requested: string[] } {
  const problems: string[] = [];
  const requested: string[] = [];
  page.on('console', (m) => {
    if (m.type() === 'error') problems.push(`console error: ${m.text()}`);
  });
  page.on('pageerror', (e) => problems.push(`uncaught: ${e.message}`));
  page.on('requestfailed', (r) => {
    // ERR_ABORTED is a request the page itself gave up (a reload while a worker script was still loading, a
    // worker terminated first): not one the host or the service worker failed to answer.
    if (r.failure()?.errorText === 'net::ERR_ABORTED') return;
    problems.push(`request failed: ${r.url()} (${r.failure()?.errorText})`);
  });
  page.on('request', (r) => requested.push(r.url()));
  page.on('response', (r) => {
    if (r.status() >= 400) problems.push(`HTTP ${r.status()}: ${r.url()}`);
  });
  return { problems, requested };
}

/**
 * Variants step: web-llm's prebuilt builds listed by the web-llm worker (its 6 MB chunk). With a WebGPU adapter
 * the environment step has already asked for them; without one, the button does.
 */
export async function showWebllmCatalog(page: Page): Promise<void> {
  await page.getByTestId('step-variants').click();
  const model = page.getByRole('combobox', { name: 'Model' });
  const button = page.getByRole('button', { name: "Show web-llm's prebuilt Qwen3 builds" });
  await model
    .or(button)
    .or(page.getByRole('button', { name: "Reading web-llm's list…" }))
    .first()
    .waitFor();
  if (await button.isVisible()) await button.click();
  await model.waitFor();
}
