import { RedisUnavailableError } from "./upload-errors.ts";

/**
 * Waits for a Redis command at most `timeoutMs`. Connections queue commands while Redis is away
 * (`maxRetriesPerRequest: null`), which is right for a brief restart but would hang an upload
 * forever on a lasting outage; this turns the wait into a {@link RedisUnavailableError}. The
 * command itself stays queued and may still run once Redis is back.
 */
export async function withRedisDeadline<T>(
  operation: Promise<T>,
  timeoutMs: number,
  step: string,
): Promise<T> {
  // A late rejection after the deadline has nobody left to hear it.
  operation.catch(() => undefined);
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new RedisUnavailableError(timeoutMs, step)), timeoutMs);
  });
  try {
    return await Promise.race([operation, deadline]);
  } finally {
    clearTimeout(timer);
  }
}
