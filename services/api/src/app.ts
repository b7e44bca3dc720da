/**
 * The API, built from injected dependencies and free of side effects until it is made ready:
 * REST reads of the pipeline's state, the `/ws` live feed, health and metrics.
 */
import type { IncomingMessage } from "node:http";
import type { Duplex } from "node:stream";
import cors from "@fastify/cors";
import helmet from "@fastify/helmet";
import { redisKeys, type ErrorBody } from "@floodwatch/core";
import {
  DebugRequestLogs,
  backlog,
  checkWebSocketAuth,
  readGlobalCounters,
  registerPerimeter,
  withDeadline,
} from "@floodwatch/platform";
import Fastify, { type FastifyBaseLogger, type FastifyInstance } from "fastify";
import type { Redis } from "ioredis";
import type { Logger } from "pino";
import { WebSocketServer } from "ws";
import { z } from "zod";
import { recentDeadLetters } from "./dead-letters.ts";
import type { ApiConfig } from "./env.ts";
import { answerFrameworkError, ApiError, installErrorHandlers, parseQuery } from "./errors.ts";
import { incidentRoutes } from "./incidents/incident-routes.ts";
import { LiveEvents } from "./live-events.ts";
import { modelRoutes } from "./models/model-routes.ts";
import type { TrainingQueue } from "./models/training-queue.ts";
import { ApiMetrics } from "./metrics.ts";
import { ResultsRelay } from "./results-relay.ts";
import { SummaryReader } from "./summary.ts";
import { listUploads, readUpload, UploadWatcher } from "./uploads.ts";
import { recentWindows, windowsJson } from "./windows.ts";
import { DEFAULT_LIVE_TIMING, WsHub, type LiveTiming } from "./ws-hub.ts";

/** Timing knobs; tests shorten them. */
export interface ApiTiming extends LiveTiming {
  /** How long `/health` and the `/metrics` refresh wait for Redis before giving up. */
  redisCheckMs: number;
}

/** What {@link buildApiApp} needs. */
export interface ApiAppOptions {
  config: ApiConfig;
  /** Command connection, owned by the caller. The app opens (and closes) its own duplicates for the blocking relay and the subscription. */
  redis: Redis;
  logger: Logger;
  /**
   * The training queue, owned by the caller (see `openTrainingQueue`). The model registry routes
   * (`/api/models...`) are served only when it is given; `main.ts` always gives it.
   */
  trainingQueue?: TrainingQueue;
  /** Clock in ms since epoch (tests pin it). */
  clock?: () => number;
  timing?: Partial<ApiTiming>;
}

const limitQuery = (defaultLimit: number, max: number) =>
  z.coerce.number().int().min(1).max(max).default(defaultLimit);

const uploadsQuerySchema = z.object({ limit: limitQuery(50, 1_000) });
const deadLettersQuerySchema = z.object({ limit: limitQuery(50, 1_000) });
const windowsQuerySchema = z.object({
  uploadId: z.string().min(1).max(200).optional(),
  anomaliesOnly: z
    .enum(["true", "false"], { message: "expected true or false" })
    .default("false")
    .transform((value) => value === "true"),
  limit: limitQuery(100, 2_000),
});
// Fastify's router refuses path parameters over 100 characters (414) before this runs.
const uploadParamsSchema = z.object({ id: z.string().min(1) });

/** Answers an upgrade that will not become a WebSocket, then drops the connection. */
function refuseUpgrade(socket: Duplex, status: number, reason: string, body: ErrorBody): void {
  const text = JSON.stringify(body);
  socket.on("error", () => undefined);
  socket.end(
    `HTTP/1.1 ${status} ${reason}\r\nConnection: close\r\nContent-Type: application/json\r\n` +
      `Content-Length: ${Buffer.byteLength(text)}\r\n\r\n${text}`,
  );
}

/** Builds the API. Nothing connects or starts until `ready()` / `listen()`. */
export async function buildApiApp(options: ApiAppOptions): Promise<FastifyInstance> {
  const { config, redis, logger } = options;
  const clock = options.clock ?? Date.now;
  const timing: ApiTiming = { ...DEFAULT_LIVE_TIMING, redisCheckMs: 2_000, ...options.timing };
  const keys = redisKeys(config.FLOODWATCH_KEY_PREFIX);

  // Typed as Fastify's base logger so the instance is the plain `FastifyInstance` plugins expect.
  const loggerInstance: FastifyBaseLogger = logger;
  const app = Fastify({
    loggerInstance,
    logController: new DebugRequestLogs(),
    // Time to receive a whole request (training uploads included); WebSocket upgrades are not
    // requests once upgraded.
    requestTimeout: config.API_REQUEST_TIMEOUT_MS,
    frameworkErrors: (error, _request, reply) => answerFrameworkError(error, reply),
  });
  installErrorHandlers(app);
  await app.register(helmet);
  await app.register(cors, { origin: config.DASHBOARD_ORIGIN });
  // After CORS, so a 401 or 429 still carries the CORS headers and the dashboard can read it
  // (and ask for the token) instead of seeing a network error.
  registerPerimeter(app, {
    apiToken: config.FLOODWATCH_API_TOKEN,
    protectReads: config.FLOODWATCH_PROTECT_READS,
    rateLimit: {
      uploadsPerMinute: config.UPLOAD_RATE_LIMIT_PER_MINUTE,
      uploadRoutes: (request) =>
        request.method === "POST" && request.url.split("?")[0] === "/api/models",
    },
  });

  if (options.trainingQueue) {
    await app.register(modelRoutes, {
      redis,
      keys,
      queue: options.trainingQueue,
      logger,
      maxUploadBytes: config.TRAINING_MAX_UPLOAD_BYTES,
    });
  }

  const metrics = new ApiMetrics();
  const summaries = new SummaryReader({ redis, keys, logger, clock });
  const uploadWatcher = new UploadWatcher(redis, keys, logger);
  const hub = new WsHub({
    logger,
    metrics,
    maxBufferedBytes: config.API_WS_MAX_BUFFERED_BYTES,
    historyWindows: config.API_WS_HISTORY_WINDOWS,
    timing,
    readSummary: () => summaries.read(),
    readChangedUploads: () => uploadWatcher.changed(),
    clock,
  });
  await app.register(incidentRoutes, {
    redis,
    keys,
    logger,
    clock,
    onEvent: (event) => hub.broadcast({ type: "incident", ...event }),
  });
  const wss = new WebSocketServer({
    noServer: true,
    maxPayload: 4 * 1024,
    // The dashboard offers ["floodwatch", "bearer.<token>"]; answer with "floodwatch" only, so
    // the token is never echoed back.
    handleProtocols: (protocols) => (protocols.has("floodwatch") ? "floodwatch" : false),
  });

  // The live side opens its connections when the app is made ready, and closes them on close.
  let relay: ResultsRelay | undefined;
  let events: LiveEvents | undefined;
  app.addHook("onReady", async () => {
    relay = new ResultsRelay({
      redis: redis.duplicate({ connectionName: "api-results-relay" }),
      keys,
      logger,
      historyWindows: config.API_WS_HISTORY_WINDOWS,
      onWindows: (windows) => {
        const latency = Math.max(0, windows.scoredAt - windows.receivedAt) / 1000;
        for (let i = 0; i < windows.texts.length; i++) metrics.processingLatency.observe(latency);
        hub.pushWindows(windows);
      },
    });
    events = new LiveEvents({
      redis: redis.duplicate({ connectionName: "api-live-events" }),
      keys,
      logger,
      onModelActivated: (version) => {
        summaries.modelSummary(version).then(
          (model) => hub.broadcast({ type: "model", model }),
          (error: unknown) => logger.warn({ err: error, version }, "announced model not loaded"),
        );
      },
      onTrainingEvent: (job) => hub.broadcast({ type: "training", job }),
    });
    await events.start();
    hub.seedHistory(await relay.start());
    hub.start();
  });
  app.addHook("preClose", async () => {
    // Upgraded sockets would keep the HTTP server from closing.
    hub.close();
    await new Promise<void>((resolve) => wss.close(() => resolve()));
  });
  app.addHook("onClose", async () => {
    events?.close();
    await relay?.close();
  });

  app.server.on("upgrade", (request: IncomingMessage, socket: Duplex, head: Buffer) => {
    const path = new URL(request.url ?? "/", "http://api.invalid").pathname;
    if (path !== "/ws") {
      refuseUpgrade(socket, 404, "Not Found", {
        error: "not_found",
        message: `no WebSocket endpoint at ${path}`,
      });
      return;
    }
    // Browsers always send Origin; tools like websocat or a CLI send none and are let through.
    const auth = checkWebSocketAuth(request.headers, {
      allowedOrigins: config.DASHBOARD_ORIGIN,
      apiToken: config.FLOODWATCH_API_TOKEN,
      protectReads: config.FLOODWATCH_PROTECT_READS,
    });
    if (!auth.ok) {
      refuseUpgrade(socket, auth.status, auth.status === 403 ? "Forbidden" : "Unauthorized", {
        error: auth.body.error,
        message: auth.body.message,
      });
      return;
    }
    wss.handleUpgrade(request, socket, head, (ws) => hub.add(ws));
  });

  app.get("/ws", () => {
    throw new ApiError(426, "upgrade_required", "GET /ws expects a WebSocket upgrade");
  });

  app.get("/api/summary", async () => summaries.read());

  app.get("/api/uploads", async (request) => {
    const { limit } = parseQuery(uploadsQuerySchema, request.query);
    return listUploads(redis, keys, limit, request.log);
  });

  app.get("/api/uploads/:id", async (request) => {
    const { id } = parseQuery(uploadParamsSchema, request.params, "path");
    const upload = await readUpload(redis, keys, id);
    if (!upload) throw new ApiError(404, "unknown_upload", `upload ${id} is not known`);
    return upload;
  });

  app.get("/api/windows", async (request, reply) => {
    const query = parseQuery(windowsQuerySchema, request.query);
    const texts = await recentWindows(redis, keys, query, (error) =>
      request.log.warn({ entryId: error.entryId, reason: error.message }, "skipping a result"),
    );
    // The detector's JSON as it is: a string body is sent without serialisation.
    return reply.type("application/json; charset=utf-8").send(windowsJson(texts));
  });

  app.get("/api/dead-letters", async (request) => {
    const { limit } = parseQuery(deadLettersQuerySchema, request.query);
    return recentDeadLetters(redis, keys, limit);
  });

  app.get("/health", async (_request, reply) => {
    try {
      const model = await withDeadline(
        (async () => {
          await redis.ping();
          return summaries.activeModel();
        })(),
        timing.redisCheckMs,
        () => new Error(`redis did not answer within ${timing.redisCheckMs} ms`),
      );
      if (!model) {
        return reply.code(503).send({ status: "unavailable", reason: "no active model" });
      }
      return { status: "ok", model: model.version, wsClients: hub.size };
    } catch (error) {
      const reason = error instanceof Error ? error.message : String(error);
      return reply.code(503).send({ status: "unavailable", reason });
    }
  });

  app.get("/metrics", async (request, reply) => {
    try {
      const [counters, entries] = await withDeadline(
        Promise.all([readGlobalCounters(redis, keys), backlog(redis, keys)]),
        timing.redisCheckMs,
        () => new Error(`redis did not answer within ${timing.redisCheckMs} ms`),
      );
      metrics.update({ ...counters, backlog: entries, wsClients: hub.size });
    } catch (error) {
      // Process metrics and latencies are still worth a scrape while Redis is away.
      request.log.warn({ err: error }, "metrics served without refreshing the Redis figures");
    }
    return reply.type(metrics.registry.contentType).send(await metrics.registry.metrics());
  });

  return app;
}
