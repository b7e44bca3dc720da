/**
 * Scores windows with a trained model: Isolation Forest decision score, fused with the model's
 * other detectors when it has any (window-detectors.ts), the threshold, and the PCA projection
 * the dashboard plots.
 *
 * The model stores its forest and PCA over robust-scaled window statistics (as scikit-learn
 * would). Scaling is monotone per column, so at load time each split threshold is mapped back
 * to raw units — the largest raw value whose scaled value passes the split, so every window
 * takes exactly the path it would take after scaling — and the PCA loadings are divided by the
 * scale: the hot path then never copies or scales a window.
 */
import { decisionFunction, type IsolationForestModel } from "./isolation-forest.ts";
import type { FloodwatchModel } from "./model-file.ts";
import type { WindowBatch } from "./window-aggregator.ts";
import {
  EcodScorer,
  fusedZ,
  mahalanobisContributions,
  mahalanobisDistance,
  rangeExcess,
  type DetectorFusion,
  type MahalanobisModel,
  type RangeGuard,
} from "./window-detectors.ts";

/** Scores of one batch of windows, aligned with the batch. */
export interface ScoredWindows {
  count: number;
  /**
   * Decision score in the Isolation Forest's units: lower is more anomalous. With the forest
   * alone (format 1 models) it is the forest's decision score; with more detectors it is the
   * fused score, equal to the forest's decision score wherever the forest is the most alarmed.
   */
  decision: Float64Array;
  /** 1 when the decision score is below the model's threshold. */
  anomaly: Uint8Array;
  pc1: Float64Array;
  pc2: Float64Array;
  /** Each detector's own score, when the model fuses several (for explanations). */
  detectors?: DetectorScores;
}

/** The detectors' scores behind a fused decision, aligned with the batch. */
export interface DetectorScores {
  /** The Isolation Forest's decision score (lower is more anomalous). */
  forest: Float64Array;
  /** ECOD score (higher is more anomalous), or null when ECOD does not vote. */
  ecod: Float64Array | null;
  /** Squared Mahalanobis distance (higher is more anomalous), or null without it. */
  mahalanobis: Float64Array | null;
  /** Distance beyond the training range in spans (0 inside), or null without a guard. */
  guardExcess: Float64Array | null;
}

/** Scores batches of windows with one model. */
export class WindowScorer {
  readonly #forest: IsolationForestModel;
  /** PCA loadings over raw statistics (PC1 then PC2), and the constant each projection adds. */
  readonly #loadings1: Float64Array;
  readonly #loadings2: Float64Array;
  readonly #offset1: number;
  readonly #offset2: number;
  readonly #width: number;
  readonly #ecod: EcodScorer | null;
  readonly #guard: RangeGuard | null;
  readonly #mahalanobis: MahalanobisModel | null;
  readonly #scratch: Float64Array;
  readonly #fusion: DetectorFusion | null;

  constructor(readonly model: FloodwatchModel) {
    const { center, scale } = model.scaler;
    const forest = model.forest;
    const threshold = new Float64Array(forest.threshold.length);
    for (let node = 0; node < threshold.length; node++) {
      const f = forest.feature[node]!;
      threshold[node] = f >= 0 ? rawThreshold(forest.threshold[node]!, center[f]!, scale[f]!) : 0;
    }
    this.#forest = { ...forest, threshold };
    this.#width = model.features.length * 4;
    const width = this.#width;
    const [c1, c2] = model.pca.components;
    this.#loadings1 = new Float64Array(width);
    this.#loadings2 = new Float64Array(width);
    let offset1 = 0;
    let offset2 = 0;
    for (let j = 0; j < width; j++) {
      this.#loadings1[j] = c1[j]! / scale[j]!;
      this.#loadings2[j] = c2[j]! / scale[j]!;
      const shift = center[j]! / scale[j]! + model.pca.mean[j]!;
      offset1 -= c1[j]! * shift;
      offset2 -= c2[j]! * shift;
    }
    this.#offset1 = offset1;
    this.#offset2 = offset2;
    const detection = model.detection;
    this.#ecod = detection?.ecod ? new EcodScorer(detection.ecod, width) : null;
    this.#guard = detection?.guard ?? null;
    this.#mahalanobis = detection?.mahalanobis ?? null;
    this.#scratch = new Float64Array(2 * width);
    this.#fusion = detection?.fusion ?? null;
  }

  /**
   * The forest with its split thresholds in raw (aggregator) units: the same flat arrays as
   * `model.forest`, so a path walked on an unscaled window vector is the path scoring took.
   */
  get rawForest(): IsolationForestModel {
    return this.#forest;
  }

  /**
   * ECOD's per-dimension contributions for one window vector (as the aggregator emits it, at
   * `offset`): each dimension's `-log` tail probability in the aggregation that set the score;
   * they sum to the window's ECOD score; written into `out` when given. Null when the model has
   * no ECOD (format 1 models).
   */
  dimensionContributions(
    window: Float64Array,
    offset = 0,
    out?: Float64Array,
  ): Float64Array | null {
    if (!this.#ecod) return null;
    const terms = out ?? new Float64Array(this.#width);
    this.#ecod.score(window, offset, terms);
    return terms;
  }

  /** Scores every window of the batch. */
  score(windows: WindowBatch): ScoredWindows {
    const { count, width, features } = windows;
    if (width !== this.#width) {
      throw new RangeError(`windows have ${width} statistics, the model expects ${this.#width}`);
    }
    const decision = decisionFunction(this.#forest, features, count, width);
    const detectors = this.#fusion ? this.#fuse(windows, decision) : undefined;
    const anomaly = new Uint8Array(count);
    const pc1 = new Float64Array(count);
    const pc2 = new Float64Array(count);
    const threshold = this.model.threshold.value;
    const l1 = this.#loadings1;
    const l2 = this.#loadings2;
    for (let w = 0; w < count; w++) {
      anomaly[w] = decision[w]! < threshold ? 1 : 0;
      let p1 = this.#offset1;
      let p2 = this.#offset2;
      const base = w * width;
      for (let j = 0; j < width; j++) {
        const v = features[base + j]!;
        p1 += v * l1[j]!;
        p2 += v * l2[j]!;
      }
      pc1[w] = p1;
      pc2[w] = p2;
    }
    return detectors
      ? { count, decision, anomaly, pc1, pc2, detectors }
      : { count, decision, anomaly, pc1, pc2 };
  }

  /**
   * The Mahalanobis detector's per-dimension shares of its distance for one window vector (they
   * sum to the distance; see `mahalanobisContributions`), written into `out` when given. Null
   * when the model has none.
   */
  correlationContributions(
    window: Float64Array,
    offset = 0,
    out?: Float64Array,
  ): Float64Array | null {
    if (!this.#mahalanobis) return null;
    return mahalanobisContributions(this.#mahalanobis, window, offset, out, this.#scratch);
  }

  /** Replaces the forest's decisions by the fused ones; returns each detector's scores. */
  #fuse(windows: WindowBatch, decision: Float64Array): DetectorScores {
    const fusion = this.#fusion!;
    const { count, width, features } = windows;
    const forest = decision.slice(0, count);
    const ecodVotes = fusion.ecodVotes;
    const ecod = ecodVotes ? new Float64Array(count) : null;
    const guard = this.#guard;
    const guardExcess = guard ? new Float64Array(count) : null;
    const correlation = this.#mahalanobis;
    const mahalanobis = correlation ? new Float64Array(count) : null;
    const margin = guard?.margin ?? 0;
    for (let w = 0; w < count; w++) {
      const e = ecodVotes ? this.#ecod!.score(features, w * width) : null;
      const g = guard ? rangeExcess(guard, features, w * width) : 0;
      const m = correlation
        ? mahalanobisDistance(correlation, features, w * width, this.#scratch)
        : null;
      if (ecod) ecod[w] = e!;
      if (mahalanobis) mahalanobis[w] = m!;
      if (guardExcess) guardExcess[w] = g;
      const d = forest[w]!;
      const z = fusedZ(fusion, d, e, m, g, margin);
      const zForest = (d - fusion.forestMedian) / fusion.forestSpread;
      // Where the forest is the most alarmed detector, its own score, not a round trip of it.
      decision[w] = z === zForest ? d : fusion.forestMedian + z * fusion.forestSpread;
    }
    return { forest, ecod, mahalanobis, guardExcess };
  }
}

const bits = new Float64Array(1);
const bitsAsInt = new BigInt64Array(bits.buffer);

/** The adjacent double towards +Infinity (`up`) or -Infinity. */
function nextDouble(x: number, up: boolean): number {
  if (x === 0) return up ? Number.MIN_VALUE : -Number.MIN_VALUE;
  bits[0] = x;
  bitsAsInt[0] = bitsAsInt[0]! + (x > 0 === up ? 1n : -1n);
  return bits[0];
}

/**
 * The largest raw value `x` with `(x - center) / scale <= t` in floating point: comparing raw
 * values against it gives exactly the scaled comparison, even for values lying on a split.
 */
export function rawThreshold(t: number, center: number, scale: number): number {
  const passes = (x: number) => (x - center) / scale <= t;
  let x = t * scale + center;
  if (!Number.isFinite(x)) return x;
  while (!passes(x)) x = nextDouble(x, false);
  for (let next = nextDouble(x, true); passes(next); next = nextDouble(x, true)) x = next;
  return x;
}
