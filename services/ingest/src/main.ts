/**
 * Starts the ingest service: config, Redis, the default model when none is active, the
 * detectors' consumer group, the HTTP server; then one shutdown path on SIGTERM/SIGINT.
 */
import { redisKeys } from "@floodwatch/core";
import {
  closeRedis,
  connectRedis,
  createLogger,
  ensureActiveModel,
  ensureDetectorGroup,
  loadConfigOrExit,
  registerShutdown,
  warnIfOpen,
} from "@floodwatch/platform";
import { buildIngestApp } from "./app.ts";
import { loadIngestConfig } from "./env.ts";
import { InFlightUploads } from "./in-flight-uploads.ts";

/** After the grace period, stopped uploads get this long to write `failed` and answer. */
const ABORT_SETTLE_MS = 5_000;

/** How often shutdown closes connections that have become idle. */
const IDLE_SWEEP_MS = 100;

/** Past the grace period and the settling, closing Redis gets this long before the exit. */
const CLOSE_MARGIN_MS = 5_000;

async function main(): Promise<void> {
  const config = loadConfigOrExit(loadIngestConfig);
  const logger = createLogger("ingest", config.LOG_LEVEL, config.LOG_FORMAT);
  warnIfOpen(logger, config, "ingest");
  const keys = redisKeys(config.FLOODWATCH_KEY_PREFIX);
  const redis = connectRedis(config.REDIS_URL, "ingest");
  redis.on("error", (error: Error) => logger.warn({ err: error }, "Redis connection error"));

  const modelVersion = await ensureActiveModel(redis, keys);
  await ensureDetectorGroup(redis, keys);
  const inFlight = new InFlightUploads();
  const app = buildIngestApp({ config, redis, logger, inFlight });

  /**
   * Uploads in flight get the grace period to finish; then they are failed with a reason (what
   * they queued is still scored) so that closing does not wait on a 2 GB body.
   */
  async function closeHttp(): Promise<void> {
    logger.info({ uploadsInFlight: inFlight.size }, "closing the HTTP server");
    const grace = setTimeout(() => {
      const stopped = inFlight.abortAll("shutdown");
      if (stopped > 0) logger.warn({ stopped }, "grace period over: uploads in flight failed");
    }, config.INGEST_SHUTDOWN_TIMEOUT_MS);
    // Fastify closes the connections idle when closing starts; a keep-alive connection whose
    // upload ends later (finished, or failed at the grace period) would otherwise hold the
    // server open until the deadline.
    const sweep = setInterval(() => app.server.closeIdleConnections(), IDLE_SWEEP_MS);
    const settled = setTimeout(() => {
      logger.error("uploads did not settle in time: closing connections");
      app.server.closeAllConnections();
    }, config.INGEST_SHUTDOWN_TIMEOUT_MS + ABORT_SETTLE_MS);
    try {
      await app.close();
    } finally {
      clearTimeout(grace);
      clearTimeout(settled);
      clearInterval(sweep);
    }
  }
  const shutdown = registerShutdown({
    service: "ingest",
    logger,
    deadlineMs: config.INGEST_SHUTDOWN_TIMEOUT_MS + ABORT_SETTLE_MS + CLOSE_MARGIN_MS,
    steps: [
      { name: "http", run: closeHttp },
      { name: "redis", run: () => closeRedis(redis) },
    ],
  });

  try {
    await app.listen({ port: config.INGEST_PORT, host: config.INGEST_HOST });
  } catch (error) {
    logger.error({ err: error }, "ingest cannot listen");
    await shutdown("listen failed", true);
    return;
  }
  logger.info(
    { port: config.INGEST_PORT, host: config.INGEST_HOST, modelVersion, prefix: keys.prefix },
    "ingest listening",
  );
}
main().catch((error: unknown) => {
  process.stderr.write(`ingest failed to start: ${String((error as Error)?.stack ?? error)}\n`);
  process.exit(1);
});
