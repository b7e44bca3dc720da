/**
 * The one way a floodwatch service starts and stops: configuration read once (a bad value exits
 * with {@link EXIT_CODES.badConfig}), and one shutdown path for SIGTERM/SIGINT or a failed
 * start. Shutdown runs once however often it is asked, runs every step even when an earlier one
 * fails, and ends by one deadline whatever the steps do. The exit codes are the README's.
 */
import type { Logger } from "./logger.ts";
import { ConfigError } from "./service-config.ts";

/** How a service process ends; documented in the README. */
export const EXIT_CODES = {
  /** Stopped on a signal, every shutdown step done. */
  ok: 0,
  /** Failed to start, a shutdown step failed, or the shutdown deadline passed. */
  failure: 1,
  /** The configuration does not parse; the message names the variable. */
  badConfig: 2,
} as const;
export type ExitCode = (typeof EXIT_CODES)[keyof typeof EXIT_CODES];

/**
 * Loads the configuration; a {@link ConfigError} is printed to stderr and the process exits with
 * {@link EXIT_CODES.badConfig}. Any other error is thrown.
 */
export function loadConfigOrExit<T>(load: () => T): T {
  try {
    return load();
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    process.stderr.write(`${error.message}\n`);
    return process.exit(EXIT_CODES.badConfig);
  }
}

/** One step of a shutdown, in order: stop intake, drain, close servers, quit Redis. */
export interface ShutdownStep {
  name: string;
  run: () => Promise<unknown>;
}

/** What {@link registerShutdown} needs. */
export interface ShutdownOptions {
  /** Service name, for the log. */
  service: string;
  logger: Pick<Logger, "info" | "warn" | "error">;
  /** The steps, in order; each runs even when an earlier one failed. */
  steps: readonly ShutdownStep[];
  /**
   * Longest a shutdown may take; past it the process exits with {@link EXIT_CODES.failure}
   * whatever is still running. Pick it above any drain a step waits for on its own.
   */
  deadlineMs: number;
  /** Signals that start the shutdown (default SIGTERM and SIGINT), each handled once. */
  signals?: readonly NodeJS.Signals[];
  /** How the process ends (default `process.exit`); injectable for tests. */
  exit?: (code: ExitCode) => void;
}

/** Starts the shutdown; `failed` makes the exit code a failure even when every step succeeds. */
export type Shutdown = (reason: string, failed?: boolean) => Promise<ExitCode>;

/**
 * Registers the service's one shutdown path on its signals and returns it, for a failed start
 * to call too. Idempotent: a second call (a second signal) returns the first call's promise.
 */
export function registerShutdown(options: ShutdownOptions): Shutdown {
  const { service, logger, steps, deadlineMs } = options;
  const exit = options.exit ?? ((code: ExitCode) => process.exit(code));
  let stopping: Promise<ExitCode> | undefined;
  const shutdown: Shutdown = (reason, failed = false) => {
    stopping ??= (async () => {
      logger.info({ reason }, `${service} shutting down`);
      const deadline = setTimeout(() => {
        logger.error({ deadlineMs }, "shutdown deadline passed; exiting");
        exit(EXIT_CODES.failure);
      }, deadlineMs);
      deadline.unref();
      let stepFailed = false;
      for (const step of steps) {
        try {
          await step.run();
        } catch (error) {
          stepFailed = true;
          logger.error(
            { step: step.name, err: error instanceof Error ? error.message : String(error) },
            "shutdown step failed",
          );
        }
      }
      clearTimeout(deadline);
      const code = failed || stepFailed ? EXIT_CODES.failure : EXIT_CODES.ok;
      logger.info({ exitCode: code }, `${service} stopped`);
      exit(code);
      return code;
    })();
    return stopping;
  };
  for (const signal of options.signals ?? ["SIGTERM", "SIGINT"]) {
    process.once(signal, () => void shutdown(signal));
  }
  return shutdown;
}
