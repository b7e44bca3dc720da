/**
 * The trainer process: parse config, open Redis, start the worker and the health server, and
 * shut down once on SIGTERM/SIGINT.
 */
import { redisKeys } from "@floodwatch/core";
import { ConfigError, closeRedis, connectRedis, createLogger } from "@floodwatch/platform";
import { buildTrainerApp } from "./app.ts";
import { loadTrainerConfig } from "./env.ts";
import { createTrainerMetrics } from "./metrics.ts";
import { createTrainingWorker } from "./worker.ts";

/**
 * How long shutdown waits for running trainings to finish. Past it the worker is closed by force:
 * an unfinished job keeps its lock and another trainer takes it over when the lock expires.
 */
const SHUTDOWN_DEADLINE_MS = 30_000;

function configOrExit() {
  try {
    return loadTrainerConfig();
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    process.stderr.write(`${error.message}\n`);
    process.exit(2);
  }
}

const config = configOrExit();

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

let closing: Promise<void> | undefined;
/** Stops intake, lets running trainings finish (up to the deadline), then closes everything. */
function shutdown(signal: string): Promise<void> {
  closing ??= (async () => {
    logger.info({ signal }, "trainer shutting down");
    const steps: [string, () => Promise<unknown>][] = [
      [
        "worker",
        async () => {
          let timer: NodeJS.Timeout | undefined;
          const deadline = new Promise<"deadline">((resolve) => {
            timer = setTimeout(() => resolve("deadline"), SHUTDOWN_DEADLINE_MS);
          });
          const drained = await Promise.race([worker.close(), deadline]);
          clearTimeout(timer);
          if (drained === "deadline") {
            logger.warn("trainings still running at the deadline: closing the worker by force");
            await worker.close(true);
          }
        },
      ],
      ["http", () => app.close()],
      ["redis", () => closeRedis(redis)],
      ["queue connection", () => closeRedis(connection)],
    ];
    for (const [name, step] of steps) {
      try {
        await step();
      } catch (error) {
        logger.error({ err: error, step: name }, "shutdown step failed");
      }
    }
    logger.info("trainer stopped");
  })();
  return closing;
}
process.once("SIGTERM", () => void shutdown("SIGTERM"));
process.once("SIGINT", () => void shutdown("SIGINT"));

try {
  const address = await app.listen({ host: config.TRAINER_HOST, port: config.TRAINER_PORT });
  logger.info(
    { address, concurrency: config.TRAINER_CONCURRENCY, prefix: keys.prefix },
    "trainer ready",
  );
} catch (error) {
  logger.error({ err: error }, "trainer cannot start");
  await shutdown("startup failure");
  process.exitCode = 1;
}
