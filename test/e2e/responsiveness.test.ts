import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser } from 'playwright-core';
import { freshContext, launch, loadSmallSample, LONG_TASK_MS, mainThreadTasks, openApp, queueSimulatedDemo, runToEnd, tasksOver } from './support';

let browser: Browser;
beforeAll(async () => {
  browser = await launch();
});
afterAll(async () => {
  await browser?.close();
});


describe('main-thread responsiveness', () => {
  it('has no long task over 50 ms while a run is in progress', async () => {
    const context = await freshContext(browser);
    const page = await context.newPage();
    await openApp(page);
    // The measurement works: a fixed, large amount of work in one task of the page (a few hundred ms of CPU on
    // any machine; a wall-clock busy wait would be CPU-short on a loaded one) is seen as one long task.
    const busy = await mainThreadTasks(page, () =>
      page.evaluate(
        () =>
          new Promise<number>((resolve) =>
            setTimeout(() => {
              let x = 0;
              for (let i = 0; i < 2e8; i++) x += i % 7;
              resolve(x);
            }),
          ),
      ),
    );
    expect(tasksOver(busy, LONG_TASK_MS)).toHaveLength(1);

    await loadSmallSample(page);
    await queueSimulatedDemo(page);
    await page.getByTestId('step-run').click();
    const tasks = await mainThreadTasks(page, () => runToEnd(page));
    console.log(`run: ${tasks.length} main-thread tasks, longest ${Math.max(...tasks.map((t) => t.cpuMs)).toFixed(1)} ms CPU`);
    expect(tasksOver(tasks, LONG_TASK_MS)).toEqual([]);
    await context.close();
  });
});
