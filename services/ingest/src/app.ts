/**
 * The ingest service: takes flow CSV uploads and turns them into flow entries on the Redis flows
 * stream, where the detectors pick them up.
 *
 * - `POST /api/uploads` — the CSV as the raw body (`text/csv`, `application/csv`, `text/plain`,
 *   `application/octet-stream`) or as the `file` field of `multipart/form-data` (an optional
 *   `name` field before it, or `?name=`); a pcap/pcapng capture instead (any of those types or
 *   `application/vnd.tcpdump.pcap`, told apart by its magic number) is metered into flows. Read as a stream with the active model's features,
 *   cut into entries of whole windows of its geometry, each XADDed in one MULTI with the upload's
 *   counters. Answers `201` with `uploadAcceptedSchema`; bad input gets `400` (empty, binary,
 *   header only, a record too long), `413` (over `INGEST_MAX_UPLOAD_BYTES`), `415` (another
 *   media type) or `422` (missing feature columns: nothing is stored); Redis unreachable for
 *   `INGEST_REDIS_TIMEOUT_MS` gets `503`. When the detectors' backlog reaches
 *   `INGEST_MAX_BACKLOG_ENTRIES` the upload stops being read until it drains.
 * - `GET /health` — `200` when Redis answers PING and an active model loads, else `503`.
 * - `GET /metrics` — Prometheus text from this app's own registry.
 *
 * Built from injected dependencies with no side effects: nothing is listened on, connected or
 * written until a request comes in.
 */
import cors from "@fastify/cors";
import helmet from "@fastify/helmet";
import { redisKeys } from "@floodwatch/core";
import {
  DebugRequestLogs,
  backlog as detectorBacklog,
  registerPerimeter,
  type Logger,
} from "@floodwatch/platform";
import type { IncomingMessage, ServerResponse } from "node:http";
import Fastify, {
  type FastifyBaseLogger,
  type FastifyInstance,
  type RawServerDefault,
} from "fastify";
import type { Redis } from "ioredis";
import type { IngestConfig } from "./env.ts";
import { errorAnswer } from "./error-answer.ts";
import { InFlightUploads } from "./in-flight-uploads.ts";
import { createIngestMetrics, type IngestMetrics } from "./ingest-metrics.ts";
import { ActiveModelCache } from "./model-cache.ts";
import { ParsePool } from "./parse-pool.ts";
import { withRedisDeadline } from "./redis-deadline.ts";
import { uploadRoute } from "./upload-route.ts";

/** A health probe is answered within this, whatever `INGEST_REDIS_TIMEOUT_MS` is. */
const HEALTH_TIMEOUT_MS = 2_000;

/** What the app is built from. */
export interface IngestAppDeps {
  config: IngestConfig;
  /** The connection uploads write with; the app never closes it (its opener does). */
  redis: Redis;
  logger: Logger;
  /** Clock, ms since epoch (default `Date.now`). */
  now?: () => number;
  /** Uploads in flight, for the caller's shutdown to stop (default: a new, private set). */
  inFlight?: InFlightUploads;
  /** Metrics (default: a new registry reading the backlog at each scrape). */
  metrics?: IngestMetrics;
}

/** Builds the ingest app. Listen with `app.listen`, test with `app.inject`. */
export function buildIngestApp(deps: IngestAppDeps): FastifyInstance {
  const { config, redis, logger } = deps;
  const keys = redisKeys(config.FLOODWATCH_KEY_PREFIX);
  const now = deps.now ?? Date.now;
  const inFlight = deps.inFlight ?? new InFlightUploads();
  const probeTimeoutMs = Math.min(config.INGEST_REDIS_TIMEOUT_MS, HEALTH_TIMEOUT_MS);
  const metrics =
    deps.metrics ??
    createIngestMetrics(() =>
      withRedisDeadline(detectorBacklog(redis, keys), probeTimeoutMs, "reading the backlog"),
    );
  const models = new ActiveModelCache(redis, keys, config.INGEST_REDIS_TIMEOUT_MS);

  // Typed with Fastify's base logger so the instance has the plain `FastifyInstance` type.
  const app = Fastify<RawServerDefault, IncomingMessage, ServerResponse, FastifyBaseLogger>({
    loggerInstance: logger,
    logController: new DebugRequestLogs(),
    // An upload may rightly take long (gigabytes, or paused by backpressure), so there is no cap
    // on a whole request; a connection that sends nothing for the idle timeout is dropped, and
    // its upload fails with what was accepted so far still scored.
    requestTimeout: 0,
    connectionTimeout: config.INGEST_IDLE_TIMEOUT_MS,
  });

  app.setErrorHandler((error, request, reply) => {
    const answer = errorAnswer(error);
    if (answer.internal) request.log.error({ err: error }, "request failed");
    else request.log.info({ status: answer.statusCode, error: answer.body }, "request refused");
    return reply.code(answer.statusCode).send(answer.body);
  });
  app.setNotFoundHandler((request, reply) =>
    reply
      .code(404)
      .send({ error: "not_found", message: `no route ${request.method} ${request.url}` }),
  );

  void app.register(helmet);
  void app.register(cors, { origin: config.DASHBOARD_ORIGIN, methods: ["GET", "POST"] });
  // Once CORS is loaded, in the root context, so a 401 or 429 still carries the CORS headers
  // and the dashboard can read it and ask for the token.
  app.after((error) => {
    if (error) throw error;
    registerPerimeter(app, {
      apiToken: config.FLOODWATCH_API_TOKEN,
      protectReads: config.FLOODWATCH_PROTECT_READS,
      rateLimit: {
        uploadsPerMinute: config.UPLOAD_RATE_LIMIT_PER_MINUTE,
        uploadRoutes: (request) =>
          request.method === "POST" && request.url.split("?")[0] === "/api/uploads",
      },
    });
  });

  app.get("/health", async (_request, reply) => {
    const redisUp = await withRedisDeadline(redis.ping(), probeTimeoutMs, "PING").then(
      () => true,
      () => false,
    );
    if (!redisUp) {
      return reply.code(503).send({
        status: "unavailable",
        redis: "down",
        model: null,
        reason: `Redis did not answer PING within ${probeTimeoutMs} ms`,
      });
    }
    try {
      const model = await models.active();
      return {
        status: "ok",
        redis: "up",
        model: model.version,
        window: model.window,
        uploadsInFlight: inFlight.size,
      };
    } catch (error) {
      return reply.code(503).send({
        status: "unavailable",
        redis: "up",
        model: null,
        reason: errorAnswer(error).body.message,
      });
    }
  });

  app.get("/metrics", async (_request, reply) => {
    const text = await metrics.registry.metrics();
    return reply.header("content-type", metrics.registry.contentType).send(text);
  });

  // The parse workers start with the server (an app only injected into starts them with its
  // first upload) and stop once the last request is answered.
  const parsePool = new ParsePool();
  app.addHook("onListen", () => {
    parsePool.warm();
  });
  app.addHook("onClose", () => parsePool.close());

  void app.register(uploadRoute, {
    config,
    redis,
    keys,
    models,
    metrics,
    inFlight,
    parsePool,
    now,
  });
  return app;
}
