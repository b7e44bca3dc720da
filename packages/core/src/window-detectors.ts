/**
 * The detectors that stand beside the Isolation Forest, and how their verdicts are fused.
 *
 * The forest splits on one axis at a time, so a window that is extreme in 4 of its 100
 * statistics changes few of its paths, and a value beyond the training range can never be more
 * isolated than the most extreme training value. Two per-dimension detectors cover what it
 * misses:
 *
 * - ECOD (Li et al., TKDE 2022): per dimension, the empirical tail probability of the window's
 *   value among the training windows; the score is the sum of `-log` tail probabilities. It is
 *   parameter-free and explains itself: each dimension's term is its contribution.
 * - A range guard: how far the window lies beyond the training range of any dimension, in units
 *   of that range. Rank-based detectors saturate at the edge of the training data; ×100 packets/s
 *   lies far beyond it, and the guard says so.
 *
 * Fusion puts every detector on one scale calibrated on the benign validation windows: `z = 0` at
 * the validation median, `z = -1` at the validation quantile the threshold is taken at, lower is
 * more anomalous. The fused `z` is the minimum (any detector may raise the alarm), and it is
 * reported in the forest's own decision units, so a window where the forest is the most alarmed
 * detector gets exactly the forest's decision score.
 *
 * Everything here works on window vectors as the aggregator emits them (transformed, unscaled).
 */
import { CholeskyDecomposition, Matrix } from "ml-matrix";
import { quantile, quantileSorted } from "./stats.ts";

/** ECOD's reference distribution: quantile knots of every dimension over the fit windows. */
export interface EcodModel {
  /** Knots per dimension: quantiles of the fit windows at `i / (knotCount - 1)`. */
  knotCount: number;
  /** `width * knotCount` knots, dimension after dimension, each ascending. */
  knots: Float64Array;
  /**
   * 1 where the fit windows' skewness is negative: ECOD's "auto" aggregation then reads that
   * dimension's left tail, else its right tail.
   */
  leftTail: Uint8Array;
}

/** The range guard: training range of every dimension, and how far beyond it alarms. */
export interface RangeGuard {
  low: Float64Array;
  high: Float64Array;
  /** Unit of the excess: the dimension's training range, at least {@link GUARD_MIN_SPAN}. */
  span: Float64Array;
  /** Excess (in spans) at which the guard alone reaches the alarm threshold. */
  margin: number;
}

/**
 * The correlation detector: squared Mahalanobis distance of the window from the fit windows'
 * mean. It sees what per-dimension detectors cannot: statistics that always move together
 * (bytes/s with packets/s, a feature's mean with its max) moving apart.
 */
export interface MahalanobisModel {
  mean: Float64Array;
  /**
   * The whitening matrix `W = L⁻¹`, where `L Lᵀ` is the Cholesky factorisation of the regularised
   * covariance: lower triangular, packed by rows (row i holds its i + 1 entries), `width ·
   * (width + 1) / 2` values. The distance is `|W (x - mean)|²`: half the multiplications of
   * `dᵀ P d` with the full precision matrix.
   */
  whitening: Float64Array;
}

/** Scales that put each detector's score on the fused `z` scale. */
export interface DetectorFusion {
  /** Forest decision: `z = (decision - forestMedian) / forestSpread`. */
  forestMedian: number;
  forestSpread: number;
  /**
   * Whether ECOD votes. A model may carry ECOD for per-dimension explanations only: on the
   * shared data it cost recall at the false-alarm target once Mahalanobis voted.
   */
  ecodVotes: boolean;
  /** ECOD score (higher is more anomalous): `z = (ecodMedian - score) / ecodSpread`. */
  ecodMedian: number;
  ecodSpread: number;
  /** Mahalanobis distance (higher is more anomalous), as ECOD. */
  mahalanobisMedian: number;
  mahalanobisSpread: number;
  /** The fused `z` at the alarm threshold (calibrated on the validation windows). */
  zThreshold: number;
}

/**
 * 257 knots (quantiles at multiples of 1/256) resolve tail probabilities down to 0.4%: finer
 * than the 1% alarm quantile, and 25,700 numbers in the model file for 100 dimensions instead
 * of every fit window's value (300,000 with 3,000 fit windows).
 */
export const ECOD_KNOTS = 257;

/**
 * Smallest span of the range guard, in transformed units. A dimension that was constant in
 * training (a flag no training flow set) would otherwise alarm on its first change; after a
 * signed log1p, 1 is a factor of e, so a ×100 surge (4.6) still counts as 4.6 spans.
 */
export const GUARD_MIN_SPAN = 1;

/**
 * Default guard margin, in spans beyond the training range. With the forest alone it took ×100
 * surges of 7 of 8 rate and count features from 0.1 to 1.0 recall, for 2 points of false alarms
 * (one benign other-day window with a 1 µs flow lay 2.2 spans out). docs/detection.md.
 */
export const DEFAULT_GUARD_MARGIN = 1;

/** Fits ECOD's knots on `rows` window vectors of `width` values, row-major. */
export function fitEcod(x: Float64Array, rows: number, width: number): EcodModel {
  const knots = new Float64Array(width * ECOD_KNOTS);
  const leftTail = new Uint8Array(width);
  const column = new Float64Array(rows);
  for (let j = 0; j < width; j++) {
    let sum = 0;
    for (let r = 0; r < rows; r++) {
      column[r] = x[r * width + j]!;
      sum += column[r]!;
    }
    const mean = sum / rows;
    let m2 = 0;
    let m3 = 0;
    for (let r = 0; r < rows; r++) {
      const d = column[r]! - mean;
      m2 += d * d;
      m3 += d * d * d;
    }
    leftTail[j] = m2 > 0 && m3 < 0 ? 1 : 0;
    column.sort();
    for (let k = 0; k < ECOD_KNOTS; k++) {
      knots[j * ECOD_KNOTS + k] = quantileSorted(column, k / (ECOD_KNOTS - 1));
    }
  }
  return { knotCount: ECOD_KNOTS, knots, leftTail };
}

/**
 * Covariance regularisation: each variance grows by 5% plus 0.01 (a standard deviation of 0.1,
 * a factor of 1.1 after log1p), so that a statistic constant in training (a flag no training
 * flow set) does not make the covariance singular, and a small change of it is not infinitely
 * far.
 */
const MAHALANOBIS_SHRINK = 0.05;
const MAHALANOBIS_FLOOR = 0.01;

/** Fits the correlation detector on `rows` window vectors. */
export function fitMahalanobis(x: Float64Array, rows: number, width: number): MahalanobisModel {
  const mean = new Float64Array(width);
  for (let r = 0; r < rows; r++) for (let j = 0; j < width; j++) mean[j]! += x[r * width + j]!;
  for (let j = 0; j < width; j++) mean[j] = mean[j]! / rows;
  const covariance = new Matrix(width, width);
  const centered = new Float64Array(width);
  for (let r = 0; r < rows; r++) {
    for (let j = 0; j < width; j++) centered[j] = x[r * width + j]! - mean[j]!;
    for (let i = 0; i < width; i++) {
      const ci = centered[i]!;
      if (ci === 0) continue;
      for (let j = i; j < width; j++)
        covariance.set(i, j, covariance.get(i, j) + ci * centered[j]!);
    }
  }
  for (let i = 0; i < width; i++) {
    for (let j = i; j < width; j++) {
      const c = covariance.get(i, j) / Math.max(rows - 1, 1);
      covariance.set(i, j, c);
      covariance.set(j, i, c);
    }
  }
  for (let i = 0; i < width; i++) {
    const v = covariance.get(i, i);
    covariance.set(i, i, v * (1 + MAHALANOBIS_SHRINK) + MAHALANOBIS_FLOOR);
  }
  const lower = new CholeskyDecomposition(covariance).lowerTriangularMatrix;
  // W = L⁻¹ by forward substitution, column by column of the identity.
  const w = new Matrix(width, width);
  for (let c = 0; c < width; c++) {
    for (let i = c; i < width; i++) {
      let sum = i === c ? 1 : 0;
      for (let k = c; k < i; k++) sum -= lower.get(i, k) * w.get(k, c);
      w.set(i, c, sum / lower.get(i, i));
    }
  }
  const whitening = new Float64Array((width * (width + 1)) / 2);
  let p = 0;
  for (let i = 0; i < width; i++) for (let j = 0; j <= i; j++) whitening[p++] = w.get(i, j);
  return { mean, whitening };
}

/**
 * `y = W (x - mean)` for the window at `offset`: `centered` receives `x - mean`, `whitened` y.
 * Four rows of W at a time, each summed in its own order (so the result is the same to the bit
 * as one row at a time): four independent chains of additions keep the CPU's adders busy where
 * a single chain waits on each addition's latency. Row i of the packed triangle starts at
 * i(i+1)/2 and has i+1 terms.
 */
function whiten(
  model: MahalanobisModel,
  x: Float64Array,
  offset: number,
  centered: Float64Array,
  whitened: Float64Array,
): void {
  const { mean, whitening } = model;
  const width = mean.length;
  for (let j = 0; j < width; j++) centered[j] = x[offset + j]! - mean[j]!;
  let i = 0;
  for (; i + 3 < width; i += 4) {
    const p0 = (i * (i + 1)) / 2;
    const p1 = p0 + i + 1;
    const p2 = p1 + i + 2;
    const p3 = p2 + i + 3;
    let r0 = 0;
    let r1 = 0;
    let r2 = 0;
    let r3 = 0;
    for (let j = 0; j <= i; j++) {
      const d = centered[j]!;
      r0 += whitening[p0 + j]! * d;
      r1 += whitening[p1 + j]! * d;
      r2 += whitening[p2 + j]! * d;
      r3 += whitening[p3 + j]! * d;
    }
    const d1 = centered[i + 1]!;
    const d2 = centered[i + 2]!;
    const d3 = centered[i + 3]!;
    r1 += whitening[p1 + i + 1]! * d1;
    r2 += whitening[p2 + i + 1]! * d1;
    r2 += whitening[p2 + i + 2]! * d2;
    r3 += whitening[p3 + i + 1]! * d1;
    r3 += whitening[p3 + i + 2]! * d2;
    r3 += whitening[p3 + i + 3]! * d3;
    whitened[i] = r0;
    whitened[i + 1] = r1;
    whitened[i + 2] = r2;
    whitened[i + 3] = r3;
  }
  for (; i < width; i++) {
    const p = (i * (i + 1)) / 2;
    let row = 0;
    for (let j = 0; j <= i; j++) row += whitening[p + j]! * centered[j]!;
    whitened[i] = row;
  }
}

/**
 * Squared Mahalanobis distance of the window at `offset`, `|W (x - mean)|²`; `scratch` holds
 * `2 * width` values.
 */
export function mahalanobisDistance(
  model: MahalanobisModel,
  x: Float64Array,
  offset: number,
  scratch: Float64Array,
): number {
  const width = model.mean.length;
  const whitened = scratch.subarray(width, 2 * width);
  whiten(model, x, offset, scratch, whitened);
  let total = 0;
  for (let i = 0; i < width; i++) total += whitened[i]! * whitened[i]!;
  return total;
}

/**
 * Each dimension's share of the squared Mahalanobis distance of the window at `offset`:
 * `dᵢ (P d)ᵢ` with `P = Wᵀ W`. They sum to the distance; one may be negative when a statistic
 * moved the way its correlated partners make expected.
 *
 * Written into `out` (length = width) when given, with `scratch` (`2 * width` values) as working
 * space: an explanation asks for this once per window, and three fresh typed arrays per call
 * cost about as much as the arithmetic.
 */
export function mahalanobisContributions(
  model: MahalanobisModel,
  x: Float64Array,
  offset: number,
  out?: Float64Array,
  scratch?: Float64Array,
): Float64Array {
  const { whitening } = model;
  const width = model.mean.length;
  const space = scratch ?? new Float64Array(2 * width);
  const d = space.subarray(0, width);
  const y = space.subarray(width, 2 * width);
  whiten(model, x, offset, d, y);
  // P d = Wᵀ y: four rows of W added into pd at a time, a quarter of the stores of one row at a
  // time. (These shares only rank dimensions, so their last bits need not match the distance's.)
  const pd = out ?? new Float64Array(width);
  pd.fill(0);
  let i = 0;
  for (; i + 3 < width; i += 4) {
    const p0 = (i * (i + 1)) / 2;
    const p1 = p0 + i + 1;
    const p2 = p1 + i + 2;
    const p3 = p2 + i + 3;
    const y0 = y[i]!;
    const y1 = y[i + 1]!;
    const y2 = y[i + 2]!;
    const y3 = y[i + 3]!;
    for (let j = 0; j <= i; j++) {
      pd[j] =
        pd[j]! +
        whitening[p0 + j]! * y0 +
        whitening[p1 + j]! * y1 +
        whitening[p2 + j]! * y2 +
        whitening[p3 + j]! * y3;
    }
    pd[i + 1] =
      pd[i + 1]! +
      whitening[p1 + i + 1]! * y1 +
      whitening[p2 + i + 1]! * y2 +
      whitening[p3 + i + 1]! * y3;
    pd[i + 2] = pd[i + 2]! + whitening[p2 + i + 2]! * y2 + whitening[p3 + i + 2]! * y3;
    pd[i + 3] = pd[i + 3]! + whitening[p3 + i + 3]! * y3;
  }
  for (; i < width; i++) {
    const p = (i * (i + 1)) / 2;
    const yi = y[i]!;
    for (let j = 0; j <= i; j++) pd[j] = pd[j]! + whitening[p + j]! * yi;
  }
  for (let j = 0; j < width; j++) pd[j] = pd[j]! * d[j]!;
  return pd;
}

/** Fits the guard's ranges on `rows` window vectors. */
export function fitRangeGuard(
  x: Float64Array,
  rows: number,
  width: number,
  margin: number,
): RangeGuard {
  const low = new Float64Array(width).fill(Infinity);
  const high = new Float64Array(width).fill(-Infinity);
  for (let r = 0; r < rows; r++) {
    for (let j = 0; j < width; j++) {
      const v = x[r * width + j]!;
      if (v < low[j]!) low[j] = v;
      if (v > high[j]!) high[j] = v;
    }
  }
  const span = new Float64Array(width);
  for (let j = 0; j < width; j++) span[j] = Math.max(high[j]! - low[j]!, GUARD_MIN_SPAN);
  return { low, high, span, margin };
}

/**
 * Scores windows with ECOD and its per-dimension terms. One instance per model: it holds the
 * `-log` table of the knot counts, so scoring is two binary searches and two lookups per value.
 */
export class EcodScorer {
  readonly #model: EcodModel;
  readonly #width: number;
  /** `-log((c + 1) / (knotCount + 1))` for c = 0..knotCount: the smoothed tail probability. */
  readonly #negLog: Float64Array;

  constructor(model: EcodModel, width: number) {
    this.#model = model;
    this.#width = width;
    const k = model.knotCount;
    this.#negLog = new Float64Array(k + 1);
    for (let c = 0; c <= k; c++) this.#negLog[c] = -Math.log((c + 1) / (k + 1));
  }

  /**
   * ECOD score of the window at `offset` in `x`: `max(O_left, O_right, O_auto)` as in the paper.
   * When `terms` is given, the winning aggregation's per-dimension terms are written into it.
   */
  score(x: Float64Array, offset: number, terms?: Float64Array): number {
    const { knots, knotCount, leftTail } = this.#model;
    const negLog = this.#negLog;
    let left = 0;
    let right = 0;
    let auto = 0;
    for (let j = 0; j < this.#width; j++) {
      const v = x[offset + j]!;
      const base = j * knotCount;
      // below = knots < v, atOrBelow = knots <= v, by binary search over the ascending knots.
      let lo = 0;
      let hi = knotCount;
      while (lo < hi) {
        const mid = (lo + hi) >> 1;
        if (knots[base + mid]! < v) lo = mid + 1;
        else hi = mid;
      }
      const below = lo;
      hi = knotCount;
      while (lo < hi) {
        const mid = (lo + hi) >> 1;
        if (knots[base + mid]! <= v) lo = mid + 1;
        else hi = mid;
      }
      // Left tail: share of knots <= v; right tail: share of knots >= v.
      const l = negLog[lo]!;
      const r = negLog[knotCount - below]!;
      left += l;
      right += r;
      auto += leftTail[j] === 1 ? l : r;
    }
    const score = Math.max(left, right, auto);
    if (terms) this.#terms(x, offset, terms, score === auto ? 2 : score === left ? 0 : 1);
    return score;
  }

  /** Per-dimension terms of one aggregation (0 left, 1 right, 2 auto). */
  #terms(x: Float64Array, offset: number, terms: Float64Array, which: number): void {
    const { knots, knotCount, leftTail } = this.#model;
    for (let j = 0; j < this.#width; j++) {
      const v = x[offset + j]!;
      const k = knots.subarray(j * knotCount, (j + 1) * knotCount);
      let below = 0;
      let atOrBelow = 0;
      for (let i = 0; i < knotCount; i++) {
        if (k[i]! < v) below++;
        if (k[i]! <= v) atOrBelow++;
      }
      const useLeft = which === 0 || (which === 2 && leftTail[j] === 1);
      terms[j] = useLeft ? this.#negLog[atOrBelow]! : this.#negLog[knotCount - below]!;
    }
  }
}

/** How far the window at `offset` lies beyond the guard's range, in spans (0 inside it). */
export function rangeExcess(guard: RangeGuard, x: Float64Array, offset: number): number {
  const { low, high, span } = guard;
  let excess = 0;
  for (let j = 0; j < low.length; j++) {
    const v = x[offset + j]!;
    const beyond = v > high[j]! ? v - high[j]! : v < low[j]! ? low[j]! - v : 0;
    if (beyond > 0) {
      const e = beyond / span[j]!;
      if (e > excess) excess = e;
    }
  }
  return excess;
}

/**
 * The scale of one detector on the validation windows: its median and the distance from the
 * median to the `q` tail (lower tail when `lowerIsAnomalous`). A zero spread (a detector constant
 * on validation) becomes the smallest positive spread that keeps z finite.
 */
export function detectorScale(
  scores: Float64Array,
  q: number,
  lowerIsAnomalous: boolean,
): { median: number; spread: number } {
  const median = quantile(scores, 0.5);
  const tail = quantile(scores, lowerIsAnomalous ? q : 1 - q);
  const spread = Math.abs(median - tail);
  return { median, spread: spread > 0 ? spread : Math.max(Math.abs(median) * 1e-9, 1e-12) };
}

/**
 * The fused `z` of one window: the minimum over the detectors (a detector the model lacks is
 * passed as null). The guard contributes only beyond the training range, reaching the alarm
 * threshold at `margin` spans.
 *
 * Below the threshold, the other detectors' `z` is compressed logarithmically (the forest's is
 * bounded already): a flood can lie 10^8 validation spreads out in Mahalanobis distance, and a
 * score timeline should still show it on the forest's scale. The compression is monotone and the
 * identity above the threshold, so it changes no verdict and no ranking within a detector.
 * Calibration passes `zThreshold = -Infinity`, which turns it off.
 */
export function fusedZ(
  fusion: DetectorFusion,
  forestDecision: number,
  ecodScore: number | null,
  mahalanobis: number | null,
  guardExcess: number,
  guardMargin: number,
): number {
  const t = fusion.zThreshold;
  let z = (forestDecision - fusion.forestMedian) / fusion.forestSpread;
  if (ecodScore !== null) {
    const ze = squash((fusion.ecodMedian - ecodScore) / fusion.ecodSpread, t);
    if (ze < z) z = ze;
  }
  if (mahalanobis !== null) {
    const zm = squash((fusion.mahalanobisMedian - mahalanobis) / fusion.mahalanobisSpread, t);
    if (zm < z) z = zm;
  }
  if (guardExcess > 0 && guardMargin > 0) {
    // zThreshold is below 0: the guard's z falls through it as the excess passes the margin.
    const zg = squash((t * guardExcess) / guardMargin, t);
    if (zg < z) z = zg;
  }
  return z;
}

/** The logarithmic compression of fusedZ below the threshold `t` (a function, not a closure: hot). */
function squash(z: number, t: number): number {
  return z < t ? t - Math.log1p(t - z) : z;
}
