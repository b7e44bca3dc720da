import { describe, expect, it } from "vitest";
import { applyRobustScaler, fitRobustScaler, scaleRow } from "./robust-scaler.ts";

describe("fitRobustScaler", () => {
  // Columns: a long right tail, a constant, and an unsorted mix.
  const rows = 5;
  const cols = 3;
  const data = () => new Float64Array([1, 7, 0.5, 2, 7, -1, 3, 7, 2.5, 4, 7, 10, 100, 7, 4]);

  it("uses the median and the numpy-interpolated IQR, with scale 1 for a constant column", () => {
    const scaler = fitRobustScaler(data(), rows, cols);
    expect(Array.from(scaler.center)).toEqual([3, 7, 2.5]);
    expect(Array.from(scaler.scale)).toEqual([2, 1, 3.5]);
  });

  it("interpolates quartiles between order statistics", () => {
    const scaler = fitRobustScaler(new Float64Array([40, 10, 30, 20]), 4, 1);
    // q25 = 17.5, q75 = 32.5
    expect(Array.from(scaler.center)).toEqual([25]);
    expect(Array.from(scaler.scale)).toEqual([15]);
  });

  it("treats a vanishing, overflowing or all-NaN spread as constant and ignores NaN", () => {
    const nan = Number.NaN;
    const big = 1e308;
    // Columns: IQR 1.5e-20, IQR overflowing to Infinity, one NaN among 1..4 (ignored), only NaN.
    // prettier-ignore
    const x = new Float64Array([
      0,     -big, nan, nan,
      1e-20, -big, 1,   nan,
      2e-20, 0,    2,   nan,
      3e-20, big,  3,   nan,
      4e-20, big,  4,   nan,
    ]);
    const scaler = fitRobustScaler(x, 5, 4);
    expect(Array.from(scaler.center)).toEqual([2e-20, 0, 2.5, 0]);
    expect(Array.from(scaler.scale)).toEqual([1, 1, 1.5, 1]);
  });

  it("rejects an infinite value, naming where it is", () => {
    const x = new Float64Array([1, 2, 3, Number.NEGATIVE_INFINITY]);
    expect(() => fitRobustScaler(x, 2, 2)).toThrow(/row 1, column 1 is infinite/);
  });

  it("rejects a bad shape with a RangeError", () => {
    expect(() => fitRobustScaler(new Float64Array(4), 0, 4)).toThrow(/rows must be an integer/);
    expect(() => fitRobustScaler(new Float64Array(4), 4, 0)).toThrow(/cols must be an integer/);
    expect(() => fitRobustScaler(new Float64Array(4), 3, 2)).toThrow(/fewer than rows \* cols/);
  });
});

describe("applyRobustScaler", () => {
  const fitData = new Float64Array([1, 7, 0.5, 2, 7, -1, 3, 7, 2.5, 4, 7, 10, 100, 7, 4]);
  const scaler = fitRobustScaler(fitData, 5, 3);

  it("scales every value in place as (v - median) / IQR", () => {
    const x = Float64Array.from(fitData);
    applyRobustScaler(scaler, x, 5, 3);
    // Third column printed by numpy: (c - median(c)) / (q75 - q25).
    // prettier-ignore
    const expected = [
      -1,   0, -0.5714285714285714,
      -0.5, 0, -1,
      0,    0, 0,
      0.5,  0, 2.142857142857143,
      48.5, 0, 0.42857142857142855,
    ];
    expect(Array.from(x)).toEqual(expected);
  });

  it("scales one row at an offset and leaves the rest of the buffer alone", () => {
    const buffer = new Float64Array([9, 9, 5, 8, 6, 9]);
    scaleRow(scaler, buffer, 2);
    expect(Array.from(buffer)).toEqual([9, 9, 1, 1, 1, 9]);
  });

  it("rejects data with a different column count", () => {
    expect(() => applyRobustScaler(scaler, new Float64Array(8), 2, 4)).toThrow(
      /fitted on 3 columns, got 4/,
    );
  });
});
