/** Structured logs (pino), one logger per service process. */
import { pino, type Logger } from "pino";
import { PinoPretty } from "pino-pretty";

export type { Logger };

/**
 * How logs are written: `json` (one pino JSON object per line, what log collectors read),
 * `pretty` (one short readable line per event, for a person at a terminal), or `auto`: pretty
 * when stdout is a terminal, JSON otherwise (a pipe, a file, a container's log driver).
 */
export type LogFormatSetting = "auto" | "json" | "pretty";

/** The format `setting` means for this process. */
export function resolveLogFormat(
  setting: LogFormatSetting,
  stdoutIsTerminal = process.stdout.isTTY === true,
): "json" | "pretty" {
  if (setting !== "auto") return setting;
  return stdoutIsTerminal ? "pretty" : "json";
}

/**
 * A logger naming the service: JSON, or with `format` pretty one line per event through
 * pino-pretty (the pino project's own formatter): time, level, message, then any other fields
 * on the same line. The service name is left out of pretty lines: `pnpm start` puts each
 * process's name in front of its lines, and a service run alone needs none. Colours follow
 * pino-pretty's detection (a terminal, or FORCE_COLOR, which the launcher sets; NO_COLOR wins).
 */
export function createLogger(
  service: string,
  level = "info",
  format: LogFormatSetting = "json",
): Logger {
  const options = { name: service, level, base: { service, pid: process.pid } };
  if (resolveLogFormat(format) === "json") return pino(options);
  // In the main thread rather than pino's worker-thread transport: a service's last words before
  // it exits (a fatal error, a failed start) must reach the terminal, and a person's terminal
  // never needs the throughput a worker buys.
  return pino(
    options,
    PinoPretty({
      translateTime: "SYS:HH:MM:ss.l",
      ignore: "pid,hostname,service,name",
      singleLine: true,
      sync: true,
    }),
  );
}
