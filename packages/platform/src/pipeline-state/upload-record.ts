/**
 * The upload hash (`{p}:upload:{id}`) and the global counters hash (`{p}:counters`): their
 * fields, as one zod schema each, and how they read as the API's contracts. Every write to
 * them is a step of ./upload-steps.ts; nothing else in the repository names their fields.
 */
import {
  qualityFromCounts,
  rejectedRowSchema,
  uploadStatusSchema,
  type RedisKeys,
  type UploadStatus,
  type WindowSpec,
} from "@floodwatch/core";
import type { Redis } from "ioredis";
import { z } from "zod";

/** An integer counter field: absent (nothing counted yet) or malformed reads as 0. */
export function countField(value: string | null | undefined): number {
  if (value === null || value === undefined || value === "") return 0;
  const n = Number(value);
  return Number.isFinite(n) ? Math.trunc(n) : 0;
}

/** A score field: absent (nothing scored yet) or not a finite number reads as null. */
export function scoreField(value: string | null | undefined): number | null {
  if (value === null || value === undefined || value === "") return null;
  const n = Number(value);
  return Number.isFinite(n) ? n : null;
}

const count = z
  .string()
  .optional()
  .transform((value) => countField(value));
const score = z
  .string()
  .optional()
  .transform((value) => scoreField(value));
const rejectedRowsSchema = z.array(rejectedRowSchema);

/**
 * Fields of the upload hash as Redis holds them (strings), read into numbers. Written by:
 * `createUpload` (identity, window, zeroed counts, `state` = streaming); `queueFlowEntry`
 * (`*Queued`, row counts); `finishUpload` / `failUpload` (final counts, `ingestDone`, `state`,
 * `error`); `commitScoredEntry` (scored counts, scores, confusion counts, `state` = done);
 * `deadLetterEntry` (`*DeadLettered`, `state` = done).
 */
export const uploadHashSchema = z.object({
  name: z.string(),
  createdAt: z.string().transform(Number),
  updatedAt: count,
  state: z.string(),
  /** Why ingest failed the upload, once `failed`. */
  error: z.string().optional(),
  labelled: z
    .string()
    .optional()
    .transform((value) => value === "1"),
  modelVersion: z.string(),
  windowSize: z.string().transform(Number),
  windowStride: z.string().transform(Number),
  rowsAccepted: count,
  rowsRejected: count,
  /** JSON list of the kept rejected rows; unreadable reads as none. */
  rejected: z
    .string()
    .optional()
    .transform((text) => {
      if (!text) return [];
      try {
        const parsed = rejectedRowsSchema.safeParse(JSON.parse(text));
        return parsed.success ? parsed.data : [];
      } catch {
        return [];
      }
    }),
  /** Flows after the last whole window, never scored. */
  tailFlows: count,
  /**
   * Accepted rows whose `Timestamp` the reader could not parse (their windows have no traffic
   * times); absent when none so far.
   */
  timestampsUnparsed: count,
  entriesQueued: count,
  windowsQueued: count,
  /** New flows queued (an entry's repeated left context counted once). */
  flowsQueued: count,
  /** 1 once ingest has read and queued the whole body. */
  ingestDone: count,
  windowsScored: count,
  flowsScored: count,
  anomalies: count,
  lastScore: score,
  worstScore: score,
  tp: count,
  fp: count,
  fn: count,
  tn: count,
  entriesDeadLettered: count,
  windowsDeadLettered: count,
});
export type UploadHash = z.output<typeof uploadHashSchema>;

/** A field of the upload hash. */
export type UploadHashField = keyof z.input<typeof uploadHashSchema>;

/**
 * Overwrites fields of an upload hash, for tests that need a state the steps reach only after a
 * long run (an upload 199 windows into 200) or never (a record corrupted by hand). Typed by the
 * schema, so a test cannot write a field the pipeline does not have.
 */
export async function overwriteUploadFields(
  redis: Redis,
  keys: RedisKeys,
  uploadId: string,
  fields: Partial<Record<UploadHashField, string | number>>,
): Promise<void> {
  if (Object.keys(fields).length > 0) await redis.hset(keys.upload(uploadId), fields);
}

/** An upload hash that does not make a valid {@link UploadStatus}. */
export class InvalidUploadRecordError extends Error {
  override readonly name = "InvalidUploadRecordError";
  constructor(
    readonly uploadId: string,
    reason: string,
  ) {
    super(`upload ${uploadId} has an invalid record: ${reason}`);
  }
}

/**
 * Reads one upload hash as the API reports it. Returns null for an empty hash (unknown upload);
 * throws {@link InvalidUploadRecordError} when fields ingest always writes are missing or
 * malformed.
 */
export function uploadStatusOf(
  uploadId: string,
  hash: Record<string, string>,
): UploadStatus | null {
  if (Object.keys(hash).length === 0) return null;
  const fields = uploadHashSchema.safeParse(hash);
  if (!fields.success) {
    const issue = fields.error.issues[0]!;
    const field = issue.path.join(".");
    throw new InvalidUploadRecordError(
      uploadId,
      hash[field] === undefined ? `no ${field}` : `${field}: ${issue.message}`,
    );
  }
  const f = fields.data;
  const status = {
    uploadId,
    name: f.name,
    state: f.state,
    ...(f.error ? { error: f.error } : {}),
    createdAt: f.createdAt,
    updatedAt: f.updatedAt === 0 ? f.createdAt : f.updatedAt,
    rowsAccepted: f.rowsAccepted,
    rowsRejected: f.rowsRejected,
    rejected: f.rejected,
    windowsQueued: f.windowsQueued,
    windowsScored: f.windowsScored,
    anomalies: f.anomalies,
    tailFlows: f.tailFlows,
    ...(f.timestampsUnparsed > 0 ? { timestampsUnparsed: f.timestampsUnparsed } : {}),
    // Entries, like the global `deadLetters` counter and the dead-letters list.
    deadLetters: f.entriesDeadLettered,
    labelled: f.labelled,
    modelVersion: f.modelVersion,
    window: { size: f.windowSize, stride: f.windowStride },
    lastScore: f.lastScore,
    worstScore: f.worstScore,
    quality: f.labelled ? qualityFromCounts(f.tp, f.fp, f.fn, f.tn) : null,
  };
  const parsed = uploadStatusSchema.safeParse(status);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new InvalidUploadRecordError(uploadId, `${issue.path.join(".")}: ${issue.message}`);
  }
  return parsed.data;
}

/** The field the API's watcher compares to notice a changed upload. */
export const UPLOAD_CHANGE_FIELD = "updatedAt";

/** One upload's status, or null when unknown. */
export async function readUploadStatus(
  redis: Redis,
  keys: RedisKeys,
  uploadId: string,
): Promise<UploadStatus | null> {
  return uploadStatusOf(uploadId, await redis.hgetall(keys.upload(uploadId)));
}

/** Where an upload's scoring stands, for a reader that follows its results to the end. */
export interface UploadScoringProgress {
  /** The window geometry its entries were cut with. */
  window: WindowSpec;
  /** Windows scored so far (each reached the results stream exactly once). */
  scored: number;
  /**
   * Whether no more results will come: the upload is over (`done`, or `failed`) and every window
   * it queued is scored or dead-lettered.
   */
  ended: boolean;
}

/** One upload's scoring progress, or null when its hash is gone or lacks its window. */
export async function readUploadScoringProgress(
  redis: Redis,
  keys: RedisKeys,
  uploadId: string,
): Promise<UploadScoringProgress | null> {
  const [state, queued, scored, deadLettered, size, stride] = await redis.hmget(
    keys.upload(uploadId),
    "state",
    "windowsQueued",
    "windowsScored",
    "windowsDeadLettered",
    "windowSize",
    "windowStride",
  );
  if (size === null || stride === null) return null;
  const over = state === "done" || state === "failed";
  return {
    window: { size: Number(size), stride: Number(stride) },
    scored: countField(scored),
    ended: over && countField(scored) + countField(deadLettered) >= countField(queued),
  };
}

/**
 * Fields of the global counters hash. Written by the steps: `uploads`, `flowsIngested`,
 * `rowsRejected` (ingest's); `windowsScored`, `flowsScored`, `anomalies`, `lastScore`,
 * `worstScore`, `deadLetters`, `windowsDeadLettered` (the detectors').
 */
const COUNTER_FIELDS = [
  "windowsScored",
  "flowsScored",
  "anomalies",
  "lastScore",
  "worstScore",
  "deadLetters",
  "flowsIngested",
] as const;

/** The global counters the API reports, parsed. */
export interface GlobalCounters {
  windowsScored: number;
  flowsScored: number;
  anomalies: number;
  lastScore: number | null;
  worstScore: number | null;
  deadLetters: number;
  flowsIngested: number;
}

/** Reads the global counters hash. */
export async function readGlobalCounters(redis: Redis, keys: RedisKeys): Promise<GlobalCounters> {
  const [windowsScored, flowsScored, anomalies, lastScore, worstScore, deadLetters, ingested] =
    await redis.hmget(keys.counters, ...COUNTER_FIELDS);
  return {
    windowsScored: countField(windowsScored),
    flowsScored: countField(flowsScored),
    anomalies: countField(anomalies),
    lastScore: scoreField(lastScore),
    worstScore: scoreField(worstScore),
    deadLetters: countField(deadLetters),
    flowsIngested: countField(ingested),
  };
}
