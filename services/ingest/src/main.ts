/**
 * Starts the ingest service: config, Redis, the default model when none is active, the
 * detectors' consumer group, the HTTP server; then one shutdown path on SIGTERM/SIGINT.
 */
import { redisKeys } from "@floodwatch/core";
import {
  closeRedis,
  ConfigError,
  connectRedis,
  createLogger,
  warnIfOpen,
  ensureActiveModel,
} from "@floodwatch/platform";
import { buildIngestApp } from "./app.ts";
import { loadIngestConfig, type IngestConfig } from "./env.ts";
import { ensureDetectorGroup } from "./flows-stream.ts";
import { InFlightUploads } from "./in-flight-uploads.ts";

/** After the grace period, stopped uploads get this long to write `failed` and answer. */
const ABORT_SETTLE_MS = 5_000;

/** How often shutdown closes connections that have become idle. */
const IDLE_SWEEP_MS = 100;

function readConfig(): IngestConfig {
  try {
    return loadIngestConfig();
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`${error.message}\n`);
      process.exit(1);
    }
    throw error;
  }
}

async function main(): Promise<void> {
  const config = readConfig();
  const logger = createLogger("ingest", config.LOG_LEVEL, config.LOG_FORMAT);
  warnIfOpen(logger, config, "ingest");
  const keys = redisKeys(config.FLOODWATCH_KEY_PREFIX);
  const redis = connectRedis(config.REDIS_URL, "ingest");
  redis.on("error", (error: Error) => logger.warn({ err: error }, "Redis connection error"));

  const modelVersion = await ensureActiveModel(redis, keys);
  await ensureDetectorGroup(redis, keys);
  const inFlight = new InFlightUploads();
  const app = buildIngestApp({ config, redis, logger, inFlight });

  let closing: Promise<void> | undefined;
  const shutdown = (signal: NodeJS.Signals): Promise<void> =>
    (closing ??= (async () => {
      logger.info({ signal, uploadsInFlight: inFlight.size }, "shutting down");
      // Uploads in flight get the grace period to finish; then they are failed with a reason
      // (what they queued is still scored) so that closing does not wait on a 2 GB body.
      const grace = setTimeout(() => {
        const stopped = inFlight.abortAll("shutdown");
        if (stopped > 0) logger.warn({ stopped }, "grace period over: uploads in flight failed");
      }, config.INGEST_SHUTDOWN_TIMEOUT_MS);
      // Fastify closes the connections idle when closing starts; a keep-alive connection whose
      // upload ends later (finished, or failed at the grace period) would otherwise hold the
      // server open until the deadline.
      const sweep = setInterval(() => app.server.closeIdleConnections(), IDLE_SWEEP_MS);
      const deadline = setTimeout(() => {
        logger.error("shutdown deadline passed: closing connections");
        app.server.closeAllConnections();
      }, config.INGEST_SHUTDOWN_TIMEOUT_MS + ABORT_SETTLE_MS);
      let failed = false;
      try {
        await app.close();
      } catch (error) {
        failed = true;
        logger.error({ err: error }, "closing the HTTP server failed");
      }
      clearTimeout(grace);
      clearTimeout(deadline);
      clearInterval(sweep);
      try {
        await closeRedis(redis);
      } catch (error) {
        failed = true;
        logger.error({ err: error }, "closing Redis failed");
      }
      logger.info("stopped");
      process.exitCode = failed ? 1 : 0;
    })());
  process.once("SIGTERM", (signal) => void shutdown(signal));
  process.once("SIGINT", (signal) => void shutdown(signal));

  await app.listen({ port: config.INGEST_PORT, host: config.INGEST_HOST });
  logger.info(
    { port: config.INGEST_PORT, host: config.INGEST_HOST, modelVersion, prefix: keys.prefix },
    "ingest listening",
  );
}

main().catch((error: unknown) => {
  process.stderr.write(`ingest failed to start: ${String((error as Error)?.stack ?? error)}\n`);
  process.exit(1);
});
