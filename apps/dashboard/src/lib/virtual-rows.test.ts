import { describe, expect, it } from "vitest";
import { visibleRows } from "./virtual-rows.ts";

describe("visibleRows", () => {
  it("puts only the rows in view plus the overscan in the DOM", () => {
    // 2,000 rows of 24px, a 480px viewport scrolled to row 1000.
    expect(visibleRows(24_000, 480, 24, 2000, 8)).toEqual({ start: 992, end: 1028 });
  });

  it("clamps at both ends", () => {
    expect(visibleRows(0, 480, 24, 2000, 8)).toEqual({ start: 0, end: 28 });
    expect(visibleRows(47_800, 480, 24, 2000, 8)).toEqual({ start: 1983, end: 2000 });
    expect(visibleRows(0, 480, 24, 5, 8)).toEqual({ start: 0, end: 5 });
  });

  it("shows nothing for an empty list", () => {
    expect(visibleRows(100, 480, 24, 0)).toEqual({ start: 0, end: 0 });
  });
});
