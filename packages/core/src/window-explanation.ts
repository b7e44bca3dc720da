/**
 * Why a window scored as it did, from the model's own reasoning: which dimensions (feature ×
 * statistic) cut it off from the benign training windows in the forest's trees.
 *
 * Method: local DIFFI (Carletti, Terzi & Susto, "Interpretable Anomaly Detection with DIFFI",
 * 2020/2023), with the split credit of its global form. For each tree t the window reaches a leaf
 * at path length h_t (depth plus c(leaf size), exactly what the score averages). Only trees that
 * isolate the window faster than an average training point count, with weight
 * `w_t = max(0, 1/h_t − 1/c(ψ))` — these are the trees that pull the score towards "anomalous".
 * Along the path, the split at node i sends the window into a child holding s_{i+1} of the node's
 * s_i training points; that split earns `w_t · ln(s_i / s_{i+1}) / ln(s_0 / s_leaf)`, its share of
 * the narrowing from the whole subsample to the window's leaf. Plain local DIFFI credits every
 * split on the path equally, which also rewards a feature that merely happened to be tested on
 * the way down while sending the window along with the crowd; weighting by the narrowing gives
 * the credit to the split that actually separated the window. Credits are summed over trees and
 * normalised to sum to 1, so they read as shares and can be combined with another detector's.
 *
 * Why not the distance to the median: a feature far from its median that the forest never
 * splits on (or that is constant in training) did not drive the score; this names only what
 * did. The typical value shown beside each dimension (the benign training median, the robust
 * scaler's center) is context for the reader, not part of the ranking.
 *
 * Cost: one more walk per tree per explained window (a path of at most ⌈log2 ψ⌉ = 8 splits), with
 * a logarithm per split — about what scoring the window costs. Only anomalous windows are
 * explained by default.
 */
import { averagePathLength, type IsolationForestModel } from "./isolation-forest.ts";
import { untransformed, type FlowTransform } from "./flow-transform.ts";
import type { FloodwatchModel } from "./model-file.ts";
import { WINDOW_STATISTICS } from "./window-aggregator.ts";
import { rawThreshold } from "./window-scorer.ts";

/** Which windows get an explanation. */
export const EXPLAIN_MODES = ["anomalies", "all", "none"] as const;
/** One of {@link EXPLAIN_MODES}: `anomalies` (default) explains flagged windows only. */
export type ExplainMode = (typeof EXPLAIN_MODES)[number];

/** How many dimensions and base features an explanation lists. */
export const EXPLANATION_SIZE = 5;

/** One dimension of a window that drove its score. */
export interface ExplainedDimension {
  /** Base feature (`Flow Packets/s`), or the name of a window-level feature. */
  feature: string;
  /** `mean`, `std`, `min`, `max`, or `value` for a window-level feature. */
  statistic: string;
  /** The window's value of the dimension. */
  value: number;
  /** The benign training median of the dimension. */
  typical: number;
  /** Share of the decision this dimension carries (all dimensions sum to 1). */
  weight: number;
}

/** A base feature's share, summed over its statistics. */
export interface ExplainedFeature {
  feature: string;
  weight: number;
}

/** A window's explanation: the top dimensions and the top base features. */
export interface WindowExplanation {
  dimensions: ExplainedDimension[];
  features: ExplainedFeature[];
}

/**
 * Per-dimension contributions of one detector to one window's decision: non-negative, any scale
 * (they are normalised before combining). A second detector (say ECOD's per-dimension tail
 * scores) plugs in through {@link WindowExplainer.explain}'s `others`.
 */
export interface DimensionContributions {
  /** Length = the model's dimension count. */
  weights: Float64Array;
  /** Relative say of this detector in the combined ranking; 1 = as much as the forest. */
  share?: number;
}

/** A dimension's display name split into feature and statistic. */
interface DimensionName {
  feature: string;
  statistic: string;
}

/**
 * Names of the model's dimensions: `feature × statistic` for the window statistics, and any
 * further window-level dimensions named as such (statistic `value`).
 */
function dimensionNames(features: readonly string[], extra: readonly string[]): DimensionName[] {
  const names: DimensionName[] = [];
  for (const feature of features) {
    for (const statistic of WINDOW_STATISTICS) names.push({ feature, statistic });
  }
  for (const feature of extra) names.push({ feature, statistic: "value" });
  return names;
}

/**
 * Training points per node, recovered from the flat forest: a leaf stores
 * `depth + c(leaf size)`, c strictly increasing from n = 2, so the size is read back from it;
 * an inner node holds what its children hold. (A leaf of size 1 and one of size 0 share c = 0;
 * fitting never makes empty leaves.)
 */
function nodeSizes(forest: IsolationForestModel): Float64Array {
  const nodes = forest.feature.length;
  const depth = new Int32Array(nodes);
  const size = new Float64Array(nodes);
  const table = new Float64Array(forest.maxSamples + 1);
  for (let n = 0; n <= forest.maxSamples; n++) table[n] = averagePathLength(n);
  for (let node = 0; node < nodes; node++) {
    if (forest.feature[node]! >= 0) {
      depth[forest.left[node]!] = depth[node]! + 1;
      depth[forest.right[node]!] = depth[node]! + 1;
    }
  }
  for (let node = nodes - 1; node >= 0; node--) {
    if (forest.feature[node]! >= 0) {
      size[node] = size[forest.left[node]!]! + size[forest.right[node]!]!;
      continue;
    }
    const c = forest.leafValue[node]! - depth[node]!;
    // Nearest n in 1..maxSamples by binary search on the increasing table.
    let lo = 1;
    let hi = forest.maxSamples;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (table[mid]! < c) lo = mid + 1;
      else hi = mid;
    }
    if (lo > 1 && Math.abs(table[lo - 1]! - c) <= Math.abs(table[lo]! - c)) lo--;
    size[node] = lo;
  }
  return size;
}

/**
 * Ranks a model's dimensions per window by the forest's paths (see the module comment) and, when
 * given, a second detector's contributions. One instance per model; `explain` allocates only its
 * answer.
 */
export class WindowExplainer {
  readonly #forest: IsolationForestModel;
  /** ln(training points) of each node: a split's narrowing is a difference, no log per walk. */
  readonly #logSize: Float64Array;
  readonly #names: DimensionName[];
  /** Base feature of each dimension, as an index into {@link #baseNames}. */
  readonly #baseOf: Int32Array;
  readonly #baseNames: string[];
  readonly #typical: Float64Array;
  /** The model's flow transform: values and typical values are shown back in raw units. */
  readonly #transform: FlowTransform;
  readonly #voters: ((row: Float64Array, offset: number) => DimensionContributions[]) | undefined;
  readonly #reference: number;
  /** The combined credit of the window being explained (read out before `explain` returns). */
  readonly #combined: Float64Array;
  /** Credit per base feature, likewise. */
  readonly #byBase: Float64Array;
  readonly #path: Int32Array;

  /**
   * @param model - the model whose forest is read. Its thresholds are in robust-scaled units;
   *   they are mapped back to raw units as the scorer does, so raw window values are walked.
   * @param options.extraDimensions - names of window-level dimensions after the statistics.
   * @param options.typical - typical value per dimension; default the scaler's center (the
   *   median of the benign training windows), in the forest's units; values and typical
   *   values are shown back in raw units when the model transforms flows.
   * @param options.voters - the per-dimension contributions of the model's other voting
   *   detectors for a window, blended by {@link explain} when the caller passes none.
   */
  constructor(
    model: FloodwatchModel,
    options: {
      extraDimensions?: readonly string[];
      typical?: Float64Array;
      voters?: (row: Float64Array, offset: number) => DimensionContributions[];
    } = {},
  ) {
    const forest = model.forest;
    const { center, scale } = model.scaler;
    const threshold = new Float64Array(forest.threshold.length);
    for (let node = 0; node < threshold.length; node++) {
      const f = forest.feature[node]!;
      threshold[node] = f >= 0 ? rawThreshold(forest.threshold[node]!, center[f]!, scale[f]!) : 0;
    }
    this.#forest = { ...forest, threshold };
    this.#logSize = nodeSizes(forest).map(Math.log);
    this.#names = dimensionNames(model.features, options.extraDimensions ?? []);
    this.#baseNames = [...new Set(this.#names.map((n) => n.feature))];
    this.#baseOf = Int32Array.from(this.#names, (n) => this.#baseNames.indexOf(n.feature));
    if (this.#names.length !== forest.featureCount) {
      throw new RangeError(
        `the model has ${forest.featureCount} dimensions, ${this.#names.length} are named`,
      );
    }
    this.#transform = model.detection?.transform ?? "none";
    this.#voters = options.voters;
    this.#typical = options.typical ?? center;
    this.#reference = averagePathLength(forest.maxSamples);
    this.#combined = new Float64Array(forest.featureCount);
    this.#byBase = new Float64Array(this.#baseNames.length);
    this.#path = new Int32Array(64);
  }

  /** Dimension count: the width of the rows {@link explain} reads. */
  get width(): number {
    return this.#forest.featureCount;
  }

  /**
   * The forest's normalised per-dimension credit for one window (`row[offset..offset+width)`, raw
   * units), written into `out` (length = width). Sums to 1 unless every tree isolates the window
   * no faster than an average point; then the same split shares are weighted by 1/h_t alone, so
   * an explanation requested for an ordinary window still says what set its paths.
   */
  forestContributions(row: Float64Array, offset: number, out: Float64Array): void {
    out.fill(0);
    // Rare (an ordinary window explained on request): no tree isolates it faster than average,
    // so the same walk again, each tree weighted by 1/h_t. A second walk only then keeps the
    // common case to one accumulation per split.
    if (!(this.#walk(row, offset, out, false) > 0)) this.#walk(row, offset, out, true);
    let sum = 0;
    for (let j = 0; j < out.length; j++) sum += out[j]!;
    for (let j = 0; j < out.length; j++) out[j] = sum > 0 ? out[j]! / sum : 0;
  }

  /**
   * Adds every tree's split shares into `out`: weighted by `w_t` over the trees with `w_t > 0`,
   * returning the sum of those weights; or with `byDepth` by `1/h_t` over all trees (returns 0).
   */
  #walk(row: Float64Array, offset: number, out: Float64Array, byDepth: boolean): number {
    const forest = this.#forest;
    const { feature, threshold, left, right, leafValue, treeOffsets } = forest;
    const logSize = this.#logSize;
    const path = this.#path;
    let positive = 0;
    for (let t = 0; t < forest.nEstimators; t++) {
      let node = treeOffsets[t]!;
      let length = 0;
      while (feature[node]! >= 0) {
        path[length++] = node;
        node = row[offset + feature[node]!]! <= threshold[node]! ? left[node]! : right[node]!;
      }
      if (length === 0) continue;
      const h = leafValue[node]!;
      const total = logSize[path[0]!]! - logSize[node]!;
      if (!(total > 0)) continue;
      const weight = 1 / h - 1 / this.#reference;
      if (!byDepth && !(weight > 0)) continue;
      for (let i = 0; i < length; i++) {
        const here = path[i]!;
        const next = i + 1 < length ? path[i + 1]! : node;
        const share = (logSize[here]! - logSize[next]!) / total;
        const f = feature[here]!;
        out[f] = out[f]! + (byDepth ? share / h : share * weight);
      }
      if (!byDepth) positive += weight;
    }
    return positive;
  }

  /**
   * Explains one window: the top dimensions by combined credit (the forest's, plus `others`'
   * normalised contributions weighted by their share), each with its value and typical value, and
   * the credit summed per base feature.
   */
  explain(
    row: Float64Array,
    offset: number,
    others: readonly DimensionContributions[] = this.#voters?.(row, offset) ?? [],
  ): WindowExplanation {
    const width = this.width;
    const combined = this.#combined;
    this.forestContributions(row, offset, combined);
    if (others.length > 0) {
      let shares = 1;
      for (const other of others) {
        if (other.weights.length !== width) {
          throw new RangeError(
            `contributions have ${other.weights.length} dimensions, the model ${width}`,
          );
        }
        let sum = 0;
        for (let j = 0; j < width; j++) sum += Math.max(0, other.weights[j]!);
        if (!(sum > 0) || !Number.isFinite(sum)) continue;
        const share = other.share ?? 1;
        shares += share;
        for (let j = 0; j < width; j++) {
          combined[j] = combined[j]! + (share * Math.max(0, other.weights[j]!)) / sum;
        }
      }
      for (let j = 0; j < width; j++) combined[j] = combined[j]! / shares;
    }
    return this.#rank(row, offset, combined);
  }

  #rank(row: Float64Array, offset: number, weights: Float64Array): WindowExplanation {
    // Top-k by insertion rather than sorting every dimension: this runs once per explained
    // window, and a full sort with objects cost twice the forest walk itself.
    const dimensions: ExplainedDimension[] = [];
    for (const j of topIndices(weights)) {
      const name = this.#names[j]!;
      dimensions.push({
        feature: name.feature,
        statistic: name.statistic,
        value: untransformed(this.#transform, row[offset + j]!),
        typical: untransformed(this.#transform, this.#typical[j]!),
        weight: weights[j]!,
      });
    }
    const byBase = this.#byBase;
    byBase.fill(0);
    for (let j = 0; j < weights.length; j++) {
      const b = this.#baseOf[j]!;
      byBase[b] = byBase[b]! + weights[j]!;
    }
    const features = topIndices(byBase).map((b) => ({
      feature: this.#baseNames[b]!,
      weight: byBase[b]!,
    }));
    return { dimensions, features };
  }
}

/** Indices of the {@link EXPLANATION_SIZE} largest positive values, largest first (ties: lower index). */
function topIndices(values: Float64Array): number[] {
  const top: number[] = [];
  for (let j = 0; j < values.length; j++) {
    const v = values[j]!;
    if (!(v > 0)) continue;
    if (top.length === EXPLANATION_SIZE && v <= values[top[EXPLANATION_SIZE - 1]!]!) continue;
    let at = top.length;
    while (at > 0 && values[top[at - 1]!]! < v) at--;
    top.splice(at, 0, j);
    if (top.length > EXPLANATION_SIZE) top.pop();
  }
  return top;
}
