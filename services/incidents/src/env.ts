/**
 * The incidents service's configuration: parsed once at start from the environment; a bad value
 * stops the service with a message naming the variable.
 */
import { hostname } from "node:os";
import { DEFAULT_INCIDENT_CLOSE_AFTER_WINDOWS } from "@floodwatch/core";
import {
  commonConfigShape,
  parseConfig,
  portVariable,
  positiveIntVariable,
} from "@floodwatch/platform";
import { z } from "zod";

/** Comma-separated http(s) URLs; empty means none. */
const webhookUrls = z
  .string()
  .default("")
  .transform((value, ctx) => {
    const urls = value
      .split(",")
      .map((u) => u.trim())
      .filter((u) => u !== "");
    for (const url of urls) {
      let parsed: URL | undefined;
      try {
        parsed = new URL(url);
      } catch {
        parsed = undefined;
      }
      if (!parsed || (parsed.protocol !== "http:" && parsed.protocol !== "https:")) {
        ctx.addIssue({ code: "custom", message: `expected http:// or https:// URLs, got ${url}` });
        return z.NEVER;
      }
    }
    return urls;
  });

/** `udp://host:port` or `tcp://host:port`; empty means none. */
const syslogUrl = z
  .string()
  .default("")
  .refine((value) => value === "" || /^(udp|tcp):\/\/[^/:]+:\d{1,5}$/.test(value), {
    message: "expected udp://host:port or tcp://host:port",
  });

/** Environment variables of the incidents service; the keys are the variable names. */
export const incidentsConfigSchema = z.object({
  REDIS_URL: commonConfigShape.REDIS_URL.describe("Where Redis is"),
  FLOODWATCH_KEY_PREFIX: commonConfigShape.FLOODWATCH_KEY_PREFIX.describe(
    "Prefix of every Redis key, so several deployments can share one Redis",
  ),
  LOG_LEVEL: commonConfigShape.LOG_LEVEL.describe("pino log level"),
  INCIDENTS_NAME: z
    .string()
    .min(1)
    .max(200)
    .default(() => `${hostname()}-${process.pid}`)
    .describe(
      "Consumer name in the `incidents` and `notifier` groups; unique per process (default host-pid)",
    ),
  INCIDENTS_PORT: portVariable(8084).describe(
    "TCP port of the incidents service's /health (0 = any free port)",
  ),
  INCIDENTS_HOST: z
    .string()
    .min(1)
    .default("0.0.0.0")
    .describe("Interface the incidents service's /health listens on"),
  INCIDENT_CLOSE_AFTER_WINDOWS: positiveIntVariable(DEFAULT_INCIDENT_CLOSE_AFTER_WINDOWS).describe(
    "Consecutive normal windows that close an incident; a shorter gap stays inside it",
  ),
  INCIDENTS_CLAIM_IDLE_MS: positiveIntVariable(30_000).describe(
    "Idle time after which another incidents process's unacknowledged stream entry is claimed",
  ),
  ALERT_WEBHOOK_URL: webhookUrls.describe(
    "Comma-separated URLs that get a signed JSON POST per incident event (empty = none)",
  ),
  ALERT_WEBHOOK_SECRET: z
    .string()
    .default("")
    .describe(
      "Key of the X-Floodwatch-Signature HMAC-SHA256 header on webhook POSTs (empty = unsigned)",
    ),
  ALERT_UPDATE_INTERVAL_S: z.coerce
    .number()
    .int()
    .min(0)
    .default(60)
    .describe("Least time between two incident.updated notifications of one incident"),
  ALERT_SYSLOG_URL: syslogUrl.describe(
    "Syslog receiver (udp://host:port or tcp://host:port) that gets one RFC 5424 line per incident event (empty = none)",
  ),
  ALERT_RETRY_FOR_S: positiveIntVariable(3_600).describe(
    "How long a failing notification is retried (exponential backoff) before it is given up",
  ),
  ALERT_RETRY_BASE_MS: positiveIntVariable(1_000).describe(
    "Wait before the first retry of a failed notification; it doubles with each failure, up to 5 min",
  ),
});

/** The incidents service's parsed configuration. */
export type IncidentsConfig = z.infer<typeof incidentsConfigSchema>;

/** Reads the configuration from `env`; throws a `ConfigError` naming each bad variable. */
export function loadIncidentsConfig(
  env: Record<string, string | undefined> = process.env,
): IncidentsConfig {
  return parseConfig("incidents", incidentsConfigSchema, env);
}
