import { withDeadline } from "@floodwatch/platform";
import { RedisUnavailableError } from "./upload-errors.ts";

/**
 * Waits for a Redis step at most `timeoutMs`, then fails with a {@link RedisUnavailableError}
 * (503) naming the step, so a lasting outage fails an upload instead of hanging it.
 */
export function withRedisDeadline<T>(
  operation: Promise<T>,
  timeoutMs: number,
  step: string,
): Promise<T> {
  return withDeadline(operation, timeoutMs, () => new RedisUnavailableError(timeoutMs, step));
}
