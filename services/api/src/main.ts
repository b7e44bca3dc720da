/**
 * Starts the API: config, Redis, the default model when the registry is empty, the app, and one
 * shutdown path.
 */
import { redisKeys } from "@floodwatch/core";
import {
  closeRedis,
  connectRedis,
  createLogger,
  ensureActiveModel,
  loadConfigOrExit,
  registerShutdown,
  warnIfOpen,
} from "@floodwatch/platform";
import { buildApiApp } from "./app.ts";
import { loadApiConfig } from "./env.ts";
import { openTrainingQueue } from "./models/training-queue.ts";

/** Time the shutdown gets before the process exits anyway. */
const SHUTDOWN_DEADLINE_MS = 10_000;

const config = loadConfigOrExit(loadApiConfig);

const logger = createLogger("api", config.LOG_LEVEL, config.LOG_FORMAT);
warnIfOpen(logger, config, "the API");
const redis = connectRedis(config.REDIS_URL, "api");
redis.on("error", (error) => logger.warn({ err: error }, "redis connection error"));
const keys = redisKeys(config.FLOODWATCH_KEY_PREFIX);

const version = await ensureActiveModel(redis, keys);
logger.info({ version }, "active model");
const training = openTrainingQueue(config.REDIS_URL, keys);
const app = await buildApiApp({ config, redis, logger, trainingQueue: training.queue });

/** Stops intake, closes the live feed and the server, then the queue and Redis. */
const shutdown = registerShutdown({
  service: "api",
  logger,
  deadlineMs: SHUTDOWN_DEADLINE_MS,
  steps: [
    { name: "http", run: () => app.close() },
    { name: "training queue", run: () => training.close() },
    { name: "redis", run: () => closeRedis(redis) },
  ],
});

try {
  await app.listen({ port: config.API_PORT, host: config.API_HOST });
} catch (error) {
  logger.fatal({ err: error }, "cannot listen");
  await shutdown("listen failed", true);
}
