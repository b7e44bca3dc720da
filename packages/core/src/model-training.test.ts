import { describe, expect, it } from "vitest";
import { decisionFunction } from "./isolation-forest.ts";
import { ModelFileError, parseModel, serializeModel, type FloodwatchModel } from "./model-file.ts";
import {
  TrainingError,
  TrainingFlows,
  trainModel,
  type TrainingOptions,
} from "./model-training.ts";
import { FlowScoringSession } from "./flow-scoring.ts";
import { FEW_TRAINING_WINDOWS } from "./training-defaults.ts";
import { projectRow } from "./pca.ts";
import { createPrng } from "./prng.ts";
import { applyRobustScaler } from "./robust-scaler.ts";
import { WindowAggregator, type FlowBatch } from "./window-aggregator.ts";
import { WindowScorer } from "./window-scorer.ts";

const FEATURES = ["Flow Duration", "Flow Packets/s", "SYN Flag Count"];

/** Benign-looking flows: log-normal durations and rates, rare SYN flags. */
function flowBatch(count: number, seed: number, options: { attackFrom?: number } = {}): FlowBatch {
  const rng = createPrng(seed);
  const gauss = () =>
    Math.sqrt(-2 * Math.log(1 - rng.nextFloat())) * Math.cos(2 * Math.PI * rng.nextFloat());
  const values = new Float64Array(count * 3);
  const attack = new Uint8Array(count);
  const lines = new Uint32Array(count);
  for (let i = 0; i < count; i++) {
    const hostile = options.attackFrom !== undefined && i >= options.attackFrom;
    values[i * 3] = hostile ? 5 + rng.nextFloat() : Math.exp(8 + 2 * gauss());
    values[i * 3 + 1] = hostile ? 2e5 * (1 + rng.nextFloat()) : Math.exp(3 + gauss());
    values[i * 3 + 2] = hostile ? 1 : rng.nextFloat() < 0.05 ? 1 : 0;
    attack[i] = hostile ? 1 : 0;
    lines[i] = i + 2;
  }
  return { count, featureCount: 3, values, lines, attack };
}

function options(overrides: Partial<TrainingOptions> = {}): TrainingOptions {
  return {
    features: FEATURES,
    window: { size: 50, stride: 50 },
    trainStride: 10,
    createdAt: "2026-01-01T00:00:00.000Z",
    toolVersion: "test",
    contentHash: "sha256:test",
    sources: ["synthetic"],
    ...overrides,
  };
}

function trainingFlows(count: number, seed: number): TrainingFlows {
  const flows = new TrainingFlows(3);
  flows.add(flowBatch(count, seed));
  flows.endSequence();
  return flows;
}

describe("trainModel", () => {
  it("splits windows in time order and keeps validation clear of fit flows", () => {
    const model = trainModel(trainingFlows(1000, 1), options());
    // 96 windows at stride 10; 76 fit, the last ending at flow 800; validation windows start
    // at flow 800 or later: windows 80..95.
    expect(model.training.windows).toBe(96);
    expect(model.training.fitWindows).toBe(76);
    expect(model.training.validationWindows).toBe(16);
    expect(model.threshold.validationWindows).toBe(16);
    expect(model.threshold.quantile).toBe(0.01);
    expect(model.forest.maxSamples).toBe(76);
    expect(model.window).toEqual({ size: 50, stride: 50 });
  });

  it("gives a byte-identical file for the same data, seed and creation time", () => {
    const a = serializeModel(trainModel(trainingFlows(1500, 2), options({ seed: 7 })));
    const b = serializeModel(trainModel(trainingFlows(1500, 2), options({ seed: 7 })));
    const c = trainModel(trainingFlows(1500, 2), options({ seed: 8 }));
    expect(a).toBe(b);
    expect(JSON.parse(a).version).not.toBe(c.version);
  });

  it("gives the same version whenever it ran", () => {
    const a = trainModel(
      trainingFlows(1500, 2),
      options({ createdAt: "2026-01-01T00:00:00.000Z" }),
    );
    const b = trainModel(
      trainingFlows(1500, 2),
      options({ createdAt: "2026-06-01T00:00:00.000Z" }),
    );
    expect(a.version).toBe(b.version);
    expect(a.version).toMatch(/^[0-9a-f]{12}$/);
  });

  it("says how many windows it needs when there are too few", () => {
    expect(() => trainModel(trainingFlows(300, 3), options({ trainStride: 50 }))).toThrow(
      TrainingError,
    );
    expect(() => trainModel(trainingFlows(300, 3), options({ trainStride: 50 }))).toThrow(
      "too few training windows: 300 benign flows give 6 windows of 50 flows at train stride 50 " +
        "(4 to fit, 2 to validate); training needs at least 25 windows (20 to fit, 5 to validate), " +
        "about 1250 flows in one file — use a smaller --train-stride or more benign data",
    );
  });

  it("leaves labelled attack rows out of training and counts them", () => {
    const flows = new TrainingFlows(3);
    flows.add(flowBatch(1200, 4, { attackFrom: 1000 }));
    flows.endSequence();
    const model = trainModel(flows, options());
    expect(model.training.flows).toBe(1000);
    expect(model.training.flowsExcluded).toBe(200);
  });

  it("learns replacements for non-finite values and never drops a window for them", () => {
    const flows = new TrainingFlows(3);
    const batch = flowBatch(1000, 5);
    batch.values[1] = Number.POSITIVE_INFINITY;
    batch.values[4] = Number.NaN;
    flows.add(batch);
    flows.endSequence();
    const model = trainModel(flows, options());
    expect(model.training.valuesReplaced).toBe(2);
    expect(Number.isFinite(model.nonFinite.positiveInfinity[1]!)).toBe(true);

    const serving = flowBatch(500, 6);
    for (let i = 0; i < 500; i += 7) serving.values[i * 3 + 1] = Number.POSITIVE_INFINITY;
    serving.values[3] = Number.NaN;
    const session = new FlowScoringSession(model);
    const { scores } = session.push(serving);
    expect(scores.count).toBe(10);
    expect(session.valuesReplaced).toBe(73);
    for (let w = 0; w < scores.count; w++) expect(Number.isFinite(scores.decision[w]!)).toBe(true);
  });

  it("flags windows of an attack phase and not the benign ones around it", () => {
    const model = trainModel(trainingFlows(5000, 8), options());
    const session = new FlowScoringSession(model);
    const serving = flowBatch(1000, 9, { attackFrom: 500 });
    const { windows, scores } = session.push(serving);
    const flagged = Array.from(scores.anomaly);
    expect(flagged.slice(10)).toEqual(new Array(10).fill(1));
    expect(flagged.slice(0, 10).filter((a) => a === 1).length).toBeLessThanOrEqual(1);
    expect(Array.from(windows.attackFlows)).toEqual([
      ...new Array(10).fill(0),
      ...new Array(10).fill(50),
    ]);
  });
});

describe("WindowScorer", () => {
  it("equals scaling, the forest and the PCA applied step by step (seed profile)", () => {
    const model = trainModel(trainingFlows(3000, 10), options({ profile: "seed" }));
    const aggregator = new WindowAggregator(3, { size: 50, stride: 5 });
    const windows = aggregator.push(flowBatch(2000, 11, { attackFrom: 1500 }));
    const scored = new WindowScorer(model).score(windows);

    const scaled = windows.features.slice();
    applyRobustScaler(model.scaler, scaled, windows.count, windows.width);
    const reference = decisionFunction(model.forest, scaled, windows.count, windows.width);
    const pc = new Float64Array(2);
    let anomalies = 0;
    for (let w = 0; w < windows.count; w++) {
      expect(scored.decision[w]).toBe(reference[w]!);
      expect(scored.anomaly[w]).toBe(reference[w]! < model.threshold.value ? 1 : 0);
      projectRow(model.pca, scaled, w * windows.width, pc);
      expect(Math.abs(scored.pc1[w]! - pc[0]!)).toBeLessThan(1e-9 * (1 + Math.abs(pc[0]!)));
      expect(Math.abs(scored.pc2[w]! - pc[1]!)).toBeLessThan(1e-9 * (1 + Math.abs(pc[1]!)));
      anomalies += scored.anomaly[w]!;
    }
    expect(windows.count).toBe(391);
    expect(anomalies).toBeGreaterThan(50);
  });
});

describe("training profiles", () => {
  it("seed builds the prototype's pipeline: raw values, the forest alone, a format 1 file", () => {
    const model = trainModel(trainingFlows(1500, 13), options({ profile: "seed" }));
    expect(model.detection).toBeUndefined();
    expect(JSON.parse(serializeModel(model)).formatVersion).toBe(1);
  });

  it("default transforms, fuses Mahalanobis, keeps ECOD to explain, and records it all", () => {
    const model = trainModel(trainingFlows(1500, 13), options());
    const detection = model.detection!;
    expect(detection.transform).toBe("signed-log1p");
    expect(detection.thresholdMargin).toBe(2.25);
    expect(detection.mahalanobis!.whitening.length).toBe((12 * 13) / 2);
    expect(detection.ecod!.knots.length).toBe(12 * 257);
    expect(detection.fusion!.ecodVotes).toBe(false);
    expect(detection.guard).toBeNull();
    // The threshold sits 2.25 times the validation quantile's distance below the median.
    const { forestMedian, forestSpread, zThreshold } = detection.fusion!;
    expect(model.threshold.value).toBe(forestMedian + zThreshold * forestSpread);
    const text = serializeModel(model);
    expect(JSON.parse(text).formatVersion).toBe(2);
    expect(serializeModel(parseModel(text))).toBe(text);
  });

  it("picks the training stride from the window budget unless told", () => {
    // 3,000 flows, one sequence: (3000 - 50) / 5000 rounds down to 0, so stride 1.
    const { trainStride: _ignored, ...rest } = options();
    const model = trainModel(trainingFlows(3000, 14), rest);
    expect(model.training.trainStride).toBe(1);
    expect(model.training.windows).toBe(2951);
    const seed = trainModel(trainingFlows(3000, 14), { ...rest, profile: "seed" });
    expect(seed.training.trainStride).toBe(50);
    expect(seed.training.windows).toBe(60);
  });

  it("warns when the threshold rests on too few validation windows", () => {
    const warnings: string[] = [];
    const model = trainModel(
      trainingFlows(1500, 15),
      options({ trainStride: 50, onWarning: (m) => warnings.push(m) }),
    );
    // 30 windows at stride 50: fewer than FEW_TRAINING_WINDOWS; 24 fit, 6 validate;
    // 6 × 0.01 = 0.06 windows below the threshold.
    expect(warnings).toEqual([
      `trained on 30 windows, fewer than ${FEW_TRAINING_WINDOWS}: with this little benign ` +
        "traffic the false-alarm rate on a new day runs above what the lab measured " +
        "(docs/detection.md) — train on more benign flows or with a smaller --train-stride",
      "the threshold rests on 6 validation windows: at quantile 0.01 that is 0.1 windows below " +
        "it, fewer than 2; expect more false alarms than the validation rate says — train on " +
        "more benign flows or with a smaller --train-stride",
    ]);
    expect(model.training.warnings).toEqual(warnings);
    // A model without warnings records none (and keeps the bytes it had before warnings).
    const plenty = trainModel(trainingFlows(1500, 15), options({ trainStride: undefined }));
    expect(plenty.training.windows).toBeGreaterThanOrEqual(FEW_TRAINING_WINDOWS);
    expect("warnings" in plenty.training).toBe(false);
  });

  it("scores the same through the session as fused step by step", () => {
    const model = trainModel(trainingFlows(3000, 16), options());
    const session = new FlowScoringSession(model);
    const { scores } = session.push(flowBatch(1000, 17, { attackFrom: 500 }));
    const fusion = model.detection!.fusion!;
    const d = scores.detectors!;
    expect(d.ecod).toBeNull();
    for (let w = 0; w < scores.count; w++) {
      const zf = (d.forest[w]! - fusion.forestMedian) / fusion.forestSpread;
      const zm = (fusion.mahalanobisMedian - d.mahalanobis![w]!) / fusion.mahalanobisSpread;
      const t = fusion.zThreshold;
      const squashed = zm < t ? t - Math.log1p(t - zm) : zm;
      const expected =
        zf <= squashed ? d.forest[w]! : fusion.forestMedian + squashed * fusion.forestSpread;
      expect(scores.decision[w]).toBe(expected);
      expect(scores.anomaly[w]).toBe(expected < model.threshold.value ? 1 : 0);
    }
    expect(Array.from(scores.anomaly.slice(10))).toEqual(new Array(10).fill(1));
  });
});

describe("model file", () => {
  const model = trainModel(trainingFlows(1200, 12), options({ profile: "seed" }));
  const fused = trainModel(trainingFlows(1200, 12), options());
  const text = serializeModel(model);

  it("round-trips to the same bytes", () => {
    const parsed: FloodwatchModel = parseModel(text);
    expect(serializeModel(parsed)).toBe(text);
    expect(parsed.features).toEqual(FEATURES);
  });

  const broken = (mutate: (doc: Record<string, any>) => void): string => {
    const doc = JSON.parse(text) as Record<string, any>;
    mutate(doc);
    return JSON.stringify(doc);
  };

  it.each([
    ["not JSON", "{ nope", /^model file is not JSON/],
    ["a foreign document", JSON.stringify({ hello: "world" }), /^not a floodwatch model file/],
    [
      "a newer format",
      broken((d) => (d.formatVersion = 99)),
      /^invalid model file at formatVersion/,
    ],
    ["a missing forest", broken((d) => delete d.forest), /^invalid model file at forest/],
    [
      "a short scaler",
      broken((d) => d.scaler.center.pop()),
      /scaler.center has 11 entries, expected 12/,
    ],
    [
      "a child pointing backwards",
      broken((d) => {
        const node = (d.forest.feature as number[]).findIndex((f) => f >= 0);
        d.forest.left[node] = node;
      }),
      /children outside its tree/,
    ],
    [
      "a detection section in a format 1 file",
      broken((d) => (d.detection = JSON.parse(serializeModel(fused)).detection)),
      /a format 1 file cannot have a detection section/,
    ],
    [
      "ECOD knots out of order",
      (() => {
        const doc = JSON.parse(serializeModel(fused)) as Record<string, any>;
        doc.detection.ecod.knots[1] = -1e300;
        return JSON.stringify(doc);
      })(),
      /detection.ecod.knots of dimension 0 not ascending/,
    ],
    [
      "stride above size",
      broken((d) => (d.window.stride = 60)),
      /window.stride 60 exceeds window.size 50/,
    ],
  ])("refuses %s with a clear error", (_name, input, message) => {
    expect(() => parseModel(input)).toThrow(ModelFileError);
    expect(() => parseModel(input)).toThrow(message);
  });
});
