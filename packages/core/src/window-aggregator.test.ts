import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { createPrng } from "./prng.ts";
import {
  DEFAULT_WINDOW_SPEC,
  WINDOW_STATISTICS,
  WindowAggregator,
  aggregateWindowsNaive,
  validateWindowSpec,
  windowCount,
  windowFeatureNames,
  type FlowBatch,
  type WindowBatch,
  type WindowSpec,
} from "./window-aggregator.ts";

/** Builds a batch from rows of feature values; lines and attack flags default to 1.. and 0. */
function flowBatch(rows: readonly (readonly number[])[], lines?: number[], attack?: number[]) {
  const featureCount = rows[0]?.length ?? 1;
  const batch: FlowBatch = {
    count: rows.length,
    featureCount,
    values: Float64Array.from(rows.flat()),
    lines: Uint32Array.from(lines ?? rows.map((_, i) => i + 1)),
    attack: Uint8Array.from(attack ?? rows.map(() => 0)),
  };
  return batch;
}

/** The flows `[from, to)` of `batch` as a batch of their own (views, no copy). */
function sliceBatch(batch: FlowBatch, from: number, to: number): FlowBatch {
  const fcount = batch.featureCount;
  return {
    count: to - from,
    featureCount: fcount,
    values: batch.values.subarray(from * fcount, to * fcount),
    lines: batch.lines.subarray(from, to),
    attack: batch.attack.subarray(from, to),
  };
}

/** Pushes `batch` split at `cuts` (sorted flow offsets) and concatenates the closed windows. */
function pushInPieces(aggregator: WindowAggregator, batch: FlowBatch, cuts: number[]) {
  const pieces: WindowBatch[] = [];
  let from = 0;
  for (const cut of [...cuts, batch.count]) {
    pieces.push(aggregator.push(sliceBatch(batch, from, cut)));
    from = cut;
  }
  const concat = <T extends Float64Array | Int32Array>(pick: (w: WindowBatch) => T, make: T) => {
    let offset = 0;
    for (const piece of pieces) {
      make.set(pick(piece), offset);
      offset += pick(piece).length;
    }
    return make;
  };
  const count = pieces.reduce((n, w) => n + w.count, 0);
  const width = pieces[0]?.width ?? 0;
  return {
    count,
    width,
    features: concat((w) => w.features, new Float64Array(count * width)),
    index: concat((w) => w.index, new Float64Array(count)),
    firstLine: concat((w) => w.firstLine, new Float64Array(count)),
    lastLine: concat((w) => w.lastLine, new Float64Array(count)),
    attackFlows: concat((w) => w.attackFlows, new Int32Array(count)),
  } satisfies WindowBatch;
}

/** Row `w` of a window batch as [mean, std, min, max] per feature. */
function windowRow(windows: WindowBatch, w: number): number[] {
  return Array.from(windows.features.subarray(w * windows.width, (w + 1) * windows.width));
}

/** Asserts one window's statistics: min and max exactly, mean and std to 12 digits. */
function expectStatistics(actual: number[], expected: number[]): void {
  expect(actual).toHaveLength(expected.length);
  expected.forEach((value, i) => {
    if (i % 4 >= 2) expect(actual[i], `column ${i}`).toBe(value);
    else expect(actual[i], `column ${i}`).toBeCloseTo(value, 12);
  });
}

// Seven flows of two features; lines skip 4 (a rejected row) to show lines are carried, not
// counted.
const tinyRows = [
  [1, 10],
  [2, 10],
  [6, 10],
  [4, -1],
  [4, 1],
  [4, 3],
  [0, 0],
];
const tinyLines = [2, 3, 5, 6, 7, 8, 9];
const tinyAttack = [0, 1, 1, 0, 0, 1, 0];

describe("validateWindowSpec", () => {
  it("accepts the default and the boundary geometries", () => {
    expect(() => validateWindowSpec(DEFAULT_WINDOW_SPEC)).not.toThrow();
    expect(() => validateWindowSpec({ size: 2, stride: 1 })).not.toThrow();
    expect(() => validateWindowSpec({ size: 2, stride: 2 })).not.toThrow();
  });

  it.each([
    [{ size: 1, stride: 1 }, /window size must be an integer >= 2, got 1/],
    [{ size: 0, stride: 1 }, /window size .* got 0/],
    [{ size: 2.5, stride: 1 }, /window size .* got 2\.5/],
    [{ size: Number.NaN, stride: 1 }, /window size .* got NaN/],
    [
      { size: 10, stride: 0 },
      /window stride must be an integer from 1 to the window size \(10\), got 0/,
    ],
    [{ size: 10, stride: 11 }, /window stride .* got 11/],
    [{ size: 10, stride: 1.5 }, /window stride .* got 1\.5/],
    [{ size: 10, stride: -1 }, /window stride .* got -1/],
  ])("rejects %o", (spec, message) => {
    expect(() => validateWindowSpec(spec)).toThrow(RangeError);
    expect(() => validateWindowSpec(spec)).toThrow(message);
  });

  it("guards the constructor and windowCount too", () => {
    expect(() => new WindowAggregator(2, { size: 1, stride: 1 })).toThrow(/window size/);
    expect(() => windowCount(10, { size: 5, stride: 6 })).toThrow(/window stride/);
    expect(() => new WindowAggregator(0, DEFAULT_WINDOW_SPEC)).toThrow(/featureCount/);
    expect(() => new WindowAggregator(2, DEFAULT_WINDOW_SPEC, { firstWindowIndex: -1 })).toThrow(
      /firstWindowIndex/,
    );
  });
});

describe("windowFeatureNames", () => {
  it("names each statistic of each feature in vector order", () => {
    expect(WINDOW_STATISTICS).toEqual(["mean", "std", "min", "max"]);
    expect(windowFeatureNames(["Flow Duration", "Total Fwd Packets"])).toEqual([
      "Flow Duration:mean",
      "Flow Duration:std",
      "Flow Duration:min",
      "Flow Duration:max",
      "Total Fwd Packets:mean",
      "Total Fwd Packets:std",
      "Total Fwd Packets:min",
      "Total Fwd Packets:max",
    ]);
  });
});

describe("windowCount", () => {
  it.each([
    [0, { size: 3, stride: 3 }, 0],
    [2, { size: 3, stride: 3 }, 0],
    [3, { size: 3, stride: 3 }, 1],
    [5, { size: 3, stride: 3 }, 1],
    [6, { size: 3, stride: 3 }, 2],
    [7, { size: 3, stride: 1 }, 5],
    [10, { size: 4, stride: 3 }, 3],
    [99, { size: 50, stride: 50 }, 1],
    [100, { size: 50, stride: 50 }, 2],
    [100, { size: 50, stride: 1 }, 51],
  ])("%i flows with %o give %i windows", (flows, spec, expected) => {
    expect(windowCount(flows, spec)).toBe(expected);
  });
});

describe("WindowAggregator on a hand-computed example", () => {
  it("tumbling size 3 stride 3", () => {
    const aggregator = new WindowAggregator(2, { size: 3, stride: 3 });
    const windows = aggregator.push(flowBatch(tinyRows, tinyLines, tinyAttack));

    expect(windows.count).toBe(2);
    expect(windows.width).toBe(8);
    // Flows 0..2: f0 = 1, 2, 6 (mean 3, squared deviations 4 + 1 + 9 = 14); f1 constant 10.
    expectStatistics(windowRow(windows, 0), [3, Math.sqrt(7), 1, 6, 10, 0, 10, 10]);
    // Flows 3..5: f0 constant 4; f1 = -1, 1, 3 (mean 1, squared deviations 8, std 2).
    expectStatistics(windowRow(windows, 1), [4, 0, 4, 4, 1, 2, -1, 3]);
    expect(Array.from(windows.index)).toEqual([0, 1]);
    expect(Array.from(windows.firstLine)).toEqual([2, 6]);
    expect(Array.from(windows.lastLine)).toEqual([5, 8]);
    expect(Array.from(windows.attackFlows)).toEqual([2, 1]);
    expect(aggregator.flowsSeen).toBe(7);
    expect(aggregator.windowsClosed).toBe(2);
    expect(aggregator.tailFlows).toBe(1);
  });

  it("sliding size 3 stride 1", () => {
    const aggregator = new WindowAggregator(2, { size: 3, stride: 1 });
    const windows = aggregator.push(flowBatch(tinyRows, tinyLines, tinyAttack));

    expect(windows.count).toBe(5);
    // Flows 0..2 as above.
    expectStatistics(windowRow(windows, 0), [3, Math.sqrt(7), 1, 6, 10, 0, 10, 10]);
    // Flows 1..3: f0 = 2, 6, 4 (mean 4, sq. dev. 8); f1 = 10, 10, -1 (mean 19/3, sq. dev. 726/9).
    expectStatistics(windowRow(windows, 1), [4, 2, 2, 6, 19 / 3, Math.sqrt(121 / 3), -1, 10]);
    // Flows 2..4: f0 = 6, 4, 4 (sq. dev. 24/9); f1 = 10, -1, 1 (mean 10/3, sq. dev. 618/9).
    expectStatistics(windowRow(windows, 2), [
      14 / 3,
      Math.sqrt(4 / 3),
      4,
      6,
      10 / 3,
      Math.sqrt(103 / 3),
      -1,
      10,
    ]);
    // Flows 3..5: f0 constant 4; f1 = -1, 1, 3.
    expectStatistics(windowRow(windows, 3), [4, 0, 4, 4, 1, 2, -1, 3]);
    // Flows 4..6: f0 = 4, 4, 0 (sq. dev. 96/9); f1 = 1, 3, 0 (mean 4/3, sq. dev. 42/9).
    expectStatistics(windowRow(windows, 4), [
      8 / 3,
      Math.sqrt(16 / 3),
      0,
      4,
      4 / 3,
      Math.sqrt(7 / 3),
      0,
      3,
    ]);
    expect(Array.from(windows.index)).toEqual([0, 1, 2, 3, 4]);
    expect(Array.from(windows.firstLine)).toEqual([2, 3, 5, 6, 7]);
    expect(Array.from(windows.lastLine)).toEqual([5, 6, 7, 8, 9]);
    expect(Array.from(windows.attackFlows)).toEqual([2, 2, 1, 1, 1]);
    expect(aggregator.tailFlows).toBe(0);
  });

  it("numbers windows from firstWindowIndex and continues across pushes", () => {
    const aggregator = new WindowAggregator(2, { size: 3, stride: 2 }, { firstWindowIndex: 40 });
    const batch = flowBatch(tinyRows, tinyLines, tinyAttack);
    const first = aggregator.push(sliceBatch(batch, 0, 4));
    const second = aggregator.push(sliceBatch(batch, 4, 7));
    expect(Array.from(first.index)).toEqual([40]);
    expect(Array.from(second.index)).toEqual([41, 42]);
    // Windows cover flows 0..2, 2..4, 4..6.
    expect(Array.from(second.firstLine)).toEqual([5, 7]);
    expect(Array.from(second.lastLine)).toEqual([7, 9]);
    expect(Array.from(second.attackFlows)).toEqual([1, 1]);
  });
});

describe("WindowAggregator bookkeeping", () => {
  it.each([
    [0, { size: 3, stride: 3 }, 0, 0],
    [2, { size: 3, stride: 3 }, 0, 2],
    [3, { size: 3, stride: 3 }, 1, 0],
    [8, { size: 3, stride: 3 }, 2, 2],
    [10, { size: 4, stride: 3 }, 3, 0],
    [11, { size: 4, stride: 3 }, 3, 1],
    [12, { size: 4, stride: 3 }, 3, 2],
    [13, { size: 4, stride: 3 }, 4, 0],
    [120, { size: 50, stride: 50 }, 2, 20],
    [120, { size: 50, stride: 7 }, 11, 0],
    [121, { size: 50, stride: 7 }, 11, 1],
  ])("%i flows with %o: %i windows, %i tail flows", (flows, spec, windows, tail) => {
    const aggregator = new WindowAggregator(1, spec);
    const rows = Array.from({ length: flows }, (_, i) => [i]);
    const closed = flows === 0 ? aggregator.push(flowBatch([])) : aggregator.push(flowBatch(rows));
    expect(closed.count).toBe(windows);
    expect(windowCount(flows, spec)).toBe(windows);
    expect(aggregator.windowsClosed).toBe(windows);
    expect(aggregator.flowsSeen).toBe(flows);
    expect(aggregator.tailFlows).toBe(tail);
  });

  it("never closes a window over flows not yet pushed", () => {
    const spec = { size: 5, stride: 2 };
    const aggregator = new WindowAggregator(1, spec);
    for (let flow = 0; flow < 30; flow++) {
      const closed = aggregator.push(flowBatch([[flow]], [flow + 1]));
      for (let w = 0; w < closed.count; w++) {
        expect(closed.lastLine[w]).toBeLessThanOrEqual(flow + 1);
        // The value is the flow number, so max is the window's last flow: it must be this one.
        expect(closed.features[w * 4 + 3]).toBe(flow);
        expect(closed.lastLine[w]! - closed.firstLine[w]!).toBe(spec.size - 1);
      }
      expect(aggregator.windowsClosed).toBe(windowCount(flow + 1, spec));
    }
  });

  it("rejects a batch of the wrong shape", () => {
    const aggregator = new WindowAggregator(2, DEFAULT_WINDOW_SPEC);
    expect(() => aggregator.push(flowBatch([[1, 2, 3]]))).toThrow(
      /batch featureCount is 3, expected 2/,
    );
    const short = { ...flowBatch([[1, 2]]), count: 2 };
    expect(() => aggregator.push(short)).toThrow(
      /batch values has 2 entries, expected count \* featureCount = 4/,
    );
  });

  it("returns an empty batch, not nothing, when no window closes", () => {
    const closed = new WindowAggregator(3, DEFAULT_WINDOW_SPEC).push(flowBatch([[1, 2, 3]]));
    expect(closed.count).toBe(0);
    expect(closed.width).toBe(12);
    expect(closed.features).toHaveLength(0);
  });
});

describe("WindowAggregator numerics", () => {
  it("keeps the std of 1e12-scale values with a small spread", () => {
    // 1e12 + 0, 1, 2, ... has the std of 0, 1, 2, ...; a sum of squares would lose it entirely.
    for (const spec of [
      { size: 50, stride: 50 },
      { size: 50, stride: 1 },
    ]) {
      const rows = Array.from({ length: 500 }, (_, i) => [1e12 + (i % 50)]);
      const closed = new WindowAggregator(1, spec).push(flowBatch(rows));
      const expectedStd = Math.sqrt((50 * 51) / 12); // std of 50 consecutive integers
      for (let w = 0; w < closed.count; w++) {
        expect(closed.features[w * 4 + 1]! / expectedStd).toBeCloseTo(1, 10);
      }
    }
  });

  it("recovers a small std right after a huge outlier leaves a sliding window", () => {
    const rows = [[1e15], ...Array.from({ length: 20 }, (_, i) => [i % 2])];
    const closed = new WindowAggregator(1, { size: 8, stride: 1 }).push(flowBatch(rows));
    // Window 1 is the first without the outlier: four 0s and four 1s.
    const std = closed.features[1 * 4 + 1]!;
    expect(std).toBeCloseTo(Math.sqrt(2 / 7), 12);
    expect(closed.features[1 * 4 + 0]).toBeCloseTo(0.5, 12);
  });

  it("returns to exact zeros after values whose squares underflow leave", () => {
    const rows = Array.from({ length: 31 }, (_, i) => [i < 24 ? -6.6e-258 : 0]);
    const closed = new WindowAggregator(1, { size: 7, stride: 1 }).push(flowBatch(rows));
    expect(windowRow(closed, 24)).toEqual([0, 0, 0, 0]);
  });

  it("gives exactly zero std and the exact mean for constant runs", () => {
    for (const spec of [
      { size: 7, stride: 7 },
      { size: 7, stride: 3 },
    ]) {
      const rows = Array.from({ length: 40 }, (_, i) => [i < 10 ? i * 1e9 : 0.1]);
      const closed = new WindowAggregator(1, spec).push(flowBatch(rows));
      const last = windowRow(closed, closed.count - 1);
      expect(last).toEqual([0.1, 0, 0.1, 0.1]);
    }
  });
});

// Value distributions for the property test. Each yields whole rows (one value per feature).
type Rows = number[][];
// Magnitudes below 1e-100 are flushed to 0: their squares are subnormal, where no double-precision
// std (the reference's included) keeps its digits, and no flow feature is that small.
const smallFloat = fc
  .double({ min: -1000, max: 1000, noNaN: true })
  .map((x) => (Math.abs(x) < 1e-100 ? 0 : x));
const near1e12 = fc
  .tuple(fc.boolean(), fc.integer({ min: -1_000_000, max: 1_000_000 }))
  .map(([negative, noise]) => (negative ? -1 : 1) * (1e12 + noise / 1000));
const mixedMagnitude = fc
  .tuple(
    fc.double({ min: 1, max: 10, noNaN: true }),
    fc.integer({ min: -6, max: 15 }),
    fc.boolean(),
  )
  .map(([mantissa, exponent, negative]) => (negative ? -1 : 1) * mantissa * 10 ** exponent);

function rowsOf(value: fc.Arbitrary<number>, features: number, maxFlows: number) {
  return fc.array(fc.array(value, { minLength: features, maxLength: features }), {
    maxLength: maxFlows,
  });
}

function constantRuns(features: number, maxFlows: number): fc.Arbitrary<Rows> {
  const value = fc.oneof(fc.constantFrom(0, 1, 0.1, -3.5, 1e12, 1e15), smallFloat, mixedMagnitude);
  const run = fc.record({
    row: fc.array(value, { minLength: features, maxLength: features }),
    length: fc.integer({ min: 1, max: 150 }),
  });
  return fc
    .array(run, { maxLength: 8 })
    .map((runs) =>
      runs.flatMap(({ row, length }) => Array.from({ length }, () => row)).slice(0, maxFlows),
    );
}

const MAX_FLOWS = 400;
const scenario = fc
  .record({
    size: fc.integer({ min: 2, max: 60 }),
    features: fc.integer({ min: 1, max: 3 }),
    kind: fc.constantFrom("small", "near1e12", "constantRuns", "mixed"),
  })
  .chain(({ size, features, kind }) =>
    fc.record({
      spec: fc.integer({ min: 1, max: size }).map((stride): WindowSpec => ({ size, stride })),
      features: fc.constant(features),
      rows:
        kind === "small"
          ? rowsOf(smallFloat, features, MAX_FLOWS)
          : kind === "near1e12"
            ? rowsOf(near1e12, features, MAX_FLOWS)
            : kind === "mixed"
              ? rowsOf(mixedMagnitude, features, MAX_FLOWS)
              : constantRuns(features, MAX_FLOWS),
      cuts: fc.array(fc.nat({ max: MAX_FLOWS }), { maxLength: 12 }),
    }),
  );

/** Largest |value| of feature `f` in window `w`: the scale rounding errors are measured against. */
function windowMagnitude(
  values: Float64Array,
  features: number,
  spec: WindowSpec,
  w: number,
  f: number,
) {
  let magnitude = 0;
  for (let i = w * spec.stride; i < w * spec.stride + spec.size; i++) {
    magnitude = Math.max(magnitude, Math.abs(values[i * features + f]!));
  }
  return magnitude;
}

describe("WindowAggregator against the naive reference", () => {
  it("matches aggregateWindowsNaive for any geometry, batch split and value distribution", () => {
    fc.assert(
      fc.property(scenario, ({ spec, features, rows, cuts }) => {
        const lines = rows.map((_, i) => 10 + 2 * i);
        const attack = rows.map((_, i): number => (i % 3 === 0 ? 1 : 0));
        const batch =
          rows.length === 0
            ? { ...flowBatch([]), featureCount: features }
            : flowBatch(rows, lines, attack);
        const sortedCuts = cuts.map((c) => Math.min(c, rows.length)).sort((a, b) => a - b);
        const actual = pushInPieces(new WindowAggregator(features, spec), batch, sortedCuts);
        const expected = aggregateWindowsNaive(batch.values, rows.length, features, spec);

        const windows = windowCount(rows.length, spec);
        expect(actual.count).toBe(windows);
        expect(actual.features).toHaveLength(expected.length);
        for (let w = 0; w < windows; w++) {
          const first = w * spec.stride;
          const last = first + spec.size - 1;
          expect(actual.index[w]).toBe(w);
          expect(actual.firstLine[w]).toBe(lines[first]);
          expect(actual.lastLine[w]).toBe(lines[last]);
          expect(actual.attackFlows[w]).toBe(attack.slice(first, last + 1).reduce((a, b) => a + b));
          for (let f = 0; f < features; f++) {
            const p = w * 4 * features + 4 * f;
            const scale = windowMagnitude(batch.values, features, spec, w, f);
            const [mean, std, min, max] = actual.features.subarray(p, p + 4);
            const [refMean, refStd, refMin, refMax] = expected.subarray(p, p + 4);
            const where = `window ${w} feature ${f}`;
            // === rather than toBe: either signed zero is a correct min or max of {0, -0}.
            expect(min === refMin, `${where} min ${min} vs ${refMin}`).toBe(true);
            expect(max === refMax, `${where} max ${max} vs ${refMax}`).toBe(true);
            expect(
              Math.abs(mean! - refMean!),
              `${where} mean ${mean} vs ${refMean}`,
            ).toBeLessThanOrEqual(1e-9 * scale);
            // Relative to the std itself, with a floor at rounding level of the window's values
            // (both sides compute a constant window's std as zero or a few ulps).
            expect(
              Math.abs(std! - refStd!),
              `${where} std ${std} vs ${refStd}`,
            ).toBeLessThanOrEqual(1e-7 * refStd! + 1e-12 * scale);
          }
        }
        expect(actual.features.every(Number.isFinite)).toBe(true);
      }),
      { numRuns: 400 },
    );
  });

  it("does not drift over a long stream of heavy-tailed values", () => {
    // Thousands of replace steps and hundreds of departing outliers: the periodic and the
    // cancellation-triggered exact recomputes must keep every window close to the reference.
    const prng = createPrng(42);
    const flows = 20_000;
    const features = 2;
    const values = new Float64Array(flows * features);
    for (let i = 0; i < values.length; i++) {
      const u = prng.nextFloat();
      values[i] = i % 2 === 0 ? 1e12 + u : u < 0.02 ? 1e12 * prng.nextFloat() : u;
    }
    const spec = { size: 50, stride: 1 };
    const batch: FlowBatch = {
      count: flows,
      featureCount: features,
      values,
      lines: new Uint32Array(flows),
      attack: new Uint8Array(flows),
    };
    const actual = new WindowAggregator(features, spec).push(batch).features;
    const expected = aggregateWindowsNaive(values, flows, features, spec);
    let worstStd = 0;
    for (let p = 0; p < expected.length; p += 4) {
      expect(actual[p + 2]).toBe(expected[p + 2]);
      expect(actual[p + 3]).toBe(expected[p + 3]);
      const scale = Math.max(Math.abs(expected[p + 2]!), Math.abs(expected[p + 3]!));
      expect(Math.abs(actual[p]! - expected[p]!)).toBeLessThanOrEqual(1e-12 * scale);
      worstStd = Math.max(worstStd, Math.abs(actual[p + 1]! - expected[p + 1]!) / expected[p + 1]!);
    }
    expect(worstStd).toBeLessThan(1e-8);
  });

  it("gives the same output for one push as for any split into batches", () => {
    fc.assert(
      fc.property(scenario, ({ spec, features, rows, cuts }) => {
        const batch =
          rows.length === 0 ? { ...flowBatch([]), featureCount: features } : flowBatch(rows);
        const sortedCuts = cuts.map((c) => Math.min(c, rows.length)).sort((a, b) => a - b);
        const whole = new WindowAggregator(features, spec).push(batch);
        const split = pushInPieces(new WindowAggregator(features, spec), batch, sortedCuts);
        // Bit-for-bit: the arithmetic per flow does not depend on where batches start.
        expect(split).toEqual({ ...whole });
      }),
      { numRuns: 200 },
    );
  });
});
