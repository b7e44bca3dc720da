/**
 * The Redis writes of one upload, laid out as docs/architecture.md says: the upload hash, its
 * place in the uploads index, the global counters, and each flow entry added to the stream in
 * the same MULTI as the counters that account for it, so the counts never disagree with the
 * stream.
 */
import {
  encodeFlowEntry,
  type FlowEntry,
  type RedisKeys,
  type RejectedRow,
  type UploadState,
} from "@floodwatch/core";
import type { ChainableCommander, Redis } from "ioredis";

/** What an upload records about itself when it starts. */
export interface UploadStart {
  uploadId: string;
  name: string;
  createdAt: number;
  labelled: boolean;
  modelVersion: string;
  window: { size: number; stride: number };
}

/** How far the reader has got, written with every entry and at the end. */
export interface UploadProgress {
  rowsAccepted: number;
  rowsRejected: number;
  /** The kept rejected rows; written only when given. */
  rejected?: readonly RejectedRow[];
  /** Rows rejected since the last write, for the global counter. */
  rowsRejectedDelta: number;
  updatedAt: number;
}

/** Runs a MULTI and throws the first command error (ioredis reports them per command). */
async function execOrThrow(multi: ChainableCommander): Promise<[Error | null, unknown][]> {
  const replies = await multi.exec();
  if (replies === null) throw new Error("MULTI was aborted");
  for (const [error] of replies) if (error) throw error;
  return replies;
}

/** A byte view as a Buffer without copying, as ioredis sends Buffers verbatim. */
function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

function progressFields(progress: UploadProgress): (string | number)[] {
  const fields: (string | number)[] = [
    "rowsAccepted",
    progress.rowsAccepted,
    "rowsRejected",
    progress.rowsRejected,
    "updatedAt",
    progress.updatedAt,
  ];
  if (progress.rejected !== undefined) fields.push("rejected", JSON.stringify(progress.rejected));
  return fields;
}

/**
 * Creates the upload hash in state `streaming`, indexes it by creation time and counts it. Called
 * once the header is known to fit the model and the first data row has been read.
 */
export async function createUploadRecord(
  redis: Redis,
  keys: RedisKeys,
  start: UploadStart,
): Promise<void> {
  const key = keys.upload(start.uploadId);
  await execOrThrow(
    redis
      .multi()
      .hset(key, {
        name: start.name,
        createdAt: start.createdAt,
        updatedAt: start.createdAt,
        state: "streaming" satisfies UploadState,
        labelled: start.labelled ? 1 : 0,
        modelVersion: start.modelVersion,
        windowSize: start.window.size,
        windowStride: start.window.stride,
        rowsAccepted: 0,
        rowsRejected: 0,
        rejected: "[]",
        tailFlows: 0,
        entriesQueued: 0,
        windowsQueued: 0,
        flowsQueued: 0,
        ingestDone: 0,
      })
      .zadd(keys.uploads, start.createdAt, start.uploadId)
      .hincrby(keys.counters, "uploads", 1),
  );
}

/**
 * Adds one flow entry to the flows stream and, in the same MULTI, the upload's and the global
 * counters. `newFlows` is how many of the entry's flows no earlier entry carried (an entry
 * repeats the `size - stride` flows of left context it needs). Returns the stream entry id.
 */
export async function queueFlowEntry(
  redis: Redis,
  keys: RedisKeys,
  entry: FlowEntry,
  newFlows: number,
  progress: UploadProgress,
): Promise<string> {
  const encoded = encodeFlowEntry(entry);
  const key = keys.upload(entry.meta.uploadId);
  const multi = redis
    .multi()
    .xadd(
      keys.flows,
      "*",
      "meta",
      encoded.meta,
      "values",
      asBuffer(encoded.values),
      "lines",
      asBuffer(encoded.lines),
      "attack",
      asBuffer(encoded.attack),
    )
    .hincrby(key, "entriesQueued", 1)
    .hincrby(key, "windowsQueued", entry.meta.windowCount)
    .hincrby(key, "flowsQueued", newFlows)
    .hset(key, ...progressFields(progress))
    .hincrby(keys.counters, "flowsIngested", newFlows);
  if (progress.rowsRejectedDelta > 0) {
    multi.hincrby(keys.counters, "rowsRejected", progress.rowsRejectedDelta);
  }
  const replies = await execOrThrow(multi);
  return String(replies[0]![1]);
}

/**
 * The end of a fully read upload, atomically: final counts, `ingestDone = 1`, and the done rule
 * of docs/architecture.md — `done` when every queued window is already scored or dead-lettered,
 * else `scoring` (the detector's commit sets `done` when the last window lands). Returns the state.
 */
const FINISH_UPLOAD_SCRIPT = `
local upload, counters = KEYS[1], KEYS[2]
redis.call('HSET', upload, 'rowsAccepted', ARGV[1], 'rowsRejected', ARGV[2], 'rejected', ARGV[3],
  'tailFlows', ARGV[4], 'updatedAt', ARGV[5], 'ingestDone', '1')
if tonumber(ARGV[6]) > 0 then redis.call('HINCRBY', counters, 'rowsRejected', ARGV[6]) end
local queued = tonumber(redis.call('HGET', upload, 'windowsQueued') or '0')
local finished = tonumber(redis.call('HGET', upload, 'windowsScored') or '0')
  + tonumber(redis.call('HGET', upload, 'windowsDeadLettered') or '0')
local state = 'scoring'
if finished >= queued then state = 'done' end
redis.call('HSET', upload, 'state', state)
return state
`;

/** Final figures of a fully read upload. */
export interface UploadFinish extends UploadProgress {
  rejected: readonly RejectedRow[];
  tailFlows: number;
}

/** Marks an upload as fully read and queued; see {@link FINISH_UPLOAD_SCRIPT}. */
export async function finishUpload(
  redis: Redis,
  keys: RedisKeys,
  uploadId: string,
  finish: UploadFinish,
): Promise<Extract<UploadState, "scoring" | "done">> {
  const state = await redis.eval(
    FINISH_UPLOAD_SCRIPT,
    2,
    keys.upload(uploadId),
    keys.counters,
    finish.rowsAccepted,
    finish.rowsRejected,
    JSON.stringify(finish.rejected),
    finish.tailFlows,
    finish.updatedAt,
    finish.rowsRejectedDelta,
  );
  return state === "done" ? "done" : "scoring";
}

/**
 * Marks an upload as failed with the reason. `ingestDone` stays 0, so the detectors' done rule
 * never turns it into `done`: it stays `failed` while the entries already queued are scored.
 */
export async function failUpload(
  redis: Redis,
  keys: RedisKeys,
  uploadId: string,
  reason: string,
  progress: UploadProgress & { tailFlows: number },
): Promise<void> {
  const key = keys.upload(uploadId);
  const multi = redis
    .multi()
    .hset(
      key,
      "state",
      "failed" satisfies UploadState,
      "error",
      reason,
      "tailFlows",
      progress.tailFlows,
    )
    .hset(key, ...progressFields(progress));
  if (progress.rowsRejectedDelta > 0) {
    multi.hincrby(keys.counters, "rowsRejected", progress.rowsRejectedDelta);
  }
  await execOrThrow(multi);
}
