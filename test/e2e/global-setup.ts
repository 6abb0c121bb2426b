/**
 * e2e global setup: builds the app, checks the first-load bundle budget (printing the sizes), and serves the
 * build the way `npm start` does (`vite preview` on 127.0.0.1:4173, or E2E_PORT), stopping it afterwards.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { resolve } from 'node:path';
import type { TestProject } from 'vitest/node';
import { bundleReport, formatBundleReport } from '../../scripts/bundle-size';

const root = resolve(import.meta.dirname, '../..');
const vite = resolve(root, 'node_modules/.bin/vite');

async function waitForServer(url: string, server: ChildProcess, timeoutMs = 120_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = 'no answer';
  while (Date.now() < deadline) {
    if (server.exitCode !== null) throw new Error(`vite preview exited with code ${server.exitCode}`);
    try {
      const response = await fetch(url, { signal: AbortSignal.timeout(5000) });
      if (response.ok) return;
      last = `HTTP ${response.status}`;
    } catch (e) {
      last = String(e);
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`vite preview did not answer at ${url} within ${timeoutMs / 1000} s (last: ${last})`);
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const port = Number(process.env.E2E_PORT ?? 4173);
  // NODE_ENV=production as `npm start` builds (vitest sets 'test', which would compile Svelte in dev mode: the suite
  // would measure a slower app than anyone is served).
  const build = spawnSync(vite, ['build'], {
    cwd: root,
    encoding: 'utf8',
    env: { ...process.env, NODE_ENV: 'production' },
  });
  if (build.status !== 0) throw new Error(`vite build failed:\n${build.stdout}\n${build.stderr}`);
  const report = bundleReport(resolve(root, 'dist'));
  console.log(formatBundleReport(report));
  if (!report.withinBudget) throw new Error('The first-load JavaScript is over its budget (see the sizes above).');

  const server = spawn(vite, ['preview', '--host', '127.0.0.1', '--port', String(port), '--strictPort'], {
    cwd: root,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  server.stdout?.on('data', (d) => (output += d));
  server.stderr?.on('data', (d) => (output += d));
  const url = `http://127.0.0.1:${port}/`;
  try {
    await waitForServer(url, server);
  } catch (e) {
    server.kill();
    throw new Error(`${(e as Error).message}\n${output}`, { cause: e });
  }
  project.provide('appUrl', url);
  return async () => {
    server.kill();
    await new Promise((r) => server.once('exit', r));
  };
}

declare module 'vitest' {
  export interface ProvidedContext {
    appUrl: string;
  }
}
