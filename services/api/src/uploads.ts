/**
 * Upload statuses as the API serves them (the upload hash is read by platform's pipeline-state
 * module, which owns its fields), and a watcher that notices which uploads changed.
 */
import type { RedisKeys, UploadStatus } from "@floodwatch/core";
import {
  InvalidUploadRecordError,
  UPLOAD_CHANGE_FIELD,
  readUploadStatus,
  uploadStatusOf,
} from "@floodwatch/platform";
import type { Redis } from "ioredis";
import type { Logger } from "pino";

/** The part of a logger these readers use (a request's logger or the service's). */
type WarnLogger = Pick<Logger, "warn">;

/** One upload's status, or null when unknown. */
export async function readUpload(
  redis: Redis,
  keys: RedisKeys,
  uploadId: string,
): Promise<UploadStatus | null> {
  return readUploadStatus(redis, keys, uploadId);
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
      const status = uploadStatusOf(id, hash as Record<string, string>);
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
    for (const id of ids) pipeline.hget(this.keys.upload(id), UPLOAD_CHANGE_FIELD);
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
