import { describe, expect, it } from "vitest";
import { uploadStatus } from "../test-fixtures.ts";
import { qualityFromCounts } from "@floodwatch/core/window-evaluation";
import { qualityOf } from "./quality.ts";

describe("quality", () => {
  it("computes precision, recall and F1 from confusion counts", () => {
    const q = qualityFromCounts(30, 10, 20, 940);
    expect(q.precision).toBeCloseTo(0.75, 10);
    expect(q.recall).toBeCloseTo(0.6, 10);
    expect(q.f1).toBeCloseTo(2 / 3, 10);
    expect(qualityFromCounts(0, 0, 0, 5)).toMatchObject({ precision: 0, recall: 0, f1: 0 });
  });

  it("shows one labelled upload's own figures", () => {
    const view = qualityOf([uploadStatus()]);
    expect(view?.uploads).toBe(1);
    expect(view?.quality.f1).toBe(0.8);
  });

  it("pools the confusion counts of several labelled uploads and skips unlabelled ones", () => {
    const view = qualityOf([
      uploadStatus({ uploadId: "a", quality: qualityFromCounts(10, 0, 0, 90) }),
      uploadStatus({ uploadId: "b", quality: qualityFromCounts(0, 10, 10, 80) }),
      uploadStatus({ uploadId: "c", labelled: false, quality: null }),
    ]);
    expect(view?.uploads).toBe(2);
    expect(view?.quality).toMatchObject({ tp: 10, fp: 10, fn: 10, tn: 170 });
    expect(view?.quality.precision).toBeCloseTo(0.5, 10);
  });

  it("has nothing to show without labels", () => {
    expect(qualityOf([uploadStatus({ labelled: false, quality: null })])).toBeNull();
    expect(qualityOf([])).toBeNull();
  });
});
