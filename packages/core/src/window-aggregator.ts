/**
 * Window aggregation: turns a stream of flows into fixed-size windows of per-feature statistics.
 *
 * This is the hot path of both training and live scoring, so everything lives in typed arrays that
 * are allocated once per aggregator (state) or once per push (output), and no object is created per
 * flow.
 */
import type { FlowContext } from "./flow-context.ts";

/** Window geometry: `size` flows per window, a new window every `stride` flows. */
export interface WindowSpec {
  size: number;
  stride: number;
}

/** Tumbling windows of 50 flows: enough for a stable std, few enough to flag a flood fast. */
export const DEFAULT_WINDOW_SPEC: WindowSpec = { size: 50, stride: 50 };

/** Statistics emitted per feature, in this fixed order. */
export const WINDOW_STATISTICS = ["mean", "std", "min", "max"] as const;

/** One of {@link WINDOW_STATISTICS}. */
export type WindowStatistic = (typeof WINDOW_STATISTICS)[number];

const STATISTIC_COUNT = WINDOW_STATISTICS.length;

/**
 * Throws a `RangeError` naming the offending field unless `size` is an integer >= 2 and `stride`
 * an integer in 1..size. A stride above the size would skip flows between windows, which we never
 * allow: every flow must be seen by at least one window.
 */
export function validateWindowSpec(spec: WindowSpec): void {
  const { size, stride } = spec;
  if (!Number.isSafeInteger(size) || size < 2) {
    // A window of one flow has no sample std (n - 1 = 0).
    throw new RangeError(`window size must be an integer >= 2, got ${String(size)}`);
  }
  if (!Number.isSafeInteger(stride) || stride < 1 || stride > size) {
    throw new RangeError(
      `window stride must be an integer from 1 to the window size (${size}), got ${String(stride)}`,
    );
  }
}

/**
 * Column names of a window vector, in the same layout as {@link WindowBatch.features}: for each
 * feature, one name per statistic, e.g. `"Flow Duration:mean"`, `"Flow Duration:std"`, ...
 */
export function windowFeatureNames(featureNames: readonly string[]): string[] {
  const names: string[] = [];
  for (const feature of featureNames) {
    for (const statistic of WINDOW_STATISTICS) names.push(`${feature}:${statistic}`);
  }
  return names;
}

/**
 * Number of windows a sequence of `flows` flows yields:
 * `flows < size ? 0 : floor((flows - size) / stride) + 1`.
 */
export function windowCount(flows: number, spec: WindowSpec): number {
  validateWindowSpec(spec);
  if (!Number.isSafeInteger(flows) || flows < 0) {
    throw new RangeError(`flow count must be a non-negative integer, got ${String(flows)}`);
  }
  return countWindows(flows, spec.size, spec.stride);
}

function countWindows(flows: number, size: number, stride: number): number {
  return flows < size ? 0 : Math.floor((flows - size) / stride) + 1;
}

/** A batch of flows, row-major. */
export interface FlowBatch {
  count: number;
  featureCount: number;
  /** `count * featureCount` values, already finite (imputation happens before). */
  values: Float64Array;
  /**
   * Source line number of each flow (1-based file lines). Four bytes, not a double: the reader
   * refuses an input past line 4,294,967,295 (`too_many_lines`), and entries carry half the bytes.
   */
  lines: Uint32Array;
  /** 1 = labelled non-BENIGN, 0 = benign or unlabelled. */
  attack: Uint8Array;
  /** Who and when of each flow, when the input has those columns; not used by the model. */
  context?: FlowContext;
}

/** Windows closed by one push, row-major, {@link WINDOW_STATISTICS} per feature. */
export interface WindowBatch {
  count: number;
  /** `4 * featureCount`. */
  width: number;
  /**
   * `count * width`; for feature j at offsets 4j+0 mean, 4j+1 sample std (n - 1), 4j+2 min,
   * 4j+3 max.
   */
  features: Float64Array;
  /** Window sequence number (0-based, continuing across pushes, offset by `firstWindowIndex`). */
  index: Float64Array;
  /** Line of the window's first flow. */
  firstLine: Float64Array;
  /** Line of the window's last flow. */
  lastLine: Float64Array;
  /** How many of the window's flows have `attack = 1`. */
  attackFlows: Int32Array;
}

/** Options of {@link WindowAggregator}. */
export interface WindowAggregatorOptions {
  /** Number of the first window, to continue a numbering across aggregators. Default 0. */
  firstWindowIndex?: number;
}

/**
 * Sliding windows keep mean and M2 up to date with one O(1) replace step per flow. Each step
 * rounds, and when a value far from the rest leaves the window (a 1e12 flow followed by flows near
 * 1), M2 is a small difference of huge numbers and has lost most of its digits. So each feature
 * tracks the sum of |M2 increments| since its last exact recompute: the rounding error of M2 is a
 * few ulps of that sum, and once the sum exceeds 2^23 times M2 the relative error could pass
 * 2^23 * 2^-53 = 2^-30 (about 1e-9), so that feature is recomputed exactly from the ring buffer.
 * In steady traffic the sum stays within a small multiple of M2 and this never fires; with 1% of
 * values being 1e9-scale outliers it fires for about 6 values in 1000.
 */
const CANCELLATION_RECOMPUTE_RATIO = 2 ** 23;

/**
 * Turns a stream of flow batches into windows of per-feature mean, sample std, min and max.
 *
 * Window k covers flows `[k * stride, k * stride + size)` counted from the first flow pushed, and
 * closes when its last flow is pushed. Cost is amortised O(features) per flow for any stride (plus
 * an O(size) exact recompute of a feature when an outlier leaves a sliding window):
 * - `stride == size` (tumbling): Welford's update per flow, on values shifted by the window's first
 *   value so that 1e12-scale values with a small spread keep their digits.
 * - `stride < size` (sliding): a ring buffer of the last `size` flows, a Welford replace step per
 *   flow (same shift), and block-decomposed min and max (van Herk / Gil-Werman): the ring's
 *   cycles are blocks of `size` flows, so every window is a suffix of the previous block plus a
 *   prefix of the current one, and its min is the smaller of two running minima.
 */
export class WindowAggregator {
  readonly #featureCount: number;
  readonly #size: number;
  readonly #stride: number;
  readonly #firstWindowIndex: number;

  #flowsSeen = 0;
  #windowsClosed = 0;
  /** Flows still to push before the next window closes. */
  #untilClose: number;

  // Per-feature running state, shared by both modes. Values are kept relative to `#shift` (a value
  // of the current window), which bounds the cancellation in M2 by the window's own spread.
  readonly #shift: Float64Array;
  readonly #mean: Float64Array;
  readonly #m2: Float64Array;
  #attackCount = 0;

  // Min and max of the flows of the current block: the window itself when tumbling, the ring's
  // current cycle (slots 0..slot) when sliding.
  readonly #min: Float64Array;
  readonly #max: Float64Array;

  // Tumbling mode.
  #windowFill = 0;
  #windowFirstLine = 0;

  // Sliding mode: ring buffers of the last `size` flows, indexed by slot = flow number % size.
  readonly #ring: Float64Array;
  readonly #ringLines: Float64Array;
  readonly #ringAttack: Uint8Array;
  #slot = 0;
  #ringFull = false;
  /** Sum of |M2 increments| per feature since its last exact recompute. */
  readonly #updateMagnitude: Float64Array;
  // Min and max of ring slots s..size-1 of the last complete block, per slot and feature (same
  // layout as the ring). Monotonic deques of slots did the same job, but their pop loop mispredicts
  // on almost every value of a noisy feature; this is a few predictable comparisons per value, and
  // took the sliding path from 0.9M to 2.4M flows/s (size 50, stride 49, 25 features).
  readonly #suffixMin: Float64Array;
  readonly #suffixMax: Float64Array;

  /**
   * @param featureCount - features per flow (positive integer); every pushed batch must match.
   * @param spec - window geometry, checked with {@link validateWindowSpec}.
   * @param options - `firstWindowIndex` offsets {@link WindowBatch.index}.
   */
  constructor(featureCount: number, spec: WindowSpec, options: WindowAggregatorOptions = {}) {
    validateWindowSpec(spec);
    if (!Number.isSafeInteger(featureCount) || featureCount < 1) {
      throw new RangeError(`featureCount must be a positive integer, got ${String(featureCount)}`);
    }
    const firstWindowIndex = options.firstWindowIndex ?? 0;
    if (!Number.isSafeInteger(firstWindowIndex) || firstWindowIndex < 0) {
      throw new RangeError(
        `firstWindowIndex must be a non-negative integer, got ${String(firstWindowIndex)}`,
      );
    }
    this.#featureCount = featureCount;
    this.#size = spec.size;
    this.#stride = spec.stride;
    this.#firstWindowIndex = firstWindowIndex;
    this.#untilClose = spec.size;

    this.#shift = new Float64Array(featureCount);
    this.#mean = new Float64Array(featureCount);
    this.#m2 = new Float64Array(featureCount);

    // The sliding path folds each value into the block's running min and max without a first-value
    // case, so they start empty (+-Infinity); the tumbling path sets them from the first flow.
    this.#min = new Float64Array(featureCount).fill(Infinity);
    this.#max = new Float64Array(featureCount).fill(-Infinity);

    const sliding = spec.stride < spec.size;
    const ringSlots = sliding ? spec.size : 0;
    this.#ring = new Float64Array(ringSlots * featureCount);
    this.#ringLines = new Float64Array(ringSlots);
    this.#ringAttack = new Uint8Array(ringSlots);
    this.#updateMagnitude = new Float64Array(sliding ? featureCount : 0);
    this.#suffixMin = new Float64Array(ringSlots * featureCount);
    this.#suffixMax = new Float64Array(ringSlots * featureCount);
  }

  /** Flows seen so far. */
  get flowsSeen(): number {
    return this.#flowsSeen;
  }

  /**
   * Flows after the end of the last closed window: the tail, which is reported rather than silently
   * lost. Before any window closes this equals {@link flowsSeen}.
   */
  get tailFlows(): number {
    if (this.#windowsClosed === 0) return this.#flowsSeen;
    const lastEnd = (this.#windowsClosed - 1) * this.#stride + this.#size;
    return this.#flowsSeen - lastEnd;
  }

  /** Windows closed so far. */
  get windowsClosed(): number {
    return this.#windowsClosed;
  }

  /**
   * Adds a batch and returns the windows it closed, in order, as a fresh {@link WindowBatch}
   * (possibly with count 0). The batch's arrays are only read, never kept.
   */
  push(batch: FlowBatch): WindowBatch {
    const fc = this.#featureCount;
    const { count } = batch;
    if (batch.featureCount !== fc) {
      throw new RangeError(`batch featureCount is ${batch.featureCount}, expected ${fc}`);
    }
    if (!Number.isSafeInteger(count) || count < 0) {
      throw new RangeError(`batch count must be a non-negative integer, got ${String(count)}`);
    }
    if (batch.values.length < count * fc) {
      throw new RangeError(
        `batch values has ${batch.values.length} entries,` +
          ` expected count * featureCount = ${count * fc}`,
      );
    }
    if (batch.lines.length < count || batch.attack.length < count) {
      throw new RangeError(`batch lines and attack need ${count} entries each`);
    }

    const size = this.#size;
    const stride = this.#stride;
    const closing =
      countWindows(this.#flowsSeen + count, size, stride) -
      countWindows(this.#flowsSeen, size, stride);
    const width = STATISTIC_COUNT * fc;
    const out: WindowBatch = {
      count: closing,
      width,
      features: new Float64Array(closing * width),
      index: new Float64Array(closing),
      firstLine: new Float64Array(closing),
      lastLine: new Float64Array(closing),
      attackFlows: new Int32Array(closing),
    };
    if (stride === size) this.#pushTumbling(batch, out);
    else this.#pushSliding(batch, out);
    this.#flowsSeen += count;
    return out;
  }

  #pushTumbling(batch: FlowBatch, out: WindowBatch): void {
    const fc = this.#featureCount;
    const size = this.#size;
    const { values, lines, attack, count } = batch;
    const shift = this.#shift;
    const mean = this.#mean;
    const m2 = this.#m2;
    const min = this.#min;
    const max = this.#max;
    const features = out.features;
    const width = out.width;
    let fill = this.#windowFill;
    let attackCount = this.#attackCount;
    let row = 0;

    for (let i = 0; i < count; i++) {
      const base = i * fc;
      if (fill === 0) {
        // The window's first value is the shift: later values are taken relative to it, so a
        // 1e12-scale feature with a small spread is summed at the scale of its spread.
        for (let f = 0; f < fc; f++) {
          const x = values[base + f]!;
          shift[f] = x;
          mean[f] = 0;
          m2[f] = 0;
          min[f] = x;
          max[f] = x;
        }
        this.#windowFirstLine = lines[i]!;
        attackCount = 0;
      } else {
        const inverse = 1 / (fill + 1);
        for (let f = 0; f < fc; f++) {
          const x = values[base + f]!;
          const xs = x - shift[f]!;
          const m = mean[f]!;
          const delta = xs - m;
          const next = m + delta * inverse;
          mean[f] = next;
          m2[f] = m2[f]! + delta * (xs - next);
          if (x < min[f]!) min[f] = x;
          if (x > max[f]!) max[f] = x;
        }
      }
      if (attack[i]! !== 0) attackCount++;
      fill++;

      if (fill === size) {
        const o = row * width;
        const denominator = size - 1;
        for (let f = 0; f < fc; f++) {
          const p = o + STATISTIC_COUNT * f;
          const variance = m2[f]! / denominator;
          features[p] = shift[f]! + mean[f]!;
          features[p + 1] = variance > 0 ? Math.sqrt(variance) : 0;
          features[p + 2] = min[f]!;
          features[p + 3] = max[f]!;
        }
        out.index[row] = this.#firstWindowIndex + this.#windowsClosed;
        out.firstLine[row] = this.#windowFirstLine;
        out.lastLine[row] = lines[i]!;
        out.attackFlows[row] = attackCount;
        this.#windowsClosed++;
        row++;
        fill = 0;
      }
    }
    this.#windowFill = fill;
    this.#attackCount = attackCount;
  }

  #pushSliding(batch: FlowBatch, out: WindowBatch): void {
    const fc = this.#featureCount;
    const size = this.#size;
    const stride = this.#stride;
    const { values, lines, attack, count } = batch;
    const ring = this.#ring;
    const ringLines = this.#ringLines;
    const ringAttack = this.#ringAttack;
    const shift = this.#shift;
    const mean = this.#mean;
    const m2 = this.#m2;
    const magnitude = this.#updateMagnitude;
    const blockMin = this.#min;
    const blockMax = this.#max;
    const suffixMin = this.#suffixMin;
    const suffixMax = this.#suffixMax;
    const features = out.features;
    const width = out.width;
    const inverseSize = 1 / size;
    const denominator = size - 1;
    let slot = this.#slot;
    let untilClose = this.#untilClose;
    let attackCount = this.#attackCount;
    let row = 0;

    for (let i = 0; i < count; i++) {
      const base = i * fc;
      const ringBase = slot * fc;

      if (this.#ringFull) {
        for (let f = 0; f < fc; f++) {
          const x = values[base + f]!;
          const k = shift[f]!;
          // The flow leaving the window sits in the slot the new one takes.
          const ys = ring[ringBase + f]! - k;
          ring[ringBase + f] = x;
          if (x < blockMin[f]!) blockMin[f] = x;
          if (x > blockMax[f]!) blockMax[f] = x;
          // Welford replace step (remove y, add x in one go):
          // mean' = mean + (x - y) / n,  M2' = M2 + (x - y)(x - mean' + y - mean).
          const xs = x - k;
          const d = xs - ys;
          const m = mean[f]!;
          const next = m + d * inverseSize;
          const increment = d * (xs - next + (ys - m));
          const updated = m2[f]! + increment;
          const sum = magnitude[f]! + Math.abs(increment);
          mean[f] = next;
          m2[f] = updated;
          magnitude[f] = sum;
          // M2 reaching zero while values still change is the same cancellation, seen where
          // the increments underflow (values below 1e-154 square to zero) and `sum` stays 0.
          if (sum > CANCELLATION_RECOMPUTE_RATIO * updated || (updated <= 0 && d !== 0)) {
            this.#recomputeFeature(f, slot);
          }
        }
      } else {
        // Filling the first block: no statistics are needed before it completes.
        for (let f = 0; f < fc; f++) {
          const x = values[base + f]!;
          ring[ringBase + f] = x;
          if (x < blockMin[f]!) blockMin[f] = x;
          if (x > blockMax[f]!) blockMax[f] = x;
        }
      }

      const isAttack = attack[i]! !== 0 ? 1 : 0;
      attackCount += isAttack - ringAttack[slot]!;
      ringAttack[slot] = isAttack;
      ringLines[slot] = lines[i]!;

      if (slot === size - 1) {
        // Every `size` flows, start over from the exact two-pass statistics of the ring (the first
        // time, that is how the first window's statistics are made). Sliding Welford drifts: each
        // replace step rounds and nothing pulls the running mean and M2 back, so error would grow
        // without bound over a long stream. The recompute costs O(size * features) once per
        // `size` flows, amortised O(features) per flow, and bounds the drift to `size` steps.
        this.#ringFull = true;
        this.#completeBlock(slot);
        slot = 0;
      } else {
        slot++;
      }

      if (--untilClose === 0) {
        untilClose = stride;
        // `slot` now points at the window's oldest flow: the window is slots slot..size-1 of the
        // last complete block (empty right after a block completes) plus the current block.
        const oldest = slot * fc;
        const o = row * width;
        for (let f = 0; f < fc; f++) {
          const p = o + STATISTIC_COUNT * f;
          const variance = m2[f]! / denominator;
          const suffixLow = suffixMin[oldest + f]!;
          const suffixHigh = suffixMax[oldest + f]!;
          const blockLow = blockMin[f]!;
          const blockHigh = blockMax[f]!;
          features[p] = shift[f]! + mean[f]!;
          features[p + 1] = variance > 0 ? Math.sqrt(variance) : 0;
          features[p + 2] = blockLow < suffixLow ? blockLow : suffixLow;
          features[p + 3] = blockHigh > suffixHigh ? blockHigh : suffixHigh;
        }
        out.index[row] = this.#firstWindowIndex + this.#windowsClosed;
        out.firstLine[row] = ringLines[slot]!;
        out.lastLine[row] = lines[i]!;
        out.attackFlows[row] = attackCount;
        this.#windowsClosed++;
        row++;
      }
    }
    this.#slot = slot;
    this.#untilClose = untilClose;
    this.#attackCount = attackCount;
  }

  /**
   * Called when the ring holds exactly one complete block (`newest` = size - 1 was just written):
   * recomputes every feature's statistics exactly, takes the block's suffix minima and maxima, and
   * starts the next block empty.
   */
  #completeBlock(newest: number): void {
    const fc = this.#featureCount;
    const ring = this.#ring;
    const suffixMin = this.#suffixMin;
    const suffixMax = this.#suffixMax;
    // Feature by feature down the ring's columns: the accumulators stay in registers, which
    // measured faster than sweeping rows with per-feature accumulator arrays.
    for (let f = 0; f < fc; f++) {
      this.#recomputeFeature(f, newest);
      let low = Infinity;
      let high = -Infinity;
      for (let p = newest * fc + f; p >= 0; p -= fc) {
        const x = ring[p]!;
        if (x < low) low = x;
        if (x > high) high = x;
        suffixMin[p] = low;
        suffixMax[p] = high;
      }
      this.#min[f] = Infinity;
      this.#max[f] = -Infinity;
    }
  }

  /** Exact statistics of feature `f` from the full ring; `newest` is the slot just written. */
  #recomputeFeature(f: number, newest: number): void {
    const fc = this.#featureCount;
    const size = this.#size;
    const ring = this.#ring;
    const k = ring[newest * fc + f]!;
    let sum = 0;
    for (let s = 0; s < size; s++) sum += ring[s * fc + f]! - k;
    const m = sum / size;
    let deviationSum = 0;
    let squares = 0;
    for (let s = 0; s < size; s++) {
      const deviation = ring[s * fc + f]! - k - m;
      deviationSum += deviation;
      squares += deviation * deviation;
    }
    // Corrected two-pass: subtracting (sum of deviations)^2 / n removes the first-order error of
    // the rounded mean.
    const value = squares - (deviationSum * deviationSum) / size;
    this.#shift[f] = k;
    this.#mean[f] = m;
    this.#m2[f] = value > 0 ? value : 0;
    this.#updateMagnitude[f] = 0;
  }
}

/**
 * Reference implementation used by tests and tools: recomputes every window from scratch (a
 * corrected two-pass std and a scan for min and max), O(size * features) per window. Returns
 * `windowCount(count, spec) * 4 * featureCount` values, laid out as {@link WindowBatch.features}.
 */
export function aggregateWindowsNaive(
  values: Float64Array,
  count: number,
  featureCount: number,
  spec: WindowSpec,
): Float64Array {
  const windows = windowCount(count, spec);
  const { size, stride } = spec;
  const width = STATISTIC_COUNT * featureCount;
  if (values.length < count * featureCount) {
    throw new RangeError(`values has ${values.length} entries, expected ${count * featureCount}`);
  }
  const out = new Float64Array(windows * width);
  for (let w = 0; w < windows; w++) {
    const start = w * stride;
    for (let f = 0; f < featureCount; f++) {
      let sum = 0;
      let min = Infinity;
      let max = -Infinity;
      for (let i = start; i < start + size; i++) {
        const x = values[i * featureCount + f]!;
        sum += x;
        if (x < min) min = x;
        if (x > max) max = x;
      }
      const mean = sum / size;
      let deviationSum = 0;
      let squares = 0;
      for (let i = start; i < start + size; i++) {
        const deviation = values[i * featureCount + f]! - mean;
        deviationSum += deviation;
        squares += deviation * deviation;
      }
      const variance = (squares - (deviationSum * deviationSum) / size) / (size - 1);
      const p = w * width + STATISTIC_COUNT * f;
      out[p] = mean;
      out[p + 1] = variance > 0 ? Math.sqrt(variance) : 0;
      out[p + 2] = min;
      out[p + 3] = max;
    }
  }
  return out;
}
