import { describe, expect, it } from "vitest";
import {
  WindowEvaluation,
  averagePrecision,
  confusionRates,
  isAttackWindow,
  rocAuc,
} from "./window-evaluation.ts";

const f64 = (values: number[]) => Float64Array.from(values);
const u8 = (values: number[]) => Uint8Array.from(values);

describe("isAttackWindow", () => {
  it("applies the any and majority rules", () => {
    expect(isAttackWindow(1, 50, "any")).toBe(true);
    expect(isAttackWindow(0, 50, "any")).toBe(false);
    expect(isAttackWindow(25, 50, "majority")).toBe(false);
    expect(isAttackWindow(26, 50, "majority")).toBe(true);
  });
});

describe("rocAuc and averagePrecision", () => {
  it("score a perfect ranking 1", () => {
    expect(rocAuc(f64([0.1, -0.2, 0.3, -0.4]), u8([0, 1, 0, 1]))).toBe(1);
    expect(averagePrecision(f64([0.1, -0.2, 0.3, -0.4]), u8([0, 1, 0, 1]))).toBe(1);
  });

  it("score an inverted ranking 0 and a low precision", () => {
    expect(rocAuc(f64([-0.1, 0.2]), u8([0, 1]))).toBe(0);
    expect(averagePrecision(f64([-0.1, 0.2]), u8([0, 1]))).toBe(0.5);
  });

  it("split ties as scikit-learn does", () => {
    // Anomaly scores (-decision) 0, 0, -1 with the attack tied with a benign window.
    expect(rocAuc(f64([0, 0, 1]), u8([1, 0, 0]))).toBe(0.75);
    expect(averagePrecision(f64([0, 0, 1]), u8([1, 0, 0]))).toBe(0.5);
  });

  it("are undefined without both classes", () => {
    expect(rocAuc(f64([0, 1]), u8([0, 0]))).toBeNull();
    expect(averagePrecision(f64([0, 1]), u8([0, 0]))).toBeNull();
    expect(rocAuc(f64([0, 1]), u8([1, 1]))).toBeNull();
  });
});

describe("WindowEvaluation", () => {
  it("counts the confusion matrix and derives the rates", () => {
    const evaluation = new WindowEvaluation(50, "any");
    evaluation.add(
      f64([-0.3, -0.2, 0.1, 0.2, -0.1]),
      u8([1, 1, 0, 0, 1]),
      Int32Array.from([50, 0, 3, 0, 10]),
      5,
    );
    const result = evaluation.result();
    expect(result).toMatchObject({
      tp: 2,
      fp: 1,
      fn: 1,
      tn: 1,
      scoredWindows: 5,
      droppedWindows: 0,
    });
    expect(result.precision).toBeCloseTo(2 / 3, 15);
    expect(result.recall).toBeCloseTo(2 / 3, 15);
    expect(result.f1).toBeCloseTo(2 / 3, 15);
    expect(result.fpr).toBe(0.5);
  });

  it("reports zero rates rather than NaN when nothing is flagged", () => {
    expect(confusionRates(0, 0, 3, 5)).toEqual({ precision: 0, recall: 0, f1: 0, fpr: 0 });
  });
});
