/**
 * The detector's HTTP face: `GET /health` and `GET /metrics`, nothing else. Built from injected
 * dependencies, with no side effects, so tests use `app.inject()`.
 */
import type { Logger } from "@floodwatch/platform";
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from "fastify";
import type { Redis } from "ioredis";
import type { Registry } from "prom-client";
import { within } from "./timing.ts";

/** What the app is built from. */
export interface DetectorAppDeps {
  redis: Redis;
  registry: Registry;
  detectorName: string;
  /** Version of the loaded model, or null while none is. */
  modelVersion: () => string | null;
  /** Request and error logs; none when omitted. */
  logger?: Logger;
}

/** A health check must answer even while Redis is away (commands would queue until it is back). */
const PING_TIMEOUT_MS = 1_000;

async function redisAnswers(redis: Redis): Promise<boolean> {
  if (redis.status !== "ready") return false;
  try {
    return (await within(redis.ping(), PING_TIMEOUT_MS)) === "PONG";
  } catch {
    return false;
  }
}

/** Builds the app; the caller listens and closes. */
export function buildDetectorApp(deps: DetectorAppDeps): FastifyInstance {
  // Fastify types its logger by the instance given; the app only needs the base logger API.
  const loggerInstance: FastifyBaseLogger | undefined = deps.logger;
  const app = Fastify({
    ...(loggerInstance ? { loggerInstance } : { logger: false }),
    // Probes and scrapes every few seconds would drown the log.
    logController: new LogController({ disableRequestLogging: true }),
  });

  app.setErrorHandler((error, request, reply) => {
    request.log.error({ err: error }, "request failed");
    void reply.code(500).send({ error: "internal_error", message: "internal error" });
  });

  app.get("/health", async (_request, reply) => {
    const redisOk = await redisAnswers(deps.redis);
    const model = deps.modelVersion();
    const ok = redisOk && model !== null;
    return reply.code(ok ? 200 : 503).send({
      status: ok ? "ok" : "unavailable",
      detector: deps.detectorName,
      redis: redisOk ? "ok" : "unreachable",
      model,
    });
  });

  app.get("/metrics", async (_request, reply) => {
    const body = await deps.registry.metrics();
    return reply.type(deps.registry.contentType).send(body);
  });

  return app;
}
