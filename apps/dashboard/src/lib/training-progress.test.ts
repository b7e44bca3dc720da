import type { TrainingJobStatus } from "@floodwatch/core/stream-contracts";
import { describe, expect, it } from "vitest";
import { trainingFraction, trainingStageText } from "./training-progress.ts";

const job = (
  state: TrainingJobStatus["state"],
  stage: string,
  extra: Partial<TrainingJobStatus> = {},
): TrainingJobStatus => ({
  jobId: "1",
  state,
  progress: { stage, rowsRead: 12_345, windows: 240, treesGrown: 50, trees: 100 },
  ...extra,
});

describe("training progress", () => {
  it("spans most of the bar with the forest", () => {
    expect(trainingFraction(job("active", "forest"))).toBeCloseTo(0.525, 10);
    expect(trainingFraction(job("active", "reading"))).toBeNull();
    expect(trainingFraction(job("waiting", "reading"))).toBeNull();
    expect(trainingFraction(job("active", "calibration"))).toBe(0.92);
    expect(trainingFraction(job("active", "evaluation"))).toBe(0.96);
    expect(trainingFraction(job("completed", "stored"))).toBe(1);
  });

  it("says where the job is", () => {
    expect(trainingStageText(job("active", "reading"))).toBe("reading the file: 12,345 rows");
    expect(trainingStageText(job("active", "forest"))).toBe("growing trees: 50 of 100");
    expect(trainingStageText(job("active", "queued"))).toBe("waiting for a trainer");
    expect(trainingStageText(job("completed", "stored", { version: "abc" }))).toBe(
      "done: model abc",
    );
    expect(trainingStageText(job("failed", "reading", { error: "no benign rows" }))).toBe(
      "failed: no benign rows",
    );
  });
});
