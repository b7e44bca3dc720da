/**
 * The trainer process: parse config, open Redis, start the worker and the health server, and
 * shut down once on SIGTERM/SIGINT.
 */
import { redisKeys } from "@floodwatch/core";
import {
  closeRedis,
  connectRedis,
  createLogger,
  loadConfigOrExit,
  registerShutdown,
} from "@floodwatch/platform";
import { buildTrainerApp } from "./app.ts";
import { loadTrainerConfig } from "./env.ts";
import { createTrainerMetrics } from "./metrics.ts";
import { createTrainingWorker } from "./worker.ts";

/**
 * How long shutdown waits for running trainings to finish. Past it the worker is closed by force:
 * an unfinished job keeps its lock and another trainer takes it over when the lock expires.
 */
const DRAIN_MS = 30_000;
/** The whole shutdown's deadline: the drain, then a forced close and the connections. */
const SHUTDOWN_DEADLINE_MS = DRAIN_MS + 10_000;

const config = loadConfigOrExit(loadTrainerConfig);

const logger = createLogger("trainer", config.LOG_LEVEL, config.LOG_FORMAT);
const keys = redisKeys(config.FLOODWATCH_KEY_PREFIX);
const redis = connectRedis(config.REDIS_URL, "trainer");
const connection = connectRedis(config.REDIS_URL, "trainer-queue");
for (const client of [redis, connection]) {
  client.on("error", (error) => logger.warn({ err: error }, "redis connection error"));
}
const metrics = createTrainerMetrics();
const worker = createTrainingWorker({
  connection,
  redis,
  keys,
  logger,
  concurrency: config.TRAINER_CONCURRENCY,
  metrics,
});
const app = buildTrainerApp({
  redis,
  worker,
  metrics,
  logger,
  concurrency: config.TRAINER_CONCURRENCY,
});

/** Stops intake, lets running trainings finish (up to the drain), then closes everything. */
const shutdown = registerShutdown({
  service: "trainer",
  logger,
  deadlineMs: SHUTDOWN_DEADLINE_MS,
  steps: [
    {
      name: "worker",
      run: async () => {
        let timer: NodeJS.Timeout | undefined;
        const drainEnd = new Promise<"deadline">((resolve) => {
          timer = setTimeout(() => resolve("deadline"), DRAIN_MS);
        });
        const drained = await Promise.race([worker.close(), drainEnd]);
        clearTimeout(timer);
        if (drained === "deadline") {
          logger.warn("trainings still running at the deadline: closing the worker by force");
          await worker.close(true);
        }
      },
    },
    { name: "http", run: () => app.close() },
    { name: "redis", run: () => closeRedis(redis) },
    { name: "queue connection", run: () => closeRedis(connection) },
  ],
});

try {
  const address = await app.listen({ host: config.TRAINER_HOST, port: config.TRAINER_PORT });
  logger.info(
    { address, concurrency: config.TRAINER_CONCURRENCY, prefix: keys.prefix },
    "trainer ready",
  );
} catch (error) {
  logger.error({ err: error }, "trainer cannot start");
  await shutdown("startup failure", true);
}
