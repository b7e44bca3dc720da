/**
 * Replacement rules for non-finite feature values, learned at training time.
 *
 * CICFlowMeter writes `Infinity` or `NaN` into rate columns whenever a flow lasts 0 µs, and
 * some exports leave cells empty. The prototype dropped every window holding one such value,
 * which discards about half of all windows on CIC-DDoS2019. Here each value is replaced by a
 * number learned from benign training flows, so no window is ever dropped for it.
 */

/** Per-feature replacements, recorded in the model. */
export interface NonFiniteRules {
  /** `+Infinity` becomes the feature's largest finite training value. */
  positiveInfinity: Float64Array;
  /** `-Infinity` becomes the feature's smallest finite training value. */
  negativeInfinity: Float64Array;
  /** `NaN` or an empty cell becomes the feature's median finite training value. */
  missing: Float64Array;
}

/**
 * Learns the rules from row-major training flows. A feature with no finite value at all gets
 * 0 for every replacement, so scoring still has a number to work with.
 */
export function learnNonFiniteRules(
  values: Float64Array,
  rows: number,
  featureCount: number,
): NonFiniteRules {
  const positiveInfinity = new Float64Array(featureCount);
  const negativeInfinity = new Float64Array(featureCount);
  const missing = new Float64Array(featureCount);
  const column = new Float64Array(rows);
  for (let j = 0; j < featureCount; j++) {
    let n = 0;
    for (let r = 0; r < rows; r++) {
      const v = values[r * featureCount + j]!;
      if (Number.isFinite(v)) column[n++] = v;
    }
    if (n === 0) continue;
    const finite = column.subarray(0, n).sort();
    negativeInfinity[j] = finite[0]!;
    positiveInfinity[j] = finite[n - 1]!;
    const mid = n >> 1;
    missing[j] = n % 2 === 1 ? finite[mid]! : (finite[mid - 1]! + finite[mid]!) / 2;
  }
  return { positiveInfinity, negativeInfinity, missing };
}

/**
 * Replaces non-finite values in place, row-major; returns how many were replaced.
 */
export function applyNonFiniteRules(
  rules: NonFiniteRules,
  values: Float64Array,
  rows: number,
  featureCount: number,
): number {
  let replaced = 0;
  const total = rows * featureCount;
  for (let i = 0; i < total; i++) {
    const v = values[i]!;
    // `v - v` is 0 for finite v and NaN for ±Infinity and NaN: one cheap test on the hot path.
    if (v - v !== 0) {
      const j = i % featureCount;
      values[i] =
        v === Number.POSITIVE_INFINITY
          ? rules.positiveInfinity[j]!
          : v === Number.NEGATIVE_INFINITY
            ? rules.negativeInfinity[j]!
            : rules.missing[j]!;
      replaced++;
    }
  }
  return replaced;
}
