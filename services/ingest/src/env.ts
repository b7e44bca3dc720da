/**
 * Configuration of the ingest service, read once at start from the environment. Every key is the
 * name of an environment variable; `.describe()` holds the line the README's table shows.
 */
import {
  commonConfigShape,
  perimeterConfigShape,
  parseConfig,
  portVariable,
  positiveIntVariable,
} from "@floodwatch/platform";
import { z } from "zod";

/** 8 GiB: a day of a busy link's flow records; far above any test capture, still a ceiling. */
const DEFAULT_MAX_UPLOAD_BYTES = 8 * 1024 ** 3;

/**
 * About 2,000 flows per stream entry: 40 windows of 50 flows, ~400 KB of Float64 values with the
 * default model's 25 features. One XADD and one detector commit per 40 windows amortises the
 * round trips, while an entry stays small enough to score in a few milliseconds and to keep the
 * stream's memory modest.
 */
const DEFAULT_ENTRY_FLOWS = 2_000;

/**
 * 256 entries (~512,000 flows, ~100 MB of stream at the default entry size) may wait for the
 * detectors before ingest stops reading uploads: deep enough that detectors never starve between
 * backlog polls, shallow enough that Redis memory stays bounded whatever is uploaded.
 */
const DEFAULT_MAX_BACKLOG_ENTRIES = 256;

/** The environment variables of the ingest service. */
export const ingestConfigSchema = z.object({
  ...commonConfigShape,
  REDIS_URL: commonConfigShape.REDIS_URL.describe("Redis the pipeline runs on (redis:// URL)"),
  FLOODWATCH_KEY_PREFIX: commonConfigShape.FLOODWATCH_KEY_PREFIX.describe(
    "prefix of every Redis key, so several deployments can share one Redis",
  ),
  LOG_LEVEL: commonConfigShape.LOG_LEVEL.describe("pino log level"),
  LOG_FORMAT: commonConfigShape.LOG_FORMAT.describe(
    "`json` (one JSON object per line), `pretty` (one readable line per event) or `auto`: pretty when stdout is a terminal, else JSON",
  ),
  INGEST_PORT: portVariable(8081).describe("TCP port the ingest HTTP server listens on"),
  INGEST_HOST: z
    .string()
    .min(1)
    .default("0.0.0.0")
    .describe("interface the ingest HTTP server binds to"),
  DASHBOARD_ORIGIN: z
    .string()
    .default("http://localhost:3000")
    .transform((value, context) => {
      const origins = value
        .split(",")
        .map((origin) => origin.trim())
        .filter((origin) => origin !== "");
      for (const origin of origins) {
        if (!/^https?:\/\/[^/\s]+$/.test(origin)) {
          context.addIssue({
            code: "custom",
            message: `expected origins like http://host:port separated by commas, got ${JSON.stringify(origin)}`,
          });
        }
      }
      return origins;
    })
    .describe("browser origins allowed to call ingest (CORS), comma-separated"),
  INGEST_ENTRY_FLOWS: positiveIntVariable(DEFAULT_ENTRY_FLOWS).describe(
    "target flows per stream entry; entries hold whole windows, at least one",
  ),
  INGEST_MAX_BACKLOG_ENTRIES: positiveIntVariable(DEFAULT_MAX_BACKLOG_ENTRIES).describe(
    "entries waiting for the detectors (lag + pending) at which uploads stop being read",
  ),
  INGEST_MAX_UPLOAD_BYTES: positiveIntVariable(DEFAULT_MAX_UPLOAD_BYTES).describe(
    "largest CSV accepted, in bytes; larger uploads get 413",
  ),
  INGEST_REDIS_TIMEOUT_MS: positiveIntVariable(30_000).describe(
    "how long an upload waits for an unreachable Redis before failing with 503",
  ),
  INGEST_IDLE_TIMEOUT_MS: positiveIntVariable(300_000).describe(
    "a connection that sends nothing for this long is dropped (a paused upload counts as idle)",
  ),
  INGEST_SHUTDOWN_TIMEOUT_MS: positiveIntVariable(10_000).describe(
    "grace period for uploads in flight at shutdown; after it they are failed",
  ),
  ...perimeterConfigShape,
});

/** The parsed configuration. */
export type IngestConfig = z.infer<typeof ingestConfigSchema>;

/** Parses the configuration; throws `ConfigError` naming every bad variable. */
export function loadIngestConfig(
  env: Record<string, string | undefined> = process.env,
): IngestConfig {
  return parseConfig("ingest", ingestConfigSchema, env);
}
