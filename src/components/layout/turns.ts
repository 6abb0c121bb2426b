/**
 * Work in turns, one per task. Mounting a results page's tables and chart shells in one go blocks the main
 * thread for tens of milliseconds (more on a busy machine); taking turns in separate macrotasks, in the order
 * asked, lets input, painting and worker replies run in between.
 */

interface Turn {
  run: () => void;
  cancelled: boolean;
}

const turns: Turn[] = [];
let pending = false;

/** A message on a channel of our own is a new task, and is not clamped like nested setTimeout. */
const channel = typeof MessageChannel === 'undefined' ? undefined : new MessageChannel();
if (channel) channel.port1.onmessage = () => runNext();

function schedule(): void {
  if (pending) return;
  pending = true;
  if (channel) channel.port2.postMessage(undefined);
  else setTimeout(runNext, 0);
}

function runNext(): void {
  pending = false;
  let turn = turns.shift();
  while (turn?.cancelled) turn = turns.shift();
  if (turns.length > 0) schedule();
  turn?.run();
}

/** Runs `run` in a task of its own after the turns asked before it; the returned function cancels it. */
export function inTurn(run: () => void): () => void {
  const turn: Turn = { run, cancelled: false };
  turns.push(turn);
  schedule();
  return () => {
    turn.cancelled = true;
  };
}

/**
 * Runs `run` after every turn asked before it and every turn asked while those run, so after the whole of one
 * update's staged work (Staged.svelte's `last`); not cancellable, and calls keep their order.
 */
export function afterTurns(run: () => void): void {
  inTurn(() => inTurn(run));
}
