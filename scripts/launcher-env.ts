/** Configuration of the local launcher (`pnpm start`), parsed once with zod. */
import { z } from "zod";
import {
  commonConfigShape,
  parseConfig,
  portVariable,
  positiveIntVariable,
  redisUrlVariable,
} from "@floodwatch/platform";

export const launcherConfigSchema = z.object({
  REDIS_URL: redisUrlVariable()
    .optional()
    .describe(
      "Redis to use; when unset, `pnpm start` runs a private redis-server (append-only) on a free port",
    ),
  FLOODWATCH_DATA_DIR: z
    .string()
    .min(1)
    .default(".floodwatch")
    .describe(
      "Folder of the private redis-server's data (append-only file), relative to the repository",
    ),
  DETECTORS: positiveIntVariable(2).describe("Detector processes `pnpm start` runs"),
  INGEST_PORT: portVariable(8081).describe("Port of the ingest service"),
  API_PORT: portVariable(8080).describe("Port of the API service"),
  DASHBOARD_PORT: portVariable(3000).describe("Port of the dashboard"),
  TRAINER_PORT: portVariable(8083).describe("Port of the trainer's /health and /metrics"),
  LOG_FORMAT: commonConfigShape.LOG_FORMAT.describe(
    "How the services under `pnpm start` log: `auto` gives readable, coloured lines when the launcher is on a terminal and JSON otherwise; `json` or `pretty` to choose",
  ),
  PUBLIC_HOST: z
    .string()
    .min(1)
    .default("localhost")
    .describe("Host name in the URLs the launcher prints and hands to the dashboard"),
});
export type LauncherConfig = z.infer<typeof launcherConfigSchema>;

export function loadLauncherConfig(
  env: Record<string, string | undefined> = process.env,
): LauncherConfig {
  return parseConfig("launcher", launcherConfigSchema, env);
}
