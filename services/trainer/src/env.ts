/**
 * The trainer's configuration, from environment variables, parsed once at start.
 */
import {
  commonConfigShape,
  parseConfig,
  portVariable,
  positiveIntVariable,
} from "@floodwatch/platform";
import { z } from "zod";

/** Every variable the trainer reads; the keys are the variable names. */
export const trainerConfigSchema = z.object({
  REDIS_URL: commonConfigShape.REDIS_URL.describe(
    "Redis holding the training queue, the uploaded inputs and the model registry",
  ),
  FLOODWATCH_KEY_PREFIX: commonConfigShape.FLOODWATCH_KEY_PREFIX.describe(
    "Prefix of every Redis key, so several deployments can share one Redis",
  ),
  LOG_LEVEL: commonConfigShape.LOG_LEVEL.describe("pino log level"),
  LOG_FORMAT: commonConfigShape.LOG_FORMAT.describe(
    "`json` (one JSON object per line), `pretty` (one readable line per event) or `auto`: pretty when stdout is a terminal, else JSON",
  ),
  TRAINER_HOST: z
    .string()
    .min(1)
    .default("0.0.0.0")
    .describe("Address the trainer's /health and /metrics server binds to"),
  TRAINER_PORT: portVariable(8083).describe("Port of the trainer's /health and /metrics server"),
  TRAINER_CONCURRENCY: positiveIntVariable(1).describe(
    "Training jobs one trainer runs at once (training is CPU-bound: one per core at most)",
  ),
});

/** The trainer's parsed configuration. */
export type TrainerConfig = z.infer<typeof trainerConfigSchema>;

/** Parses the trainer's configuration; throws a ConfigError naming each bad variable. */
export function loadTrainerConfig(
  env: Record<string, string | undefined> = process.env,
): TrainerConfig {
  return parseConfig("trainer", trainerConfigSchema, env);
}
