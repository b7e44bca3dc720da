/**
 * A two-component PCA of scaled windows, for the dashboard's scatter plot: benign windows form a
 * cloud and a flood moves away from it, which an operator sees at a glance.
 *
 * Fitting is done once at training time by `ml-pca`; projecting is done per window on the live
 * path, so the projection is plain typed arrays and a loop that allocates nothing.
 */
import { Matrix } from "ml-matrix";
import { PCA } from "ml-pca";

/** The two leading principal axes of the training windows. */
export interface PcaProjection {
  /** Column means of the training data, subtracted before projecting. */
  mean: Float64Array;
  /**
   * Unit loadings of PC1 and PC2 over the input columns, orthogonal to each other, each signed so
   * that its largest-magnitude loading is positive.
   */
  components: [Float64Array, Float64Array];
  /** Share of the total variance along PC1 and PC2; both 0 when the data has no variance. */
  explainedVarianceRatio: [number, number];
}

/**
 * Fits PCA (centering only, no per-column scaling: the input is already robust-scaled) on
 * row-major data and keeps the first two components.
 *
 * Degenerate input still gives a usable projection: with no variance the ratios are 0 and the
 * components fall back to unit axes, rather than NaN.
 *
 * @param x - `rows * cols` finite values, row-major
 * @param rows - number of rows, at least 2 (one row has no variance to analyse)
 * @param cols - number of columns, at least 2 (the projection is two-dimensional)
 * @throws RangeError on a bad shape or a non-finite value (naming its row and column)
 */
export function fitPca(x: Float64Array, rows: number, cols: number): PcaProjection {
  if (!Number.isInteger(rows) || rows < 2) {
    throw new RangeError(`PCA needs an integer rows >= 2, got ${rows}`);
  }
  if (!Number.isInteger(cols) || cols < 2) {
    throw new RangeError(`PCA needs an integer cols >= 2 to project onto two axes, got ${cols}`);
  }
  if (x.length < rows * cols) {
    throw new RangeError(
      `input holds ${x.length} values, fewer than rows * cols = ${rows} * ${cols}`,
    );
  }

  const mean = new Float64Array(cols);
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) {
      const v = x[r * cols + c]!;
      if (!Number.isFinite(v)) {
        throw new RangeError(`value at row ${r}, column ${c} is not finite: ${v}`);
      }
      mean[c] = mean[c]! + v;
    }
  }
  for (let c = 0; c < cols; c++) mean[c] = mean[c]! / rows;

  let totalVariance = 0;
  for (let i = 0; i < rows * cols; i++) {
    const d = x[i]! - mean[i % cols]!;
    totalVariance += d * d;
  }
  totalVariance /= rows - 1;

  const pca = new PCA(Matrix.from1DArray(rows, cols, x.subarray(0, rows * cols)), {
    center: true,
    scale: false,
  });
  const vectors = pca.getEigenvectors();
  const eigenvalues = pca.getEigenvalues();

  const components: Float64Array[] = [];
  const ratios: number[] = [];
  for (let k = 0; k < 2; k++) {
    const component = new Float64Array(cols);
    if (k < vectors.columns) {
      for (let c = 0; c < cols; c++) component[c] = vectors.get(c, k);
    }
    if (!normalise(component)) unitAxisOrthogonalTo(components, component);
    orientBySign(component);
    components.push(component);
    const eigenvalue = eigenvalues[k] ?? 0;
    // The SVD of an all-zero matrix has zero singular values, and 0 / 0 would poison the plot.
    ratios.push(totalVariance > 0 && eigenvalue > 0 ? eigenvalue / totalVariance : 0);
  }

  return {
    mean,
    components: [components[0]!, components[1]!],
    explainedVarianceRatio: [ratios[0]!, ratios[1]!],
  };
}

/**
 * Projects one row onto PC1 and PC2 without allocating: writes `out2[0] = pc1`, `out2[1] = pc2`.
 *
 * @param p - from {@link fitPca}
 * @param x - buffer holding the row; `p.mean.length` values from `offset`
 * @param offset - index of the row's first value in `x`
 * @param out2 - receives the two coordinates
 */
export function projectRow(
  p: PcaProjection,
  x: Float64Array,
  offset: number,
  out2: Float64Array,
): void {
  const { mean } = p;
  const [first, second] = p.components;
  let pc1 = 0;
  let pc2 = 0;
  for (let c = 0; c < mean.length; c++) {
    const d = x[offset + c]! - mean[c]!;
    pc1 += d * first[c]!;
    pc2 += d * second[c]!;
  }
  out2[0] = pc1;
  out2[1] = pc2;
}

/** Scales `v` to unit length; false if it has no usable direction (zero or non-finite). */
function normalise(v: Float64Array): boolean {
  let norm = 0;
  for (const value of v) norm += value * value;
  norm = Math.sqrt(norm);
  if (!(norm > 0) || !Number.isFinite(norm)) return false;
  for (let i = 0; i < v.length; i++) v[i] = v[i]! / norm;
  return true;
}

/** Fills `out` with the first unit axis that stays clear of `previous`, made orthogonal to them. */
function unitAxisOrthogonalTo(previous: Float64Array[], out: Float64Array): void {
  for (let axis = 0; axis < out.length; axis++) {
    out.fill(0);
    out[axis] = 1;
    for (const p of previous) {
      const dot = p[axis]!;
      for (let i = 0; i < out.length; i++) out[i] = out[i]! - dot * p[i]!;
    }
    // At least one of two or more axes keeps half its length against a single unit vector.
    if (Math.hypot(...out) > 0.5 && normalise(out)) return;
  }
}

/** Eigenvectors have no inherent sign; fixing one keeps plots stable across retraining. */
function orientBySign(v: Float64Array): void {
  let largest = 0;
  for (let i = 1; i < v.length; i++) {
    if (Math.abs(v[i]!) > Math.abs(v[largest]!)) largest = i;
  }
  if (v[largest]! < 0) {
    for (let i = 0; i < v.length; i++) v[i] = -v[i]!;
  }
}
