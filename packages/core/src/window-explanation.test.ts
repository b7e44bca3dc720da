import { describe, expect, it } from "vitest";
import { FlowCsvReader } from "./flow-csv-reader.ts";
import { DEFAULT_FEATURES } from "./flow-features.ts";
import { generateFlowCsv } from "./generator/index.ts";
import { FlowScoringSession, type ScoredWindowBatch } from "./flow-scoring.ts";
import { TrainingFlows, trainModel } from "./model-training.ts";
import type { FlowBatch } from "./window-aggregator.ts";
import { untransformed } from "./flow-transform.ts";
import type { WindowExplanation } from "./window-explanation.ts";
import { explainerFor } from "./window-findings.ts";

const SIZE = 50;

/** Generated benign flows, as one batch in model feature order. */
function benign(flows: number, seed: number): FlowBatch {
  const reader = new FlowCsvReader({ features: DEFAULT_FEATURES, batchSize: flows });
  const batches = [...generateFlowCsv({ flows, attack: "none", seed })].flatMap((chunk) =>
    reader.push(chunk),
  );
  batches.push(...reader.end());
  expect(batches).toHaveLength(1);
  return batches[0]!;
}

const model = (() => {
  const training = new TrainingFlows(DEFAULT_FEATURES.length);
  training.add(benign(20_000, 11));
  training.endSequence();
  return trainModel(training, {
    features: DEFAULT_FEATURES,
    window: { size: SIZE, stride: SIZE },
    trainStride: 10,
    createdAt: "2026-01-01T00:00:00.000Z",
    toolVersion: "test",
    contentHash: "sha256:test",
    sources: ["generated"],
  });
})();

const column = (feature: string) => DEFAULT_FEATURES.indexOf(feature);

/** Multiplies `feature` by `factor` in flows `[from, to)` of the batch. */
function shift(batch: FlowBatch, feature: string, factor: number, from: number, to: number) {
  const f = column(feature);
  for (let i = from; i < to; i++) {
    const at = i * batch.featureCount + f;
    batch.values[at] = batch.values[at]! * factor;
  }
}

/** Scores the batch and explains every window. */
function explainAll(batch: FlowBatch): {
  scored: ScoredWindowBatch;
  explanations: WindowExplanation[];
} {
  const scored = new FlowScoringSession(model).push(batch);
  // As the product explains: the forest's paths blended with the model's other voting detectors.
  const explainer = explainerFor(model);
  const explanations = Array.from({ length: scored.windows.count }, (_, w) =>
    explainer.explain(scored.windows.features, w * scored.windows.width),
  );
  return { scored, explanations };
}

describe("WindowExplainer", () => {
  it("names a shifted feature first, flagged or not, and the next shifted one beside it", () => {
    const batch = benign(6_000, 23);
    // Windows of generated benign traffic are sometimes unusual on their own (a flow with many
    // packets); the forest then rightly names that too. The claim is about windows that were
    // typical before the shift: those scoring above the median unshifted.
    const unshifted = new FlowScoringSession(model).push(benign(6_000, 23)).scores.decision;
    const median = Array.from(unshifted).sort((a, b) => a - b)[unshifted.length >> 1]!;
    const typical = (from: number, to: number) =>
      Array.from({ length: to - from }, (_, k) => from + k).filter((w) => unshifted[w]! >= median);

    // Windows 20-39: Flow Packets/s x 1e6. Windows 60-79: Flow IAT Mean x 1e4.
    // Windows 90-109: both (Flow IAT Mean x 1e3).
    shift(batch, "Flow Packets/s", 1e6, 20 * SIZE, 40 * SIZE);
    shift(batch, "Flow IAT Mean", 1e4, 60 * SIZE, 80 * SIZE);
    shift(batch, "Flow Packets/s", 1e6, 90 * SIZE, 110 * SIZE);
    shift(batch, "Flow IAT Mean", 1e3, 90 * SIZE, 110 * SIZE);
    const { scored, explanations } = explainAll(batch);
    const top = (w: number, n: number) =>
      explanations[w]!.features.slice(0, n).map((f) => f.feature);
    const flagged = { yes: 0, no: 0 };
    const count = (w: number) => (scored.scores.anomaly[w] === 1 ? flagged.yes++ : flagged.no++);

    const blockA = typical(20, 40);
    expect(blockA.length).toBeGreaterThanOrEqual(5);
    for (const w of blockA) {
      expect(top(w, 1), `window ${w}`).toEqual(["Flow Packets/s"]);
      expect(explanations[w]!.dimensions[0]!.feature).toBe("Flow Packets/s");
      count(w);
    }
    const blockB = typical(60, 80);
    expect(blockB.length).toBeGreaterThanOrEqual(5);
    for (const w of blockB) {
      expect(top(w, 1), `window ${w}`).toEqual(["Flow IAT Mean"]);
      count(w);
    }
    // Both beyond anything in training: each isolates the window at its first split, so the
    // two share the top and their order carries no meaning.
    const both = typical(90, 110);
    expect(both.length).toBeGreaterThanOrEqual(5);
    for (const w of both) {
      expect(top(w, 2).sort(), `window ${w}`).toEqual(["Flow IAT Mean", "Flow Packets/s"]);
      count(w);
    }
    // The shifted windows this ran on: flagged and not, the explanation is the same kind.
    expect(flagged.yes + flagged.no).toBe(blockA.length + blockB.length + both.length);

    // The explanation carries the window's value and the training median.
    const w = blockA[0]!;
    const first = explanations[w]!.dimensions[0]!;
    const dim =
      column("Flow Packets/s") * 4 + ["mean", "std", "min", "max"].indexOf(first.statistic);
    // Both shown in the feature's own units, the model's transform undone.
    const transform = model.detection?.transform ?? "none";
    expect(first.value).toBe(
      untransformed(transform, scored.windows.features[w * scored.windows.width + dim]!),
    );
    expect(first.typical).toBe(untransformed(transform, model.scaler.center[dim]!));
    expect(first.value / first.typical).toBeGreaterThan(1000);
    const weights = explanations[w]!.dimensions.map((d) => d.weight);
    expect(weights).toEqual([...weights].sort((a, b) => b - a));
    expect(weights[0]).toBeGreaterThan(0.1);
    const total = explanations[w]!.features.reduce((sum, f) => sum + f.weight, 0);
    expect(total).toBeLessThanOrEqual(1 + 1e-12);
  });

  it("explains a window the same whatever it explained before (its buffers are reused)", () => {
    const batch = benign(1_000, 6);
    shift(batch, "Flow Packets/s", 1e6, 0, SIZE);
    shift(batch, "SYN Flag Count", 50, SIZE, 2 * SIZE);
    const scored = new FlowScoringSession(model).push(batch);
    const explainer = explainerFor(model);
    const { features, width, count } = scored.windows;
    const first = explainer.explain(features, 0);
    const rest = Array.from({ length: count - 1 }, (_, w) =>
      explainer.explain(features, (w + 1) * width),
    );
    expect(rest[0]!.features[0]!.feature).toBe("SYN Flag Count");
    expect(explainer.explain(features, 0)).toEqual(first);
    expect(explainer.explain(features, width)).toEqual(rest[0]);
    expect(first.features[0]!.feature).toBe("Flow Packets/s");
  });

  it("combines a second detector's contributions by their share", () => {
    const batch = benign(1_000, 5);
    shift(batch, "Flow Packets/s", 1e6, 0, SIZE);
    const scored = new FlowScoringSession(model).push(batch);
    // The product's explainer: the forest blended with the model's voting detectors.
    const explainer = explainerFor(model);
    const other = new Float64Array(explainer.width);
    const syn = column("SYN Flag Count") * 4 + 3;
    other[syn] = 1;
    const alone = explainer.explain(scored.windows.features, 0);
    expect(alone.features[0]!.feature).toBe("Flow Packets/s");
    // A second detector that puts everything on SYN Flag Count:max, given 10x the forest's say.
    const combined = explainer.explain(scored.windows.features, 0, [{ weights: other, share: 10 }]);
    expect(combined.dimensions[0]).toMatchObject({ feature: "SYN Flag Count", statistic: "max" });
    const forest = new Float64Array(explainer.width);
    explainer.forestContributions(scored.windows.features, 0, forest);
    expect(forest.reduce((sum, x) => sum + x, 0)).toBeCloseTo(1, 12);
    expect(combined.dimensions[0]!.weight).toBeCloseTo((10 + forest[syn]!) / 11, 12);
    expect(() =>
      explainer.explain(scored.windows.features, 0, [{ weights: new Float64Array(3) }]),
    ).toThrow(/3 dimensions, the model 100/);
  });
});
