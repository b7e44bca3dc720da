/** When to try the WebSocket again after it closed. */

/** First retry delay: quick enough that a restarting API is barely noticed. */
export const RECONNECT_BASE_MS = 500;
/** Longest wait between retries: an analyst should not stare at a dead page for longer. */
export const RECONNECT_CAP_MS = 10_000;

/**
 * Delay before retry number `attempt` (1 for the first retry): exponential from
 * {@link RECONNECT_BASE_MS}, capped at {@link RECONNECT_CAP_MS}, with "equal jitter" (between half
 * and all of the step) so that many dashboards do not reconnect in lockstep after an API restart.
 */
export function reconnectDelay(attempt: number, random: () => number = Math.random): number {
  const exponent = Math.max(0, Math.min(30, attempt - 1));
  const step = Math.min(RECONNECT_CAP_MS, RECONNECT_BASE_MS * 2 ** exponent);
  return Math.round(step / 2 + random() * (step / 2));
}
