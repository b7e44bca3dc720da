import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { quantile, quantileSorted } from "./stats.ts";

describe("quantile", () => {
  // Expected values printed by numpy 2.4: repr(float(np.quantile(values, q))).
  const values = new Float64Array([3.1, -2.7, 0.4, 8.8, 1.3, 5.5, -0.9]);
  const cases: [number, number][] = [
    [0, -2.7],
    [0.01, -2.592],
    [0.1, -1.62],
    [0.25, -0.25],
    [0.33, 0.374],
    [0.5, 1.3],
    [0.75, 4.3],
    [0.9, 6.820000000000001],
    [0.99, 8.601999999999999],
    [1, 8.8],
  ];

  it.each(cases)("matches numpy bit for bit at q = %d", (q, expected) => {
    expect(quantile(values, q)).toBe(expected);
  });

  it("interpolates between the two nearest order statistics", () => {
    expect(quantile(new Float64Array([10, 20, 30, 40]), 0.25)).toBe(17.5);
    expect(quantile(new Float64Array([10, 20, 30, 40]), 0.5)).toBe(25);
    expect(quantile(new Float64Array([0.1, 0.2, 0.3]), 0.3)).toBe(0.16);
    expect(quantile(new Float64Array([42]), 0.7)).toBe(42);
  });

  it("leaves its input unsorted and untouched", () => {
    const input = new Float64Array([3, 1, 2]);
    expect(quantile(input, 0.5)).toBe(2);
    expect(Array.from(input)).toEqual([3, 1, 2]);
  });

  it("returns NaN when any value is NaN, as numpy does", () => {
    expect(quantile(new Float64Array([1, Number.NaN, 3]), 0.1)).toBeNaN();
  });

  it("rejects an empty input and a q outside [0, 1] with a RangeError", () => {
    expect(() => quantile(new Float64Array(0), 0.5)).toThrow(/empty array/);
    expect(() => quantileSorted(new Float64Array(0), 0.5)).toThrow(RangeError);
    expect(() => quantile(new Float64Array([1]), 1.01)).toThrow(/q must be in \[0, 1\], got 1.01/);
    expect(() => quantile(new Float64Array([1]), -0.1)).toThrow(RangeError);
    expect(() => quantile(new Float64Array([1]), Number.NaN)).toThrow(RangeError);
  });

  it("is monotone in q and stays within the sample's range", () => {
    fc.assert(
      fc.property(
        fc.array(fc.double({ min: -1e6, max: 1e6, noNaN: true }), { minLength: 1, maxLength: 50 }),
        fc.double({ min: 0, max: 1, noNaN: true }),
        fc.double({ min: 0, max: 1, noNaN: true }),
        (raw, q1, q2) => {
          const sorted = Float64Array.from(raw).sort();
          const lo = Math.min(q1, q2);
          const hi = Math.max(q1, q2);
          const a = quantileSorted(sorted, lo);
          const b = quantileSorted(sorted, hi);
          expect(a).toBeLessThanOrEqual(b);
          expect(a).toBeGreaterThanOrEqual(sorted[0]!);
          expect(b).toBeLessThanOrEqual(sorted[sorted.length - 1]!);
        },
      ),
      { numRuns: 500, seed: 7 },
    );
  });
});
