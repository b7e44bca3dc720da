/**
 * Limits chart redraws: streaming data marks a chart dirty hundreds of times a second, and it is
 * redrawn at most once per interval (~10 per second), with the latest data.
 */

/** Clock and timer, injectable so tests control time. */
export interface ThrottleClock {
  now(): number;
  setTimeout(callback: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

const realClock: ThrottleClock = {
  now: () => performance.now(),
  setTimeout: (callback, ms) => setTimeout(callback, ms),
  clearTimeout: (handle) => clearTimeout(handle as ReturnType<typeof setTimeout>),
};

/** Chart redraw interval: 10 redraws a second keep motion visible without starving the log. */
export const CHART_REDRAW_INTERVAL_MS = 100;

/** A throttled redraw: call `markDirty()` freely; `draw` runs at most once per interval. */
export interface RedrawThrottle {
  markDirty(): void;
  /** Stops pending redraws. */
  dispose(): void;
}

/** Creates a throttle that calls `draw` at most once per `intervalMs`, trailing edge included. */
export function createRedrawThrottle(
  draw: () => void,
  intervalMs = CHART_REDRAW_INTERVAL_MS,
  clock: ThrottleClock = realClock,
): RedrawThrottle {
  let lastDraw = Number.NEGATIVE_INFINITY;
  let pending: unknown = null;
  let disposed = false;
  const run = () => {
    pending = null;
    if (disposed) return;
    lastDraw = clock.now();
    draw();
  };
  return {
    markDirty() {
      if (disposed || pending !== null) return;
      const wait = Math.max(0, lastDraw + intervalMs - clock.now());
      pending = clock.setTimeout(run, wait);
    },
    dispose() {
      disposed = true;
      if (pending !== null) clock.clearTimeout(pending);
      pending = null;
    },
  };
}
