/**
 * The detector's atomic steps in Redis, each one Lua script:
 *
 * - {@link commitScoredEntry}: XACK the flow entry and, only when that acknowledged it, add its
 *   results, counters, flow rate and the upload's `done` check. A redelivered or already-claimed
 *   entry acknowledges nothing, so it can never count twice.
 * - {@link deadLetterEntry}: the same guard around moving an entry to the dead-letter stream.
 * - {@link trimAcknowledgedFlows}: `XTRIM MINID` below the oldest entry any consumer group still
 *   needs, decided and applied in one step so that no group can move in between.
 *
 * See docs/architecture.md for the fields.
 */
import {
  DETECTOR_GROUP,
  type EntryTally,
  type RedisKeys,
  type WindowResult,
} from "@floodwatch/core";
import { RedisScript } from "@floodwatch/platform";
import type { Redis } from "ioredis";

/**
 * The upload `done` rule, shared by both guarded steps: once ingest has queued everything
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
 *       lastScore, worstScore, labelled (1/0), tp, fp, fn, tn, now (ms), second (epoch s)
 * Returns 1 when the entry counted, 0 when it had already been acknowledged.
 */
const COMMIT_SCORED_ENTRY = new RedisScript(`${SETTLE_UPLOAD_LUA}
if redis.call('XACK', KEYS[1], ARGV[1], ARGV[2]) ~= 1 then return 0 end
redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[5], '*', 'uploadId', ARGV[3], 'windows', ARGV[4])
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

/*
 * KEYS: flows
 * For every consumer group: the oldest entry it still needs is its oldest pending entry, or,
 * with nothing pending, the one after its last-delivered id. The stream is trimmed below the
 * smallest of these. No groups (or no stream): nothing is trimmed.
 * Returns the number of entries removed.
 */
const TRIM_ACKNOWLEDGED_FLOWS = new RedisScript(`
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
local groups = redis.call('XINFO', 'GROUPS', KEYS[1])
local min_ms, min_seq = nil, nil
for _, group in ipairs(groups) do
  local info = {}
  for i = 1, #group, 2 do info[group[i]] = group[i + 1] end
  local id, next_after
  if tonumber(info['pending']) > 0 then
    id = redis.call('XPENDING', KEYS[1], info['name'])[2]
    next_after = 0
  else
    id = info['last-delivered-id']
    next_after = 1
  end
  local dash = string.find(id, '-', 1, true)
  local ms = tonumber(string.sub(id, 1, dash - 1))
  local seq = tonumber(string.sub(id, dash + 1)) + next_after
  if min_ms == nil or ms < min_ms or (ms == min_ms and seq < min_seq) then
    min_ms, min_seq = ms, seq
  end
end
if min_ms == nil then return 0 end
return redis.call('XTRIM', KEYS[1], 'MINID', string.format('%d-%d', min_ms, min_seq))
`);

/** A scored flow entry ready to commit. */
export interface EntryCommit {
  /** Stream id of the flow entry. */
  entryId: string;
  uploadId: string;
  labelled: boolean;
  /** The entry's windows, in order. */
  results: readonly WindowResult[];
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
  const { tally } = commit;
  const reply = await COMMIT_SCORED_ENTRY.run(
    redis,
    [keys.flows, keys.results, keys.counters, keys.upload(commit.uploadId), keys.flowRate],
    [
      DETECTOR_GROUP,
      commit.entryId,
      commit.uploadId,
      JSON.stringify(commit.results),
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

/**
 * Trims the flows stream below the oldest entry that any consumer group has not yet delivered
 * and acknowledged. Returns how many entries were removed.
 */
export async function trimAcknowledgedFlows(redis: Redis, keys: RedisKeys): Promise<number> {
  return Number(await TRIM_ACKNOWLEDGED_FLOWS.run(redis, [keys.flows], []));
}
