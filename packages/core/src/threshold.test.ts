import { describe, expect, it } from "vitest";
import { DEFAULT_THRESHOLD_QUANTILE, calibrateThreshold, isAnomalous } from "./threshold.ts";

describe("calibrateThreshold", () => {
  const scores = new Float64Array([0.12, -0.03, 0.08, 0.2, 0.15, -0.1, 0.05, 0.11, 0.07, 0.09]);

  // Thresholds printed by numpy: repr(float(np.quantile(scores, q))), and (scores < t).mean().
  it.each([
    [0.01, -0.0937, 0.1],
    [0.1, -0.037, 0.1],
    [0.25, 0.05500000000000001, 0.3],
    [0.5, 0.08499999999999999, 0.5],
    [0.9, 0.15499999999999997, 0.9],
  ])("at q = %d puts the threshold at %d with validation FPR %d", (q, threshold, fpr) => {
    expect(calibrateThreshold(scores, q)).toEqual({
      threshold,
      quantile: q,
      validationFpr: fpr,
      validationWindows: 10,
    });
  });

  it("flags about 1 benign window in 100 with the default quantile", () => {
    const many = new Float64Array(1000);
    for (let i = 0; i < 1000; i++) many[i] = 999 - i;
    const calibration = calibrateThreshold(many, DEFAULT_THRESHOLD_QUANTILE);
    expect(DEFAULT_THRESHOLD_QUANTILE).toBe(0.01);
    expect(calibration.threshold).toBe(9.99);
    expect(calibration.validationFpr).toBe(0.01);
    expect(calibration.validationWindows).toBe(1000);
    // Input order is kept: the quantile sorts a copy.
    expect(many[0]).toBe(999);
  });

  it("counts only scores strictly below the threshold, so ties are not alarms", () => {
    const calibration = calibrateThreshold(new Float64Array([0.2, 0.2, 0.2, 0.2]), 0.5);
    expect(calibration.threshold).toBe(0.2);
    expect(calibration.validationFpr).toBe(0);
  });

  it("rejects q outside (0, 1) and an empty validation set with a RangeError", () => {
    expect(() => calibrateThreshold(scores, 0)).toThrow(/must be in \(0, 1\), got 0/);
    expect(() => calibrateThreshold(scores, 1)).toThrow(RangeError);
    expect(() => calibrateThreshold(scores, Number.NaN)).toThrow(RangeError);
    expect(() => calibrateThreshold(new Float64Array(0), 0.01)).toThrow(/zero validation windows/);
  });
});

describe("isAnomalous", () => {
  it("is true only strictly below the threshold", () => {
    expect(isAnomalous(-0.0001, 0)).toBe(true);
    expect(isAnomalous(0, 0)).toBe(false);
    expect(isAnomalous(0.0001, 0)).toBe(false);
  });
});
