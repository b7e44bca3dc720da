/**
 * Test fixture: a bare Fastify app with only {@link modelRoutes}, on a real Redis, optionally
 * listening on a loopback port. Used by this folder's tests and by the CLI's `model` tests, which
 * need a real API to talk to.
 */
import { redisKeys, type RedisKeys } from "@floodwatch/core";
import {
  closeRedis,
  connectRedis,
  createLogger,
  startRedisServer,
  type RedisServer,
} from "@floodwatch/platform";
import Fastify, { type FastifyInstance } from "fastify";
import type { Redis } from "ioredis";
import { modelRoutes } from "./model-routes.ts";
import { openTrainingQueue, type TrainingQueueHandle } from "./training-queue.ts";

/** A running model API. */
export interface ModelApiFixture {
  app: FastifyInstance;
  /** Base URL when listening, else null (use `app.inject`). */
  url: string | null;
  redisUrl: string;
  redis: Redis;
  keys: RedisKeys;
  training: TrainingQueueHandle;
  /** Closes the app, the queue, the connection and, when the fixture started it, Redis. */
  close(): Promise<void>;
}

/** Settings of {@link startModelApi}. */
export interface ModelApiFixtureOptions {
  /** Redis to use; default: a private redis-server started (and stopped) by the fixture. */
  redisUrl?: string;
  /** Key prefix (one per test). */
  prefix: string;
  maxUploadBytes?: number;
  /** Listen on 127.0.0.1 on a free port. */
  listen?: boolean;
  /** Refuse requests without `Authorization: Bearer <token>`, as the API's perimeter does. */
  requireToken?: string;
}

/** Starts the model API. */
export async function startModelApi(options: ModelApiFixtureOptions): Promise<ModelApiFixture> {
  let server: RedisServer | undefined;
  const redisUrl = options.redisUrl ?? (server = await startRedisServer()).url;
  const keys = redisKeys(options.prefix);
  const redis = connectRedis(redisUrl, "model-api-fixture");
  const training = openTrainingQueue(redisUrl, keys);
  const logger = createLogger("model-api-fixture", "silent");
  const app = Fastify();
  const { requireToken } = options;
  if (requireToken !== undefined) {
    app.addHook("onRequest", async (request, reply) => {
      if (request.headers.authorization !== `Bearer ${requireToken}`) {
        await reply.code(401).send({ error: "unauthorized", message: "missing or wrong token" });
      }
    });
  }
  await app.register(modelRoutes, {
    redis,
    keys,
    queue: training.queue,
    logger,
    maxUploadBytes: options.maxUploadBytes ?? 64 << 20,
  });
  let url: string | null = null;
  if (options.listen) url = await app.listen({ host: "127.0.0.1", port: 0 });
  else await app.ready();
  return {
    app,
    url,
    redisUrl,
    redis,
    keys,
    training,
    close: async () => {
      await app.close();
      await training.close();
      await closeRedis(redis);
      await server?.stop();
    },
  };
}
