/**
 * Builds a large answer in pieces so the event loop keeps turning: polls, PUBACKs and timers run
 * between the pieces. At 50,000 tags a status answer built in one go held the loop ~290 ms.
 */
import { performance } from 'node:perf_hooks';

/** The longest the loop is held in one piece, ms. */
export const SLICE_MS = 4;
/** Work items between looks at the clock (a reading is ~0.1 µs of work, a clock read ~0.05 µs). */
const CHECK_EVERY = 256;

export interface LoopShare {
  /** Call once per work item; resolves after a turn of the loop when the slice is used up. */
  step(): Promise<void> | undefined;
}

/** checkEvery: items between looks at the clock; 1 for items that are each a sizeable piece of work. */
export function loopShare(checkEvery = CHECK_EVERY, sliceMs = SLICE_MS): LoopShare {
  let sliceStart = performance.now();
  let items = 0;
  return {
    step() {
      if (++items % checkEvery !== 0 || performance.now() - sliceStart < sliceMs) return undefined;
      return new Promise<void>((resolve) => setImmediate(() => {
        sliceStart = performance.now();
        resolve();
      }));
    },
  };
}
