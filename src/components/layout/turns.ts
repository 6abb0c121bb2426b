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
/** Main-thread ms the turns have taken since the browser last had a frame to itself. */
let worked = 0;

/**
 * After this much work in turns, the next turn waits for a frame: the browser then lays out and paints what the
 * turns so far changed before the next one adds more, so one frame's layout covers a section or two rather than
 * a whole page mounted in quick turns.
 */
const FRAME_BUDGET_MS = 6;

/** A message on a channel of our own is a new task, and is not clamped like nested setTimeout. */
const channel = typeof MessageChannel === 'undefined' ? undefined : new MessageChannel();
if (channel) channel.port1.onmessage = () => runNext();

function post(): void {
  if (channel) channel.port2.postMessage(undefined);
  else setTimeout(runNext, 0);
}

function schedule(): void {
  if (pending) return;
  pending = true;
  if (worked < FRAME_BUDGET_MS || typeof requestAnimationFrame === 'undefined') return post();
  worked = 0;
  // A message posted from a frame's callback runs after that frame is rendered; the timer covers a hidden page,
  // which gets no frames.
  let posted = false;
  const once = () => {
    if (posted) return;
    posted = true;
    clearTimeout(timer);
    post();
  };
  const timer = setTimeout(once, 100);
  requestAnimationFrame(once);
}

function runNext(): void {
  pending = false;
  let turn = turns.shift();
  while (turn?.cancelled) turn = turns.shift();
  const started = performance.now();
  try {
    turn?.run();
  } finally {
    // After the turn's own microtasks (a Svelte state change renders in one): its whole cost.
    queueMicrotask(() => {
      worked = turns.length > 0 ? worked + performance.now() - started : 0;
      if (turns.length > 0) schedule();
    });
  }
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
