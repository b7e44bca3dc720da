/**
 * Every message that crosses Redis or HTTP, as one zod schema each. Producers and consumers
 * share the inferred types and validate at the boundary.
 */
import { z } from "zod";
import { INCIDENT_EVENT_TYPES, incidentSchema } from "./incident-contracts.ts";

/** Window geometry as carried in messages. */
export const windowSpecSchema = z.object({
  size: z.number().int().min(2),
  stride: z.number().int().min(1),
});

/**
 * Metadata of one flow entry on the flows stream. An entry is self-contained: it carries every
 * flow its windows need (for stride < size, the left context too), so any detector can score it
 * alone. Its flows are `[firstWindow * stride, (firstWindow + windowCount - 1) * stride + size)`
 * of the upload's sequence.
 */
export const flowEntryMetaSchema = z
  .object({
    v: z.literal(1),
    uploadId: z.string().min(1),
    /** Entry number within the upload, from 0. */
    seq: z.number().int().min(0),
    firstWindow: z.number().int().min(0),
    windowCount: z.number().int().min(1),
    flowCount: z.number().int().min(1),
    featureCount: z.number().int().min(1),
    window: windowSpecSchema,
    /** Version of the model whose features and window shaped this entry. */
    modelVersion: z.string().min(1),
    labelled: z.boolean(),
    /** When ingest read the entry's last flow (ms since epoch): the start of its latency. */
    receivedAt: z.number(),
  })
  .refine((m) => m.flowCount === (m.windowCount - 1) * m.window.stride + m.window.size, {
    message: "flowCount must equal (windowCount - 1) * stride + size",
    path: ["flowCount"],
  });
export type FlowEntryMeta = z.infer<typeof flowEntryMetaSchema>;

/** Headline signals of a window, for the alert log. */
export const windowSignalsSchema = z.object({
  /** Mean `Flow Packets/s` over the window's flows, when the model has that feature. */
  packetsPerSecond: z.number().nullable(),
  /** Mean `SYN Flag Count` over the window's flows, when the model has that feature. */
  synCount: z.number().nullable(),
});

/** An address and the number of the window's flows it took part in. */
export const windowPeerSchema = z.object({ ip: z.string(), flows: z.number().int().min(0) });

/** The window's top sources and how many distinct sources it has (a spoofed flood: thousands). */
export const windowResultSourcesSchema = z.object({
  top: z.array(windowPeerSchema),
  distinct: z.number().int().min(0),
});

/** A destination port/protocol pair and its flows; protocol null when the file has none. */
export const windowResultPortSchema = z.object({
  port: z.number().int().min(0),
  protocol: z.number().int().min(0).nullable(),
  flows: z.number().int().min(0),
});

/** A dimension (feature × statistic) that drove a window's score; see `WindowExplainer`. */
export const explainedDimensionSchema = z.object({
  feature: z.string(),
  /** `mean`, `std`, `min`, `max`, or `value` for a window-level feature. */
  statistic: z.string(),
  value: z.number(),
  /** Benign training median of the dimension. */
  typical: z.number(),
  /** Share of the decision (all dimensions of the window sum to 1). */
  weight: z.number(),
});

/** A base feature's share of the decision, over all its statistics. */
export const explainedFeatureSchema = z.object({ feature: z.string(), weight: z.number() });

/** The result of scoring one window. */
export const windowResultSchema = z.object({
  uploadId: z.string(),
  window: z.number().int().min(0),
  firstLine: z.number().int(),
  lastLine: z.number().int(),
  /** Decision score: lower is more anomalous. */
  score: z.number(),
  anomaly: z.boolean(),
  pc1: z.number(),
  pc2: z.number(),
  modelVersion: z.string(),
  /** Attack flows in the window, when the upload is labelled. */
  attackFlows: z.number().int().min(0).optional(),
  signals: windowSignalsSchema,
  /** When ingest read the window's last flow (ms since epoch). */
  receivedAt: z.number(),
  /** When the detector committed the result (ms since epoch). */
  scoredAt: z.number(),
  // Who, when and why. Null when the upload lacks the columns (or, for `explanation`, when the
  // window was not explained); a result written before these fields existed reads as null.
  /** Earliest flow timestamp of the window (ISO 8601), null without (parseable) timestamps. */
  start: z.string().nullable().default(null),
  /** Latest flow timestamp of the window (ISO 8601). */
  end: z.string().nullable().default(null),
  /** Top 3 destination IPs by flows. */
  victims: z.array(windowPeerSchema).nullable().default(null),
  sources: windowResultSourcesSchema.nullable().default(null),
  /** Top 3 destination port/protocol pairs by flows. */
  ports: z.array(windowResultPortSchema).nullable().default(null),
  /** Top 5 dimensions by their share of the decision (anomalous windows by default). */
  explanation: z.array(explainedDimensionSchema).nullable().default(null),
  /** The same shares summed per base feature, top 5. */
  explanationFeatures: z.array(explainedFeatureSchema).nullable().default(null),
});
export type WindowResult = z.infer<typeof windowResultSchema>;

/** One entry of the results stream: the windows of one flow entry, in order. */
export const resultBatchSchema = z.array(windowResultSchema);

/** A dead-lettered flow entry, as the API shows it. */
export const deadLetterSchema = z.object({
  entryId: z.string(),
  uploadId: z.string().nullable(),
  reason: z.string(),
  deliveries: z.number().int(),
  at: z.number(),
});
export type DeadLetter = z.infer<typeof deadLetterSchema>;

/** A rejected row as reported to the user. */
export const rejectedRowSchema = z.object({
  line: z.number().int(),
  column: z.number().int().optional(),
  reason: z.string(),
});

/**
 * Accepted rows whose `Timestamp` could not be read: their windows' `start`/`end` are null and
 * the dashboard falls back to processing time for them. Absent when there are none (or the file
 * has no `Timestamp` column).
 */
const timestampsUnparsedSchema = z.number().int().min(1).optional();

/** Lifecycle of an upload. */
export const UPLOAD_STATES = ["streaming", "scoring", "done", "failed"] as const;
export type UploadState = (typeof UPLOAD_STATES)[number];

/** Detection quality so far, for labelled uploads (window rule `any`). */
export const qualitySchema = z.object({
  tp: z.number().int(),
  fp: z.number().int(),
  fn: z.number().int(),
  tn: z.number().int(),
  precision: z.number(),
  recall: z.number(),
  f1: z.number(),
});
export type Quality = z.infer<typeof qualitySchema>;

/** An upload's state as the API reports it. */
export const uploadStatusSchema = z.object({
  uploadId: z.string(),
  name: z.string(),
  state: z.enum(UPLOAD_STATES),
  error: z.string().optional(),
  createdAt: z.number(),
  updatedAt: z.number(),
  rowsAccepted: z.number().int(),
  rowsRejected: z.number().int(),
  rejected: z.array(rejectedRowSchema),
  windowsQueued: z.number().int(),
  windowsScored: z.number().int(),
  anomalies: z.number().int(),
  tailFlows: z.number().int(),
  timestampsUnparsed: timestampsUnparsedSchema,
  deadLetters: z.number().int(),
  labelled: z.boolean(),
  modelVersion: z.string(),
  window: windowSpecSchema,
  lastScore: z.number().nullable(),
  worstScore: z.number().nullable(),
  quality: qualitySchema.nullable(),
});
export type UploadStatus = z.infer<typeof uploadStatusSchema>;

/** `201` answer of `POST /api/uploads`. */
export const uploadAcceptedSchema = z.object({
  uploadId: z.string(),
  name: z.string(),
  rowsAccepted: z.number().int(),
  rowsRejected: z.number().int(),
  rejected: z.array(rejectedRowSchema),
  windowsQueued: z.number().int(),
  tailFlows: z.number().int(),
  timestampsUnparsed: timestampsUnparsedSchema,
  labelled: z.boolean(),
  modelVersion: z.string(),
});
export type UploadAccepted = z.infer<typeof uploadAcceptedSchema>;

/**
 * The false-alarm rate to expect from a model, honestly: what its own calibration promises and,
 * beside it, what the detection lab measured on benign traffic of days the model never saw.
 */
export const falseAlarmExpectationSchema = z.object({
  /**
   * Share of the model's validation windows (the last 20% of its own training days) above its
   * threshold. With the default profile's threshold margin this is usually 0: it is no forecast.
   */
  promised: z.number(),
  /**
   * Share of other-day benign windows the lab flagged, for models trained the way this one was;
   * null when the model's settings differ from every measured profile.
   */
  measured: z
    .object({
      /** The training profile the figure was measured for. */
      profile: z.string(),
      /** Mean over the lab's seeds, with the lowest and highest seed. */
      mean: z.number(),
      low: z.number(),
      high: z.number(),
      /** The command and data that produced the figure. */
      source: z.string(),
    })
    .nullable(),
});
export type FalseAlarmExpectation = z.infer<typeof falseAlarmExpectationSchema>;

/** The active model, as the API and dashboard show it. */
export const modelSummarySchema = z.object({
  version: z.string(),
  features: z.array(z.string()),
  window: z.number().int(),
  stride: z.number().int(),
  threshold: z.number(),
  quantile: z.number(),
  validationFpr: z.number(),
  trainedAt: z.string(),
  explainedVariance: z.tuple([z.number(), z.number()]),
  trainingFlows: z.number().int(),
  trainingWindows: z.number().int(),
  /** Training's warnings about the model's reliability (too few windows); empty when none. */
  warnings: z.array(z.string()),
  falseAlarms: falseAlarmExpectationSchema,
});
export type ModelSummary = z.infer<typeof modelSummarySchema>;

/** `GET /api/summary` and the WebSocket's summary message. */
export const summarySchema = z.object({
  windowsScored: z.number().int(),
  flowsScored: z.number().int(),
  anomalies: z.number().int(),
  threshold: z.number().nullable(),
  lastScore: z.number().nullable(),
  worstScore: z.number().nullable(),
  flowsPerSecond: z.number(),
  /** Flow entries not yet acknowledged by the detectors (consumer-group lag plus pending). */
  backlog: z.number().int(),
  deadLetters: z.number().int(),
  detectors: z.object({ active: z.number().int() }),
  model: modelSummarySchema.nullable(),
});
export type Summary = z.infer<typeof summarySchema>;

/** States of a background training job (BullMQ's, narrowed). */
export const TRAINING_JOB_STATES = ["waiting", "active", "completed", "failed"] as const;

/** Where a training job is, for `GET /api/models/jobs/:id` and the WebSocket. */
export const trainingJobStatusSchema = z.object({
  jobId: z.string(),
  state: z.enum(TRAINING_JOB_STATES),
  progress: z.object({
    /** `reading`, `windows`, `forest`, `calibration`, `stored`. */
    stage: z.string(),
    rowsRead: z.number().int(),
    windows: z.number().int(),
    treesGrown: z.number().int(),
    trees: z.number().int(),
  }),
  /** The new model version, once completed. */
  version: z.string().optional(),
  /** Why the job failed, once failed. */
  error: z.string().optional(),
});
export type TrainingJobStatus = z.infer<typeof trainingJobStatusSchema>;

/** Messages the API pushes on `GET /ws`. */
export const serverMessageSchema = z.discriminatedUnion("type", [
  z.object({ type: z.literal("summary"), summary: summarySchema }),
  /** Newly scored windows, oldest first, batched. */
  z.object({ type: z.literal("window"), windows: z.array(windowResultSchema) }),
  /** Recent windows on connect, oldest first. */
  z.object({ type: z.literal("history"), windows: z.array(windowResultSchema) }),
  z.object({ type: z.literal("upload"), upload: uploadStatusSchema }),
  z.object({ type: z.literal("training"), job: trainingJobStatusSchema }),
  /** The active model changed. */
  z.object({ type: z.literal("model"), model: modelSummarySchema }),
  /** An incident opened, grew or closed (`event` is `incident.opened` and so on). */
  z.object({
    type: z.literal("incident"),
    event: z.enum(INCIDENT_EVENT_TYPES),
    incident: incidentSchema,
  }),
]);
export type ServerMessage = z.infer<typeof serverMessageSchema>;
