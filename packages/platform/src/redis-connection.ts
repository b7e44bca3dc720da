/**
 * Redis connections as every service opens them: named, reconnecting with capped backoff, and
 * never failing a command just because the connection is down for a moment.
 */
import { Redis, type RedisOptions } from "ioredis";

/** Opens a connection. `name` shows in `CLIENT LIST` and in logs. */
export function connectRedis(url: string, name: string, options: RedisOptions = {}): Redis {
  return new Redis(url, {
    connectionName: name,
    // Commands wait for a reconnect instead of failing after N retries: a Redis restart is an
    // outage to ride out, not an error to surface on every call in flight.
    maxRetriesPerRequest: null,
    enableOfflineQueue: true,
    retryStrategy: (attempt) => Math.min(50 * 2 ** attempt, 2_000),
    ...options,
  });
}

/** Closes a connection, politely if possible. Never throws. */
export async function closeRedis(redis: Redis): Promise<void> {
  try {
    if (redis.status === "ready") {
      await redis.quit();
      return;
    }
  } catch {
    // fall through to a hard disconnect
  }
  redis.disconnect();
}
