/** /health and /metrics through `app.inject()`, and the configuration schema. */
import { hostname } from "node:os";
import {
  ConfigError,
  closeRedis,
  connectRedis,
  startRedisServer,
  type RedisServer,
} from "@floodwatch/platform";
import type { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildDetectorApp } from "./app.ts";
import { detectorConfigSchema, loadDetectorConfig } from "./env.ts";
import { createDetectorMetrics } from "./metrics.ts";

let server: RedisServer;
let redis: Redis;

beforeAll(async () => {
  server = await startRedisServer();
  redis = connectRedis(server.url, "test-app");
  redis.on("error", () => undefined);
  await redis.ping();
});

afterAll(async () => {
  if (redis) await closeRedis(redis);
  await server?.stop();
});

describe("detector app", () => {
  it("is healthy only with Redis reachable and a model loaded", async () => {
    let model: string | null = null;
    const metrics = createDetectorMetrics({
      backlog: () => Promise.resolve(7),
      defaultMetrics: false,
    });
    const app = buildDetectorApp({
      redis,
      registry: metrics.registry,
      detectorName: "app-1",
      modelVersion: () => model,
    });
    try {
      const noModel = await app.inject({ method: "GET", url: "/health" });
      expect(noModel.statusCode).toBe(503);
      expect(noModel.json()).toEqual({
        status: "unavailable",
        detector: "app-1",
        redis: "ok",
        model: null,
      });
      model = "9dcd39db7b76";
      const ok = await app.inject({ method: "GET", url: "/health" });
      expect(ok.statusCode).toBe(200);
      expect(ok.json()).toEqual({ status: "ok", detector: "app-1", redis: "ok", model });

      const closed = connectRedis(server.url, "test-app-closed", { lazyConnect: true });
      const offline = buildDetectorApp({
        redis: closed,
        registry: metrics.registry,
        detectorName: "app-2",
        modelVersion: () => model,
      });
      const down = await offline.inject({ method: "GET", url: "/health" });
      expect(down.statusCode).toBe(503);
      expect(down.json()).toMatchObject({ status: "unavailable", redis: "unreachable" });
      await offline.close();
      closed.disconnect();
    } finally {
      await app.close();
    }
  });

  it("exposes the detector's metrics in the Prometheus text format", async () => {
    const metrics = createDetectorMetrics({
      backlog: () => Promise.resolve(7),
      defaultMetrics: false,
    });
    metrics.windowsScored.inc(12);
    metrics.anomalies.inc(3);
    metrics.entriesDeadLettered.inc();
    metrics.processingLatency.observe(0.02);
    metrics.modelInfo.set({ version: "9dcd39db7b76" }, 1);
    const app = buildDetectorApp({
      redis,
      registry: metrics.registry,
      detectorName: "app-3",
      modelVersion: () => "9dcd39db7b76",
    });
    try {
      const response = await app.inject({ method: "GET", url: "/metrics" });
      expect(response.statusCode).toBe(200);
      expect(response.headers["content-type"]).toContain("text/plain");
      const body = response.body;
      expect(body).toContain("floodwatch_windows_scored_total 12");
      expect(body).toContain("floodwatch_anomalies_total 3");
      expect(body).toContain("floodwatch_entries_dead_lettered_total 1");
      expect(body).toContain("floodwatch_processing_latency_seconds_count 1");
      expect(body).toContain('floodwatch_model_info{version="9dcd39db7b76"} 1');
      expect(body).toContain("floodwatch_backlog_entries 7");
    } finally {
      await app.close();
    }
  });
});

describe("detector configuration", () => {
  it("has defaults for everything but names a bad variable", () => {
    const config = loadDetectorConfig({});
    expect(config).toMatchObject({
      DETECTOR_PORT: 8082,
      DETECTOR_CLAIM_IDLE_MS: 30_000,
      DETECTOR_MAX_DELIVERIES: 5,
      DETECTOR_READ_COUNT: 8,
      DETECTOR_BLOCK_MS: 2_000,
      RESULTS_MAX_LENGTH: 100_000,
    });
    expect(config.DETECTOR_NAME).toBe(`${hostname()}-${process.pid}`);
    expect(loadDetectorConfig({ DETECTOR_PORT: "0" }).DETECTOR_PORT).toBe(0);
    expect(() => loadDetectorConfig({ DETECTOR_MAX_DELIVERIES: "0" })).toThrow(ConfigError);
    const problem = (() => {
      try {
        loadDetectorConfig({ DETECTOR_CLAIM_IDLE_MS: "soon", DETECTOR_NAME: "" });
        return null;
      } catch (error) {
        return error;
      }
    })();
    expect(problem).toBeInstanceOf(ConfigError);
    expect((problem as ConfigError).problems.map((p) => p.variable)).toEqual([
      "DETECTOR_NAME",
      "DETECTOR_CLAIM_IDLE_MS",
    ]);
  });

  it("describes every variable", () => {
    for (const [variable, schema] of Object.entries(detectorConfigSchema.shape)) {
      expect(schema.description, variable).toBeTruthy();
    }
  });
});
