/**
 * Incidents process: wiring only. Parses the configuration, opens the Redis connections, starts
 * the tracker, the notifier and the /health server, and stops everything on SIGTERM/SIGINT.
 */
import { redisKeys } from "@floodwatch/core";
import { ConfigError, closeRedis, connectRedis, createLogger } from "@floodwatch/platform";
import { buildIncidentsApp } from "./app.ts";
import { loadIncidentsConfig, type IncidentsConfig } from "./env.ts";
import { Notifier } from "./notifier.ts";
import { configuredEndpoints } from "./senders.ts";
import { TrackerWorker } from "./tracker-worker.ts";

/** Shutdown must end even when Redis is gone; past this the process exits non-zero. */
const SHUTDOWN_DEADLINE_MS = 20_000;

let config: IncidentsConfig;
try {
  config = loadIncidentsConfig();
} catch (error) {
  if (!(error instanceof ConfigError)) throw error;
  process.stderr.write(`${error.message}\n`);
  process.exit(2);
}

const logger = createLogger("incidents", config.LOG_LEVEL);
const keys = redisKeys(config.FLOODWATCH_KEY_PREFIX);
const name = config.INCIDENTS_NAME;
const connections = {
  redis: connectRedis(config.REDIS_URL, `incidents:${name}`),
  trackerReader: connectRedis(config.REDIS_URL, `incidents:${name}:results`),
  notifierReader: connectRedis(config.REDIS_URL, `incidents:${name}:events`),
};
for (const [role, connection] of Object.entries(connections)) {
  // Without a listener ioredis prints every failed reconnect attempt as an unhandled error.
  connection.on("error", (error: Error) =>
    logger.warn({ connection: role, err: error.message }, "redis connection error"),
  );
}

const endpoints = configuredEndpoints(config.ALERT_WEBHOOK_URL, config.ALERT_SYSLOG_URL);
const tracker = new TrackerWorker({
  redis: connections.redis,
  reader: connections.trackerReader,
  keys,
  logger,
  name,
  closeAfterWindows: config.INCIDENT_CLOSE_AFTER_WINDOWS,
  claimIdleMs: config.INCIDENTS_CLAIM_IDLE_MS,
});
const notifier = new Notifier({
  redis: connections.redis,
  reader: connections.notifierReader,
  keys,
  logger,
  name,
  endpoints,
  webhookSecret: config.ALERT_WEBHOOK_SECRET,
  updateIntervalMs: config.ALERT_UPDATE_INTERVAL_S * 1000,
  retryForMs: config.ALERT_RETRY_FOR_S * 1000,
  retryBaseMs: config.ALERT_RETRY_BASE_MS,
  claimIdleMs: config.INCIDENTS_CLAIM_IDLE_MS,
});
const app = buildIncidentsApp({
  redis: connections.redis,
  name,
  endpoints: endpoints.map((e) => e.label),
  logger,
});

let stopping: Promise<void> | undefined;

/** The one shutdown path: every step runs even if an earlier one fails. */
function shutdown(reason: string, exitCode = 0): Promise<void> {
  stopping ??= (async () => {
    logger.info({ reason }, "incidents shutting down");
    const deadline = setTimeout(() => {
      logger.error({ deadlineMs: SHUTDOWN_DEADLINE_MS }, "shutdown deadline passed; exiting");
      process.exit(1);
    }, SHUTDOWN_DEADLINE_MS);
    deadline.unref();
    const steps: [string, () => Promise<unknown>][] = [
      ["tracker", () => tracker.close()],
      ["notifier", () => notifier.close()],
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
    logger.info({ exitCode: failed ? 1 : exitCode }, "incidents process exiting");
    process.exit(failed ? 1 : exitCode);
  })();
  return stopping;
}

process.once("SIGTERM", () => void shutdown("SIGTERM"));
process.once("SIGINT", () => void shutdown("SIGINT"));

try {
  // Listen first: while Redis is still unreachable, /health answers 503 instead of nothing.
  const address = await app.listen({ port: config.INCIDENTS_PORT, host: config.INCIDENTS_HOST });
  logger.info(
    { incidents: name, address, endpoints: endpoints.map((e) => e.label) },
    "incidents listening",
  );
  await tracker.start();
  await notifier.start();
} catch (error) {
  logger.error(
    { err: error instanceof Error ? error.message : String(error) },
    "incidents failed to start",
  );
  await shutdown("start failure", 1);
}
