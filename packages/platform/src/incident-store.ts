/**
 * Reads of what the incidents service writes (incidents, their windows, deliveries), and the one
 * home of mutes: every read and write of the mutes hash is here, for the API (writes) and the
 * tracker (reads) alike.
 */
import { randomUUID } from "node:crypto";
import {
  deliverySchema,
  endpointStatusSchema,
  incidentSchema,
  muteSchema,
  parseCidr,
  type Delivery,
  type EndpointStatus,
  type Incident,
  type IncidentState,
  type Mute,
  type MuteRequest,
  type RedisKeys,
} from "@floodwatch/core";
import type { Redis } from "ioredis";

/** A mute request that cannot be stored, with what was wrong. */
export class MuteRequestError extends Error {
  override readonly name = "MuteRequestError";
}

function parseJson<T>(
  text: string | null,
  schema: { safeParse(v: unknown): { success: boolean; data?: T } },
): T | null {
  if (text === null) return null;
  try {
    const parsed = schema.safeParse(JSON.parse(text));
    return parsed.success ? (parsed.data as T) : null;
  } catch {
    return null;
  }
}

/** Every mute still active at `now`; expired ones are deleted on the way. */
export async function readMutes(redis: Redis, keys: RedisKeys, now = Date.now()): Promise<Mute[]> {
  const all = await redis.hgetall(keys.incidents.mutes);
  const active: Mute[] = [];
  const expired: string[] = [];
  for (const [id, text] of Object.entries(all)) {
    const mute = parseJson<Mute>(text, muteSchema);
    if (mute && mute.until > now) active.push(mute);
    else expired.push(id);
  }
  if (expired.length > 0) await redis.hdel(keys.incidents.mutes, ...expired);
  return active.sort((a, b) => a.createdAt - b.createdAt || (a.id < b.id ? -1 : 1));
}

/** Stores a mute; throws {@link MuteRequestError} for a bad block or a time not in the future. */
export async function addMute(
  redis: Redis,
  keys: RedisKeys,
  request: MuteRequest,
  now = Date.now(),
): Promise<Mute> {
  try {
    parseCidr(request.cidr);
  } catch (error) {
    throw new MuteRequestError(`cidr: ${(error as Error).message}`);
  }
  const until = typeof request.until === "number" ? request.until : Date.parse(request.until);
  if (!Number.isFinite(until)) throw new MuteRequestError(`until: not a time: ${request.until}`);
  if (until <= now) throw new MuteRequestError("until: must be in the future");
  const mute: Mute = {
    id: randomUUID(),
    cidr: request.cidr.trim(),
    port: request.port ?? null,
    until,
    reason: request.reason,
    createdAt: now,
  };
  await redis.hset(keys.incidents.mutes, mute.id, JSON.stringify(mute));
  return mute;
}

/** Deletes a mute; false when there was none with that id. */
export async function removeMute(redis: Redis, keys: RedisKeys, id: string): Promise<boolean> {
  return (await redis.hdel(keys.incidents.mutes, id)) === 1;
}

/** Filter of {@link listIncidents}. */
export interface IncidentQuery {
  uploadId?: string | undefined;
  state?: IncidentState | undefined;
  limit: number;
}

/** Incidents newest first (an upload's: by first window), open ones before closed ones. */
export async function listIncidents(
  redis: Redis,
  keys: RedisKeys,
  query: IncidentQuery,
): Promise<Incident[]> {
  // With a state filter, more ids are read than returned, up to a bound.
  const scan = query.state ? Math.max(query.limit * 4, 1_000) : query.limit;
  const ids =
    query.uploadId !== undefined
      ? await redis.zrevrange(keys.incidents.ofUpload(query.uploadId), 0, scan - 1)
      : await redis.zrevrange(keys.incidents.all, 0, scan - 1);
  if (ids.length === 0) return [];
  const texts = await redis.mget(ids.map((id) => keys.incidents.incident(id)));
  const incidents = texts
    .map((t) => parseJson<Incident>(t, incidentSchema))
    .filter((i): i is Incident => i !== null)
    .filter((i) => query.state === undefined || i.state === query.state);
  // Stable: within each state, the sorted-set order (newest first) is kept.
  return [
    ...incidents.filter((i) => i.state === "open"),
    ...incidents.filter((i) => i.state === "closed"),
  ].slice(0, query.limit);
}

/** One incident and its windows (raw JSON objects, at most `maxWindows`), or null. */
export async function readIncident(
  redis: Redis,
  keys: RedisKeys,
  id: string,
  maxWindows = 5_000,
): Promise<{ incident: Incident; windows: unknown[] } | null> {
  const incident = parseJson<Incident>(
    await redis.get(keys.incidents.incident(id)),
    incidentSchema,
  );
  if (!incident) return null;
  const list = await redis.lrange(keys.incidents.windows(id), 0, maxWindows - 1);
  return { incident, windows: list.map((text) => JSON.parse(text) as unknown) };
}

/** Recent deliveries, newest first, without their payloads. */
export async function recentDeliveries(
  redis: Redis,
  keys: RedisKeys,
  limit: number,
): Promise<Delivery[]> {
  const ids = await redis.zrevrange(keys.incidents.deliveries, 0, limit - 1);
  if (ids.length === 0) return [];
  const texts = await redis.mget(ids.map((id) => keys.incidents.delivery(id)));
  return texts
    .map((t) => parseJson<Delivery>(t, deliverySchema))
    .filter((d): d is Delivery => d !== null);
}

/** The latest delivery of every endpoint that has had one. */
export async function endpointStatuses(redis: Redis, keys: RedisKeys): Promise<EndpointStatus[]> {
  const last = await redis.hgetall(keys.incidents.endpointLast);
  const entries = Object.entries(last).sort(([a], [b]) => (a < b ? -1 : 1));
  if (entries.length === 0) return [];
  const texts = await redis.mget(entries.map(([, id]) => keys.incidents.delivery(id)));
  return entries.map(([endpoint], i) => {
    const delivery = parseJson<Delivery>(texts[i] ?? null, deliverySchema);
    return endpointStatusSchema.parse({
      endpoint,
      kind: endpoint.startsWith("syslog") ? "syslog" : "webhook",
      last: delivery,
    });
  });
}
