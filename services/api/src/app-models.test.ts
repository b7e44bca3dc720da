import {
  closeRedis,
  ensureActiveModel,
  startRedisServer,
  type RedisServer,
} from "@floodwatch/platform";
import type { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildApiApp } from "./app.ts";
import { openTrainingQueue } from "./models/training-queue.ts";
import { quietLogger, testConfig, testPrefix, testRedis } from "./api-test-kit.ts";

let server: RedisServer;
let redis: Redis;

beforeAll(async () => {
  server = await startRedisServer();
  redis = testRedis(server.url);
});

afterAll(async () => {
  await closeRedis(redis);
  await server.stop();
});

describe("the API app with its training queue", () => {
  it("serves the model registry behind the perimeter", async () => {
    const token = "model-token-0123456789";
    const { config, keys } = testConfig(server.url, testPrefix("models"), {
      FLOODWATCH_API_TOKEN: token,
      TRAINING_MAX_UPLOAD_BYTES: "1000",
    });
    const version = await ensureActiveModel(redis, keys);
    const training = openTrainingQueue(server.url, keys);
    const app = await buildApiApp({
      config,
      redis,
      logger: quietLogger,
      trainingQueue: training.queue,
    });
    try {
      const list = await app.inject("/api/models");
      expect(list.statusCode).toBe(200);
      expect(list.json()).toMatchObject({ active: version, models: [{ version, active: true }] });

      // Writes need the token; the size limit comes from TRAINING_MAX_UPLOAD_BYTES.
      const csv = "Flow Duration\n" + "1\n".repeat(600);
      const anonymous = await app.inject({
        method: "POST",
        url: "/api/models",
        headers: { "content-type": "text/csv" },
        payload: csv,
      });
      expect(anonymous.statusCode).toBe(401);
      const tooLarge = await app.inject({
        method: "POST",
        url: "/api/models",
        headers: { "content-type": "text/csv", authorization: `Bearer ${token}` },
        payload: csv,
      });
      expect(tooLarge.statusCode).toBe(413);
      const activate = await app.inject({
        method: "POST",
        url: `/api/models/${version}/activate`,
        headers: { authorization: `Bearer ${token}` },
      });
      expect(activate.statusCode).toBe(200);
    } finally {
      await app.close();
      await training.close();
    }
  });
});
