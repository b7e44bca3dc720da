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

/**
 * Applies a transform in place to `count` rows of `featureCount` finite values (non-finite values
 * are replaced before, by the model's rules). `none` leaves them untouched.
 */
export function applyFlowTransform(
  transform: FlowTransform,
  values: Float64Array,
  count: number,
  featureCount: number,
): void {
  if (transform === "none") return;
  const total = count * featureCount;
  for (let i = 0; i < total; i++) {
    const x = values[i]!;
    values[i] = x < 0 ? -Math.log1p(-x) : Math.log1p(x);
  }
}
