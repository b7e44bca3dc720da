/**
 * When the local launcher restarts a child that exited, and when it gives up: pure functions of
 * the child's exit history, so the whole policy is tested without a process or a clock.
 */

/** The launcher's restart policy. */
export interface RestartPolicy {
  /** Delay before the first restart. */
  initialDelayMs: number;
  /** Longest delay: the delay doubles on each consecutive crash up to this. */
  maxDelayMs: number;
  /** A child that ran this long before exiting was healthy: its next delay starts over. */
  healthyAfterMs: number;
  /** This many exits within {@link crashLoopWindowMs} is a crash loop: stop the stack. */
  crashLoopExits: number;
  crashLoopWindowMs: number;
}

export const DEFAULT_RESTART_POLICY: RestartPolicy = {
  // Quick enough that a detector killed by accident is back before anyone looks; the doubling
  // stops a child that fails at start (Redis gone, port taken) from spinning a core.
  initialDelayMs: 500,
  // A dependency that is down for a while is retried at least every 10 s.
  maxDelayMs: 10_000,
  // Longer than any child takes to start and fail (the dashboard's `next start` and a detector
  // loading its model take a few seconds), so a failure at start never resets the backoff.
  healthyAfterMs: 30_000,
  // Five exits in a minute cannot be bad luck (the backoff alone spaces them 0.5+1+2+4 s): the
  // child cannot run here, and restarting it forever would hide that behind a scrolling log.
  crashLoopExits: 5,
  crashLoopWindowMs: 60_000,
};

/** What the launcher remembers about one child's exits. */
export interface ExitHistory {
  /** When each recent exit happened (ms), oldest first, only those inside the crash-loop window. */
  exitTimes: readonly number[];
  /** Exits in a row without a healthy run in between. */
  consecutiveCrashes: number;
}

export const NO_EXITS: ExitHistory = { exitTimes: [], consecutiveCrashes: 0 };

/** What to do about one exit. */
export type RestartDecision =
  | { action: "restart"; delayMs: number; history: ExitHistory }
  | { action: "give-up"; exitsInWindow: number; history: ExitHistory };

/**
 * Decides what to do about a child that was started at `startedAt` and exited at `exitedAt`
 * (milliseconds on one clock), given its history; returns the decision with the new history.
 */
export function decideRestart(
  history: ExitHistory,
  startedAt: number,
  exitedAt: number,
  policy: RestartPolicy = DEFAULT_RESTART_POLICY,
): RestartDecision {
  const exitTimes = [
    ...history.exitTimes.filter((t) => exitedAt - t < policy.crashLoopWindowMs),
    exitedAt,
  ];
  const ranHealthy = exitedAt - startedAt >= policy.healthyAfterMs;
  const consecutiveCrashes = ranHealthy ? 1 : history.consecutiveCrashes + 1;
  const next: ExitHistory = { exitTimes, consecutiveCrashes };
  if (exitTimes.length >= policy.crashLoopExits) {
    return { action: "give-up", exitsInWindow: exitTimes.length, history: next };
  }
  const delayMs = Math.min(
    policy.maxDelayMs,
    policy.initialDelayMs * 2 ** Math.min(30, consecutiveCrashes - 1),
  );
  return { action: "restart", delayMs, history: next };
}

/** "exit code 1" or "signal SIGKILL": how a process ended, for the launcher's one line. */
export function describeExit(code: number | null, signal: NodeJS.Signals | null): string {
  if (signal !== null) return `killed by ${signal}`;
  return `exited with code ${code ?? "?"}`;
}

/** "0.5 s", "10 s": a delay as the launcher prints it. */
export function formatDelay(ms: number): string {
  return `${Number((ms / 1000).toFixed(1))} s`;
}
