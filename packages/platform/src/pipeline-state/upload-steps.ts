/**
 * Every write to the upload hash and the global counters, each one idempotent or guarded Lua
 * step, in the order an upload lives them:
 *
 * - ingest: {@link createUpload}, {@link queueFlowEntry} per entry, then {@link finishUpload}
 *   or {@link failUpload};
 * - the detectors: {@link commitScoredEntry} (XACK the flow entry and, only when that
 *   acknowledged it, add its results and counts) or {@link deadLetterEntry}. A redelivered or
 *   already-claimed entry acknowledges nothing, so it can never count twice.
 *
 * Whichever side finishes last settles the upload (`SETTLE_UPLOAD_LUA`): `done` once ingest has
 * queued everything and every queued window is scored or dead-lettered. The fields are listed
 * in ./upload-record.ts.
 */
import {
  DETECTOR_GROUP,
  encodeFlowEntry,
  flowsAddedBy,
  type EntryTally,
  type FlowEntry,
  type RedisKeys,
  type RejectedRow,
  type ResultEntryFields,
  type UploadState,
} from "@floodwatch/core";
import type { Redis } from "ioredis";
import { RedisScript } from "../redis-script.ts";

/**
 * The upload's settle check, shared by ingest's finish step and the detectors' two guarded steps: once ingest has queued everything
 * (`ingestDone` = 1) and every queued window is scored or dead-lettered, the upload is done.
 * A `failed` upload keeps its state so its error stays visible.
 */
const SETTLE_UPLOAD_LUA = `
local function settle_upload(key)
  local f = redis.call('HMGET', key, 'ingestDone', 'windowsQueued', 'windowsScored', 'windowsDeadLettered', 'state')
  if f[1] ~= '1' or f[5] == 'done' or f[5] == 'failed' then return end
  local finished = (tonumber(f[3]) or 0) + (tonumber(f[4]) or 0)
  if finished >= (tonumber(f[2]) or 0) then redis.call('HSET', key, 'state', 'done') end
end
`;

/*
 * KEYS: flows, results, counters, upload, flowRate
 * ARGV: group, entryId, uploadId, windowsJson, resultsMaxLength, windows, flows, anomalies,
 *       lastScore, worstScore, labelled (1/0), tp, fp, fn, tn, now (ms), second (epoch s),
 *       windowLengths, anomalies, receivedAt, scoredAt (the rest of the results entry)
 * Returns 1 when the entry counted, 0 when it had already been acknowledged.
 */
const COMMIT_SCORED_ENTRY = new RedisScript(`${SETTLE_UPLOAD_LUA}
if redis.call('XACK', KEYS[1], ARGV[1], ARGV[2]) ~= 1 then return 0 end
-- The fields of core's ResultEntryFields, in RESULT_ENTRY_FIELDS order.
redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[5], '*', 'uploadId', ARGV[3], 'windows', ARGV[4],
  'windowLengths', ARGV[18], 'anomalies', ARGV[19], 'receivedAt', ARGV[20], 'scoredAt', ARGV[21])
-- Scores are written as the caller formatted them (shortest round-trip form); Lua's tostring
-- would keep only 14 digits. The comparison alone goes through tonumber.
local function tally(key)
  redis.call('HINCRBY', key, 'windowsScored', ARGV[6])
  redis.call('HINCRBY', key, 'flowsScored', ARGV[7])
  redis.call('HINCRBY', key, 'anomalies', ARGV[8])
  redis.call('HSET', key, 'lastScore', ARGV[9])
  local worst = tonumber(redis.call('HGET', key, 'worstScore') or '')
  if worst == nil or tonumber(ARGV[10]) < worst then
    redis.call('HSET', key, 'worstScore', ARGV[10])
  end
end
tally(KEYS[3])
-- An upload hash that is gone (deleted) is not brought back half-filled.
if redis.call('EXISTS', KEYS[4]) == 1 then
  tally(KEYS[4])
  if ARGV[11] == '1' then
    redis.call('HINCRBY', KEYS[4], 'tp', ARGV[12])
    redis.call('HINCRBY', KEYS[4], 'fp', ARGV[13])
    redis.call('HINCRBY', KEYS[4], 'fn', ARGV[14])
    redis.call('HINCRBY', KEYS[4], 'tn', ARGV[15])
  end
  redis.call('HSET', KEYS[4], 'updatedAt', ARGV[16])
  settle_upload(KEYS[4])
end
redis.call('HINCRBY', KEYS[5], ARGV[17], ARGV[7])
return 1
`);

/*
 * KEYS: flows, deadLetters, counters, upload (a placeholder key when the upload is unknown)
 * ARGV: group, entryId, uploadId ('' when unknown), reason, deliveries, at (ms), windows,
 *       hasUpload (1/0)
 * Returns 1 when the entry was moved, 0 when it had already been acknowledged.
 */
const DEAD_LETTER_ENTRY = new RedisScript(`${SETTLE_UPLOAD_LUA}
if redis.call('XACK', KEYS[1], ARGV[1], ARGV[2]) ~= 1 then return 0 end
redis.call('XADD', KEYS[2], '*', 'entryId', ARGV[2], 'uploadId', ARGV[3], 'reason', ARGV[4],
  'deliveries', ARGV[5], 'at', ARGV[6])
redis.call('HINCRBY', KEYS[3], 'deadLetters', 1)
redis.call('HINCRBY', KEYS[3], 'windowsDeadLettered', ARGV[7])
if ARGV[8] == '1' and redis.call('EXISTS', KEYS[4]) == 1 then
  redis.call('HINCRBY', KEYS[4], 'entriesDeadLettered', 1)
  redis.call('HINCRBY', KEYS[4], 'windowsDeadLettered', ARGV[7])
  redis.call('HSET', KEYS[4], 'updatedAt', ARGV[6])
  settle_upload(KEYS[4])
end
return 1
`);

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
  /** Timestamps of accepted rows the reader could not parse so far; written only when given. */
  timestampsUnparsed?: number;
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
export async function createUpload(
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
if ARGV[14] ~= '' then redis.call('HSET', upload, 'timestampsUnparsed', ARGV[14]) end
redis.call('HINCRBY', counters, 'flowsIngested', ARGV[7])
if tonumber(ARGV[12]) > 0 then redis.call('HINCRBY', counters, 'rowsRejected', ARGV[12]) end
return id
`);

/**
 * Adds one flow entry to the flows stream and, in the same atomic step, the upload's and the global
 * counters. The queued-flow counters grow by {@link flowsAddedBy} (an entry repeats the
 * `size - stride` flows of left context it needs, counted by the entry before). Returns the
 * stream entry id, or null when this entry was already queued (a resent step).
 */
export async function queueFlowEntry(
  redis: Redis,
  keys: RedisKeys,
  entry: FlowEntry,
  progress: UploadProgress,
): Promise<string | null> {
  const id = await QUEUE_ENTRY_SCRIPT.run(
    redis,
    queueKeys(keys, entry),
    queueArgs(entry, progress),
  );
  return typeof id === "string" ? id : null;
}

/**
 * Queues several entries of one or more uploads in one MULTI, each as {@link queueFlowEntry}
 * would: detectors blocked in XREADGROUP then wake to a full batch (Redis serves blocked readers
 * after the transaction). Returns the stream ids (null for an entry already queued).
 */
export async function queueFlowEntries(
  redis: Redis,
  keys: RedisKeys,
  entries: readonly FlowEntry[],
  progress: UploadProgress,
): Promise<(string | null)[]> {
  // EVALSHA inside MULTI cannot fall back to EVAL, so the script is loaded first.
  await redis.script("LOAD", QUEUE_ENTRY_SCRIPT.source);
  const multi = redis.multi();
  for (const entry of entries) {
    const entryKeys = queueKeys(keys, entry);
    multi.evalsha(
      QUEUE_ENTRY_SCRIPT.sha,
      entryKeys.length,
      ...entryKeys,
      ...queueArgs(entry, progress),
    );
  }
  const replies = (await multi.exec()) ?? [];
  return replies.map(([error, id]) => {
    if (error) throw error;
    return typeof id === "string" ? id : null;
  });
}

function queueKeys(keys: RedisKeys, entry: FlowEntry): string[] {
  return [keys.flows, keys.upload(entry.meta.uploadId), keys.counters];
}

function queueArgs(entry: FlowEntry, progress: UploadProgress): (string | number | Buffer)[] {
  const encoded = encodeFlowEntry(entry);
  return [
    entry.meta.seq,
    encoded.meta,
    asBuffer(encoded.values),
    asBuffer(encoded.lines),
    asBuffer(encoded.attack),
    entry.meta.windowCount,
    flowsAddedBy(entry.meta),
    progress.rowsAccepted,
    progress.rowsRejected,
    progress.updatedAt,
    progress.rejected === undefined ? "" : JSON.stringify(progress.rejected),
    progress.rowsRejectedDelta,
    // Who/when of the flows (IP dictionary and codes), absent when the file lacks the columns.
    encoded.context === undefined ? "" : asBuffer(encoded.context),
    progress.timestampsUnparsed ?? "",
  ];
}

/**
 * The end of a fully read upload, atomically: final counts, `ingestDone = 1`, and the done rule
 * of docs/architecture.md — `done` when every queued window is already scored or dead-lettered,
 * else `scoring` (the detector's commit sets `done` when the last window lands). Returns the state.
 */
const FINISH_UPLOAD_SCRIPT = new RedisScript(`${SETTLE_UPLOAD_LUA}
local upload, counters = KEYS[1], KEYS[2]
if redis.call('HGET', upload, 'ingestDone') == '1' then
  return redis.call('HGET', upload, 'state')
end
redis.call('HSET', upload, 'rowsAccepted', ARGV[1], 'rowsRejected', ARGV[2], 'rejected', ARGV[3],
  'tailFlows', ARGV[4], 'updatedAt', ARGV[5], 'ingestDone', '1')
if tonumber(ARGV[6]) > 0 then redis.call('HINCRBY', counters, 'rowsRejected', ARGV[6]) end
if ARGV[7] ~= '' then redis.call('HSET', upload, 'timestampsUnparsed', ARGV[7]) end
redis.call('HSET', upload, 'state', 'scoring')
settle_upload(upload)
return redis.call('HGET', upload, 'state')
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
      finish.timestampsUnparsed ?? "",
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
if ARGV[8] ~= '' then redis.call('HSET', upload, 'timestampsUnparsed', ARGV[8]) end
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
      progress.timestampsUnparsed ?? "",
    ],
  );
}

/** A scored flow entry ready to commit. */
export interface EntryCommit {
  /** Stream id of the flow entry. */
  entryId: string;
  uploadId: string;
  labelled: boolean;
  /** The entry's windows, validated and encoded by core's `encodeResultEntry`. */
  results: ResultEntryFields;
  tally: EntryTally;
  /** Commit time (ms since epoch): `updatedAt`, and the flow-rate second. */
  at: number;
}

/** Limits of the commit step. */
export interface CommitLimits {
  /** Approximate cap of the results stream. */
  resultsMaxLength: number;
}

/**
 * Commits one scored entry atomically (see the module comment). Returns whether it counted:
 * false means the entry had already been acknowledged, by this or another detector, and
 * nothing was written.
 */
export async function commitScoredEntry(
  redis: Redis,
  keys: RedisKeys,
  commit: EntryCommit,
  limits: CommitLimits,
): Promise<boolean> {
  const { tally, results } = commit;
  if (results.uploadId !== commit.uploadId) {
    throw new Error(`results of upload ${results.uploadId} committed for ${commit.uploadId}`);
  }
  const reply = await COMMIT_SCORED_ENTRY.run(
    redis,
    [keys.flows, keys.results, keys.counters, keys.upload(commit.uploadId), keys.flowRate],
    [
      DETECTOR_GROUP,
      commit.entryId,
      commit.uploadId,
      results.windows,
      limits.resultsMaxLength,
      tally.windows,
      tally.flows,
      tally.anomalies,
      String(tally.lastScore),
      String(tally.worstScore),
      commit.labelled ? 1 : 0,
      tally.tp,
      tally.fp,
      tally.fn,
      tally.tn,
      commit.at,
      Math.floor(commit.at / 1000),
      results.windowLengths,
      results.anomalies,
      results.receivedAt,
      results.scoredAt,
    ],
  );
  return reply === 1;
}

/** A flow entry that cannot be scored, as it goes to the dead-letter stream. */
export interface DeadLetterCommit {
  entryId: string;
  /** The entry's upload, when its metadata could be read. */
  uploadId: string | null;
  /** Windows the entry held (0 when unknown): they count towards the upload's completion. */
  windows: number;
  reason: string;
  /** Deliveries the entry had when it was given up. */
  deliveries: number;
  at: number;
}

/**
 * Moves an entry to the dead-letter stream atomically: XACK, and only when that acknowledged
 * it, the dead-letter record, the counters and the upload's `done` check. Returns whether it
 * counted.
 */
export async function deadLetterEntry(
  redis: Redis,
  keys: RedisKeys,
  letter: DeadLetterCommit,
): Promise<boolean> {
  const uploadKey = keys.upload(letter.uploadId ?? "");
  const reply = await DEAD_LETTER_ENTRY.run(
    redis,
    [keys.flows, keys.deadLetters, keys.counters, uploadKey],
    [
      DETECTOR_GROUP,
      letter.entryId,
      letter.uploadId ?? "",
      letter.reason,
      letter.deliveries,
      letter.at,
      letter.windows,
      letter.uploadId === null ? 0 : 1,
    ],
  );
  return reply === 1;
}
