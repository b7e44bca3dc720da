import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { applyFlowTransform, signedLog1p } from "./flow-transform.ts";
import { generateFlowCsv } from "./generator/index.ts";
import { parseModel, serializeModel } from "./model-file.ts";
import { scoreFlowCsv } from "./flow-scoring.ts";
import {
  ECOD_KNOTS,
  EcodScorer,
  fitEcod,
  fitMahalanobis,
  fitRangeGuard,
  fusedZ,
  mahalanobisContributions,
  mahalanobisDistance,
  rangeExcess,
  type DetectorFusion,
} from "./window-detectors.ts";

describe("signed log1p", () => {
  it("is odd, 0 at 0, and compresses orders of magnitude to equal steps", () => {
    expect(signedLog1p(0)).toBe(0);
    expect(signedLog1p(-9)).toBe(-Math.log(10));
    expect(signedLog1p(99)).toBe(Math.log1p(99));
    const values = Float64Array.of(0, 9, -9, 1e9);
    applyFlowTransform("signed-log1p", values, 2, 2);
    expect(Array.from(values)).toEqual([0, Math.log1p(9), -Math.log1p(9), Math.log1p(1e9)]);
    const untouched = Float64Array.of(1e9, -3);
    applyFlowTransform("none", untouched, 1, 2);
    expect(Array.from(untouched)).toEqual([1e9, -3]);
  });
});

/** 200 windows of 2 dimensions: the first uniform on 0..199, the second twice the first. */
function correlated(): Float64Array {
  const x = new Float64Array(400);
  for (let r = 0; r < 200; r++) {
    x[2 * r] = r;
    x[2 * r + 1] = 2 * r;
  }
  return x;
}

describe("ECOD", () => {
  const model = fitEcod(correlated(), 200, 2);
  const scorer = new EcodScorer(model, 2);

  it("keeps 257 quantile knots per dimension, from the minimum to the maximum", () => {
    expect(model.knots.length).toBe(2 * ECOD_KNOTS);
    expect(model.knots[0]).toBe(0);
    expect(model.knots[ECOD_KNOTS - 1]).toBe(199);
    expect(model.knots[ECOD_KNOTS]).toBe(0);
    expect(model.knots[2 * ECOD_KNOTS - 1]).toBe(398);
  });

  it("scores the tails above the middle and saturates beyond the range", () => {
    const middle = scorer.score(Float64Array.of(100, 200), 0);
    const edge = scorer.score(Float64Array.of(199, 398), 0);
    const beyond = scorer.score(Float64Array.of(1e6, 2e6), 0);
    expect(edge).toBeGreaterThan(middle + 5);
    // Beyond the last knot the tail probability is 1 / 258 in each dimension: 2 ln 258.
    expect(beyond).toBeCloseTo(2 * Math.log(258), 12);
  });

  it("gives per-dimension contributions that sum to the score", () => {
    const terms = new Float64Array(2);
    const window = Float64Array.of(1e6, 100);
    const score = scorer.score(window, 0, terms);
    expect(terms[0]).toBeCloseTo(Math.log(258), 12);
    expect(terms[0]! + terms[1]!).toBeCloseTo(score, 12);
    expect(terms[0]).toBeGreaterThan(terms[1]! + 4);
  });
});

describe("Mahalanobis", () => {
  it("sees statistics that move apart, not only far", () => {
    const model = fitMahalanobis(correlated(), 200, 2);
    const scratch = new Float64Array(4);
    const along = mahalanobisDistance(model, Float64Array.of(150, 300), 0, scratch);
    const apart = mahalanobisDistance(model, Float64Array.of(100, 300), 0, scratch);
    expect(model.mean[0]).toBe(99.5);
    // (150, 300) is 50 further along the line the windows lie on; (100, 300) is as far off it.
    // The 5% shrinkage caps how sure the detector is of any correlation, hence 10×, not 1000×.
    expect(along).toBeLessThan(0.8);
    expect(apart).toBeGreaterThan(10 * along);
    const shares = mahalanobisContributions(model, Float64Array.of(100, 300), 0);
    expect(shares[0]! + shares[1]!).toBeCloseTo(apart, 9);
  });
});

describe("Mahalanobis distance, four rows at a time", () => {
  /** The plain row-by-row product: the order of additions every model was calibrated with. */
  function rowByRow(mean: Float64Array, whitening: Float64Array, x: Float64Array): number {
    const d = Array.from(mean, (m, j) => x[j]! - m);
    let total = 0;
    let p = 0;
    for (let i = 0; i < mean.length; i++) {
      let row = 0;
      for (let j = 0; j <= i; j++) row += whitening[p++]! * d[j]!;
      total += row * row;
    }
    return total;
  }

  /** `dᵢ (Wᵀ W d)ᵢ` with one running sum per row, as the contributions were first written. */
  function plainShares(mean: Float64Array, whitening: Float64Array, x: Float64Array): number[] {
    const width = mean.length;
    const d = Array.from(mean, (m, j) => x[j]! - m);
    const y = new Array<number>(width).fill(0);
    let p = 0;
    for (let i = 0; i < width; i++)
      for (let j = 0; j <= i; j++) y[i] = y[i]! + whitening[p++]! * d[j]!;
    const pd = new Array<number>(width).fill(0);
    p = 0;
    for (let i = 0; i < width; i++)
      for (let j = 0; j <= i; j++) pd[j] = pd[j]! + whitening[p++]! * y[i]!;
    return pd.map((v, j) => v * d[j]!);
  }

  it("equals the row-by-row product to the bit, at every width", () => {
    let seed = 11;
    const random = () => {
      seed = (seed * 1103515245 + 12345) % 2147483648;
      return seed / 2147483648 - 0.5;
    };
    for (const width of [1, 2, 3, 4, 5, 7, 8, 13, 100, 101]) {
      const mean = Float64Array.from({ length: width }, () => random() * 1e3);
      const whitening = Float64Array.from({ length: (width * (width + 1)) / 2 }, () => random());
      const scratch = new Float64Array(2 * width);
      // The buffers an explainer reuses from window to window: left dirty by the trial before.
      const out = new Float64Array(width);
      for (let trial = 0; trial < 20; trial++) {
        const x = Float64Array.from({ length: width }, () => random() * 1e4);
        const fast = mahalanobisDistance({ mean, whitening }, x, 0, scratch);
        expect(fast, `width ${width}`).toBe(rowByRow(mean, whitening, x));
        const shares = mahalanobisContributions({ mean, whitening }, x, 0);
        const plain = plainShares(mean, whitening, x);
        for (let j = 0; j < width; j++) {
          expect(shares[j]!, `width ${width}, dimension ${j}`).toBeCloseTo(plain[j]!, 6);
        }
        const reused = mahalanobisContributions({ mean, whitening }, x, 0, out, scratch);
        expect(reused).toBe(out);
        expect(Array.from(reused)).toEqual(Array.from(shares));
      }
    }
  });
});

describe("range guard", () => {
  it("measures the excess beyond the training range in spans, at least 1 unit wide", () => {
    const x = Float64Array.of(0, 5, 4, 5.5);
    const guard = fitRangeGuard(x, 2, 2, 1);
    expect(Array.from(guard.span)).toEqual([4, 1]);
    expect(rangeExcess(guard, Float64Array.of(2, 5.2), 0)).toBe(0);
    expect(rangeExcess(guard, Float64Array.of(12, 5.2), 0)).toBe(2);
    expect(rangeExcess(guard, Float64Array.of(2, 2), 0)).toBe(3);
  });
});

describe("fusedZ", () => {
  const fusion: DetectorFusion = {
    forestMedian: 0.1,
    forestSpread: 0.05,
    ecodVotes: true,
    ecodMedian: 100,
    ecodSpread: 10,
    mahalanobisMedian: 50,
    mahalanobisSpread: 25,
    zThreshold: -2,
  };

  it("takes the most alarmed detector, compressing the others only below the threshold", () => {
    expect(fusedZ(fusion, 0.05, 90, 25, 0, 0)).toBe(-1);
    expect(fusedZ(fusion, 0.1, 115, 25, 0, 0)).toBe(-1.5);
    // Mahalanobis 1e6: z = -39998 raw, -2 - ln(39997) after compression.
    expect(fusedZ(fusion, 0.1, 100, 1e6, 0, 0)).toBe(-2 - Math.log1p(39996));
    expect(fusedZ(fusion, 0.1, null, null, 0, 0)).toBe(0);
    // The guard reaches the threshold at its margin.
    expect(fusedZ(fusion, 0.1, null, null, 1, 1)).toBe(-2);
  });
});

describe("a format 1 model file (the default model shipped before format 2)", () => {
  const text = readFileSync(new URL("./fixtures/model-format-1.json", import.meta.url), "utf8");

  it("round-trips to the same bytes and keeps its version", () => {
    const model = parseModel(text);
    expect(model.detection).toBeUndefined();
    expect(serializeModel(model)).toBe(text);
    expect(model.version).toBe(JSON.parse(text).version);
  });

  it("scores exactly as the format 1 code did", async () => {
    const model = parseModel(text);
    const csv = [...generateFlowCsv({ flows: 3000, attack: "syn", seed: 5 })].join("");
    const decisions: number[] = [];
    let anomalies = 0;
    await scoreFlowCsv([csv], model, ({ scores }) => {
      expect(scores.detectors).toBeUndefined();
      for (let w = 0; w < scores.count; w++) {
        decisions.push(scores.decision[w]!);
        anomalies += scores.anomaly[w]!;
      }
    });
    // Printed by the format 1 code (commit 8b106d5) on the same input.
    expect(decisions.length).toBe(60);
    expect(anomalies).toBe(18);
    expect(decisions.slice(0, 4)).toEqual([
      0.0797111111023156, 0.07030401420775423, 0.09667051425495499, 0.09033492544762467,
    ]);
    expect(decisions[30]).toBe(-0.1105572684352798);
  });
});
