import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { repoRoot } from './support';

describe('npm start', () => {
  it('serves on the next free port when its own is taken, and prints the URL it serves', async () => {
    const start: string = JSON.parse(readFileSync(path.join(repoRoot, 'package.json'), 'utf8')).scripts.start;
    const serve = start.split('&&').pop()!.trim();
    expect(serve).toMatch(/^vite preview .*--port 4173/);
    expect(serve).not.toContain('--strictPort');

    const blocker = createServer();
    await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', r));
    const taken = (blocker.address() as AddressInfo).port;
    // The start script's serve step (the build is global-setup's), with the taken port in place of 4173.
    const [cmd, ...args] = serve.replace('--port 4173', `--port ${taken}`).split(/\s+/);
    const child = spawn(path.join(repoRoot, 'node_modules/.bin', cmd), args, {
      cwd: repoRoot,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    try {
      let output = '';
      const url = await new Promise<string>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no URL printed:\n${output}`)), 60_000);
        const onData = (d: Buffer) => {
          output += d;
          // eslint-disable-next-line no-control-regex -- strips the ANSI colour codes (ESC [ ... m) of Vite's output
          const m = /Local:\s+(http:\/\/127\.0\.0\.1:\d+\/)/.exec(output.replace(/\u001b\[[0-9;]*m/g, ''));
          if (m) {
            clearTimeout(timer);
            resolve(m[1]);
          }
        };
        child.stdout.on('data', onData);
        child.stderr.on('data', onData);
        child.once('exit', (code) => reject(new Error(`exited with ${code}:\n${output}`)));
      });
      expect(Number(new URL(url).port)).not.toBe(taken);
      const page = await fetch(url);
      expect(page.status).toBe(200);
      expect(await page.text()).toContain('<div id="app">');
    } finally {
      child.kill();
      blocker.close();
    }
  });
});
