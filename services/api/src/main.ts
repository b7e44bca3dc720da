/**
 * Starts the API: config, Redis, the default model when the registry is empty, the app, and one
 * shutdown path.
 */
import { redisKeys } from "@floodwatch/core";
import {
  closeRedis,
  ConfigError,
  connectRedis,
  createLogger,
  ensureActiveModel,
  warnIfOpen,
} from "@floodwatch/platform";
import { buildApiApp } from "./app.ts";
import { loadApiConfig, type ApiConfig } from "./env.ts";
import { openTrainingQueue } from "./models/training-queue.ts";

/** Time the shutdown gets before the process exits anyway. */
const SHUTDOWN_DEADLINE_MS = 10_000;

let config: ApiConfig;
try {
  config = loadApiConfig();
} catch (error) {
  if (!(error instanceof ConfigError)) throw error;
  console.error(error.message);
  process.exit(1);
}

const logger = createLogger("api", config.LOG_LEVEL, config.LOG_FORMAT);
warnIfOpen(logger, config, "the API");
const redis = connectRedis(config.REDIS_URL, "api");
redis.on("error", (error) => logger.warn({ err: error }, "redis connection error"));
const keys = redisKeys(config.FLOODWATCH_KEY_PREFIX);

const version = await ensureActiveModel(redis, keys);
logger.info({ version }, "active model");
const training = openTrainingQueue(config.REDIS_URL, keys);
const app = await buildApiApp({ config, redis, logger, trainingQueue: training.queue });

let stopping: Promise<void> | undefined;
/** Stops intake, closes the live feed and the server, then Redis; every step runs. Idempotent. */
function shutdown(signal: string, exitCode = 0): Promise<void> {
  stopping ??= (async () => {
    logger.info({ signal }, "shutting down");
    const deadline = setTimeout(() => {
      logger.error("shutdown deadline passed; exiting");
      process.exit(1);
    }, SHUTDOWN_DEADLINE_MS);
    deadline.unref();
    let failed = exitCode !== 0;
    try {
      await app.close();
    } catch (error) {
      failed = true;
      logger.error({ err: error }, "closing the server failed");
    }
    try {
      await training.close();
    } catch (error) {
      failed = true;
      logger.error({ err: error }, "closing the training queue failed");
    }
    await closeRedis(redis);
    clearTimeout(deadline);
    process.exit(failed ? 1 : 0);
  })();
  return stopping;
}
process.once("SIGTERM", () => void shutdown("SIGTERM"));
process.once("SIGINT", () => void shutdown("SIGINT"));

try {
  await app.listen({ port: config.API_PORT, host: config.API_HOST });
} catch (error) {
  logger.fatal({ err: error }, "cannot listen");
  await shutdown("listen failed", 1);
}
