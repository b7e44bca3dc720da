import { DETECTOR_GROUP, modelSummaryOf, summarySchema } from "@floodwatch/core";
import {
  closeRedis,
  ensureActiveModel,
  loadModel,
  startRedisServer,
  type RedisServer,
} from "@floodwatch/platform";
import type { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildApiApp } from "./app.ts";
import {
  addResults,
  quietLogger,
  testConfig,
  testPrefix,
  testRedis,
  windowRun,
} from "./api-test-kit.ts";

/** A pinned clock half-way through second 1_700_000_000. */
const NOW = 1_700_000_000_500;

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

async function summaryApp(name: string) {
  const { config, keys } = testConfig(server.url, testPrefix(name));
  const app = await buildApiApp({ config, redis, logger: quietLogger, clock: () => NOW });
  return { app, keys };
}

describe("GET /api/summary", () => {
  it("reports zeros, nulls and the default model on a fresh stack", async () => {
    const { app, keys } = await summaryApp("fresh");
    try {
      const version = await ensureActiveModel(redis, keys);
      const model = modelSummaryOf(await loadModel(redis, keys, version));
      const response = await app.inject({ method: "GET", url: "/api/summary" });
      expect(response.statusCode).toBe(200);
      const summary = summarySchema.parse(response.json());
      expect(summary).toEqual({
        windowsScored: 0,
        flowsScored: 0,
        anomalies: 0,
        threshold: model.threshold,
        lastScore: null,
        worstScore: null,
        flowsPerSecond: 0,
        backlog: 0,
        deadLetters: 0,
        detectors: { active: 0 },
        model,
      });
    } finally {
      await app.close();
    }
  });

  it("reports no threshold and no model before any model is published", async () => {
    const { app } = await summaryApp("nomodel");
    try {
      const summary = summarySchema.parse((await app.inject("/api/summary")).json());
      expect(summary.threshold).toBeNull();
      expect(summary.model).toBeNull();
    } finally {
      await app.close();
    }
  });

  it("reads the counters, the flow rate, live detectors and the backlog exactly", async () => {
    const { app, keys } = await summaryApp("seeded");
    try {
      const version = await ensureActiveModel(redis, keys);
      await redis.hset(keys.counters, {
        windowsScored: 1234,
        flowsScored: 61_700,
        anomalies: 17,
        lastScore: "0.0421",
        worstScore: "-0.1875",
        deadLetters: 3,
        windowsDeadLettered: 60,
        flowsIngested: 64_000,
      });
      await addResults(redis, keys, windowRun("u1", 0, 4));
      // Seconds 1_699_999_995..999 are the last five complete ones; the current second
      // (1_700_000_000) and anything older are left out.
      await redis.hset(keys.flowRate, {
        "1699999994": 99_999,
        "1699999995": 100,
        "1699999996": 200,
        "1699999997": 300,
        "1699999998": 400,
        "1699999999": 510,
        "1700000000": 77_777,
      });
      await redis.zadd(
        keys.detectors,
        NOW - 1_000,
        "detector-a",
        NOW - 14_999,
        "detector-b",
        NOW - 15_000,
        "detector-exactly-15s",
        NOW - 60_000,
        "detector-dead",
      );
      // Backlog: 3 entries before the group (never delivered) plus 4 after; deliver 5, ack 2.
      for (let i = 0; i < 3; i++) await redis.xadd(keys.flows, "*", "meta", `{"seq":${i}}`);
      await redis.xgroup("CREATE", keys.flows, DETECTOR_GROUP, "0");
      for (let i = 3; i < 7; i++) await redis.xadd(keys.flows, "*", "meta", `{"seq":${i}}`);
      const delivered = (await redis.xreadgroup(
        "GROUP",
        DETECTOR_GROUP,
        "detector-a",
        "COUNT",
        5,
        "STREAMS",
        keys.flows,
        ">",
      )) as [string, [string, string[]][]][];
      const ids = delivered[0]![1].map(([id]) => id);
      expect(ids).toHaveLength(5);
      await redis.xack(keys.flows, DETECTOR_GROUP, ids[0]!, ids[1]!);

      const summary = summarySchema.parse((await app.inject("/api/summary")).json());
      const model = modelSummaryOf(await loadModel(redis, keys, version));
      expect(summary).toEqual({
        windowsScored: 1234,
        flowsScored: 61_700,
        anomalies: 17,
        threshold: model.threshold,
        lastScore: 0.0421,
        worstScore: -0.1875,
        flowsPerSecond: (100 + 200 + 300 + 400 + 510) / 5,
        // 2 never delivered + 3 delivered and not acknowledged.
        backlog: 5,
        deadLetters: 3,
        detectors: { active: 2 },
        model,
      });
    } finally {
      await app.close();
    }
  });

  it("counts a backlog of 0 when the flows stream exists without the detectors group", async () => {
    const { app, keys } = await summaryApp("nogroup");
    try {
      await redis.xadd(keys.flows, "*", "meta", "{}");
      const summary = summarySchema.parse((await app.inject("/api/summary")).json());
      expect(summary.backlog).toBe(0);
    } finally {
      await app.close();
    }
  });
});
