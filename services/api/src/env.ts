/**
 * The API's configuration: parsed once at start from the environment; a bad value stops the
 * service with a message naming the variable.
 */
import {
  commonConfigShape,
  parseConfig,
  perimeterConfigShape,
  portVariable,
  positiveIntVariable,
} from "@floodwatch/platform";
import { z } from "zod";

/** Parses a comma-separated list of browser origins (`scheme://host[:port]`, no path). */
const originListVariable = (defaultValue: string) =>
  z
    .string()
    .default(defaultValue)
    .transform((value, ctx) => {
      const origins = value
        .split(",")
        .map((part) => part.trim())
        .filter((part) => part.length > 0);
      if (origins.length === 0) {
        ctx.addIssue({ code: "custom", message: "expected at least one origin" });
        return z.NEVER;
      }
      for (const origin of origins) {
        let parsed: URL | undefined;
        try {
          parsed = new URL(origin);
        } catch {
          parsed = undefined;
        }
        // A browser sends `Origin` as scheme://host[:port] exactly, so anything else never matches.
        if (!parsed || !/^https?:$/.test(parsed.protocol) || parsed.origin !== origin) {
          ctx.addIssue({
            code: "custom",
            message: `${JSON.stringify(origin)} is not an origin like http://host:port`,
          });
          return z.NEVER;
        }
      }
      return origins;
    });

/** Environment variables of the API service; the keys are the variable names. */
export const apiConfigSchema = z.object({
  REDIS_URL: commonConfigShape.REDIS_URL.describe("Where Redis is"),
  FLOODWATCH_KEY_PREFIX: commonConfigShape.FLOODWATCH_KEY_PREFIX.describe(
    "Prefix of every Redis key, so several deployments can share one Redis",
  ),
  LOG_LEVEL: commonConfigShape.LOG_LEVEL.describe("pino log level"),
  LOG_FORMAT: commonConfigShape.LOG_FORMAT.describe(
    "`json` (one JSON object per line), `pretty` (one readable line per event) or `auto`: pretty when stdout is a terminal, else JSON",
  ),
  API_PORT: portVariable(8080).describe("TCP port the API (HTTP and WebSocket) listens on"),
  API_HOST: z.string().min(1).default("0.0.0.0").describe("Interface the API listens on"),
  DASHBOARD_ORIGIN: originListVariable("http://localhost:3000").describe(
    "Comma-separated browser origins allowed by CORS and on the /ws upgrade",
  ),
  API_WS_MAX_BUFFERED_BYTES: positiveIntVariable(8 * 1024 * 1024).describe(
    "Bytes queued to one WebSocket client above which its window batches are dropped",
  ),
  API_WS_HISTORY_WINDOWS: positiveIntVariable(500).describe(
    "Recent windows a WebSocket client receives on connect",
  ),
  API_REQUEST_TIMEOUT_MS: positiveIntVariable(300_000).describe(
    "Longest time to receive one whole HTTP request (a training upload included); 408 after it",
  ),
  TRAINING_MAX_UPLOAD_BYTES: positiveIntVariable(256 * 1024 * 1024).describe(
    "Largest benign CSV POST /api/models accepts for training, in bytes; larger gets 413",
  ),
  ...perimeterConfigShape,
});

/** The API's parsed configuration. */
export type ApiConfig = z.infer<typeof apiConfigSchema>;

/** Reads the configuration from `env`; throws a `ConfigError` naming each bad variable. */
export function loadApiConfig(env: Record<string, string | undefined> = process.env): ApiConfig {
  return parseConfig("api", apiConfigSchema, env);
}
