import { describe, expect, it } from "vitest";
import {
  initialAutoscroll,
  isAtBottom,
  isScrollUpKey,
  onJumpToLatest,
  onScroll,
  onScrollUpIntent,
  scrollTopAfterAppend,
} from "./autoscroll.ts";

const m = (scrollTop: number, scrollHeight = 1000, clientHeight = 200) => ({
  scrollTop,
  scrollHeight,
  clientHeight,
});

describe("autoscroll", () => {
  it("counts the last few pixels as the bottom", () => {
    expect(isAtBottom(m(800))).toBe(true);
    expect(isAtBottom(m(797))).toBe(true);
    expect(isAtBottom(m(790))).toBe(false);
  });

  it("stops following the moment the analyst scrolls up", () => {
    const atBottom = onScroll(initialAutoscroll, m(800));
    expect(atBottom.following).toBe(true);
    const up = onScroll(atBottom, m(760));
    expect(up.following).toBe(false);
  });

  it("keeps following when new lines grow the log before it scrolled", () => {
    // Following at the bottom of 1000px; 200px of new lines arrive, nothing moved yet.
    const state = onScroll(initialAutoscroll, m(800, 1000));
    const grown = onScroll(state, m(800, 1200));
    expect(grown.following).toBe(true);
  });

  it("does not resume following on a scroll down that stops short of the bottom", () => {
    const stopped = onScroll(onScroll(initialAutoscroll, m(800)), m(300));
    expect(stopped.following).toBe(false);
    expect(onScroll(stopped, m(500)).following).toBe(false);
    expect(onScroll(stopped, m(800)).following).toBe(true);
  });

  it("stops on an upward gesture before any scroll event, and jump-to-latest resumes", () => {
    const stopped = onScrollUpIntent(initialAutoscroll);
    expect(stopped.following).toBe(false);
    expect(onJumpToLatest(stopped).following).toBe(true);
    expect(isScrollUpKey("PageUp")).toBe(true);
    expect(isScrollUpKey("ArrowDown")).toBe(false);
  });

  it("scrolls to the bottom after new lines while following", () => {
    expect(scrollTopAfterAppend(initialAutoscroll, m(800, 1240, 200), 0, 24)).toBe(1040);
  });

  it("keeps the read lines in place while old lines leave the top", () => {
    const reading = { following: false, lastScrollTop: 500 };
    // Three lines of 24px left the top: the same lines are now 72px higher.
    expect(scrollTopAfterAppend(reading, m(500), 3, 24)).toBe(428);
    expect(scrollTopAfterAppend(reading, m(30), 3, 24)).toBe(0);
  });
});
