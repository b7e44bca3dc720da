import { deadLetterSchema, errorBodySchema, windowResultSchema } from "@floodwatch/core";
import { closeRedis, startRedisServer, type RedisServer } from "@floodwatch/platform";
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

async function windowsApp(name: string) {
  const { config, keys } = testConfig(server.url, testPrefix(name));
  const app = await buildApiApp({ config, redis, logger: quietLogger });
  return { app, keys };
}

/** Every third window of an upload is anomalous. */
const everyThird = (window: number) => ({ score: window % 3 === 0 ? -0.05 : 0.08 });

const ids = (windows: { uploadId: string; window: number }[]) =>
  windows.map((w) => `${w.uploadId}#${w.window}`);

describe("GET /api/windows", () => {
  it("returns recent windows newest first, filtered by upload and anomaly, up to limit", async () => {
    const { app, keys } = await windowsApp("list");
    try {
      // Interleaved entries of two uploads, as two uploads scored at once produce them.
      await addResults(redis, keys, windowRun("a", 0, 4, everyThird));
      await addResults(redis, keys, windowRun("b", 0, 3, everyThird));
      await addResults(redis, keys, windowRun("a", 4, 4, everyThird));
      await addResults(redis, keys, windowRun("b", 3, 3, everyThird));

      const all = await app.inject("/api/windows");
      expect(all.statusCode).toBe(200);
      expect(ids(windowResultSchema.array().parse(all.json()))).toEqual([
        "b#5",
        "b#4",
        "b#3",
        "a#7",
        "a#6",
        "a#5",
        "a#4",
        "b#2",
        "b#1",
        "b#0",
        "a#3",
        "a#2",
        "a#1",
        "a#0",
      ]);

      const upload = windowResultSchema
        .array()
        .parse((await app.inject("/api/windows?uploadId=a")).json());
      expect(ids(upload)).toEqual(["a#7", "a#6", "a#5", "a#4", "a#3", "a#2", "a#1", "a#0"]);

      const anomalies = windowResultSchema
        .array()
        .parse((await app.inject("/api/windows?anomaliesOnly=true")).json());
      expect(ids(anomalies)).toEqual(["b#3", "a#6", "b#0", "a#3", "a#0"]);
      expect(anomalies.every((w) => w.anomaly)).toBe(true);

      const both = await app.inject("/api/windows?uploadId=b&anomaliesOnly=true&limit=1");
      expect(ids(windowResultSchema.array().parse(both.json()))).toEqual(["b#3"]);

      const limited = await app.inject("/api/windows?limit=5");
      expect(ids(windowResultSchema.array().parse(limited.json()))).toEqual([
        "b#5",
        "b#4",
        "b#3",
        "a#7",
        "a#6",
      ]);
    } finally {
      await app.close();
    }
  });

  it("walks back over many entries to fill the limit", async () => {
    const { app, keys } = await windowsApp("deep");
    try {
      // 450 entries of another upload above the 3 windows asked for: more than one page.
      await addResults(redis, keys, windowRun("target", 0, 3));
      const pipeline = redis.pipeline();
      for (let i = 0; i < 450; i++) {
        pipeline.xadd(
          keys.results,
          "*",
          "uploadId",
          "other",
          "windows",
          JSON.stringify(windowRun("other", i, 1)),
        );
      }
      await pipeline.exec();
      const found = windowResultSchema
        .array()
        .parse((await app.inject("/api/windows?uploadId=target")).json());
      expect(ids(found)).toEqual(["target#2", "target#1", "target#0"]);
    } finally {
      await app.close();
    }
  });

  it("relays the detector's JSON byte for byte, re-encodes an old entry, and skips a broken one", async () => {
    const { app, keys } = await windowsApp("bytes");
    try {
      const windows = windowRun("x", 0, 3, everyThird);
      await addResults(redis, keys, windows);
      // Written before results entries had their layout fields: uploadId and windows only.
      const old = windowRun("x", 3, 2);
      await redis.xadd(keys.results, "*", "uploadId", "x", "windows", JSON.stringify(old));
      await redis.xadd(keys.results, "*", "uploadId", "x", "windows", '[{"window":"five"}]');
      const response = await app.inject("/api/windows?uploadId=x");
      expect(response.statusCode).toBe(200);
      expect(response.headers["content-type"]).toBe("application/json; charset=utf-8");
      expect(response.body).toBe(JSON.stringify([...windows, ...old].reverse()));
    } finally {
      await app.close();
    }
  });

  it("answers an empty list when nothing was scored", async () => {
    const { app } = await windowsApp("empty");
    try {
      const response = await app.inject("/api/windows");
      expect(response.statusCode).toBe(200);
      expect(response.json()).toEqual([]);
    } finally {
      await app.close();
    }
  });

  it.each([
    ["limit=0", "limit"],
    ["limit=2001", "limit"],
    ["limit=ten", "limit"],
    ["anomaliesOnly=yes", "anomaliesOnly"],
    ["uploadId=", "uploadId"],
  ])("answers 400 naming the parameter for %s", async (query, parameter) => {
    const { app } = await windowsApp("bad");
    try {
      const response = await app.inject(`/api/windows?${query}`);
      expect(response.statusCode).toBe(400);
      const body = errorBodySchema.parse(response.json());
      expect(body.error).toBe("bad_query");
      expect(body.message).toMatch(new RegExp(`^invalid query parameter ${parameter}: `));
    } finally {
      await app.close();
    }
  });
});

describe("GET /api/dead-letters", () => {
  it("returns dead letters newest first, up to limit", async () => {
    const { app, keys } = await windowsApp("dead");
    try {
      await redis.xadd(
        keys.deadLetters,
        "*",
        "entryId",
        "1-0",
        "uploadId",
        "u1",
        "reason",
        "decode: values length 7 is not flows x features",
        "deliveries",
        1,
        "at",
        1_000,
      );
      await redis.xadd(
        keys.deadLetters,
        "*",
        "entryId",
        "2-0",
        "uploadId",
        "u1",
        "reason",
        "delivered 6 times",
        "deliveries",
        6,
        "at",
        2_000,
      );
      await redis.xadd(
        keys.deadLetters,
        "*",
        "entryId",
        "3-0",
        "uploadId",
        "",
        "reason",
        "meta is not JSON",
        "deliveries",
        1,
        "at",
        3_000,
      );

      const response = await app.inject("/api/dead-letters");
      expect(response.statusCode).toBe(200);
      expect(deadLetterSchema.array().parse(response.json())).toEqual([
        { entryId: "3-0", uploadId: null, reason: "meta is not JSON", deliveries: 1, at: 3_000 },
        { entryId: "2-0", uploadId: "u1", reason: "delivered 6 times", deliveries: 6, at: 2_000 },
        {
          entryId: "1-0",
          uploadId: "u1",
          reason: "decode: values length 7 is not flows x features",
          deliveries: 1,
          at: 1_000,
        },
      ]);
      const limited = deadLetterSchema
        .array()
        .parse((await app.inject("/api/dead-letters?limit=1")).json());
      expect(limited.map((d) => d.entryId)).toEqual(["3-0"]);
      expect((await app.inject("/api/dead-letters?limit=-1")).statusCode).toBe(400);
    } finally {
      await app.close();
    }
  });
});
