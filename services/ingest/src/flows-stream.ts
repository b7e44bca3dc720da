/**
 * The flows stream as ingest sees it: the detectors' consumer group must exist before the first
 * entry, and its backlog decides whether ingest may add more.
 */
import { DETECTOR_GROUP, type RedisKeys } from "@floodwatch/core";
import type { Redis } from "ioredis";

/**
 * Creates the detectors' consumer group on the flows stream, reading from the very first entry
 * (id `0`, creating the stream when absent), so no entry added before a detector starts is ever
 * skipped. Idempotent: an existing group is left as it is.
 */
export async function ensureDetectorGroup(redis: Redis, keys: RedisKeys): Promise<void> {
  try {
    await redis.xgroup("CREATE", keys.flows, DETECTOR_GROUP, "0", "MKSTREAM");
  } catch (error) {
    if (!(error instanceof Error) || !error.message.startsWith("BUSYGROUP")) throw error;
  }
}

/** One group of an `XINFO GROUPS` reply. */
interface GroupInfo {
  name: string;
  pending: number;
  lastDeliveredId: string;
  /** Entries not yet delivered to the group; null when Redis cannot tell (after deletions). */
  lag: number | null;
}

/** A reply scalar as text (ioredis gives strings, numbers or null). */
function scalarText(value: unknown, fallback: string): string {
  return typeof value === "string" || typeof value === "number" ? String(value) : fallback;
}

function parseGroups(reply: unknown): GroupInfo[] {
  if (!Array.isArray(reply)) return [];
  return reply.map((flat: unknown) => {
    const fields = new Map<string, unknown>();
    const list = Array.isArray(flat) ? (flat as unknown[]) : [];
    for (let i = 0; i + 1 < list.length; i += 2) fields.set(String(list[i]), list[i + 1]);
    const lag = fields.get("lag");
    return {
      name: scalarText(fields.get("name"), ""),
      pending: Number(fields.get("pending") ?? 0),
      lastDeliveredId: scalarText(fields.get("last-delivered-id"), "0-0"),
      lag: lag === null || lag === undefined ? null : Number(lag),
    };
  });
}

/**
 * Flow entries the detectors have not acknowledged yet: the group's lag (never delivered) plus
 * its pending count (delivered, not acknowledged). When Redis cannot compute the lag, the
 * undelivered entries are counted directly, up to `countCap` (enough to compare with a limit).
 * A missing group (the stream was deleted) is created again, so nothing added next is missed.
 */
export async function detectorBacklog(
  redis: Redis,
  keys: RedisKeys,
  countCap = 10_000,
): Promise<number> {
  let groups: GroupInfo[];
  try {
    groups = parseGroups(await redis.xinfo("GROUPS", keys.flows));
  } catch (error) {
    if (!(error instanceof Error) || !/no such key/i.test(error.message)) throw error;
    groups = [];
  }
  let group = groups.find((g) => g.name === DETECTOR_GROUP);
  if (group === undefined) {
    await ensureDetectorGroup(redis, keys);
    group = parseGroups(await redis.xinfo("GROUPS", keys.flows)).find(
      (g) => g.name === DETECTOR_GROUP,
    );
    if (group === undefined) return 0;
  }
  if (group.lag !== null) return group.lag + group.pending;
  const undelivered = await redis.xrange(
    keys.flows,
    `(${group.lastDeliveredId}`,
    "+",
    "COUNT",
    countCap,
  );
  return undelivered.length + group.pending;
}
