/**
 * Detector process: wiring only. Parses the configuration, opens the three Redis connections,
 * starts the worker and the /health + /metrics server, and stops everything on SIGTERM/SIGINT.
 */
import { redisKeys } from "@floodwatch/core";
import {
  backlog,
  closeRedis,
  connectRedis,
  createLogger,
  loadConfigOrExit,
  registerShutdown,
} from "@floodwatch/platform";
import { buildDetectorApp } from "./app.ts";
import { loadDetectorConfig } from "./env.ts";
import { createDetectorMetrics } from "./metrics.ts";
import { DetectorWorker } from "./worker.ts";

/**
 * Shutdown must end even when Redis is gone: the worker's drain (10 s) and its bounded Redis
 * steps fit well inside this.
 */
const SHUTDOWN_DEADLINE_MS = 20_000;

const config = loadConfigOrExit(loadDetectorConfig);

const logger = createLogger("detector", config.LOG_LEVEL, config.LOG_FORMAT);
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

const metrics = createDetectorMetrics({ backlog: () => backlog(connections.redis, keys) });
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

const shutdown = registerShutdown({
  service: "detector",
  logger,
  deadlineMs: SHUTDOWN_DEADLINE_MS,
  steps: [
    { name: "worker", run: () => worker.close() },
    { name: "http", run: () => app.close() },
    ...Object.entries(connections).map(([role, connection]) => ({
      name: `redis ${role}`,
      run: () => closeRedis(connection),
    })),
  ],
});

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
  await shutdown("start failure", true);
}
