/**
 * The incident tracker's atomic steps in Redis, each one Lua script. This module owns the
 * tracker and buffer hashes, the incident strings and lists, and every write of incident events.
 *
 * - {@link bufferResults}: XACK a results entry and, only when that acknowledged it, put its
 *   windows in the source's buffer. A redelivered entry adds nothing.
 * - {@link commitTrackerStep}: compare-and-set on the tracker's step counter; when it still is
 *   what the step was computed from, write the new state and position, drop the consumed windows
 *   from the buffer, store the incidents and their windows, and append the events. A step computed
 *   from a state that changed meanwhile (another replica, a replay) writes nothing.
 */
import type { RedisKeys } from "@floodwatch/core";
import { RedisScript } from "@floodwatch/platform";
import type { Redis } from "ioredis";

/*
 * KEYS: results, tracker, buffer, sources
 * ARGV: group, entryId, uploadId, then index, window JSON pairs
 * Returns the windows buffered, or -1 when the entry had already been acknowledged.
 */
const BUFFER_RESULTS = new RedisScript(`
if redis.call('XACK', KEYS[1], ARGV[1], ARGV[2]) ~= 1 then return -1 end
local position = tonumber(redis.call('HGET', KEYS[2], 'position') or '0')
local added = 0
for i = 4, #ARGV, 2 do
  if tonumber(ARGV[i]) >= position and redis.call('HSETNX', KEYS[3], ARGV[i], ARGV[i + 1]) == 1 then
    added = added + 1
  end
end
redis.call('HINCRBY', KEYS[2], 'received', added)
redis.call('SADD', KEYS[4], ARGV[3])
return added
`);

/*
 * KEYS: tracker, buffer, events, all, ofUpload, sources, then per incident: incident, windows
 * ARGV: expectedStep, stateJson, position, finished (1/0), uploadId, eventsMaxLength,
 *       consumedJson (array of indexes), eventsJson (array of event JSON strings),
 *       incidentsJson (array of {json, firstWindow, openedAt, windows: [window JSON]})
 * Returns 1 when committed, 0 when the step was stale.
 */
const COMMIT_TRACKER_STEP = new RedisScript(`
if (redis.call('HGET', KEYS[1], 'step') or '0') ~= ARGV[1] then return 0 end
redis.call('HINCRBY', KEYS[1], 'step', 1)
redis.call('HSET', KEYS[1], 'state', ARGV[2], 'position', ARGV[3])
local consumed = cjson.decode(ARGV[7])
for _, index in ipairs(consumed) do redis.call('HDEL', KEYS[2], tostring(index)) end
local incidents = cjson.decode(ARGV[9])
for i, incident in ipairs(incidents) do
  local key, windows = KEYS[5 + 2 * i], KEYS[6 + 2 * i]
  redis.call('SET', key, incident.json)
  redis.call('ZADD', KEYS[4], 'NX', incident.openedAt, incident.id)
  redis.call('ZADD', KEYS[5], incident.firstWindow, incident.id)
  for _, window in ipairs(incident.windows) do redis.call('RPUSH', windows, window) end
end
for _, event in ipairs(cjson.decode(ARGV[8])) do
  redis.call('XADD', KEYS[3], 'MAXLEN', '~', ARGV[6], '*', 'event', event)
end
if ARGV[4] == '1' then
  redis.call('SREM', KEYS[6], ARGV[5])
  redis.call('DEL', KEYS[2])
end
return 1
`);

/** Approximate cap of the incident events stream. */
export const EVENTS_MAX_LENGTH = 100_000;

/** Buffers one results entry's windows; see the module comment. */
export async function bufferResults(
  redis: Redis,
  keys: RedisKeys,
  group: string,
  entryId: string,
  uploadId: string,
  windows: readonly { index: number; json: string }[],
): Promise<number> {
  const args: (string | number)[] = [group, entryId, uploadId];
  for (const w of windows) args.push(w.index, w.json);
  const reply = await BUFFER_RESULTS.run(
    redis,
    [
      keys.results,
      keys.incidents.tracker(uploadId),
      keys.incidents.buffer(uploadId),
      keys.incidents.sources,
    ],
    args,
  );
  return Number(reply);
}

/** One incident as a step writes it. */
export interface IncidentWrite {
  id: string;
  json: string;
  firstWindow: number;
  openedAt: number;
  /** Window JSON to append to its list. */
  windows: string[];
}

/** One tracker step, ready to commit. */
export interface TrackerCommit {
  uploadId: string;
  expectedStep: string;
  stateJson: string;
  position: number;
  finished: boolean;
  consumed: number[];
  events: string[];
  incidents: IncidentWrite[];
}

/** Commits a step; false when it was stale and nothing was written. */
export async function commitTrackerStep(
  redis: Redis,
  keys: RedisKeys,
  commit: TrackerCommit,
): Promise<boolean> {
  const k = keys.incidents;
  const incidentKeys = commit.incidents.flatMap((i) => [k.incident(i.id), k.windows(i.id)]);
  const reply = await COMMIT_TRACKER_STEP.run(
    redis,
    [
      k.tracker(commit.uploadId),
      k.buffer(commit.uploadId),
      k.events,
      k.all,
      k.ofUpload(commit.uploadId),
      k.sources,
      ...incidentKeys,
    ],
    [
      commit.expectedStep,
      commit.stateJson,
      commit.position,
      commit.finished ? 1 : 0,
      commit.uploadId,
      EVENTS_MAX_LENGTH,
      JSON.stringify(commit.consumed),
      JSON.stringify(commit.events),
      JSON.stringify(
        commit.incidents.map((i) => ({
          id: i.id,
          json: i.json,
          // Strings: cjson would print large integers in %.14g.
          firstWindow: String(i.firstWindow),
          openedAt: String(i.openedAt),
          windows: i.windows,
        })),
      ),
    ],
  );
  return reply === 1;
}
