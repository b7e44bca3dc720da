/**
 * The model file: one JSON document holding everything scoring needs, validated on load.
 *
 * Scoring always uses the window geometry recorded here: the prototype trained on 200-flow
 * windows and served 50-flow ones, so its threshold meant nothing.
 */
import { createHash } from "node:crypto";
import { z } from "zod";
import { FLOW_TRANSFORMS, type FlowTransform } from "./flow-transform.ts";
import type { IsolationForestModel } from "./isolation-forest.ts";
import type { NonFiniteRules } from "./non-finite-rules.ts";
import type { PcaProjection } from "./pca.ts";
import type { RobustScaler } from "./robust-scaler.ts";
import type { WindowSpec } from "./window-aggregator.ts";
import type {
  DetectorFusion,
  EcodModel,
  MahalanobisModel,
  RangeGuard,
} from "./window-detectors.ts";

/** Identifies our model files among other JSON documents. */
export const MODEL_FORMAT = "floodwatch-model";
/**
 * Bumped whenever a reader of an older format could misread a newer file. Format 2 adds the
 * `detection` section; a model without one (every format 1 file, and `--profile seed` models)
 * is still written as format 1, byte for byte as before unless training recorded warnings
 * (`training.warnings`, which older readers ignore), and scores exactly as before.
 */
export const MODEL_FORMAT_VERSION = 2;
/** The format of models without a `detection` section. */
const PLAIN_FORMAT_VERSION = 1;

/** How the model was trained, for the record. */
export interface TrainingMetadata {
  /** Benign flows the model learned from. */
  flows: number;
  /** Labelled non-BENIGN rows left out of training. */
  flowsExcluded: number;
  /** Non-finite or empty values replaced in the training flows. */
  valuesReplaced: number;
  windows: number;
  fitWindows: number;
  validationWindows: number;
  /** Stride of the training windows (may be smaller than the serving stride). */
  trainStride: number;
  /** `sha256:` digest of the training input bytes, in the order read. */
  contentHash: string;
  seed: number;
  trees: number;
  maxSamples: number;
  /** Names of the training inputs. */
  sources: string[];
  /**
   * Why the model may be less reliable than the lab's figures (too few training or validation
   * windows), as training reported them. Absent when there were none, and in older files.
   */
  warnings?: string[];
}

/** Alert threshold on the decision score, with its calibration. */
export interface ModelThreshold {
  /** A window is anomalous when its decision score is below this. */
  value: number;
  /** Quantile of the benign validation scores the threshold sits at. */
  quantile: number;
  /** Share of benign validation windows below the threshold. */
  validationFpr: number;
  validationWindows: number;
}

/**
 * Everything beyond the prototype's forest-only pipeline, recorded so that scoring repeats the
 * training's choices. Absent in format 1 files, which means: no transform, the forest alone.
 */
export interface ModelDetection {
  /** Applied to every flow value (after non-finite replacement) before aggregation. */
  transform: FlowTransform;
  /**
   * How many times as far below the validation median as the threshold quantile the threshold
   * sits (1 = at the quantile).
   */
  thresholdMargin: number;
  /** The per-dimension ECOD detector, or null. */
  ecod: EcodModel | null;
  /** The correlation (Mahalanobis) detector, or null. */
  mahalanobis: MahalanobisModel | null;
  /** The range guard, or null. */
  guard: RangeGuard | null;
  /** How the detectors are fused; null when the forest is the only detector. */
  fusion: DetectorFusion | null;
}

/** A trained model, in memory, with typed arrays. */
export interface FloodwatchModel {
  /** Content id: a digest of everything below except `createdAt`. */
  version: string;
  createdAt: string;
  toolVersion: string;
  features: string[];
  window: WindowSpec;
  nonFinite: NonFiniteRules;
  scaler: RobustScaler;
  forest: IsolationForestModel;
  threshold: ModelThreshold;
  pca: PcaProjection;
  training: TrainingMetadata;
  /** Transform and extra detectors; absent means the prototype's pipeline (format 1). */
  detection?: ModelDetection;
}

/** A model file that cannot be used, with the reason. */
export class ModelFileError extends Error {
  override readonly name = "ModelFileError";
}

const finiteNumbers = z.array(z.number());
const integers = z.array(z.number().int());

const detectionSchema = z.object({
  transform: z.enum(FLOW_TRANSFORMS),
  thresholdMargin: z.number().min(1),
  ecod: z
    .object({
      knotCount: z.number().int().min(2),
      knots: finiteNumbers,
      leftTail: z.array(z.union([z.literal(0), z.literal(1)])),
    })
    .nullable(),
  mahalanobis: z.object({ mean: finiteNumbers, whitening: finiteNumbers }).nullable(),
  guard: z
    .object({
      low: finiteNumbers,
      high: finiteNumbers,
      span: z.array(z.number().positive()),
      margin: z.number().positive(),
    })
    .nullable(),
  fusion: z
    .object({
      forestMedian: z.number(),
      forestSpread: z.number().positive(),
      ecodVotes: z.boolean(),
      ecodMedian: z.number(),
      ecodSpread: z.number().positive(),
      mahalanobisMedian: z.number(),
      mahalanobisSpread: z.number().positive(),
      zThreshold: z.number(),
    })
    .nullable(),
});

const modelFileSchema = z.object({
  format: z.literal(MODEL_FORMAT),
  formatVersion: z.union([z.literal(PLAIN_FORMAT_VERSION), z.literal(MODEL_FORMAT_VERSION)]),
  version: z.string().min(1),
  createdAt: z.string().min(1),
  toolVersion: z.string(),
  features: z.array(z.string().min(1)).min(1),
  window: z.object({ size: z.number().int().min(2), stride: z.number().int().min(1) }),
  nonFinite: z.object({
    positiveInfinity: finiteNumbers,
    negativeInfinity: finiteNumbers,
    missing: finiteNumbers,
  }),
  scaler: z.object({ center: finiteNumbers, scale: finiteNumbers }),
  forest: z.object({
    nEstimators: z.number().int().min(1),
    maxSamples: z.number().int().min(1),
    featureCount: z.number().int().min(1),
    treeOffsets: integers,
    feature: integers,
    threshold: finiteNumbers,
    left: integers,
    right: integers,
    leafValue: finiteNumbers,
  }),
  threshold: z.object({
    value: z.number(),
    quantile: z.number().gt(0).lt(1),
    validationFpr: z.number().min(0).max(1),
    validationWindows: z.number().int().min(1),
  }),
  pca: z.object({
    mean: finiteNumbers,
    components: z.tuple([finiteNumbers, finiteNumbers]),
    explainedVarianceRatio: z.tuple([z.number(), z.number()]),
  }),
  training: z.object({
    flows: z.number().int().min(0),
    flowsExcluded: z.number().int().min(0),
    valuesReplaced: z.number().int().min(0),
    windows: z.number().int().min(0),
    fitWindows: z.number().int().min(0),
    validationWindows: z.number().int().min(0),
    trainStride: z.number().int().min(1),
    contentHash: z.string(),
    seed: z.number().int(),
    trees: z.number().int().min(1),
    maxSamples: z.number().int().min(1),
    sources: z.array(z.string()),
    warnings: z.array(z.string()).min(1).optional(),
  }),
  detection: detectionSchema.optional(),
});

type ModelFileJson = z.infer<typeof modelFileSchema>;

/** The document without its identity fields, in a fixed key order: what the version digests. */
function modelBody(model: Omit<FloodwatchModel, "version" | "createdAt">) {
  const { forest, pca } = model;
  return {
    toolVersion: model.toolVersion,
    features: [...model.features],
    window: { size: model.window.size, stride: model.window.stride },
    nonFinite: {
      positiveInfinity: Array.from(model.nonFinite.positiveInfinity),
      negativeInfinity: Array.from(model.nonFinite.negativeInfinity),
      missing: Array.from(model.nonFinite.missing),
    },
    scaler: { center: Array.from(model.scaler.center), scale: Array.from(model.scaler.scale) },
    forest: {
      nEstimators: forest.nEstimators,
      maxSamples: forest.maxSamples,
      featureCount: forest.featureCount,
      treeOffsets: Array.from(forest.treeOffsets),
      feature: Array.from(forest.feature),
      threshold: Array.from(forest.threshold),
      left: Array.from(forest.left),
      right: Array.from(forest.right),
      leafValue: Array.from(forest.leafValue),
    },
    threshold: { ...model.threshold },
    pca: {
      mean: Array.from(pca.mean),
      components: [Array.from(pca.components[0]), Array.from(pca.components[1])] as [
        number[],
        number[],
      ],
      explainedVarianceRatio: [...pca.explainedVarianceRatio] as [number, number],
    },
    training: { ...model.training, sources: [...model.training.sources] },
    // Left out, not null, when absent: a forest-only model keeps its format 1 bytes and version.
    ...(model.detection ? { detection: detectionBody(model.detection) } : {}),
  };
}

function detectionBody(detection: ModelDetection) {
  const { ecod, mahalanobis, guard, fusion } = detection;
  return {
    transform: detection.transform,
    thresholdMargin: detection.thresholdMargin,
    ecod: ecod
      ? {
          knotCount: ecod.knotCount,
          knots: Array.from(ecod.knots),
          leftTail: Array.from(ecod.leftTail) as (0 | 1)[],
        }
      : null,
    mahalanobis: mahalanobis
      ? { mean: Array.from(mahalanobis.mean), whitening: Array.from(mahalanobis.whitening) }
      : null,
    guard: guard
      ? {
          low: Array.from(guard.low),
          high: Array.from(guard.high),
          span: Array.from(guard.span),
          margin: guard.margin,
        }
      : null,
    fusion: fusion ? { ...fusion } : null,
  };
}

/**
 * The version a model gets: the first 12 hex digits of the SHA-256 of its content. Two
 * trainings on the same data with the same settings get the same version, whenever they ran.
 */
export function modelVersionOf(model: Omit<FloodwatchModel, "version" | "createdAt">): string {
  return createHash("sha256")
    .update(JSON.stringify(modelBody(model)))
    .digest("hex")
    .slice(0, 12);
}

/** Serialises a model to its file form. Equal models give byte-identical text. */
export function serializeModel(model: FloodwatchModel): string {
  const document: ModelFileJson = {
    format: MODEL_FORMAT,
    formatVersion: model.detection ? MODEL_FORMAT_VERSION : PLAIN_FORMAT_VERSION,
    version: model.version,
    createdAt: model.createdAt,
    ...modelBody(model),
  };
  return `${JSON.stringify(document)}\n`;
}

/**
 * Parses and validates a model file. Any wrong, corrupt or foreign document gets a
 * {@link ModelFileError} that says what is wrong, so nothing fails later during scoring.
 */
export function parseModel(text: string): FloodwatchModel {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (error) {
    throw new ModelFileError(`model file is not JSON: ${(error as Error).message}`);
  }
  if (
    typeof raw === "object" &&
    raw !== null &&
    (raw as { format?: unknown }).format !== MODEL_FORMAT
  ) {
    throw new ModelFileError(`not a floodwatch model file (format is not "${MODEL_FORMAT}")`);
  }
  const parsed = modelFileSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new ModelFileError(
      `invalid model file at ${issue.path.join(".") || "(root)"}: ${issue.message}` +
        (parsed.error.issues.length > 1
          ? ` (and ${parsed.error.issues.length - 1} more problems)`
          : ""),
    );
  }
  const doc = parsed.data;
  const model: FloodwatchModel = {
    version: doc.version,
    createdAt: doc.createdAt,
    toolVersion: doc.toolVersion,
    features: doc.features,
    window: doc.window,
    nonFinite: {
      positiveInfinity: Float64Array.from(doc.nonFinite.positiveInfinity),
      negativeInfinity: Float64Array.from(doc.nonFinite.negativeInfinity),
      missing: Float64Array.from(doc.nonFinite.missing),
    },
    scaler: {
      center: Float64Array.from(doc.scaler.center),
      scale: Float64Array.from(doc.scaler.scale),
    },
    forest: {
      nEstimators: doc.forest.nEstimators,
      maxSamples: doc.forest.maxSamples,
      featureCount: doc.forest.featureCount,
      treeOffsets: Int32Array.from(doc.forest.treeOffsets),
      feature: Int32Array.from(doc.forest.feature),
      threshold: Float64Array.from(doc.forest.threshold),
      left: Int32Array.from(doc.forest.left),
      right: Int32Array.from(doc.forest.right),
      leafValue: Float64Array.from(doc.forest.leafValue),
    },
    threshold: doc.threshold,
    pca: {
      mean: Float64Array.from(doc.pca.mean),
      components: [
        Float64Array.from(doc.pca.components[0]),
        Float64Array.from(doc.pca.components[1]),
      ],
      explainedVarianceRatio: doc.pca.explainedVarianceRatio,
    },
    training: doc.training,
  };
  if (doc.detection) {
    if (doc.formatVersion === PLAIN_FORMAT_VERSION) {
      throw new ModelFileError(
        `invalid model file: a format ${PLAIN_FORMAT_VERSION} file cannot have a detection section`,
      );
    }
    const { ecod, mahalanobis, guard, fusion } = doc.detection;
    model.detection = {
      transform: doc.detection.transform,
      thresholdMargin: doc.detection.thresholdMargin,
      ecod: ecod
        ? {
            knotCount: ecod.knotCount,
            knots: Float64Array.from(ecod.knots),
            leftTail: Uint8Array.from(ecod.leftTail),
          }
        : null,
      mahalanobis: mahalanobis
        ? {
            mean: Float64Array.from(mahalanobis.mean),
            whitening: Float64Array.from(mahalanobis.whitening),
          }
        : null,
      guard: guard
        ? {
            low: Float64Array.from(guard.low),
            high: Float64Array.from(guard.high),
            span: Float64Array.from(guard.span),
            margin: guard.margin,
          }
        : null,
      fusion,
    };
  }
  checkModelConsistency(model);
  return model;
}

/** Cross-field checks zod cannot express: lengths agree and every tree walk terminates. */
function checkModelConsistency(model: FloodwatchModel): void {
  const fail = (message: string): never => {
    throw new ModelFileError(`invalid model file: ${message}`);
  };
  const featureCount = model.features.length;
  const width = featureCount * 4;
  if (model.window.stride > model.window.size) {
    fail(`window.stride ${model.window.stride} exceeds window.size ${model.window.size}`);
  }
  const lengthIs = (name: string, actual: number, expected: number) => {
    if (actual !== expected) fail(`${name} has ${actual} entries, expected ${expected}`);
  };
  lengthIs("nonFinite.positiveInfinity", model.nonFinite.positiveInfinity.length, featureCount);
  lengthIs("nonFinite.negativeInfinity", model.nonFinite.negativeInfinity.length, featureCount);
  lengthIs("nonFinite.missing", model.nonFinite.missing.length, featureCount);
  lengthIs("scaler.center", model.scaler.center.length, width);
  lengthIs("scaler.scale", model.scaler.scale.length, width);
  lengthIs("pca.mean", model.pca.mean.length, width);
  lengthIs("pca.components[0]", model.pca.components[0].length, width);
  lengthIs("pca.components[1]", model.pca.components[1].length, width);
  const forest = model.forest;
  if (forest.featureCount !== width)
    fail(`forest.featureCount ${forest.featureCount}, expected ${width}`);
  lengthIs("forest.treeOffsets", forest.treeOffsets.length, forest.nEstimators + 1);
  const nodes = forest.feature.length;
  lengthIs("forest.threshold", forest.threshold.length, nodes);
  lengthIs("forest.left", forest.left.length, nodes);
  lengthIs("forest.right", forest.right.length, nodes);
  lengthIs("forest.leafValue", forest.leafValue.length, nodes);
  if (forest.treeOffsets[0] !== 0 || forest.treeOffsets[forest.nEstimators] !== nodes) {
    fail("forest.treeOffsets must start at 0 and end at the node count");
  }
  const detection = model.detection;
  if (detection) {
    const { ecod, mahalanobis, guard, fusion } = detection;
    if (mahalanobis) {
      lengthIs("detection.mahalanobis.mean", mahalanobis.mean.length, width);
      lengthIs(
        "detection.mahalanobis.whitening",
        mahalanobis.whitening.length,
        (width * (width + 1)) / 2,
      );
    }
    if (ecod) {
      lengthIs("detection.ecod.knots", ecod.knots.length, width * ecod.knotCount);
      lengthIs("detection.ecod.leftTail", ecod.leftTail.length, width);
      // Scoring binary-searches the knots.
      for (let i = 1; i < ecod.knots.length; i++) {
        if (i % ecod.knotCount !== 0 && ecod.knots[i]! < ecod.knots[i - 1]!) {
          fail(`detection.ecod.knots of dimension ${Math.floor(i / ecod.knotCount)} not ascending`);
        }
      }
    }
    if (guard) {
      lengthIs("detection.guard.low", guard.low.length, width);
      lengthIs("detection.guard.high", guard.high.length, width);
      lengthIs("detection.guard.span", guard.span.length, width);
    }
    if ((ecod !== null || mahalanobis !== null || guard !== null) !== (fusion !== null)) {
      fail("detection.fusion must be present exactly when another detector is");
    }
    if (fusion?.ecodVotes && !ecod) fail("detection.fusion.ecodVotes without detection.ecod");
  }
  for (let t = 0; t < forest.nEstimators; t++) {
    const start = forest.treeOffsets[t]!;
    const end = forest.treeOffsets[t + 1]!;
    if (end <= start) fail(`forest tree ${t} is empty`);
    for (let node = start; node < end; node++) {
      const f = forest.feature[node]!;
      if (f < 0) continue;
      if (f >= width) fail(`forest node ${node} splits on feature ${f}, beyond ${width}`);
      // Children after their parent and inside the tree: every walk ends at a leaf.
      const l = forest.left[node]!;
      const r = forest.right[node]!;
      if (l <= node || l >= end || r <= node || r >= end) {
        fail(`forest node ${node} has children outside its tree`);
      }
    }
  }
}
