/**
 * The detector's configuration: parsed once at start from the environment; a bad value stops the
 * service with a message naming the variable.
 */
import { hostname } from "node:os";
import {
  commonConfigShape,
  parseConfig,
  portVariable,
  positiveIntVariable,
} from "@floodwatch/platform";
import { EXPLAIN_MODES } from "@floodwatch/core";
import { z } from "zod";

/** Environment variables of the detector; the keys are the variable names. */
export const detectorConfigSchema = z.object({
  REDIS_URL: commonConfigShape.REDIS_URL.describe("Where Redis is"),
  FLOODWATCH_KEY_PREFIX: commonConfigShape.FLOODWATCH_KEY_PREFIX.describe(
    "Prefix of every Redis key, so several deployments can share one Redis",
  ),
  LOG_LEVEL: commonConfigShape.LOG_LEVEL.describe("pino log level"),
  LOG_FORMAT: commonConfigShape.LOG_FORMAT.describe(
    "`json` (one JSON object per line), `pretty` (one readable line per event) or `auto`: pretty when stdout is a terminal, else JSON",
  ),
  DETECTOR_NAME: z
    .string()
    .min(1)
    .max(200)
    .default(() => `${hostname()}-${process.pid}`)
    .describe(
      "Consumer name in the `detectors` group and in the heartbeat set; unique per process (default host-pid)",
    ),
  DETECTOR_PORT: portVariable(8082).describe(
    "TCP port of the detector's /health and /metrics (0 = any free port)",
  ),
  DETECTOR_HOST: z
    .string()
    .min(1)
    .default("0.0.0.0")
    .describe("Interface the detector's /health and /metrics listen on"),
  DETECTOR_CLAIM_IDLE_MS: positiveIntVariable(30_000).describe(
    "Idle time after which another detector's unacknowledged entry is claimed (XAUTOCLAIM)",
  ),
  DETECTOR_MAX_DELIVERIES: positiveIntVariable(5).describe(
    "Deliveries an entry may fail before it is moved to the dead-letter stream",
  ),
  DETECTOR_READ_COUNT: positiveIntVariable(8).describe(
    "Flow entries read per XREADGROUP (and claimed per XAUTOCLAIM)",
  ),
  DETECTOR_BLOCK_MS: positiveIntVariable(2_000).describe(
    "Longest wait of one blocking XREADGROUP for new entries",
  ),
  DETECTOR_EXPLAIN: z
    .enum(EXPLAIN_MODES)
    .default("anomalies")
    .describe(
      "Which windows carry an explanation (top dimensions by the forest's paths): anomalies, all or none; each costs about one more scoring of the window",
    ),
  RESULTS_MAX_LENGTH: positiveIntVariable(100_000).describe(
    "Approximate cap (MAXLEN ~) of the results stream, in entries; counters stay exact",
  ),
});

/** The detector's parsed configuration. */
export type DetectorConfig = z.infer<typeof detectorConfigSchema>;

/** Reads the configuration from `env`; throws a `ConfigError` naming each bad variable. */
export function loadDetectorConfig(
  env: Record<string, string | undefined> = process.env,
): DetectorConfig {
  return parseConfig("detector", detectorConfigSchema, env);
}
