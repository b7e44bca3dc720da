/**
 * The incidents service's HTTP face: `GET /health`, nothing else. Built from injected
 * dependencies, with no side effects, so tests use `app.inject()`.
 */
import { withDeadline, type Logger } from "@floodwatch/platform";
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from "fastify";
import type { Redis } from "ioredis";

/** What the app is built from. */
export interface IncidentsAppDeps {
  redis: Redis;
  name: string;
  /** Notification endpoints configured, by label. */
  endpoints: readonly string[];
  logger?: Logger;
}

/** A health check must answer even while Redis is away. */
const PING_TIMEOUT_MS = 1_000;

/** Builds the app; the caller listens and closes. */
export function buildIncidentsApp(deps: IncidentsAppDeps): FastifyInstance {
  const loggerInstance: FastifyBaseLogger | undefined = deps.logger;
  const app = Fastify({
    ...(loggerInstance ? { loggerInstance } : { logger: false }),
    // Probes every few seconds would drown the log.
    logController: new LogController({ disableRequestLogging: true }),
  });
  app.get("/health", async (_request, reply) => {
    let redisOk = false;
    if (deps.redis.status === "ready") {
      try {
        redisOk =
          (await withDeadline(deps.redis.ping(), PING_TIMEOUT_MS, () => new Error("timeout"))) ===
          "PONG";
      } catch {
        redisOk = false;
      }
    }
    return reply.code(redisOk ? 200 : 503).send({
      status: redisOk ? "ok" : "unavailable",
      incidents: deps.name,
      redis: redisOk ? "ok" : "unreachable",
      endpoints: deps.endpoints,
    });
  });
  return app;
}
