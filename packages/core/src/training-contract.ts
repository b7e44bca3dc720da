/**
 * The contract between the API (which accepts training uploads and enqueues jobs) and the
 * trainer (which runs them): queue name, Redis key names, job data, job result and the model
 * metadata the trainer stores beside each version. Pure, so both sides import it.
 */
import { DEFAULT_FEATURES, canonicalColumnKey } from "./flow-features.ts";
import type { TrainingJobStatus } from "./stream-contracts.ts";
import { TRAINING_DEFAULTS } from "./training-defaults.ts";
import { z } from "zod";

/** Name of the BullMQ queue of training jobs (its keys live under `keys.queuePrefix`). */
export const TRAINING_QUEUE = "training";

/**
 * Size of one stored piece of a training upload. Large enough that a 256 MiB upload is a few
 * hundred list entries, small enough that neither side holds more than a few MiB at a time.
 */
export const TRAINING_INPUT_CHUNK_BYTES = 1 << 20;

/**
 * How long an uploaded training input stays in Redis when nobody deletes it: a day covers a long
 * queue; the trainer deletes it as soon as its job ends, so this only reclaims inputs of jobs a
 * crash left behind.
 */
export const TRAINING_INPUT_TTL_SECONDS = 24 * 60 * 60;

/**
 * Finished jobs kept in the queue, so `GET /api/models/jobs/:id` can still answer with the
 * version or the failure reason; older ones are trimmed by BullMQ.
 */
export const TRAINING_JOBS_KEPT = 1000;

/** Limits of the settings a training request may ask for (the CLI's `train` bounds). */
const MAX_WINDOW = 100_000;
const MAX_TREES = 10_000;
const MAX_SAMPLES = 1_000_000;
const MAX_FEATURES = 200;

const integerSetting = (min: number, max: number) =>
  z.coerce.number().int().min(min).max(max).optional();

/** A comma list (as in a query string or a form field) or an array of feature names. */
const featureList = z.preprocess(
  (value) =>
    typeof value === "string"
      ? value
          .split(",")
          .map((name) => name.trim())
          .filter((name) => name !== "")
      : value,
  z.array(z.string().trim().min(1)).min(1).max(MAX_FEATURES).optional(),
);

/**
 * Training settings as a client sends them (strings from a query string or form fields, or
 * numbers), resolved to a complete {@link TrainingSettings} with the defaults `floodwatch train`
 * uses ({@link TRAINING_DEFAULTS}): `stride` defaults to `window`; `trainStride` stays unset
 * unless given, and training then picks it as the CLI does (the default profile's window budget).
 * Unknown names are refused, so a typo never trains with a default.
 */
export const trainingSettingsSchema = z
  .strictObject({
    window: integerSetting(2, MAX_WINDOW),
    stride: integerSetting(1, MAX_WINDOW),
    trainStride: integerSetting(1, MAX_WINDOW),
    trees: integerSetting(1, MAX_TREES),
    maxSamples: integerSetting(2, MAX_SAMPLES),
    quantile: z.coerce.number().gt(0).lt(1).optional(),
    seed: z.coerce
      .number()
      .int()
      .min(-(2 ** 31))
      .max(2 ** 31 - 1)
      .optional(),
    features: featureList,
  })
  .transform((input, ctx) => {
    const window = input.window ?? TRAINING_DEFAULTS.window;
    const stride = input.stride ?? window;
    const trainStride = input.trainStride;
    for (const [field, value] of [
      ["stride", stride],
      ["trainStride", trainStride],
    ] as const) {
      if (value !== undefined && value > window) {
        ctx.issues.push({
          code: "custom",
          path: [field],
          message: `must be at most the window (${window}), got ${value}`,
          input: value,
        });
      }
    }
    const features = input.features ?? [...DEFAULT_FEATURES];
    const seen = new Map<string, string>();
    for (const feature of features) {
      const twin = seen.get(canonicalColumnKey(feature));
      if (twin !== undefined) {
        ctx.issues.push({
          code: "custom",
          path: ["features"],
          message: `${JSON.stringify(feature)} names the same column as ${JSON.stringify(twin)}`,
          input: features,
        });
      }
      seen.set(canonicalColumnKey(feature), feature);
    }
    return {
      window,
      stride,
      ...(trainStride === undefined ? {} : { trainStride }),
      trees: input.trees ?? TRAINING_DEFAULTS.trees,
      maxSamples: input.maxSamples ?? TRAINING_DEFAULTS.maxSamples,
      quantile: input.quantile ?? TRAINING_DEFAULTS.quantile,
      seed: input.seed ?? TRAINING_DEFAULTS.seed,
      features,
    };
  });

/** Complete training settings. */
export type TrainingSettings = z.output<typeof trainingSettingsSchema>;

/** Names of the settings, as accepted in a query string or form. */
export const TRAINING_SETTING_NAMES = [
  "window",
  "stride",
  "trainStride",
  "trees",
  "maxSamples",
  "quantile",
  "seed",
  "features",
] as const;

/** The first problem of a settings parse, naming the field: `trees: Too small: ...`. */
export function describeSettingsError(error: z.ZodError): { field: string; message: string } {
  const issue = error.issues[0]!;
  if (issue.code === "unrecognized_keys") {
    const names = issue.keys.join(", ");
    return {
      field: issue.keys[0]!,
      message:
        `unknown training setting${issue.keys.length === 1 ? "" : "s"} ${names} ` +
        `(known: ${TRAINING_SETTING_NAMES.join(", ")})`,
    };
  }
  const field = issue.path.map(String).join(".") || "(settings)";
  return { field, message: `invalid training setting ${field}: ${issue.message}` };
}

/** Data of one training job, as enqueued by the API. */
export const trainingJobDataSchema = z.object({
  /** Name of the training input (the uploaded file name), recorded as the model's source. */
  name: z.string().min(1).max(256),
  /** Redis list holding the input (`RedisKeys.trainingInput`). */
  inputKey: z.string().min(1),
  inputBytes: z.number().int().min(0),
  /** Pieces in the list, so a reader can tell a complete input from an expired or cut one. */
  inputChunks: z.number().int().min(0),
  settings: trainingSettingsSchema,
  /** When the API accepted the upload (ms since epoch). */
  submittedAt: z.number(),
});
export type TrainingJobData = z.output<typeof trainingJobDataSchema>;

/**
 * A quick evaluation of the new model on its own (labelled) training file, windows as served
 * (window rule `any`). In-sample, so optimistic; with attack rows present it shows whether the
 * model separates them at all.
 */
export const trainingEvaluationSchema = z.object({
  scope: z.literal("training-file"),
  windows: z.number().int(),
  attackWindows: z.number().int(),
  /** Benign windows flagged, over all benign windows. */
  fpr: z.number(),
  /** Null without attack windows. */
  precision: z.number().nullable(),
  recall: z.number().nullable(),
  f1: z.number().nullable(),
  rocAuc: z.number().nullable(),
});
export type TrainingEvaluation = z.infer<typeof trainingEvaluationSchema>;

/** What a completed training job returns (BullMQ keeps it as the job's return value). */
export const trainingJobResultSchema = z.object({
  version: z.string(),
  rowsRead: z.number().int(),
  rowsRejected: z.number().int(),
  /** Benign flows the model learned from. */
  flows: z.number().int(),
  /** Labelled attack rows left out of training. */
  flowsExcluded: z.number().int(),
  windows: z.number().int(),
  threshold: z.number(),
  validationFpr: z.number(),
  /** Stride of the training windows, as picked when the settings left it unset. */
  trainStride: z.number().int().optional(),
  /** Training's warnings about the model's reliability (the model file records them too). */
  warnings: z.array(z.string()).default([]),
  evaluation: trainingEvaluationSchema.nullable(),
});
export type TrainingJobResult = z.infer<typeof trainingJobResultSchema>;

/**
 * Metadata of a registered version beyond its model file, in `{p}:model-meta:{version}`. The
 * model file already records creation time, flows, windows, content hash, threshold, validation
 * FPR and the training settings; this adds where the version came from and what its input
 * looked like.
 */
export const modelMetaSchema = z.object({
  origin: z.enum(["trained", "published"]),
  /** The training job, for trained versions. */
  jobId: z.string().optional(),
  /** Name of the training input. */
  name: z.string().optional(),
  inputBytes: z.number().int().optional(),
  /** Data rows read (accepted and rejected), header excluded. */
  rowsRead: z.number().int().optional(),
  rowsRejected: z.number().int().optional(),
  /** Whether the training file had a `Label` column. */
  labelled: z.boolean().optional(),
  flowsExcluded: z.number().int().optional(),
  settings: trainingSettingsSchema.optional(),
  evaluation: trainingEvaluationSchema.nullable().optional(),
});
export type ModelMeta = z.infer<typeof modelMetaSchema>;

/** Meta fields stored as plain strings; every other field is JSON. */
const STRING_META_FIELDS = new Set(["origin", "jobId", "name"]);

/** A {@link ModelMeta} as hash fields: strings, JSON for the structured ones. */
export function encodeModelMeta(meta: ModelMeta): Record<string, string> {
  const fields: Record<string, string> = {};
  for (const [name, value] of Object.entries(meta)) {
    if (value === undefined) continue;
    fields[name] =
      typeof value === "string" && STRING_META_FIELDS.has(name) ? value : JSON.stringify(value);
  }
  return fields;
}

/** Reads a meta hash back; null when the version has none (e.g. the shipped default model). */
export function decodeModelMeta(fields: Record<string, string>): ModelMeta | null {
  if (Object.keys(fields).length === 0) return null;
  const raw: Record<string, unknown> = {};
  try {
    for (const [name, text] of Object.entries(fields)) {
      raw[name] = STRING_META_FIELDS.has(name) ? text : JSON.parse(text);
    }
  } catch {
    return null; // written by hand or by an incompatible version: show the model without it
  }
  const parsed = modelMetaSchema.safeParse(raw);
  return parsed.success ? parsed.data : null;
}

/** Progress of a job nobody has started yet. */
export function queuedProgress(trees: number): TrainingJobStatus["progress"] {
  return { stage: "queued", rowsRead: 0, windows: 0, treesGrown: 0, trees };
}
