/**
 * Order statistics shared by scaling and threshold calibration.
 *
 * Both follow numpy's default `method="linear"` so that a model trained here and one trained by the
 * Python prototype agree on medians, IQRs and thresholds to the last bit.
 */

function checkQuantile(q: number): void {
  if (!(q >= 0 && q <= 1)) {
    throw new RangeError(`quantile q must be in [0, 1], got ${q}`);
  }
}

/**
 * The `q`-quantile of values already sorted ascending, interpolated linearly between the two
 * nearest order statistics exactly as `numpy.quantile(values, q)` does.
 *
 * The input is not checked for order; it is the caller's job to pass a sorted array (as
 * `Float64Array.prototype.sort` produces, NaN last). If any value is NaN the result is NaN, as in
 * numpy.
 *
 * @param sorted - values sorted ascending; must not be empty
 * @param q - the quantile, in [0, 1]
 * @throws RangeError if `sorted` is empty or `q` is outside [0, 1]
 */
export function quantileSorted(sorted: Float64Array, q: number): number {
  checkQuantile(q);
  const n = sorted.length;
  if (n === 0) throw new RangeError("cannot take a quantile of an empty array");
  // Float64Array sorts NaN last, so one look at the end finds any NaN.
  if (Number.isNaN(sorted[n - 1])) return Number.NaN;
  const virtualIndex = (n - 1) * q;
  const below = Math.floor(virtualIndex);
  const above = Math.min(below + 1, n - 1);
  const t = virtualIndex - below;
  const a = sorted[below]!;
  const b = sorted[above]!;
  const diff = b - a;
  // numpy's _lerp interpolates from the nearer end, which keeps the result monotone in q and exact
  // at t = 1; matching it keeps us bit-identical with numpy.
  return t >= 0.5 ? b - diff * (1 - t) : a + diff * t;
}

/**
 * The `q`-quantile of unsorted values, as `numpy.quantile(values, q)` with linear interpolation.
 *
 * Sorts a copy, so `values` is left untouched.
 *
 * @param values - the sample; must not be empty
 * @param q - the quantile, in [0, 1]
 * @throws RangeError if `values` is empty or `q` is outside [0, 1]
 */
export function quantile(values: Float64Array, q: number): number {
  checkQuantile(q);
  if (values.length === 0) throw new RangeError("cannot take a quantile of an empty array");
  return quantileSorted(Float64Array.from(values).sort(), q);
}
