/**
 * Isolation Forest (Liu, Ting & Zhou 2008) with scikit-learn's `IsolationForest` semantics: the
 * same subsampling, height limit, random splitter, path-length normalisation, `score_samples` and
 * `decision_function` (contamination "auto"). Only the random stream differs, so models trained
 * here and by the Python prototype agree in distribution, not bit for bit.
 *
 * The forest is stored as flat typed arrays so that scoring a window is a few tight loops over
 * contiguous memory, and a model serialises without walking an object graph.
 */
import { createPrng } from "./prng.ts";

/**
 * A trained forest. Every tree's nodes are stored contiguously, in depth-first order with the left
 * child immediately after its parent, starting at `treeOffsets[t]`; all node indices are absolute.
 */
export interface IsolationForestModel {
  /** Number of trees. */
  nEstimators: number;
  /** Effective subsample size per tree: `min(options.maxSamples, rows)`. */
  maxSamples: number;
  /** Number of columns the forest was trained on; scoring input must have exactly this many. */
  featureCount: number;
  /** Length `nEstimators + 1`: tree `t` owns nodes `[treeOffsets[t], treeOffsets[t + 1])`. */
  treeOffsets: Int32Array;
  /** Split feature of each node; -1 marks a leaf. */
  feature: Int32Array;
  /** Split threshold: rows with `x[feature] <= threshold` go left. 0 at leaves. */
  threshold: Float64Array;
  /** Absolute index of the left child; -1 at leaves. */
  left: Int32Array;
  /** Absolute index of the right child; -1 at leaves. */
  right: Int32Array;
  /** `depth + averagePathLength(leafSize)` at leaves, 0 elsewhere. */
  leafValue: Float64Array;
}

/** Options of {@link fitIsolationForest}. */
export interface IsolationForestOptions {
  /** Number of trees; defaults to {@link DEFAULT_N_ESTIMATORS}. */
  nEstimators?: number;
  /** Rows drawn (without replacement) for each tree; defaults to {@link DEFAULT_MAX_SAMPLES}. */
  maxSamples?: number;
  /** Seed of the PRNG; equal data and seed give identical models. */
  seed: number;
}

/**
 * Default tree count. The original paper and scikit-learn both use 100: average path lengths have
 * converged well before that, and scoring cost grows linearly with it.
 */
export const DEFAULT_N_ESTIMATORS = 100;

/**
 * Default subsample size. 256 is the paper's and scikit-learn's "auto" value: small subsamples
 * reduce swamping and masking by dense attack traffic, and gains flatten beyond it.
 */
export const DEFAULT_MAX_SAMPLES = 256;

// np.euler_gamma, to full double precision as scikit-learn uses it.
const EULER_GAMMA = 0.5772156649015329;

// scikit-learn's offset_ for contamination="auto": a score of -0.5 is the boundary between "no
// clear anomaly" and "anomaly" in the paper's interpretation.
const AUTO_CONTAMINATION_OFFSET = -0.5;

/** Rows scored together per tree: 64 windows of 100 statistics fit in L2 beside one tree. */
const SCORE_BLOCK_ROWS = 64;

/**
 * Average path length `c(n)` of an unsuccessful search in a binary search tree of `n` points: the
 * expected depth still to go below a leaf that holds `n` training rows, and the normaliser of
 * anomaly scores.
 *
 * `c(n) = 2 (ln(n - 1) + γ) - 2 (n - 1) / n` for `n > 2`, `c(2) = 1`, `c(n) = 0` for `n <= 1`.
 * For example `c(256) ≈ 10.24477`.
 */
export function averagePathLength(n: number): number {
  if (n <= 1) return 0;
  if (n === 2) return 1;
  return 2 * (Math.log(n - 1) + EULER_GAMMA) - (2 * (n - 1)) / n;
}

function checkPositiveInteger(name: string, value: number, minimum: number): void {
  if (!Number.isInteger(value) || value < minimum) {
    throw new RangeError(`${name} must be an integer >= ${minimum}, got ${value}`);
  }
}

function checkShape(x: Float64Array, rows: number, cols: number): void {
  if (x.length < rows * cols) {
    throw new RangeError(
      `input holds ${x.length} values, fewer than rows * cols = ${rows} * ${cols}`,
    );
  }
}

/**
 * Trains an Isolation Forest on row-major data.
 *
 * Each tree is grown on `min(maxSamples, rows)` rows drawn without replacement, to height limit
 * `ceil(log2(max(maxSamples, 2)))`. A node splits on a feature drawn uniformly among those not
 * constant in the node, at a threshold drawn uniformly in `[min, max)` of that feature there.
 *
 * @param x - `rows * cols` finite values, row-major
 * @param rows - number of rows, at least 2
 * @param cols - number of features, at least 1
 * @param options - tree count, subsample size and seed
 * @throws RangeError on a bad shape or option, or a non-finite value (naming its row and column)
 */
export function fitIsolationForest(
  x: Float64Array,
  rows: number,
  cols: number,
  options: IsolationForestOptions,
): IsolationForestModel {
  checkPositiveInteger("rows", rows, 2);
  checkPositiveInteger("cols", cols, 1);
  checkShape(x, rows, cols);
  const nEstimators = options.nEstimators ?? DEFAULT_N_ESTIMATORS;
  const requestedSamples = options.maxSamples ?? DEFAULT_MAX_SAMPLES;
  checkPositiveInteger("nEstimators", nEstimators, 1);
  checkPositiveInteger("maxSamples", requestedSamples, 1);
  for (let i = 0; i < rows * cols; i++) {
    if (!Number.isFinite(x[i])) {
      throw new RangeError(
        `value at row ${Math.floor(i / cols)}, column ${i % cols} is not finite: ${x[i]}`,
      );
    }
  }

  // scikit-learn warns and falls back to all rows when asked for more than exist.
  const maxSamples = Math.min(requestedSamples, rows);
  // max(·, 2) as in scikit-learn, so a one-row subsample still gets a well-defined limit of 1.
  const heightLimit = Math.ceil(Math.log2(Math.max(maxSamples, 2)));
  const prng = createPrng(options.seed);

  // A binary tree over m rows whose leaves are non-empty has at most 2m - 1 nodes.
  const capacity = nEstimators * (2 * maxSamples - 1);
  const feature = new Int32Array(capacity);
  const threshold = new Float64Array(capacity);
  const left = new Int32Array(capacity);
  const right = new Int32Array(capacity);
  const leafValue = new Float64Array(capacity);
  const treeOffsets = new Int32Array(nEstimators + 1);

  // The pool stays a permutation of all rows across trees; a partial Fisher–Yates shuffle from any
  // permutation still yields a uniform sample without replacement, so it never needs resetting.
  const rowPool = new Int32Array(rows);
  for (let i = 0; i < rows; i++) rowPool[i] = i;
  const featureOrder = new Int32Array(cols);
  for (let i = 0; i < cols; i++) featureOrder[i] = i;
  // Each node owns the slice [start, end) of `sample`; splitting partitions the slice in place.
  const sample = new Int32Array(maxSamples);

  // Depth-first with at most one pending right sibling per level, so heightLimit + 2 slots suffice.
  const stackSize = heightLimit + 2;
  const stackStart = new Int32Array(stackSize);
  const stackEnd = new Int32Array(stackSize);
  const stackDepth = new Int32Array(stackSize);
  // Parent index * 2 + (0 for a left child, 1 for a right child); -1 for the root.
  const stackLink = new Int32Array(stackSize);

  let nodeCount = 0;
  for (let tree = 0; tree < nEstimators; tree++) {
    treeOffsets[tree] = nodeCount;
    for (let i = 0; i < maxSamples; i++) {
      const j = i + prng.nextInt(rows - i);
      const picked = rowPool[j]!;
      rowPool[j] = rowPool[i]!;
      rowPool[i] = picked;
      sample[i] = picked;
    }

    stackStart[0] = 0;
    stackEnd[0] = maxSamples;
    stackDepth[0] = 0;
    stackLink[0] = -1;
    let top = 1;
    while (top > 0) {
      top--;
      const start = stackStart[top]!;
      const end = stackEnd[top]!;
      const depth = stackDepth[top]!;
      const link = stackLink[top]!;
      const node = nodeCount++;
      if (link >= 0) {
        if ((link & 1) === 0) left[link >> 1] = node;
        else right[link >> 1] = node;
      }

      let splitFeature = -1;
      let lo = 0;
      let hi = 0;
      if (depth < heightLimit && end - start > 1) {
        // Like scikit-learn's random splitter: draw features without replacement until one is
        // not constant in this node, which makes the choice uniform among non-constant features.
        for (let k = 0; k < cols && splitFeature < 0; k++) {
          const j = k + prng.nextInt(cols - k);
          const f = featureOrder[j]!;
          featureOrder[j] = featureOrder[k]!;
          featureOrder[k] = f;
          lo = Number.POSITIVE_INFINITY;
          hi = Number.NEGATIVE_INFINITY;
          for (let i = start; i < end; i++) {
            const v = x[sample[i]! * cols + f]!;
            if (v < lo) lo = v;
            if (v > hi) hi = v;
          }
          if (hi > lo) splitFeature = f;
        }
      }

      if (splitFeature < 0) {
        feature[node] = -1;
        left[node] = -1;
        right[node] = -1;
        leafValue[node] = depth + averagePathLength(end - start);
        continue;
      }

      let cut = lo + prng.nextFloat() * (hi - lo);
      // Rounding can land on the maximum, which would leave the right child empty.
      if (cut >= hi) cut = lo;
      feature[node] = splitFeature;
      threshold[node] = cut;

      let mid = start;
      let tail = end;
      while (mid < tail) {
        const r = sample[mid]!;
        if (x[r * cols + splitFeature]! <= cut) {
          mid++;
        } else {
          tail--;
          sample[mid] = sample[tail]!;
          sample[tail] = r;
        }
      }

      // Right first so the left child is popped next and lands at node + 1.
      stackStart[top] = mid;
      stackEnd[top] = end;
      stackDepth[top] = depth + 1;
      stackLink[top] = node * 2 + 1;
      top++;
      stackStart[top] = start;
      stackEnd[top] = mid;
      stackDepth[top] = depth + 1;
      stackLink[top] = node * 2;
      top++;
    }
  }
  treeOffsets[nEstimators] = nodeCount;

  return {
    nEstimators,
    maxSamples,
    featureCount: cols,
    treeOffsets,
    feature: feature.slice(0, nodeCount),
    threshold: threshold.slice(0, nodeCount),
    left: left.slice(0, nodeCount),
    right: right.slice(0, nodeCount),
    leafValue: leafValue.slice(0, nodeCount),
  };
}

/**
 * Anomaly scores as scikit-learn's `score_samples`: `-2^(-E[h(x)] / c(maxSamples))`, in [-1, 0];
 * the lower, the more anomalous. Allocates nothing per row.
 *
 * @param model - a trained forest
 * @param x - `rows * model.featureCount` values, row-major
 * @param rows - number of rows to score
 * @param cols - must equal `model.featureCount`
 * @param out - where to write the `rows` scores; allocated when omitted
 * @returns `out`
 * @throws RangeError if `cols` does not match the model or `x` or `out` is too short
 */
export function scoreSamples(
  model: IsolationForestModel,
  x: Float64Array,
  rows: number,
  cols: number,
  out: Float64Array = new Float64Array(rows),
): Float64Array {
  if (cols !== model.featureCount) {
    throw new RangeError(`model was trained on ${model.featureCount} columns, got ${cols}`);
  }
  checkShape(x, rows, cols);
  if (out.length < rows) {
    throw new RangeError(`output holds ${out.length} values, fewer than rows = ${rows}`);
  }
  const { nEstimators, treeOffsets, feature, threshold, left, right, leafValue } = model;
  const normaliser = averagePathLength(model.maxSamples);
  // Rows in blocks, trees inside: one tree's nodes stay in L1 cache while a block of rows walks
  // it. Each row still sums its trees in order, so results equal the row-by-row loop exactly.
  for (let r0 = 0; r0 < rows; r0 += SCORE_BLOCK_ROWS) {
    const r1 = Math.min(rows, r0 + SCORE_BLOCK_ROWS);
    out.fill(0, r0, r1);
    for (let tree = 0; tree < nEstimators; tree++) {
      const root = treeOffsets[tree]!;
      for (let r = r0; r < r1; r++) {
        const base = r * cols;
        let node = root;
        let f = feature[node]!;
        while (f >= 0) {
          node = x[base + f]! <= threshold[node]! ? left[node]! : right[node]!;
          f = feature[node]!;
        }
        out[r] = out[r]! + leafValue[node]!;
      }
    }
    for (let r = r0; r < r1; r++) {
      // scikit-learn defines the score of a one-row subsample (c = 0) as -2^-1 rather than 0/0.
      const exponent = normaliser > 0 ? out[r]! / nEstimators / normaliser : 1;
      out[r] = -(2 ** -exponent);
    }
  }
  return out;
}

/**
 * Decision scores as scikit-learn's `decision_function` with `contamination="auto"`:
 * `scoreSamples + 0.5`, so negative means "more isolated than the paper's boundary".
 *
 * Takes the same arguments as {@link scoreSamples} and writes into `out`.
 *
 * @returns `out`
 */
export function decisionFunction(
  model: IsolationForestModel,
  x: Float64Array,
  rows: number,
  cols: number,
  out: Float64Array = new Float64Array(rows),
): Float64Array {
  scoreSamples(model, x, rows, cols, out);
  for (let r = 0; r < rows; r++) out[r] = out[r]! - AUTO_CONTAMINATION_OFFSET;
  return out;
}
