/**
 * The per-value transform applied to flow features before window aggregation, recorded in the
 * model.
 *
 * Flow features are heavy-tailed over 6 to 9 orders of magnitude (`Flow Bytes/s` runs from 0 to
 * 1e9). Aggregated raw, a window's mean and max are set by its one largest flow, and a third of
 * attack flows mixed into benign ones moves nothing the forest can see. After a signed `log1p`
 * every order of magnitude weighs the same: on CIC-IDS2017, recall at 50% attack density went
 * from 0.66 to 1.0 with the same forest (docs/detection.md).
 */

/** Transforms a model can record. `none` is what every model before format 2 did. */
export const FLOW_TRANSFORMS = ["none", "signed-log1p"] as const;

/** One of {@link FLOW_TRANSFORMS}. */
export type FlowTransform = (typeof FLOW_TRANSFORMS)[number];

/** `sign(x) · log1p(|x|)`: monotone, odd, 0 at 0, defined on every finite value. */
export function signedLog1p(x: number): number {
  return x < 0 ? -Math.log1p(-x) : Math.log1p(x);
}

/** The inverse of {@link signedLog1p}: `sign(y) · expm1(|y|)`. */
export function signedExpm1(y: number): number {
  return y < 0 ? -Math.expm1(-y) : Math.expm1(y);
}

/**
 * A window statistic of transformed values, shown in the feature's own units: the transform's
 * inverse. Exact for min and max (the transform is monotone); for the mean it gives the
 * geometric-style mean of the window, for the standard deviation a spread factor. Ranking never
 * uses it, only what an analyst reads.
 */
export function untransformed(transform: FlowTransform, value: number): number {
  return transform === "signed-log1p" ? signedExpm1(value) : value;
}

/**
 * `Math.log1p` of the integers 0..4095, which are most values of the count features (packets,
 * flags, small byte totals): a lookup instead of a libm call, with the same values (-0 becomes 0).
 * The transform is as costly as the whole window aggregation (CPU profile of the default
 * pipeline), most of it in `Math.log1p`.
 */
const INTEGER_LOG1P = Float64Array.from({ length: 4096 }, (_, i) => Math.log1p(i));

/**
 * Applies a transform to `count` rows of `featureCount` finite values (non-finite values are
 * replaced before, by the model's rules), writing into `out` (in place by default). `none` copies
 * (or leaves them untouched in place).
 */
export function applyFlowTransform(
  transform: FlowTransform,
  values: Float64Array,
  count: number,
  featureCount: number,
  out: Float64Array = values,
): void {
  if (transform === "none") {
    if (out !== values) out.set(values.subarray(0, count * featureCount));
    return;
  }
  const total = count * featureCount;
  const table = INTEGER_LOG1P;
  for (let i = 0; i < total; i++) {
    const x = values[i]!;
    const n = x >>> 0;
    out[i] = n === x && n < 4096 ? table[n]! : x < 0 ? -Math.log1p(-x) : Math.log1p(x);
  }
}
