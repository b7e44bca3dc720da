import { errorBodySchema } from "@floodwatch/core";
import {
  closeRedis,
  ensureActiveModel,
  startRedisServer,
  type RedisServer,
} from "@floodwatch/platform";
import type { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildApiApp } from "./app.ts";
import {
  addResults,
  quietLogger,
  seedUpload,
  testConfig,
  testPrefix,
  testRedis,
  windowRun,
} from "./api-test-kit.ts";

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

async function app(name: string, env: Record<string, string> = {}) {
  const { config, keys } = testConfig(server.url, testPrefix(name), env);
  const instance = await buildApiApp({
    config,
    redis,
    logger: quietLogger,
    timing: { redisCheckMs: 500 },
  });
  return { app: instance, keys };
}

describe("GET /health", () => {
  it("is 503 before a model is active and 200 once one is", async () => {
    const { app: api, keys } = await app("health");
    try {
      const before = await api.inject("/health");
      expect(before.statusCode).toBe(503);
      expect(before.json()).toEqual({ status: "unavailable", reason: "no active model" });
      const version = await ensureActiveModel(redis, keys);
      const after = await api.inject("/health");
      expect(after.statusCode).toBe(200);
      expect(after.json()).toEqual({ status: "ok", model: version, wsClients: 0 });
    } finally {
      await api.close();
    }
  });

  it("is 503 naming Redis when the redis-server is gone", async () => {
    const own = await startRedisServer();
    const ownRedis = testRedis(own.url);
    ownRedis.on("error", () => undefined);
    const { config, keys } = testConfig(own.url, testPrefix("down"));
    const api = await buildApiApp({
      config,
      redis: ownRedis,
      logger: quietLogger,
      timing: { redisCheckMs: 300 },
    });
    try {
      await ensureActiveModel(ownRedis, keys);
      expect((await api.inject("/health")).statusCode).toBe(200);
      await own.stop();
      const down = await api.inject("/health");
      expect(down.statusCode).toBe(503);
      expect(down.json()).toEqual({
        status: "unavailable",
        reason: "redis did not answer within 300 ms",
      });
    } finally {
      await api.close();
      ownRedis.disconnect();
      await own.stop();
    }
  });
});

describe("GET /metrics", () => {
  it("exposes the pipeline figures from Redis and the latencies of relayed results", async () => {
    const { app: api, keys } = await app("metrics");
    try {
      await api.ready();
      await redis.hset(keys.counters, {
        windowsScored: 1234,
        anomalies: 17,
        flowsIngested: 64_000,
        deadLetters: 3,
      });
      // Scored 20 ms after receipt, as the fixture's windows are.
      await addResults(redis, keys, windowRun("u", 0, 3));
      let text = "";
      for (let attempt = 0; attempt < 100; attempt++) {
        const response = await api.inject("/metrics");
        expect(response.statusCode).toBe(200);
        expect(response.headers["content-type"]).toMatch(/^text\/plain/);
        text = response.body;
        if (text.includes("floodwatch_processing_latency_seconds_count 3")) break;
        await new Promise((r) => setTimeout(r, 20));
      }
      expect(text).toContain("floodwatch_windows_scored_total 1234");
      expect(text).toContain("floodwatch_anomalies_total 17");
      expect(text).toContain("floodwatch_flows_ingested_total 64000");
      expect(text).toContain("floodwatch_backlog_entries 0");
      expect(text).toContain("floodwatch_dead_letters_total 3");
      expect(text).toContain("floodwatch_ws_clients 0");
      expect(text).toContain("floodwatch_processing_latency_seconds_count 3");
      expect(text).toContain('floodwatch_processing_latency_seconds_bucket{le="0.025"} 3');
      expect(text).toContain('floodwatch_processing_latency_seconds_bucket{le="0.01"} 0');
      expect(text).toContain("floodwatch_relay_latency_seconds_count 0");
      expect(text).toContain("process_cpu_user_seconds_total");
    } finally {
      await api.close();
    }
  });
});

describe("errors, CORS and headers", () => {
  it("answers an unknown route with a 404 error body", async () => {
    const { app: api } = await app("notfound");
    try {
      const response = await api.inject("/api/nothing?x=1");
      expect(response.statusCode).toBe(404);
      expect(errorBodySchema.parse(response.json())).toEqual({
        error: "not_found",
        message: "no route GET /api/nothing",
      });
    } finally {
      await api.close();
    }
  });

  it("hides the details of a server error", async () => {
    const { app: api, keys } = await app("broken");
    try {
      await seedUpload(redis, keys, { id: "broken", createdAt: 1, fields: { state: "exploded" } });
      const response = await api.inject("/api/uploads/broken");
      expect(response.statusCode).toBe(500);
      expect(response.json()).toEqual({
        error: "internal_error",
        message: "internal server error",
      });
    } finally {
      await api.close();
    }
  });

  it("allows only the dashboard origin and sets security headers", async () => {
    const { app: api } = await app("cors", { DASHBOARD_ORIGIN: "https://dash.example.org" });
    try {
      const allowed = await api.inject({
        url: "/api/summary",
        headers: { origin: "https://dash.example.org" },
      });
      expect(allowed.headers["access-control-allow-origin"]).toBe("https://dash.example.org");
      expect(allowed.headers["x-content-type-options"]).toBe("nosniff");
      const foreign = await api.inject({
        url: "/api/summary",
        headers: { origin: "https://evil.example.com" },
      });
      expect(foreign.headers["access-control-allow-origin"]).toBeUndefined();
      const preflight = await api.inject({
        method: "OPTIONS",
        url: "/api/summary",
        headers: {
          origin: "https://dash.example.org",
          "access-control-request-method": "GET",
        },
      });
      expect(preflight.statusCode).toBe(204);
      expect(preflight.headers["access-control-allow-origin"]).toBe("https://dash.example.org");
    } finally {
      await api.close();
    }
  });
});
