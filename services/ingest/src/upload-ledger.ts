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
import { RedisScript } from "@floodwatch/platform";
import type { Redis } from "ioredis";

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

/** A byte view as a Buffer without copying, as ioredis sends Buffers verbatim. */
function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/**
 * Every ledger step is idempotent: ioredis resends a command that was in flight when the
 * connection dropped (a Redis restart), and Redis may already have run it. A resent step must
 * then change nothing, or a flow entry would be queued, or an upload counted, twice.
 */
const CREATE_UPLOAD_SCRIPT = new RedisScript(`
local upload, uploads, counters = KEYS[1], KEYS[2], KEYS[3]
if redis.call('EXISTS', upload) == 1 then return 0 end
redis.call('HSET', upload, 'name', ARGV[2], 'createdAt', ARGV[3], 'updatedAt', ARGV[3],
  'state', 'streaming', 'labelled', ARGV[4], 'modelVersion', ARGV[5], 'windowSize', ARGV[6],
  'windowStride', ARGV[7], 'rowsAccepted', 0, 'rowsRejected', 0, 'rejected', '[]', 'tailFlows', 0,
  'entriesQueued', 0, 'windowsQueued', 0, 'flowsQueued', 0, 'ingestDone', 0)
redis.call('ZADD', uploads, ARGV[3], ARGV[1])
redis.call('HINCRBY', counters, 'uploads', 1)
return 1
`);

/**
 * Creates the upload hash in state `streaming`, indexes it by creation time and counts it. Called
 * once the header is known to fit the model and the first data row has been read.
 */
export async function createUploadRecord(
  redis: Redis,
  keys: RedisKeys,
  start: UploadStart,
): Promise<void> {
  await CREATE_UPLOAD_SCRIPT.run(
    redis,
    [keys.upload(start.uploadId), keys.uploads, keys.counters],
    [
      start.uploadId,
      start.name,
      start.createdAt,
      start.labelled ? 1 : 0,
      start.modelVersion,
      start.window.size,
      start.window.stride,
    ],
  );
}

/**
 * Queues entry number `seq` of an upload unless it is already queued (`entriesQueued > seq`): a
 * resent step finds it there and does nothing.
 */
const QUEUE_ENTRY_SCRIPT = new RedisScript(`
local flows, upload, counters = KEYS[1], KEYS[2], KEYS[3]
-- Already queued: a resend. (Fewer than seq means Redis lost acknowledged writes, e.g. a crash
-- inside the append-only file's fsync second; queueing then scores the flows rather than losing them.)
if tonumber(redis.call('HGET', upload, 'entriesQueued') or '0') > tonumber(ARGV[1]) then
  return false
end
local id
if ARGV[13] ~= '' then
  id = redis.call('XADD', flows, '*', 'meta', ARGV[2], 'values', ARGV[3], 'lines', ARGV[4],
    'attack', ARGV[5], 'context', ARGV[13])
else
  id = redis.call('XADD', flows, '*', 'meta', ARGV[2], 'values', ARGV[3], 'lines', ARGV[4],
    'attack', ARGV[5])
end
redis.call('HINCRBY', upload, 'entriesQueued', 1)
redis.call('HINCRBY', upload, 'windowsQueued', ARGV[6])
redis.call('HINCRBY', upload, 'flowsQueued', ARGV[7])
redis.call('HSET', upload, 'rowsAccepted', ARGV[8], 'rowsRejected', ARGV[9], 'updatedAt', ARGV[10])
if ARGV[11] ~= '' then redis.call('HSET', upload, 'rejected', ARGV[11]) end
redis.call('HINCRBY', counters, 'flowsIngested', ARGV[7])
if tonumber(ARGV[12]) > 0 then redis.call('HINCRBY', counters, 'rowsRejected', ARGV[12]) end
return id
`);

/**
 * Adds one flow entry to the flows stream and, in the same atomic step, the upload's and the global
 * counters. `newFlows` is how many of the entry's flows no earlier entry carried (an entry
 * repeats the `size - stride` flows of left context it needs). Returns the stream entry id, or
 * null when this entry was already queued (a resent step).
 */
export async function queueFlowEntry(
  redis: Redis,
  keys: RedisKeys,
  entry: FlowEntry,
  newFlows: number,
  progress: UploadProgress,
): Promise<string | null> {
  const encoded = encodeFlowEntry(entry);
  const id = await QUEUE_ENTRY_SCRIPT.run(
    redis,
    [keys.flows, keys.upload(entry.meta.uploadId), keys.counters],
    [
      entry.meta.seq,
      encoded.meta,
      asBuffer(encoded.values),
      asBuffer(encoded.lines),
      asBuffer(encoded.attack),
      entry.meta.windowCount,
      newFlows,
      progress.rowsAccepted,
      progress.rowsRejected,
      progress.updatedAt,
      progress.rejected === undefined ? "" : JSON.stringify(progress.rejected),
      progress.rowsRejectedDelta,
      encoded.context === undefined ? "" : asBuffer(encoded.context),
    ],
  );
  return typeof id === "string" ? id : null;
}

/**
 * The end of a fully read upload, atomically: final counts, `ingestDone = 1`, and the done rule
 * of docs/architecture.md — `done` when every queued window is already scored or dead-lettered,
 * else `scoring` (the detector's commit sets `done` when the last window lands). Returns the state.
 */
const FINISH_UPLOAD_SCRIPT = new RedisScript(`
local upload, counters = KEYS[1], KEYS[2]
if redis.call('HGET', upload, 'ingestDone') == '1' then
  return redis.call('HGET', upload, 'state')
end
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
`);

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
  const state = await FINISH_UPLOAD_SCRIPT.run(
    redis,
    [keys.upload(uploadId), keys.counters],
    [
      finish.rowsAccepted,
      finish.rowsRejected,
      JSON.stringify(finish.rejected),
      finish.tailFlows,
      finish.updatedAt,
      finish.rowsRejectedDelta,
    ],
  );
  return state === "done" ? "done" : "scoring";
}

const FAIL_UPLOAD_SCRIPT = new RedisScript(`
local upload, counters = KEYS[1], KEYS[2]
if redis.call('HGET', upload, 'state') == 'failed' then return 0 end
redis.call('HSET', upload, 'state', 'failed', 'error', ARGV[1], 'tailFlows', ARGV[2],
  'rowsAccepted', ARGV[3], 'rowsRejected', ARGV[4], 'updatedAt', ARGV[5])
if ARGV[6] ~= '' then redis.call('HSET', upload, 'rejected', ARGV[6]) end
if tonumber(ARGV[7]) > 0 then redis.call('HINCRBY', counters, 'rowsRejected', ARGV[7]) end
return 1
`);

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
  await FAIL_UPLOAD_SCRIPT.run(
    redis,
    [keys.upload(uploadId), keys.counters],
    [
      reason,
      progress.tailFlows,
      progress.rowsAccepted,
      progress.rowsRejected,
      progress.updatedAt,
      progress.rejected === undefined ? "" : JSON.stringify(progress.rejected),
      progress.rowsRejectedDelta,
    ],
  );
}
