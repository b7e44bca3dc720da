import { describe, expect, it } from "vitest";
import { fitPca, projectRow, type PcaProjection } from "./pca.ts";
import { createPrng, type Prng } from "./prng.ts";

function gaussian(prng: Prng): number {
  const u = 1 - prng.nextFloat();
  const v = prng.nextFloat();
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
}

function dot(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i]! * b[i]!;
  return s;
}

function project(p: PcaProjection, x: Float64Array, offset: number): [number, number] {
  const out = new Float64Array(2);
  projectRow(p, x, offset, out);
  return [out[0]!, out[1]!];
}

describe("fitPca", () => {
  // Orthonormal directions in 3-D.
  const d1 = [1 / 3, 2 / 3, 2 / 3];
  const d2 = [2 / 3, 1 / 3, -2 / 3];
  const d3 = [2 / 3, -2 / 3, 1 / 3];

  it("recovers exact axes and variance shares of a symmetric design", () => {
    // Points ±3·d1, ±2·d2, ±1·d3 around (10, -5, 1): the sample covariance is
    // (2·9 d1d1' + 2·4 d2d2' + 2·1 d3d3') / 5, so the variance shares are 9/14, 4/14 and 1/14.
    const center = [10, -5, 1];
    const x = new Float64Array(18);
    const points: [number[], number][] = [
      [d1, 3],
      [d1, -3],
      [d2, 2],
      [d2, -2],
      [d3, 1],
      [d3, -1],
    ];
    points.forEach(([d, a], r) => {
      for (let c = 0; c < 3; c++) x[r * 3 + c] = center[c]! + a * d[c]!;
    });
    const p = fitPca(x, 6, 3);
    for (let c = 0; c < 3; c++) expect(p.mean[c]).toBeCloseTo(center[c]!, 12);
    expect(p.explainedVarianceRatio[0]).toBeCloseTo(9 / 14, 12);
    expect(p.explainedVarianceRatio[1]).toBeCloseTo(4 / 14, 12);
    // Signs are fixed by the largest loading: d1 as is (2/3 at index 1), d2 as is (2/3 at index 0).
    for (let c = 0; c < 3; c++) {
      expect(p.components[0][c]).toBeCloseTo(d1[c]!, 12);
      expect(p.components[1][c]).toBeCloseTo(d2[c]!, 12);
    }
    const [pc1, pc2] = project(p, x, 0);
    expect(pc1).toBeCloseTo(3, 12);
    expect(pc2).toBeCloseTo(0, 12);
  });

  it("finds the stretched direction of noisy data and its exact share of the variance", () => {
    const prng = createPrng(5);
    const rows = 3000;
    const cols = 4;
    const direction = [0.5, -0.5, 0.5, 0.5];
    const x = new Float64Array(rows * cols);
    for (let r = 0; r < rows; r++) {
      const t = 5 * gaussian(prng);
      for (let c = 0; c < cols; c++) x[r * cols + c] = 2 + t * direction[c]! + 0.3 * gaussian(prng);
    }
    const p = fitPca(x, rows, cols);
    expect(Math.abs(dot(p.components[0], direction))).toBeGreaterThan(0.99);
    expect(dot(p.components[0], p.components[0])).toBeCloseTo(1, 12);
    expect(dot(p.components[1], p.components[1])).toBeCloseTo(1, 12);
    expect(dot(p.components[0], p.components[1])).toBeCloseTo(0, 12);

    // By hand: sample variance along each component over the trace of the sample covariance.
    const mean = new Float64Array(cols);
    for (let i = 0; i < x.length; i++) mean[i % cols]! += x[i]! / rows;
    let trace = 0;
    const along = [0, 0];
    const centred = new Float64Array(cols);
    for (let r = 0; r < rows; r++) {
      for (let c = 0; c < cols; c++) {
        centred[c] = x[r * cols + c]! - mean[c]!;
        trace += centred[c]! ** 2;
      }
      along[0]! += dot(centred, p.components[0]) ** 2;
      along[1]! += dot(centred, p.components[1]) ** 2;
    }
    expect(Math.abs(p.explainedVarianceRatio[0] - along[0]! / trace)).toBeLessThan(1e-6);
    expect(Math.abs(p.explainedVarianceRatio[1] - along[1]! / trace)).toBeLessThan(1e-6);
    // 25 along the line against 4 · 0.09 of noise.
    expect(p.explainedVarianceRatio[0]).toBeGreaterThan(0.98);
  });

  it("gives the same signs whatever the sign of the input", () => {
    const prng = createPrng(8);
    const x = new Float64Array(200 * 3);
    for (let i = 0; i < x.length; i++) x[i] = gaussian(prng) * (1 + (i % 3));
    const flipped = x.map((v) => -v);
    const a = fitPca(x, 200, 3);
    const b = fitPca(flipped, 200, 3);
    for (let k = 0; k < 2; k++) {
      const loadings = a.components[k as 0 | 1];
      let largest = 0;
      for (let c = 1; c < 3; c++) {
        if (Math.abs(loadings[c]!) > Math.abs(loadings[largest]!)) largest = c;
      }
      expect(loadings[largest]).toBeGreaterThan(0);
      for (let c = 0; c < 3; c++) {
        expect(b.components[k as 0 | 1][c]).toBeCloseTo(loadings[c]!, 10);
      }
    }
  });

  it("projects the mean to the origin", () => {
    const prng = createPrng(3);
    const x = new Float64Array(50 * 5);
    for (let i = 0; i < x.length; i++) x[i] = gaussian(prng) + (i % 5);
    const p = fitPca(x, 50, 5);
    const buffer = new Float64Array(7).fill(99);
    buffer.set(p.mean, 1);
    expect(project(p, buffer, 1)).toEqual([0, 0]);
  });

  it("gives a finite projection with zero variance shares on constant data", () => {
    const x = new Float64Array(30).fill(4.25);
    const p = fitPca(x, 10, 3);
    expect(p.explainedVarianceRatio).toEqual([0, 0]);
    expect(Array.from(p.mean)).toEqual([4.25, 4.25, 4.25]);
    for (const component of p.components) {
      expect(component.every(Number.isFinite)).toBe(true);
      expect(dot(component, component)).toBeCloseTo(1, 12);
    }
    expect(dot(p.components[0], p.components[1])).toBeCloseTo(0, 12);
    expect(project(p, x, 3)).toEqual([0, 0]);
    expect(project(p, new Float64Array([5.25, 4.25, 4.25]), 0).every(Number.isFinite)).toBe(true);
  });

  it("handles fewer rows than columns", () => {
    const p = fitPca(new Float64Array([1, 2, 3, 4, 2, 5, 3, 1]), 2, 4);
    expect(p.explainedVarianceRatio[0]).toBeCloseTo(1, 12);
    expect(p.explainedVarianceRatio[1]).toBeCloseTo(0, 12);
    expect(dot(p.components[0], p.components[0])).toBeCloseTo(1, 12);
    expect(dot(p.components[0], p.components[1])).toBeCloseTo(0, 12);
  });

  it("rejects too few rows or columns and non-finite values with a RangeError", () => {
    expect(() => fitPca(new Float64Array(3), 1, 3)).toThrow(/rows >= 2, got 1/);
    expect(() => fitPca(new Float64Array(3), 3, 1)).toThrow(/cols >= 2 to project onto two axes/);
    expect(() => fitPca(new Float64Array(3), 2, 2)).toThrow(/fewer than rows \* cols/);
    expect(() => fitPca(new Float64Array([1, 2, Number.NaN, 4]), 2, 2)).toThrow(
      /row 1, column 0 is not finite/,
    );
  });
});
