/**
 * Work in turns, one per task. Mounting a results page's tables and chart shells in one go blocks the main
 * thread for tens of milliseconds (more on a busy machine); taking turns in separate macrotasks, in the order
 * asked, lets input, painting and worker replies run in between.
 */

interface Turn {
  run: () => void;
  cancelled: boolean;
  /** Does (almost) nothing itself (a step of afterTurns, a status line): it never waits for a frame. */
  light: boolean;
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
  const next = turns.find((t) => !t.cancelled);
  if (worked < FRAME_BUDGET_MS || next?.light || typeof requestAnimationFrame === 'undefined') return post();
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

/**
 * Runs `run` in a task of its own after the turns asked before it; the returned function cancels it. A `light`
 * turn (one that changes next to nothing) runs without waiting for a frame, however much the turns before it did.
 */
export function inTurn(run: () => void, light = false): () => void {
  const turn: Turn = { run, cancelled: false, light };
  turns.push(turn);
  schedule();
  return () => {
    turn.cancelled = true;
  };
}

/**
 * Runs `run` after every turn asked before it and every turn asked while those run, so after the whole of one
 * update's staged work (Staged.svelte's `last`); calls of the same depth keep their order. With depth 2, also
 * after those of depth 1 asked in the same update, wherever they were asked (Staged.svelte's `after`: a
 * section shown after the status line says ready). The steps in between are light turns (see inTurn), and so
 * is `run` when `light`: a status line then follows the section it waits for without a frame in between, and is
 * painted with it. The returned function cancels it.
 */
export function afterTurns(run: () => void, depth = 1, light = false): () => void {
  let cancelled = false;
  let cancel = () => {};
  const step = (left: number) => {
    if (!cancelled) cancel = left === 0 ? inTurn(run, light) : inTurn(() => step(left - 1), true);
  };
  step(depth);
  return () => {
    cancelled = true;
    cancel();
  };
}
