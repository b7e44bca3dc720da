/**
 * Upload status as ingest and the detectors write it (`{p}:uploads`, `{p}:upload:{id}`), read
 * into {@link UploadStatus}, and a watcher that notices which uploads changed.
 */
import {
  rejectedRowSchema,
  uploadStatusSchema,
  type Quality,
  type RedisKeys,
  type UploadStatus,
} from "@floodwatch/core";
import type { Redis } from "ioredis";
import type { Logger } from "pino";
import { z } from "zod";
import { countField, scoreField } from "./summary.ts";

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

/** The part of a logger these readers use (a request's logger or the service's). */
type WarnLogger = Pick<Logger, "warn">;

const rejectedRowsSchema = z.array(rejectedRowSchema);

/** Precision, recall and F1 from confusion counts; a ratio with a zero denominator is 0. */
export function qualityOf(tp: number, fp: number, fn: number, tn: number): Quality {
  const precision = tp + fp === 0 ? 0 : tp / (tp + fp);
  const recall = tp + fn === 0 ? 0 : tp / (tp + fn);
  const f1 = precision + recall === 0 ? 0 : (2 * precision * recall) / (precision + recall);
  return { tp, fp, fn, tn, precision, recall, f1 };
}

function parseRejected(text: string | undefined): UploadStatus["rejected"] {
  if (!text) return [];
  try {
    const parsed = rejectedRowsSchema.safeParse(JSON.parse(text));
    return parsed.success ? parsed.data : [];
  } catch {
    return [];
  }
}

/**
 * Reads one upload hash. Returns null for an empty hash (unknown upload); throws
 * {@link InvalidUploadRecordError} when fields ingest always writes are missing or malformed.
 */
export function parseUploadStatus(
  uploadId: string,
  hash: Record<string, string>,
): UploadStatus | null {
  if (Object.keys(hash).length === 0) return null;
  for (const field of [
    "name",
    "createdAt",
    "state",
    "modelVersion",
    "windowSize",
    "windowStride",
  ]) {
    if (hash[field] === undefined) throw new InvalidUploadRecordError(uploadId, `no ${field}`);
  }
  const labelled = hash.labelled === "1";
  const createdAt = countField(hash.createdAt);
  const status = {
    uploadId,
    name: hash.name,
    state: hash.state,
    ...(hash.error ? { error: hash.error } : {}),
    createdAt,
    updatedAt: hash.updatedAt ? countField(hash.updatedAt) : createdAt,
    rowsAccepted: countField(hash.rowsAccepted),
    rowsRejected: countField(hash.rowsRejected),
    rejected: parseRejected(hash.rejected),
    windowsQueued: countField(hash.windowsQueued),
    windowsScored: countField(hash.windowsScored),
    anomalies: countField(hash.anomalies),
    tailFlows: countField(hash.tailFlows),
    // Entries, like the global `deadLetters` counter and the dead-letters list.
    deadLetters: countField(hash.entriesDeadLettered),
    labelled,
    modelVersion: hash.modelVersion,
    window: { size: countField(hash.windowSize), stride: countField(hash.windowStride) },
    lastScore: scoreField(hash.lastScore),
    worstScore: scoreField(hash.worstScore),
    quality: labelled
      ? qualityOf(
          countField(hash.tp),
          countField(hash.fp),
          countField(hash.fn),
          countField(hash.tn),
        )
      : null,
  };
  const parsed = uploadStatusSchema.safeParse(status);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new InvalidUploadRecordError(uploadId, `${issue.path.join(".")}: ${issue.message}`);
  }
  return parsed.data;
}

/** One upload's status, or null when unknown. */
export async function readUpload(
  redis: Redis,
  keys: RedisKeys,
  uploadId: string,
): Promise<UploadStatus | null> {
  return parseUploadStatus(uploadId, await redis.hgetall(keys.upload(uploadId)));
}

/**
 * Statuses of the given uploads in the given order; unknown ones are left out, invalid ones are
 * logged and left out so one bad record does not hide the others.
 */
export async function readUploads(
  redis: Redis,
  keys: RedisKeys,
  uploadIds: readonly string[],
  logger: WarnLogger,
): Promise<UploadStatus[]> {
  if (uploadIds.length === 0) return [];
  const pipeline = redis.pipeline();
  for (const id of uploadIds) pipeline.hgetall(keys.upload(id));
  const replies = (await pipeline.exec()) ?? [];
  const out: UploadStatus[] = [];
  uploadIds.forEach((id, i) => {
    const [error, hash] = replies[i] ?? [new Error("no reply"), null];
    if (error) throw error;
    try {
      const status = parseUploadStatus(id, hash as Record<string, string>);
      if (status) out.push(status);
    } catch (problem) {
      if (!(problem instanceof InvalidUploadRecordError)) throw problem;
      logger.warn({ uploadId: id, reason: problem.message }, "skipping an invalid upload record");
    }
  });
  return out;
}

/** The newest uploads, newest first. */
export async function listUploads(
  redis: Redis,
  keys: RedisKeys,
  limit: number,
  logger: WarnLogger,
): Promise<UploadStatus[]> {
  const ids = await redis.zrevrange(keys.uploads, 0, limit - 1);
  return readUploads(redis, keys, ids, logger);
}

/**
 * Uploads the watcher looks at on each tick: the newest ones. An upload still in progress is
 * almost always among them, and the cost of a tick stays bounded however many uploads exist.
 */
export const WATCHED_UPLOADS = 100;

/**
 * Notices uploads whose `updatedAt` changed since the previous call, among the newest
 * {@link WATCHED_UPLOADS}. The first call only takes the baseline.
 */
export class UploadWatcher {
  private seen: Map<string, string> | undefined;

  constructor(
    private readonly redis: Redis,
    private readonly keys: RedisKeys,
    private readonly logger: WarnLogger,
  ) {}

  /** Statuses of the uploads created or updated since the last call, oldest change first. */
  async changed(): Promise<UploadStatus[]> {
    const ids = await this.redis.zrevrange(this.keys.uploads, 0, WATCHED_UPLOADS - 1);
    const pipeline = this.redis.pipeline();
    for (const id of ids) pipeline.hget(this.keys.upload(id), "updatedAt");
    const replies = ids.length > 0 ? ((await pipeline.exec()) ?? []) : [];
    const next = new Map<string, string>();
    const changed: string[] = [];
    ids.forEach((id, i) => {
      const [error, updatedAt] = replies[i] ?? [null, null];
      if (error || typeof updatedAt !== "string") return;
      next.set(id, updatedAt);
      if (this.seen && this.seen.get(id) !== updatedAt) changed.push(id);
    });
    this.seen = next;
    // zrevrange lists newest first; report in creation order.
    changed.reverse();
    return readUploads(this.redis, this.keys, changed, this.logger);
  }
}
