/**
 * Per-column robust scaling, as scikit-learn's `RobustScaler` with its defaults: subtract the
 * median, divide by the interquartile range.
 *
 * Flow features are heavy-tailed (byte counts, rates), so mean and standard deviation would be
 * dominated by a few huge flows; median and IQR describe the typical window instead.
 */
import { quantileSorted } from "./stats.ts";

/** Fitted per-column parameters: a value `v` of column `c` becomes `(v - center[c]) / scale[c]`. */
export interface RobustScaler {
  /** Median of each column. */
  center: Float64Array;
  /** Interquartile range of each column, or 1 where that range is (near) zero or not finite. */
  scale: Float64Array;
}

// scikit-learn's _handle_zeros_in_scale treats a range below 10 machine epsilons as constant:
// dividing by it would turn rounding noise into huge values.
const CONSTANT_SCALE = 10 * Number.EPSILON;

function checkShape(x: Float64Array, rows: number, cols: number): void {
  if (!Number.isInteger(rows) || rows < 1) {
    throw new RangeError(`rows must be an integer >= 1, got ${rows}`);
  }
  if (!Number.isInteger(cols) || cols < 1) {
    throw new RangeError(`cols must be an integer >= 1, got ${cols}`);
  }
  if (x.length < rows * cols) {
    throw new RangeError(
      `input holds ${x.length} values, fewer than rows * cols = ${rows} * ${cols}`,
    );
  }
}

/**
 * Fits a robust scaler on row-major data: per column, the median and `q75 - q25` with numpy's
 * linear interpolation. NaN values are ignored, as scikit-learn does; a column with no other
 * values gets center 0 and scale 1. A column whose IQR is zero, below 10 machine epsilons, or
 * overflows to infinity gets scale 1, so that constant features pass through unchanged.
 *
 * @param x - `rows * cols` values, row-major
 * @param rows - number of rows, at least 1
 * @param cols - number of columns, at least 1
 * @throws RangeError on a bad shape or an infinite value (naming its row and column)
 */
export function fitRobustScaler(x: Float64Array, rows: number, cols: number): RobustScaler {
  checkShape(x, rows, cols);
  const center = new Float64Array(cols);
  const scale = new Float64Array(cols);
  const column = new Float64Array(rows);
  for (let c = 0; c < cols; c++) {
    for (let r = 0; r < rows; r++) {
      const v = x[r * cols + c]!;
      // numpy's interpolation turns an infinite neighbour into NaN (Inf * 0), and scikit-learn
      // refuses infinities outright; say where the value is instead of returning a NaN center.
      if (v === Number.POSITIVE_INFINITY || v === Number.NEGATIVE_INFINITY) {
        throw new RangeError(`value at row ${r}, column ${c} is infinite`);
      }
      column[r] = v;
    }
    column.sort();
    // Float64Array sorts NaN last, so the non-NaN values are a prefix.
    let valid = rows;
    while (valid > 0 && Number.isNaN(column[valid - 1])) valid--;
    if (valid === 0) {
      center[c] = 0;
      scale[c] = 1;
      continue;
    }
    const values = column.subarray(0, valid);
    center[c] = quantileSorted(values, 0.5);
    const iqr = quantileSorted(values, 0.75) - quantileSorted(values, 0.25);
    scale[c] = Number.isFinite(iqr) && iqr >= CONSTANT_SCALE ? iqr : 1;
  }
  return { center, scale };
}

/**
 * Scales row-major data in place with a fitted scaler.
 *
 * @param scaler - from {@link fitRobustScaler}
 * @param x - `rows * cols` values, row-major; overwritten
 * @param rows - number of rows
 * @param cols - must equal the scaler's column count
 * @throws RangeError if `cols` does not match the scaler or `x` is too short
 */
export function applyRobustScaler(
  scaler: RobustScaler,
  x: Float64Array,
  rows: number,
  cols: number,
): void {
  checkShape(x, rows, cols);
  if (cols !== scaler.center.length) {
    throw new RangeError(`scaler was fitted on ${scaler.center.length} columns, got ${cols}`);
  }
  for (let r = 0; r < rows; r++) scaleRow(scaler, x, r * cols);
}

/**
 * Scales one row in place: the scaler's column count of values starting at `offset`. Meant for the
 * live path, which scales each window as it closes; it does not check bounds.
 *
 * @param scaler - from {@link fitRobustScaler}
 * @param row - buffer holding the row
 * @param offset - index of the row's first value in `row`
 */
export function scaleRow(scaler: RobustScaler, row: Float64Array, offset: number): void {
  const { center, scale } = scaler;
  for (let c = 0; c < center.length; c++) {
    row[offset + c] = (row[offset + c]! - center[c]!) / scale[c]!;
  }
}
