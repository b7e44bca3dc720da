/**
 * The detectors' consumer group on the flows stream: created once, from the first entry; its
 * backlog (one reading, one fallback, used by ingest's flow control, the detector's metrics and
 * the API's summary); and trimming below what every group still needs.
 */
import { DETECTOR_GROUP, type RedisKeys } from "@floodwatch/core";
import type { Redis } from "ioredis";
import { RedisScript } from "../redis-script.ts";

/**
 * Creates the detectors' consumer group on the flows stream, reading from the very first entry
 * (id `0`, creating the stream when absent), so no entry added before a detector starts is ever
 * skipped. Idempotent: an existing group is left as it is. Returns whether it created the group.
 */
export async function ensureDetectorGroup(redis: Redis, keys: RedisKeys): Promise<boolean> {
  try {
    await redis.xgroup("CREATE", keys.flows, DETECTOR_GROUP, "0", "MKSTREAM");
    return true;
  } catch (error) {
    if (!(error instanceof Error) || !error.message.startsWith("BUSYGROUP")) throw error;
    return false;
  }
}

/** The fields of one `XINFO GROUPS` entry, which Redis returns as a flat key/value list. */
function groupFields(raw: unknown): Map<string, unknown> {
  const fields = new Map<string, unknown>();
  if (!Array.isArray(raw)) return fields;
  for (let i = 0; i + 1 < raw.length; i += 2) fields.set(String(raw[i]), raw[i + 1]);
  return fields;
}

/**
 * Flow entries the detectors have not acknowledged yet: the `detectors` group's lag (never
 * delivered) plus its pending count (delivered, not acknowledged).
 *
 * - No stream, or no group yet: 0. Nothing is behind a group no detector has joined, and
 *   reading a figure never creates anything (ingest and the detectors create the group).
 * - The one fallback: when Redis cannot tell the lag (entries were deleted inside the group's
 *   unread range), the stream's length. The stream is trimmed only below what every group
 *   acknowledged, so its length bounds undelivered plus pending from above: ingest's flow
 *   control then errs on the side of waiting, and the figure is O(1) however long the stream.
 */
export async function backlog(redis: Redis, keys: RedisKeys): Promise<number> {
  let groups: unknown;
  try {
    groups = await redis.xinfo("GROUPS", keys.flows);
  } catch (error) {
    if (error instanceof Error && /no such key/i.test(error.message)) return 0;
    throw error;
  }
  if (!Array.isArray(groups)) return 0;
  for (const raw of groups) {
    const group = groupFields(raw);
    if (group.get("name") !== DETECTOR_GROUP) continue;
    const lag = group.get("lag");
    if (lag === null || lag === undefined) return redis.xlen(keys.flows);
    return Number(lag) + Number(group.get("pending") ?? 0);
  }
  return 0;
}

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

/**
 * Trims the flows stream below the oldest entry that any consumer group has not yet delivered
 * and acknowledged, decided and applied in one step so that no group can move in between.
 * Returns how many entries were removed.
 */
export async function trimAcknowledgedFlows(redis: Redis, keys: RedisKeys): Promise<number> {
  return Number(await TRIM_ACKNOWLEDGED_FLOWS.run(redis, [keys.flows], []));
}
