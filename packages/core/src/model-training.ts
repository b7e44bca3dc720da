/**
 * Training: from benign flows to a calibrated model.
 *
 * Flows are windowed in their original order, never shuffled (the prototype shuffled flows
 * first, so its training windows were random flow sets unlike anything it later served). The
 * windows are split in time order: the first 80% fit the scaler, the forest, ECOD and the PCA;
 * the last 20% calibrate the alert threshold.
 *
 * Two profiles: `default` (signed log1p before aggregation, the forest fused with ECOD and a range
 * guard, a training stride that yields enough windows) and `seed`, the prototype's pipeline (raw
 * values, the forest alone, training stride = serving stride), kept for comparison; its models
 * are format 1 files. docs/detection.md has the measurements behind each choice.
 */
import { applyFlowTransform, type FlowTransform } from "./flow-transform.ts";
import { GrowableMatrix } from "./growable-matrix.ts";
import { decisionFunction, fitIsolationForest } from "./isolation-forest.ts";
import { modelVersionOf, type FloodwatchModel, type ModelDetection } from "./model-file.ts";
import { applyNonFiniteRules, learnNonFiniteRules } from "./non-finite-rules.ts";
import { fitPca } from "./pca.ts";
import { applyRobustScaler, fitRobustScaler } from "./robust-scaler.ts";
import { calibrateThreshold, isAnomalous, type ThresholdCalibration } from "./threshold.ts";
import {
  FEW_TRAINING_WINDOWS,
  TRAINING_DEFAULTS,
  TRAIN_WINDOW_BUDGET,
} from "./training-defaults.ts";
import {
  DEFAULT_WINDOW_SPEC,
  WindowAggregator,
  validateWindowSpec,
  windowCount,
  type FlowBatch,
  type WindowSpec,
} from "./window-aggregator.ts";
import {
  DEFAULT_GUARD_MARGIN,
  EcodScorer,
  detectorScale,
  fitEcod,
  fitMahalanobis,
  fitRangeGuard,
  fusedZ,
  mahalanobisDistance,
  type DetectorFusion,
  type EcodModel,
  type MahalanobisModel,
} from "./window-detectors.ts";

/** Share of training windows (in time order) that fit the model; the rest calibrate. */
export const FIT_SHARE = 0.8;
/** Fewer fit windows than this make the robust scaler's quartiles and the forest meaningless. */
export const MIN_FIT_WINDOWS = 20;
/** Fewer validation windows than this make a threshold quantile meaningless. */
export const MIN_VALIDATION_WINDOWS = 5;
/**
 * Below this many validation windows under the threshold's quantile (validation windows times
 * the quantile), the quantile is read off the single lowest score or beyond it, and training
 * warns. The prototype's 13 validation windows at 1% had 0.13.
 */
export const MIN_EXPECTED_VALIDATION_ALARMS = 2;

/**
 * The default profile's threshold margin. At the 1% validation quantile itself (margin 1) the
 * fused detectors flagged 12% of other-day benign windows; at 2.25 times as far out, 4%, while
 * recall at 20% attack density stayed at 0.81 (docs/detection.md). A new day is not the
 * validation day; the margin is the room the shift needs.
 */
export const DEFAULT_THRESHOLD_MARGIN = 2.25;

/** Detectors that can vote beside the forest (window-detectors.ts). */
export const VOTING_DETECTORS = ["mahalanobis", "ecod", "guard"] as const;
/** One of {@link VOTING_DETECTORS}. */
export type VotingDetector = (typeof VOTING_DETECTORS)[number];

/** Pipelines a training run can build: see the module comment. */
export const TRAINING_PROFILES = ["default", "seed"] as const;
/** One of {@link TRAINING_PROFILES}. */
export type TrainingProfile = (typeof TRAINING_PROFILES)[number];

/** Settings of a training run. */
export interface TrainingOptions {
  features: readonly string[];
  /** `default` unless given; the options below override its choices one by one. */
  profile?: TrainingProfile;
  /** Serving window geometry, recorded in the model. */
  window?: WindowSpec;
  /**
   * Stride of training windows. Default profile: the serving stride, lowered until the flows give
   * {@link TRAIN_WINDOW_BUDGET} windows; seed profile: the serving stride.
   */
  trainStride?: number;
  /** Per-value transform before aggregation (default profile: `signed-log1p`; seed: `none`). */
  transform?: FlowTransform;
  /**
   * Detectors that vote beside the forest (default profile: `mahalanobis`; seed: none).
   */
  detectors?: readonly VotingDetector[];
  /**
   * Fit ECOD for per-dimension explanations even when it does not vote (default profile: true;
   * seed: false). ECOD in `detectors` is always fitted.
   */
  explainEcod?: boolean;
  /** Range guard margin in spans, when the guard votes (default {@link DEFAULT_GUARD_MARGIN}). */
  guardMargin?: number;
  /**
   * With more than the forest, the threshold sits this many times as far below the validation
   * median as the validation quantile does (default profile: {@link DEFAULT_THRESHOLD_MARGIN}).
   */
  thresholdMargin?: number;
  /**
   * Called with each warning about the model's reliability (too few windows); the model also
   * records them (`training.warnings`).
   */
  onWarning?: (message: string) => void;
  trees?: number;
  maxSamples?: number;
  /** Threshold quantile of the benign validation scores. */
  quantile?: number;
  seed?: number;
  /** ISO time recorded as the creation time (pass a fixed one for reproducible files). */
  createdAt: string;
  toolVersion: string;
  contentHash: string;
  sources: string[];
  /** Called at each stage, for progress displays. */
  onProgress?: (progress: TrainingProgress) => void;
}

/** Where a training run is. */
export type TrainingProgress =
  | { stage: "windows"; flows: number; windows: number }
  | { stage: "forest"; fitWindows: number; trees: number }
  | { stage: "calibration"; validationWindows: number }
  | { stage: "pca" };

/** Training cannot go on with this input and these settings. */
export class TrainingError extends Error {
  override readonly name = "TrainingError";
}

/**
 * Benign training flows: consecutive sequences (one per input file) in one row-major matrix.
 * Windows never span two sequences.
 */
export class TrainingFlows {
  readonly #matrix: GrowableMatrix;
  readonly #sequenceEnds: number[] = [];
  #excluded = 0;

  constructor(readonly featureCount: number) {
    this.#matrix = new GrowableMatrix(featureCount, 4096);
  }

  /** Adds a batch to the current sequence, leaving out rows labelled as attacks. */
  add(batch: FlowBatch): void {
    let runStart = 0;
    for (let i = 0; i <= batch.count; i++) {
      if (i === batch.count || batch.attack[i] === 1) {
        if (i > runStart) this.#matrix.appendRows(batch.values, runStart, i - runStart);
        if (i < batch.count) this.#excluded++;
        runStart = i + 1;
      }
    }
  }

  /** Closes the current sequence (call after each input file). */
  endSequence(): void {
    const end = this.#matrix.rows;
    if (end > (this.#sequenceEnds.at(-1) ?? 0)) this.#sequenceEnds.push(end);
  }

  get flows(): number {
    return this.#matrix.rows;
  }

  /** Labelled non-BENIGN rows left out. */
  get excluded(): number {
    return this.#excluded;
  }

  /** The flows, row-major. */
  get values(): Float64Array {
    return this.#matrix.view();
  }

  /** End (exclusive flow index) of each sequence. */
  get sequenceEnds(): readonly number[] {
    const ends = [...this.#sequenceEnds];
    if (this.#matrix.rows > (ends.at(-1) ?? 0)) ends.push(this.#matrix.rows);
    return ends;
  }
}

/**
 * Trains a model on benign flows. Throws {@link TrainingError} when there are too few windows,
 * saying how many the settings need.
 */
export function trainModel(flows: TrainingFlows, options: TrainingOptions): FloodwatchModel {
  const window = options.window ?? DEFAULT_WINDOW_SPEC;
  validateWindowSpec(window);
  const seedProfile = (options.profile ?? "default") === "seed";
  const transform = options.transform ?? (seedProfile ? "none" : "signed-log1p");
  const votes = new Set<VotingDetector>(options.detectors ?? (seedProfile ? [] : ["mahalanobis"]));
  const useEcod = votes.has("ecod") || (options.explainEcod ?? !seedProfile);
  const useMahalanobis = votes.has("mahalanobis");
  const guardMargin = votes.has("guard") ? (options.guardMargin ?? DEFAULT_GUARD_MARGIN) : null;
  if (guardMargin !== null && !(guardMargin > 0)) {
    throw new RangeError(`guard margin must be positive, got ${guardMargin}`);
  }
  const thresholdMargin = options.thresholdMargin ?? (seedProfile ? 1 : DEFAULT_THRESHOLD_MARGIN);
  if (!(thresholdMargin >= 1)) {
    throw new RangeError(`threshold margin must be at least 1, got ${thresholdMargin}`);
  }
  const trainStride = options.trainStride ?? profileTrainStride(flows, window, options.profile);
  const trainSpec: WindowSpec = { size: window.size, stride: trainStride };
  validateWindowSpec(trainSpec);
  const trees = options.trees ?? TRAINING_DEFAULTS.trees;
  const maxSamples = options.maxSamples ?? TRAINING_DEFAULTS.maxSamples;
  const quantile = options.quantile ?? TRAINING_DEFAULTS.quantile;
  const seed = options.seed ?? TRAINING_DEFAULTS.seed;
  const featureCount = flows.featureCount;
  if (featureCount !== options.features.length) {
    throw new RangeError(
      `flows have ${featureCount} features, options name ${options.features.length}`,
    );
  }
  const width = featureCount * 4;

  const values = flows.values;
  const nonFinite = learnNonFiniteRules(values, flows.flows, featureCount);
  const valuesReplaced = applyNonFiniteRules(nonFinite, values, flows.flows, featureCount);
  applyFlowTransform(transform, values, flows.flows, featureCount);

  // Windows of every sequence, in time order, with the flow index each one ends at.
  const windows = new GrowableMatrix(width, 1024);
  const windowEnds: number[] = [];
  let sequenceStart = 0;
  for (const sequenceEnd of flows.sequenceEnds) {
    const count = sequenceEnd - sequenceStart;
    const aggregator = new WindowAggregator(featureCount, trainSpec);
    const batch: FlowBatch = {
      count,
      featureCount,
      values: values.subarray(sequenceStart * featureCount, sequenceEnd * featureCount),
      lines: new Uint32Array(count),
      attack: new Uint8Array(count),
    };
    const closed = aggregator.push(batch);
    windows.appendRows(closed.features, 0, closed.count);
    for (let w = 0; w < closed.count; w++) {
      windowEnds.push(sequenceStart + closed.index[w]! * trainStride + window.size);
    }
    sequenceStart = sequenceEnd;
  }
  const totalWindows = windows.rows;
  options.onProgress?.({ stage: "windows", flows: flows.flows, windows: totalWindows });

  // Time-ordered split. With a train stride below the window size, neighbouring windows share
  // flows; validation starts after the last fit window ends so that it never sees fit flows.
  const fitWindows = Math.floor(totalWindows * FIT_SHARE);
  const fitEnd = fitWindows > 0 ? windowEnds[fitWindows - 1]! : 0;
  let validationStart = fitWindows;
  const sequenceOfFlow = (flow: number) => flows.sequenceEnds.findIndex((end) => flow < end);
  while (
    validationStart < totalWindows &&
    windowEnds[validationStart]! - window.size < fitEnd &&
    sequenceOfFlow(windowEnds[validationStart]! - 1) === sequenceOfFlow(fitEnd - 1)
  ) {
    validationStart++;
  }
  const validationWindows = totalWindows - validationStart;
  if (fitWindows < MIN_FIT_WINDOWS || validationWindows < MIN_VALIDATION_WINDOWS) {
    const gap = Math.ceil(window.size / trainStride) - 1;
    const needed = Math.max(
      Math.ceil(MIN_FIT_WINDOWS / FIT_SHARE),
      MIN_FIT_WINDOWS + MIN_VALIDATION_WINDOWS + gap,
    );
    const neededFlows = window.size + (needed - 1) * trainStride;
    throw new TrainingError(
      `too few training windows: ${flows.flows} benign flows give ${totalWindows} windows of ` +
        `${window.size} flows at train stride ${trainStride} (${fitWindows} to fit, ` +
        `${validationWindows} to validate); training needs at least ${needed} windows ` +
        `(${MIN_FIT_WINDOWS} to fit, ${MIN_VALIDATION_WINDOWS} to validate), about ` +
        `${neededFlows} flows in one file — use a smaller --train-stride or more benign data`,
    );
  }

  const warnings: string[] = [];
  const warn = (message: string) => {
    warnings.push(message);
    options.onWarning?.(message);
  };
  if (totalWindows < FEW_TRAINING_WINDOWS) {
    warn(
      `trained on ${totalWindows} windows, fewer than ${FEW_TRAINING_WINDOWS}: with this little ` +
        `benign traffic the false-alarm rate on a new day runs above what the lab measured ` +
        `(docs/detection.md) — train on more benign flows or with a smaller --train-stride`,
    );
  }
  const quantileWindows = validationWindows * quantile;
  if (quantileWindows < MIN_EXPECTED_VALIDATION_ALARMS) {
    warn(
      `the threshold rests on ${validationWindows} validation windows: at quantile ${quantile} ` +
        `that is ${quantileWindows.toFixed(1)} windows below it, fewer than ` +
        `${MIN_EXPECTED_VALIDATION_ALARMS}; expect more false alarms than the validation rate ` +
        `says — train on more benign flows or with a smaller --train-stride`,
    );
  }

  const all = windows.view();
  const fit = all.slice(0, fitWindows * width);
  const validation = all.slice(validationStart * width, totalWindows * width);
  // ECOD and the guard read windows as scoring sees them, before scaling.
  const rawValidation = validation.slice();
  const ecod = useEcod ? fitEcod(fit, fitWindows, width) : null;
  const mahalanobis = useMahalanobis ? fitMahalanobis(fit, fitWindows, width) : null;
  const guard = guardMargin === null ? null : fitRangeGuard(all, totalWindows, width, guardMargin);
  const scaler = fitRobustScaler(fit, fitWindows, width);
  applyRobustScaler(scaler, fit, fitWindows, width);
  applyRobustScaler(scaler, validation, validationWindows, width);

  options.onProgress?.({ stage: "forest", fitWindows, trees });
  const forest = fitIsolationForest(fit, fitWindows, width, {
    nEstimators: trees,
    maxSamples,
    seed,
  });

  options.onProgress?.({ stage: "calibration", validationWindows });
  const validationScores = decisionFunction(forest, validation, validationWindows, width);
  let detection: ModelDetection | undefined;
  let calibration: ThresholdCalibration;
  if (ecod || mahalanobis || guard) {
    const fused = calibrateFusion(
      { ecod, ecodVotes: votes.has("ecod"), mahalanobis },
      validationScores,
      rawValidation,
      validationWindows,
      width,
      quantile,
      thresholdMargin,
    );
    calibration = fused.calibration;
    detection = {
      transform,
      thresholdMargin,
      ecod,
      mahalanobis,
      guard,
      fusion: fused.fusion,
    };
  } else {
    calibration = calibrateThreshold(validationScores, quantile);
    if (transform !== "none") {
      detection = {
        transform,
        thresholdMargin: 1,
        ecod: null,
        mahalanobis: null,
        guard: null,
        fusion: null,
      };
    }
  }

  options.onProgress?.({ stage: "pca" });
  const pca = fitPca(fit, fitWindows, width);

  const body: Omit<FloodwatchModel, "version" | "createdAt"> = {
    toolVersion: options.toolVersion,
    features: [...options.features],
    window: { size: window.size, stride: window.stride },
    nonFinite,
    scaler,
    forest,
    threshold: {
      value: calibration.threshold,
      quantile: calibration.quantile,
      validationFpr: calibration.validationFpr,
      validationWindows: calibration.validationWindows,
    },
    pca,
    training: {
      flows: flows.flows,
      flowsExcluded: flows.excluded,
      valuesReplaced,
      windows: totalWindows,
      fitWindows,
      validationWindows,
      trainStride,
      contentHash: options.contentHash,
      seed,
      trees,
      maxSamples,
      sources: [...options.sources],
      // Left out when empty, so a model without warnings keeps the bytes (and version) it had
      // before models recorded them.
      ...(warnings.length > 0 ? { warnings } : {}),
    },
    ...(detection ? { detection } : {}),
  };
  return { version: modelVersionOf(body), createdAt: options.createdAt, ...body };
}

/** Number of training windows a sequence of `flows` gives with these settings. */
export function trainingWindowCount(
  flows: number,
  window: WindowSpec,
  trainStride: number,
): number {
  return windowCount(flows, { size: window.size, stride: trainStride });
}

/**
 * The training stride a profile picks when none is given: the serving stride for `seed`; for
 * `default` (also when no profile is named), {@link budgetStride}.
 */
export function profileTrainStride(
  flows: TrainingFlows,
  window: WindowSpec,
  profile: TrainingProfile = "default",
): number {
  return profile === "seed" ? window.stride : budgetStride(flows, window);
}

/**
 * The default profile's training stride: the serving stride, lowered (down to 1) until the
 * sequences give {@link TRAIN_WINDOW_BUDGET} windows.
 */
export function budgetStride(flows: TrainingFlows, window: WindowSpec): number {
  let usable = 0;
  let start = 0;
  for (const end of flows.sequenceEnds) {
    usable += Math.max(0, end - start - window.size);
    start = end;
  }
  return Math.max(1, Math.min(window.stride, Math.floor(usable / TRAIN_WINDOW_BUDGET)));
}

/**
 * Puts every detector on one scale (window-detectors.ts) with the validation windows, and sets
 * the threshold on the fused score: at the validation quantile, then `margin` times as far below
 * the median. The guard's range holds every training window, so it is silent on validation.
 */
function calibrateFusion(
  detectors: { ecod: EcodModel | null; ecodVotes: boolean; mahalanobis: MahalanobisModel | null },
  forestScores: Float64Array,
  rawValidation: Float64Array,
  rows: number,
  width: number,
  quantile: number,
  margin: number,
): { fusion: DetectorFusion; calibration: ThresholdCalibration } {
  const { ecod, ecodVotes, mahalanobis } = detectors;
  const forestScale = detectorScale(forestScores, quantile, true);
  const ecodScores = new Float64Array(rows);
  if (ecod) {
    const scorer = new EcodScorer(ecod, width);
    for (let w = 0; w < rows; w++) ecodScores[w] = scorer.score(rawValidation, w * width);
  }
  const distances = new Float64Array(rows);
  if (mahalanobis) {
    const scratch = new Float64Array(2 * width);
    for (let w = 0; w < rows; w++) {
      distances[w] = mahalanobisDistance(mahalanobis, rawValidation, w * width, scratch);
    }
  }
  const ecodScale = ecod ? detectorScale(ecodScores, quantile, false) : { median: 0, spread: 1 };
  const mahalanobisScale = mahalanobis
    ? detectorScale(distances, quantile, false)
    : { median: 0, spread: 1 };
  const fusion: DetectorFusion = {
    forestMedian: forestScale.median,
    forestSpread: forestScale.spread,
    ecodVotes: ecod !== null && ecodVotes,
    ecodMedian: ecodScale.median,
    ecodSpread: ecodScale.spread,
    mahalanobisMedian: mahalanobisScale.median,
    mahalanobisSpread: mahalanobisScale.spread,
    // No compression while calibrating (see fusedZ); the guard is silent here anyway.
    zThreshold: Number.NEGATIVE_INFINITY,
  };
  const fused = new Float64Array(rows);
  for (let w = 0; w < rows; w++) {
    const z = fusedZ(
      fusion,
      forestScores[w]!,
      fusion.ecodVotes ? ecodScores[w]! : null,
      mahalanobis ? distances[w]! : null,
      0,
      0,
    );
    fused[w] = fusion.forestMedian + z * fusion.forestSpread;
  }
  const atQuantile = calibrateThreshold(fused, quantile);
  fusion.zThreshold = ((atQuantile.threshold - fusion.forestMedian) / fusion.forestSpread) * margin;
  const threshold = fusion.forestMedian + fusion.zThreshold * fusion.forestSpread;
  let below = 0;
  for (let w = 0; w < rows; w++) if (isAnomalous(fused[w]!, threshold)) below++;
  return {
    fusion,
    calibration: { ...atQuantile, threshold, validationFpr: below / rows },
  };
}
