import { describe, expect, it } from "vitest";
import { createRedrawThrottle, type ThrottleClock } from "./redraw-throttle.ts";

/** A clock whose time only moves when the test says so. */
function manualClock() {
  let now = 0;
  let timers: { at: number; callback: () => void; id: number }[] = [];
  let nextId = 0;
  const clock: ThrottleClock = {
    now: () => now,
    setTimeout: (callback, ms) => {
      nextId += 1;
      timers.push({ at: now + ms, callback, id: nextId });
      return nextId;
    },
    clearTimeout: (id) => {
      timers = timers.filter((t) => t.id !== id);
    },
  };
  const advance = (ms: number) => {
    const end = now + ms;
    for (;;) {
      const due = timers.filter((t) => t.at <= end).sort((a, b) => a.at - b.at)[0];
      if (due === undefined) break;
      timers = timers.filter((t) => t !== due);
      now = due.at;
      due.callback();
    }
    now = end;
  };
  return { clock, advance };
}

describe("createRedrawThrottle", () => {
  it("redraws at most once per interval however often data arrives", () => {
    const { clock, advance } = manualClock();
    let draws = 0;
    const throttle = createRedrawThrottle(() => (draws += 1), 100, clock);
    // 2,000 windows a second for one second, one mark per window.
    for (let i = 0; i < 2000; i += 1) {
      throttle.markDirty();
      advance(0.5);
    }
    advance(200);
    expect(draws).toBeGreaterThanOrEqual(10);
    expect(draws).toBeLessThanOrEqual(11);
  });

  it("draws the last change (trailing edge)", () => {
    const { clock, advance } = manualClock();
    let draws = 0;
    const throttle = createRedrawThrottle(() => (draws += 1), 100, clock);
    throttle.markDirty();
    advance(0);
    expect(draws).toBe(1);
    advance(10);
    throttle.markDirty();
    advance(50);
    expect(draws).toBe(1);
    advance(50);
    expect(draws).toBe(2);
  });

  it("draws nothing after dispose", () => {
    const { clock, advance } = manualClock();
    let draws = 0;
    const throttle = createRedrawThrottle(() => (draws += 1), 100, clock);
    throttle.markDirty();
    throttle.dispose();
    throttle.markDirty();
    advance(500);
    expect(draws).toBe(0);
  });
});
