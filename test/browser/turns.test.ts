// Turns (src/components/layout/turns.ts) in a real page: order, cancellation, and afterTurns after the turns it
// follows, also across a turn long enough to make the next one wait for a frame. (What the frame buys, shorter
// main-thread tasks, is measured by the e2e long-task checks.)
import { describe, expect, it } from 'vitest';
import { afterTurns, inTurn } from '../../src/components/layout/turns';

describe('turns', () => {
  it('run in order, skip a cancelled one, and put afterTurns after every turn asked before it ran', async () => {
    const log: string[] = [];
    await new Promise<void>((resolve) => {
      inTurn(() => {
        log.push('a');
        const until = performance.now() + 12; // over the frame budget: the next turn waits for a frame
        while (performance.now() < until);
        inTurn(() => log.push('e'));
      });
      const cancel = inTurn(() => log.push('b'));
      inTurn(() => log.push('c'));
      afterTurns(() => {
        log.push('last');
        resolve();
      });
      inTurn(() => log.push('d'));
      cancel();
    });
    expect(log).toEqual(['a', 'c', 'd', 'e', 'last']);
  });

  it('put a depth-2 afterTurns after the depth-1 ones of the same update, wherever asked, and cancel them', async () => {
    const log: string[] = [];
    await new Promise<void>((resolve) => {
      afterTurns(() => log.push('charts'), 2);
      afterTurns(() => log.push('status'), 1, true);
      inTurn(() => log.push('tables'));
      const cancel = afterTurns(() => log.push('cancelled'), 2);
      afterTurns(() => {
        log.push('more charts');
        resolve();
      }, 2);
      cancel();
    });
    expect(log).toEqual(['tables', 'status', 'charts', 'more charts']);
  });
});
