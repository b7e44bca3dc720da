/**
 * Runs a callback once on the next animation frame, with a timer as a safety net: a hidden tab
 * gets no animation frames at all, and the live store must still drain its buffer there.
 */

/** Schedules `callback` once; returns a function that cancels it. */
export type ScheduleOnce = (callback: () => void) => () => void;

/** Longest a buffered update waits when no animation frame comes (hidden tab). */
export const FRAME_FALLBACK_MS = 250;

/** The browser's scheduler: next animation frame or {@link FRAME_FALLBACK_MS}, whichever first. */
export const scheduleNextFrame: ScheduleOnce = (callback) => {
  let done = false;
  const run = () => {
    if (done) return;
    done = true;
    cancel();
    callback();
  };
  const frame = typeof requestAnimationFrame === "function" ? requestAnimationFrame(run) : null;
  const timer = setTimeout(run, FRAME_FALLBACK_MS);
  const cancel = () => {
    done = true;
    if (frame !== null) cancelAnimationFrame(frame);
    clearTimeout(timer);
  };
  return cancel;
};
