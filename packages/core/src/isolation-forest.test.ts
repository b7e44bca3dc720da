import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  averagePathLength,
  decisionFunction,
  fitIsolationForest,
  scoreSamples,
  type IsolationForestModel,
} from "./isolation-forest.ts";
import { createPrng, type Prng } from "./prng.ts";

function gaussian(prng: Prng): number {
  // 1 - u keeps the logarithm's argument in (0, 1].
  const u = 1 - prng.nextFloat();
  const v = prng.nextFloat();
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
}

function gaussianRows(prng: Prng, rows: number, cols: number, shift = 0): Float64Array {
  const x = new Float64Array(rows * cols);
  for (let i = 0; i < x.length; i++) x[i] = gaussian(prng) + shift;
  return x;
}

function leafOf(model: IsolationForestModel, tree: number, x: Float64Array, base: number): number {
  let node = model.treeOffsets[tree]!;
  while (model.feature[node]! >= 0) {
    const f = model.feature[node]!;
    node = x[base + f]! <= model.threshold[node]! ? model.left[node]! : model.right[node]!;
  }
  return node;
}

interface TreeWalk {
  maxDepth: number;
  depthOf: Int32Array;
  visits: Int32Array;
}

/** Walks every tree from its root and checks the links, returning each node's depth. */
function walkForest(model: IsolationForestModel): TreeWalk {
  const total = model.feature.length;
  const depthOf = new Int32Array(total).fill(-1);
  const visits = new Int32Array(total);
  let maxDepth = 0;
  for (let t = 0; t < model.nEstimators; t++) {
    const first = model.treeOffsets[t]!;
    const last = model.treeOffsets[t + 1]!;
    const stack = [first];
    depthOf[first] = 0;
    while (stack.length > 0) {
      const node = stack.pop()!;
      visits[node]! += 1;
      const depth = depthOf[node]!;
      maxDepth = Math.max(maxDepth, depth);
      if (model.feature[node] === -1) {
        expect(model.left[node]).toBe(-1);
        expect(model.right[node]).toBe(-1);
        continue;
      }
      expect(model.leafValue[node]).toBe(0);
      const l = model.left[node]!;
      const r = model.right[node]!;
      expect(l).toBe(node + 1);
      expect(r).toBeGreaterThan(l);
      expect(r).toBeLessThan(last);
      depthOf[l] = depth + 1;
      depthOf[r] = depth + 1;
      stack.push(r, l);
    }
  }
  return { maxDepth, depthOf, visits };
}

/** With maxSamples = rows every row trains every tree, so leaf sizes are observable. */
function leafCounts(model: IsolationForestModel, x: Float64Array, rows: number): Int32Array {
  const counts = new Int32Array(model.feature.length);
  const cols = model.featureCount;
  for (let t = 0; t < model.nEstimators; t++) {
    for (let r = 0; r < rows; r++) counts[leafOf(model, t, x, r * cols)]! += 1;
  }
  return counts;
}

function rocAuc(scores: Float64Array, positive: Uint8Array): number {
  // Mann–Whitney U with midranks for ties.
  const order = Array.from(scores.keys()).sort((a, b) => scores[a]! - scores[b]!);
  const ranks = new Float64Array(scores.length);
  for (let i = 0; i < order.length;) {
    let j = i;
    while (j + 1 < order.length && scores[order[j + 1]!] === scores[order[i]!]) j++;
    for (let k = i; k <= j; k++) ranks[order[k]!] = (i + j) / 2 + 1;
    i = j + 1;
  }
  let positives = 0;
  let rankSum = 0;
  for (let i = 0; i < scores.length; i++) {
    if (positive[i] === 1) {
      positives++;
      rankSum += ranks[i]!;
    }
  }
  const negatives = scores.length - positives;
  return (rankSum - (positives * (positives + 1)) / 2) / (positives * negatives);
}

describe("averagePathLength", () => {
  it("matches scikit-learn's _average_path_length", () => {
    expect(averagePathLength(0)).toBe(0);
    expect(averagePathLength(1)).toBe(0);
    expect(averagePathLength(2)).toBe(1);
    expect(averagePathLength(3)).toBeCloseTo(1.207392357589623, 14);
    expect(averagePathLength(100)).toBeCloseTo(8.364671030072245, 14);
    expect(averagePathLength(256)).toBeCloseTo(10.24477, 5);
    expect(averagePathLength(256)).toBeCloseTo(10.244770920119917, 13);
  });
});

describe("fitIsolationForest", () => {
  const prng = createPrng(7);
  const blob = gaussianRows(prng, 500, 2);

  it("gives identical arrays for the same data and seed, and different ones for another seed", () => {
    const a = fitIsolationForest(blob, 500, 2, { seed: 42 });
    const b = fitIsolationForest(blob, 500, 2, { seed: 42 });
    const c = fitIsolationForest(blob, 500, 2, { seed: 43 });
    expect(b).toEqual(a);
    expect(c.threshold).not.toEqual(a.threshold);
  });

  it("uses the defaults of 100 trees and 256 samples", () => {
    const model = fitIsolationForest(blob, 500, 2, { seed: 1 });
    expect(model.nEstimators).toBe(100);
    expect(model.maxSamples).toBe(256);
    expect(model.featureCount).toBe(2);
    expect(model.treeOffsets.length).toBe(101);
    expect(model.treeOffsets[0]).toBe(0);
    expect(model.treeOffsets[100]).toBe(model.feature.length);
    for (const arr of [model.threshold, model.left, model.right, model.leafValue]) {
      expect(arr.length).toBe(model.feature.length);
    }
  });

  it("keeps trees within the height limit and every node reachable exactly once", () => {
    const model = fitIsolationForest(blob, 500, 2, { seed: 3, nEstimators: 30, maxSamples: 200 });
    const { maxDepth, depthOf, visits } = walkForest(model);
    // ceil(log2(200)) = 8; 200 gaussian rows always need the full height somewhere.
    expect(maxDepth).toBe(8);
    expect(visits.every((v) => v === 1)).toBe(true);
    for (let node = 0; node < model.feature.length; node++) {
      if (model.feature[node] !== -1) continue;
      const remainder = model.leafValue[node]! - depthOf[node]!;
      // c(size) >= 0; leaves above the limit hold one row, so c = 0 there.
      expect(remainder).toBeGreaterThanOrEqual(0);
      if (depthOf[node]! < 8) expect(remainder).toBe(0);
    }
  });

  it("stores depth + c(leaf size) at every leaf and leaves no leaf empty", () => {
    const rows = 60;
    const x = gaussianRows(createPrng(11), rows, 3);
    const model = fitIsolationForest(x, rows, 3, { seed: 5, nEstimators: 20, maxSamples: rows });
    const counts = leafCounts(model, x, rows);
    const { depthOf } = walkForest(model);
    let leaves = 0;
    for (let node = 0; node < model.feature.length; node++) {
      if (model.feature[node] !== -1) continue;
      leaves++;
      expect(counts[node]).toBeGreaterThanOrEqual(1);
      expect(model.leafValue[node]).toBe(depthOf[node]! + averagePathLength(counts[node]!));
    }
    // Each internal node has two children, so nodes = 2 * leaves - trees.
    expect(model.feature.length).toBe(2 * leaves - 20);
  });

  it("never splits on a constant column", () => {
    const rows = 300;
    const values = createPrng(9);
    const x = new Float64Array(rows * 3);
    for (let r = 0; r < rows; r++) {
      x[r * 3] = 5;
      x[r * 3 + 1] = gaussian(values);
      x[r * 3 + 2] = -1;
    }
    const model = fitIsolationForest(x, rows, 3, { seed: 2, nEstimators: 25 });
    for (const f of model.feature) {
      if (f !== -1) expect(f).toBe(1);
    }
    // The varying column is always there to split on, so no tree may stop at its root.
    for (let t = 0; t < 25; t++) expect(model.feature[model.treeOffsets[t]!]).toBe(1);
  });

  it("makes each tree a single leaf when every column is constant, scoring exactly -0.5", () => {
    const x = new Float64Array(40).fill(3);
    const model = fitIsolationForest(x, 20, 2, { seed: 1, nEstimators: 10 });
    expect(Array.from(model.treeOffsets)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    expect(Array.from(model.feature)).toEqual(new Array<number>(10).fill(-1));
    expect(model.leafValue[0]).toBe(averagePathLength(20));
    expect(Array.from(scoreSamples(model, x, 20, 2))).toEqual(new Array<number>(20).fill(-0.5));
    expect(decisionFunction(model, x, 20, 2)[0]).toBe(0);
  });

  it("caps maxSamples at the number of rows", () => {
    const model = fitIsolationForest(blob.subarray(0, 100), 50, 2, { seed: 4, maxSamples: 256 });
    expect(model.maxSamples).toBe(50);
    // ceil(log2(50)) = 6
    expect(walkForest(model).maxDepth).toBeLessThanOrEqual(6);
  });

  it("handles the smallest inputs", () => {
    const two = fitIsolationForest(new Float64Array([0, 1]), 2, 1, { seed: 1, nEstimators: 3 });
    // Two distinct rows: the root splits between them and both leaves sit at depth 1.
    expect(Array.from(two.feature)).toEqual([0, -1, -1, 0, -1, -1, 0, -1, -1]);
    expect(Array.from(two.leafValue)).toEqual([0, 1, 1, 0, 1, 1, 0, 1, 1]);
    expect(Array.from(scoreSamples(two, new Float64Array([0, 1]), 2, 1))).toEqual([-0.5, -0.5]);

    // A one-row subsample: c(1) = 0, which scikit-learn resolves to a score of -0.5.
    const one = fitIsolationForest(blob, 500, 2, { seed: 1, nEstimators: 4, maxSamples: 1 });
    expect(Array.from(one.feature)).toEqual([-1, -1, -1, -1]);
    expect(Array.from(scoreSamples(one, blob, 3, 2))).toEqual([-0.5, -0.5, -0.5]);
  });

  it("rejects bad shapes, options and values with a RangeError naming the problem", () => {
    const x = new Float64Array([1, 2, 3, 4]);
    expect(() => fitIsolationForest(x, 1, 4, { seed: 1 })).toThrow(/rows must be an integer >= 2/);
    expect(() => fitIsolationForest(x, 4, 0, { seed: 1 })).toThrow(/cols must be an integer >= 1/);
    expect(() => fitIsolationForest(x, 3, 2, { seed: 1 })).toThrow(RangeError);
    expect(() => fitIsolationForest(x, 2, 2, { seed: 1, nEstimators: 0 })).toThrow(/nEstimators/);
    expect(() => fitIsolationForest(x, 2, 2, { seed: 1, maxSamples: 1.5 })).toThrow(/maxSamples/);
    const bad = new Float64Array([1, 2, 3, Number.NaN]);
    expect(() => fitIsolationForest(bad, 2, 2, { seed: 1 })).toThrow(/row 1, column 1/);
  });

  it("holds its structural invariants on arbitrary small datasets", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 2, max: 40 }),
        fc.integer({ min: 1, max: 4 }),
        fc.integer({ min: 1, max: 64 }),
        fc.integer(),
        (rows, cols, maxSamples, seed) => {
          // Few distinct values, so ties and constant columns are common.
          const draw = createPrng(seed);
          const x = new Float64Array(rows * cols);
          for (let i = 0; i < x.length; i++) x[i] = draw.nextInt(3);
          const model = fitIsolationForest(x, rows, cols, { seed, nEstimators: 5, maxSamples });
          const m = Math.min(maxSamples, rows);
          expect(model.maxSamples).toBe(m);
          const { maxDepth, visits } = walkForest(model);
          expect(maxDepth).toBeLessThanOrEqual(Math.ceil(Math.log2(Math.max(m, 2))));
          expect(visits.every((v) => v === 1)).toBe(true);
          for (let t = 0; t < 5; t++) {
            expect(model.treeOffsets[t + 1]! - model.treeOffsets[t]!).toBeLessThanOrEqual(
              2 * m - 1,
            );
          }
          for (let node = 0; node < model.feature.length; node++) {
            const f = model.feature[node]!;
            if (f < 0) continue;
            // A split's threshold must leave a training value on each side, so it lies in
            // [min, max) of the column.
            expect(model.threshold[node]).toBeGreaterThanOrEqual(0);
            expect(model.threshold[node]).toBeLessThan(2);
          }
          expect(fitIsolationForest(x, rows, cols, { seed, nEstimators: 5, maxSamples })).toEqual(
            model,
          );
        },
      ),
      { numRuns: 200, seed: 20240601 },
    );
  });
});

describe("scoreSamples and decisionFunction", () => {
  const rows = 500;
  const prng = createPrng(21);
  const blob = gaussianRows(prng, rows, 2);
  const model = fitIsolationForest(blob, rows, 2, { seed: 8 });

  it("scores an obvious outlier below every inlier", () => {
    const scores = scoreSamples(model, blob, rows, 2);
    const outlier = scoreSamples(model, new Float64Array([8, 8]), 1, 2)[0]!;
    const lowestInlier = Math.min(...scores);
    expect(outlier).toBeLessThan(lowestInlier);
    expect(decisionFunction(model, new Float64Array([8, 8]), 1, 2)[0]).toBeLessThan(0);
  });

  it("keeps scores in [-1, 0] and decision = score + 0.5 exactly", () => {
    const probe = gaussianRows(createPrng(99), 200, 2, 0);
    for (let i = 0; i < 20; i++) probe[i] = (i - 10) * 100;
    const scores = scoreSamples(model, probe, 200, 2);
    const decisions = decisionFunction(model, probe, 200, 2);
    for (let i = 0; i < 200; i++) {
      expect(scores[i]).toBeGreaterThanOrEqual(-1);
      expect(scores[i]).toBeLessThanOrEqual(0);
      expect(decisions[i]).toBe(scores[i]! + 0.5);
    }
  });

  it("writes into the given buffer and scores rows independently", () => {
    const out = new Float64Array(rows + 3).fill(7);
    const returned = scoreSamples(model, blob, rows, 2, out);
    expect(returned).toBe(out);
    expect(out[rows]).toBe(7);
    const single = new Float64Array(1);
    scoreSamples(model, blob.subarray(2 * 123, 2 * 124), 1, 2, single);
    expect(single[0]).toBe(out[123]);
  });

  it("rejects a column count or buffer that does not fit", () => {
    expect(() => scoreSamples(model, blob, 10, 3)).toThrow(/trained on 2 columns, got 3/);
    expect(() => scoreSamples(model, blob, rows + 1, 2)).toThrow(RangeError);
    expect(() => scoreSamples(model, blob, 10, 2, new Float64Array(9))).toThrow(/output holds 9/);
  });

  it("separates shifted outliers from 10-D gaussian inliers with ROC AUC above 0.95", () => {
    const cols = 10;
    const inliers = 2000;
    const outliers = 50;
    const data = createPrng(1234);
    const x = new Float64Array((inliers + outliers) * cols);
    x.set(gaussianRows(data, inliers, cols));
    // Shifted by 2 standard deviations in every dimension: far in total, but each coordinate on
    // its own stays within the inliers' range.
    x.set(gaussianRows(data, outliers, cols, 2), inliers * cols);
    const isOutlier = new Uint8Array(inliers + outliers).fill(1, inliers);
    const forest = fitIsolationForest(x, inliers + outliers, cols, { seed: 77 });
    const scores = scoreSamples(forest, x, inliers + outliers, cols);
    const anomaly = scores.map((s) => -s);
    expect(rocAuc(anomaly, isOutlier)).toBeGreaterThan(0.95);
  });
});

describe("rocAuc helper", () => {
  it("gives 1 for perfect separation, 0.5 for all ties and 0 for reversed", () => {
    const labels = new Uint8Array([0, 0, 1, 1]);
    expect(rocAuc(new Float64Array([0, 1, 2, 3]), labels)).toBe(1);
    expect(rocAuc(new Float64Array([1, 1, 1, 1]), labels)).toBe(0.5);
    expect(rocAuc(new Float64Array([3, 2, 1, 0]), labels)).toBe(0);
  });
});
