import { errorBodySchema, qualityFromCounts, uploadStatusSchema } from "@floodwatch/core";
import {
  closeRedis,
  overwriteUploadFields,
  startRedisServer,
  type RedisServer,
} from "@floodwatch/platform";
import type { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildApiApp } from "./app.ts";
import { quietLogger, seedUpload, testConfig, testPrefix, testRedis } from "./api-test-kit.ts";
import { UploadWatcher } from "./uploads.ts";

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

async function uploadsApp(name: string) {
  const { config, keys } = testConfig(server.url, testPrefix(name));
  const app = await buildApiApp({ config, redis, logger: quietLogger });
  return { app, keys };
}

describe("qualityFromCounts (core)", () => {
  it("computes precision, recall and F1, with 0 for an undefined ratio", () => {
    expect(qualityFromCounts(8, 2, 4, 86)).toEqual({
      tp: 8,
      fp: 2,
      fn: 4,
      tn: 86,
      precision: 0.8,
      recall: 8 / 12,
      f1: (2 * 0.8 * (8 / 12)) / (0.8 + 8 / 12),
    });
    expect(qualityFromCounts(0, 0, 0, 40)).toEqual({
      tp: 0,
      fp: 0,
      fn: 0,
      tn: 40,
      precision: 0,
      recall: 0,
      f1: 0,
    });
  });
});

describe("GET /api/uploads", () => {
  it("lists uploads newest first with their counters and quality when labelled", async () => {
    const { app, keys } = await uploadsApp("list");
    try {
      await seedUpload(redis, keys, {
        id: "up-old",
        createdAt: 1_000,
        updatedAt: 5_000,
        fields: {
          state: "done",
          labelled: "1",
          modelVersion: "m-1",
          windowSize: 50,
          windowStride: 25,
          rowsAccepted: 5_030,
          rowsRejected: 2,
          rejected: JSON.stringify([
            { line: 17, column: 4, reason: "Flow Duration is not a number" },
            { line: 90, reason: "row has 12 columns, header has 85" },
          ]),
          tailFlows: 5,
          windowsQueued: 200,
          windowsScored: 199,
          entriesDeadLettered: 1,
          windowsDeadLettered: 1,
          anomalies: 12,
          lastScore: "0.031",
          worstScore: "-0.2",
          tp: 9,
          fp: 3,
          fn: 1,
          tn: 186,
          ingestDone: 1,
        },
      });
      await seedUpload(redis, keys, {
        id: "up-new",
        createdAt: 2_000,
        fields: { state: "failed", error: "line 4: header lacks Flow Duration" },
      });

      const response = await app.inject("/api/uploads");
      expect(response.statusCode).toBe(200);
      const uploads = uploadStatusSchema.array().parse(response.json());
      expect(uploads.map((u) => u.uploadId)).toEqual(["up-new", "up-old"]);
      expect(uploads[1]).toEqual({
        uploadId: "up-old",
        name: "up-old.csv",
        state: "done",
        createdAt: 1_000,
        updatedAt: 5_000,
        rowsAccepted: 5_030,
        rowsRejected: 2,
        rejected: [
          { line: 17, column: 4, reason: "Flow Duration is not a number" },
          { line: 90, reason: "row has 12 columns, header has 85" },
        ],
        windowsQueued: 200,
        windowsScored: 199,
        anomalies: 12,
        tailFlows: 5,
        deadLetters: 1,
        labelled: true,
        modelVersion: "m-1",
        window: { size: 50, stride: 25 },
        lastScore: 0.031,
        worstScore: -0.2,
        quality: qualityFromCounts(9, 3, 1, 186),
      });
      expect(uploads[1]!.quality!.precision).toBe(0.75);
      expect(uploads[1]!.quality!.recall).toBe(0.9);
      expect(uploads[0]).toMatchObject({
        state: "failed",
        error: "line 4: header lacks Flow Duration",
        labelled: false,
        quality: null,
        lastScore: null,
        worstScore: null,
      });
    } finally {
      await app.close();
    }
  });

  it("honours limit and rejects a bad one with a 400 naming it", async () => {
    const { app, keys } = await uploadsApp("limit");
    try {
      for (let i = 0; i < 5; i++) await seedUpload(redis, keys, { id: `u${i}`, createdAt: i });
      const limited = uploadStatusSchema
        .array()
        .parse((await app.inject("/api/uploads?limit=2")).json());
      expect(limited.map((u) => u.uploadId)).toEqual(["u4", "u3"]);
      const bad = await app.inject("/api/uploads?limit=zero");
      expect(bad.statusCode).toBe(400);
      expect(errorBodySchema.parse(bad.json()).message).toMatch(/^invalid query parameter limit:/);
    } finally {
      await app.close();
    }
  });

  it("skips an upload whose record lacks what ingest always writes", async () => {
    const { app, keys } = await uploadsApp("invalid");
    try {
      await seedUpload(redis, keys, { id: "good", createdAt: 1 });
      // Only a detector's counter update: the ingest fields are missing.
      await overwriteUploadFields(redis, keys, "partial", { windowsScored: 3 });
      await redis.zadd(keys.uploads, 2, "partial");
      const uploads = uploadStatusSchema.array().parse((await app.inject("/api/uploads")).json());
      expect(uploads.map((u) => u.uploadId)).toEqual(["good"]);
    } finally {
      await app.close();
    }
  });
});

describe("GET /api/uploads/:id", () => {
  it("returns one upload", async () => {
    const { app, keys } = await uploadsApp("one");
    try {
      await seedUpload(redis, keys, {
        id: "abc",
        createdAt: 10,
        fields: { windowsQueued: 40, windowsScored: 40, state: "done", ingestDone: 1 },
      });
      const response = await app.inject("/api/uploads/abc");
      expect(response.statusCode).toBe(200);
      expect(uploadStatusSchema.parse(response.json())).toMatchObject({
        uploadId: "abc",
        state: "done",
        windowsQueued: 40,
        windowsScored: 40,
        quality: null,
      });
    } finally {
      await app.close();
    }
  });

  it("reports how many timestamps ingest could not read, and nothing when it read them all", async () => {
    const { app, keys } = await uploadsApp("unparsed");
    try {
      await seedUpload(redis, keys, {
        id: "late",
        createdAt: 10,
        fields: { timestampsUnparsed: 12 },
      });
      await seedUpload(redis, keys, { id: "clean", createdAt: 11 });
      const late = uploadStatusSchema.parse((await app.inject("/api/uploads/late")).json());
      expect(late.timestampsUnparsed).toBe(12);
      const clean = (await app.inject("/api/uploads/clean")).json<Record<string, unknown>>();
      expect("timestampsUnparsed" in clean).toBe(false);
    } finally {
      await app.close();
    }
  });

  it("answers 400 naming the id when it is empty, and 414 when it is too long", async () => {
    const { app } = await uploadsApp("badid");
    try {
      const empty = await app.inject("/api/uploads/");
      expect(empty.statusCode).toBe(400);
      const body = errorBodySchema.parse(empty.json());
      expect(body.error).toBe("bad_path");
      expect(body.message).toMatch(/^invalid path parameter id: /);
      const long = await app.inject(`/api/uploads/${"x".repeat(101)}`);
      expect(long.statusCode).toBe(414);
      expect(errorBodySchema.strict().parse(long.json()).error).toBe("uri_too_long");
    } finally {
      await app.close();
    }
  });

  it("answers 404 with an error body for an unknown upload", async () => {
    const { app } = await uploadsApp("missing");
    try {
      const response = await app.inject("/api/uploads/nope");
      expect(response.statusCode).toBe(404);
      expect(errorBodySchema.parse(response.json())).toEqual({
        error: "unknown_upload",
        message: "upload nope is not known",
      });
    } finally {
      await app.close();
    }
  });
});

describe("UploadWatcher", () => {
  it("takes a baseline, then reports created and updated uploads once each", async () => {
    const { keys } = testConfig(server.url, testPrefix("watch"));
    const watcher = new UploadWatcher(redis, keys, quietLogger);
    await seedUpload(redis, keys, { id: "a", createdAt: 1, updatedAt: 10 });
    await seedUpload(redis, keys, { id: "b", createdAt: 2, updatedAt: 20 });
    expect(await watcher.changed()).toEqual([]);
    await overwriteUploadFields(redis, keys, "a", { updatedAt: 11, windowsScored: 7 });
    await seedUpload(redis, keys, { id: "c", createdAt: 3, updatedAt: 30 });
    const changed = await watcher.changed();
    expect(changed.map((u) => [u.uploadId, u.updatedAt, u.windowsScored])).toEqual([
      ["a", 11, 7],
      ["c", 30, 0],
    ]);
    expect(await watcher.changed()).toEqual([]);
  });
});
