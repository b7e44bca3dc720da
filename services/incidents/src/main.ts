/**
 * Incidents process: wiring only. Parses the configuration, opens the Redis connections, starts
 * the tracker, the notifier and the /health server, and stops everything on SIGTERM/SIGINT.
 */
import { redisKeys } from "@floodwatch/core";
import {
  closeRedis,
  connectRedis,
  createLogger,
  loadConfigOrExit,
  registerShutdown,
} from "@floodwatch/platform";
import { buildIncidentsApp } from "./app.ts";
import { loadIncidentsConfig } from "./env.ts";
import { Notifier } from "./notifier.ts";
import { configuredEndpoints } from "./senders.ts";
import { TrackerWorker } from "./tracker-worker.ts";

/** Shutdown must end even when Redis is gone; past this the process exits non-zero. */
const SHUTDOWN_DEADLINE_MS = 20_000;

const config = loadConfigOrExit(loadIncidentsConfig);

const logger = createLogger("incidents", config.LOG_LEVEL, config.LOG_FORMAT);
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

const shutdown = registerShutdown({
  service: "incidents",
  logger,
  deadlineMs: SHUTDOWN_DEADLINE_MS,
  steps: [
    { name: "tracker", run: () => tracker.close() },
    { name: "notifier", run: () => notifier.close() },
    { name: "http", run: () => app.close() },
    ...Object.entries(connections).map(([role, connection]) => ({
      name: `redis ${role}`,
      run: () => closeRedis(connection),
    })),
  ],
});

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
  await shutdown("start failure", true);
}
