/**
 * Detector process: wiring only. Parses the configuration, opens the three Redis connections,
 * starts the worker and the /health + /metrics server, and stops everything on SIGTERM/SIGINT.
 */
import { redisKeys } from "@floodwatch/core";
import { ConfigError, closeRedis, connectRedis, createLogger } from "@floodwatch/platform";
import { buildDetectorApp } from "./app.ts";
import { loadDetectorConfig, type DetectorConfig } from "./env.ts";
import { createDetectorMetrics } from "./metrics.ts";
import { DetectorWorker, readBacklog } from "./worker.ts";

/** Shutdown must end even when Redis is gone; past this the process exits non-zero. */
const SHUTDOWN_DEADLINE_MS = 20_000;

let config: DetectorConfig;
try {
  config = loadDetectorConfig();
} catch (error) {
  if (!(error instanceof ConfigError)) throw error;
  process.stderr.write(`${error.message}\n`);
  process.exit(2);
}

const logger = createLogger("detector", config.LOG_LEVEL);
const keys = redisKeys(config.FLOODWATCH_KEY_PREFIX);
const name = config.DETECTOR_NAME;
const connections = {
  redis: connectRedis(config.REDIS_URL, `detector:${name}`),
  reader: connectRedis(config.REDIS_URL, `detector:${name}:reader`),
  subscriber: connectRedis(config.REDIS_URL, `detector:${name}:models`),
};
for (const [role, connection] of Object.entries(connections)) {
  // Without a listener ioredis prints every failed reconnect attempt as an unhandled error.
  connection.on("error", (error: Error) =>
    logger.warn({ connection: role, err: error.message }, "redis connection error"),
  );
}

const metrics = createDetectorMetrics({ backlog: () => readBacklog(connections.redis, keys) });
const worker = new DetectorWorker({
  ...connections,
  keys,
  logger,
  metrics,
  options: {
    name,
    readCount: config.DETECTOR_READ_COUNT,
    blockMs: config.DETECTOR_BLOCK_MS,
    claimIdleMs: config.DETECTOR_CLAIM_IDLE_MS,
    maxDeliveries: config.DETECTOR_MAX_DELIVERIES,
    explain: config.DETECTOR_EXPLAIN,
    resultsMaxLength: config.RESULTS_MAX_LENGTH,
  },
});
const app = buildDetectorApp({
  redis: connections.redis,
  registry: metrics.registry,
  detectorName: name,
  modelVersion: () => worker.modelVersion,
  logger,
});

let stopping: Promise<void> | undefined;

/** The one shutdown path: every step runs even if an earlier one fails. */
function shutdown(reason: string, exitCode = 0): Promise<void> {
  stopping ??= (async () => {
    logger.info({ reason }, "detector shutting down");
    const deadline = setTimeout(() => {
      logger.error({ deadlineMs: SHUTDOWN_DEADLINE_MS }, "shutdown deadline passed; exiting");
      process.exit(1);
    }, SHUTDOWN_DEADLINE_MS);
    deadline.unref();
    const steps: [string, () => Promise<unknown>][] = [
      ["worker", () => worker.close()],
      ["http", () => app.close()],
      ...Object.entries(connections).map(
        ([role, connection]) =>
          [`redis ${role}`, () => closeRedis(connection)] as [string, () => Promise<unknown>],
      ),
    ];
    let failed = false;
    for (const [step, run] of steps) {
      try {
        await run();
      } catch (error) {
        failed = true;
        logger.error(
          { step, err: error instanceof Error ? error.message : String(error) },
          "shutdown step failed",
        );
      }
    }
    clearTimeout(deadline);
    logger.info({ exitCode: failed ? 1 : exitCode }, "detector process exiting");
    process.exit(failed ? 1 : exitCode);
  })();
  return stopping;
}

process.once("SIGTERM", () => void shutdown("SIGTERM"));
process.once("SIGINT", () => void shutdown("SIGINT"));

try {
  // Listen first: while Redis is still unreachable, /health answers 503 instead of nothing.
  const address = await app.listen({ port: config.DETECTOR_PORT, host: config.DETECTOR_HOST });
  logger.info({ detector: name, address }, "detector listening");
  await worker.start();
} catch (error) {
  logger.error(
    { err: error instanceof Error ? error.message : String(error) },
    "detector failed to start",
  );
  await shutdown("start failure", 1);
}
