import { redisKeys } from "@floodwatch/core";
import { closeRedis, connectRedis, startRedisServer, type RedisServer } from "@floodwatch/platform";
import type { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createUploadRecord, failUpload, finishUpload } from "./upload-ledger.ts";

describe("upload ledger", () => {
  let server: RedisServer;
  let redis: Redis;
  let prefixes = 0;

  beforeAll(async () => {
    server = await startRedisServer();
    redis = connectRedis(server.url, "ledger-test");
  });
  afterAll(async () => {
    if (redis) await closeRedis(redis);
    await server?.stop();
  });

  /** An upload in state `streaming` with counters as the detectors may have left them. */
  async function uploadWith(counters: Record<string, number>) {
    const keys = redisKeys(`ledger-${++prefixes}`);
    await createUploadRecord(redis, keys, {
      uploadId: "u_test",
      name: "t.csv",
      createdAt: 1_000,
      labelled: true,
      modelVersion: "abc",
      window: { size: 50, stride: 50 },
    });
    if (Object.keys(counters).length > 0) await redis.hset(keys.upload("u_test"), counters);
    return keys;
  }

  const finish = {
    rowsAccepted: 300,
    rowsRejected: 2,
    rowsRejectedDelta: 2,
    rejected: [{ line: 7, reason: "ragged row: 3 fields, the header has 85" }],
    tailFlows: 50,
    updatedAt: 2_000,
  };

  it("finishes as done when every queued window is scored or dead-lettered", async () => {
    const keys = await uploadWith({ windowsQueued: 5, windowsScored: 3, windowsDeadLettered: 2 });
    expect(await finishUpload(redis, keys, "u_test", finish)).toBe("done");
    expect(await redis.hgetall(keys.upload("u_test"))).toMatchObject({
      state: "done",
      ingestDone: "1",
      rowsAccepted: "300",
      rowsRejected: "2",
      tailFlows: "50",
      rejected: JSON.stringify(finish.rejected),
      updatedAt: "2000",
    });
    expect(await redis.hget(keys.counters, "rowsRejected")).toBe("2");
  });

  it("finishes as scoring while windows are still waiting for the detectors", async () => {
    const keys = await uploadWith({ windowsQueued: 5, windowsScored: 3 });
    expect(await finishUpload(redis, keys, "u_test", finish)).toBe("scoring");
    expect(await redis.hmget(keys.upload("u_test"), "state", "ingestDone")).toEqual([
      "scoring",
      "1",
    ]);
  });

  it("finishes an upload without windows as done", async () => {
    const keys = await uploadWith({});
    expect(await finishUpload(redis, keys, "u_test", { ...finish, rowsRejectedDelta: 0 })).toBe(
      "done",
    );
    expect(await redis.hget(keys.counters, "rowsRejected")).toBeNull();
  });

  it("records creation in the uploads index and the counters", async () => {
    const keys = await uploadWith({});
    expect(await redis.zrange(keys.uploads, 0, -1, "WITHSCORES")).toEqual(["u_test", "1000"]);
    expect(await redis.hget(keys.counters, "uploads")).toBe("1");
    expect(await redis.hgetall(keys.upload("u_test"))).toMatchObject({
      state: "streaming",
      labelled: "1",
      modelVersion: "abc",
      windowSize: "50",
      windowStride: "50",
      ingestDone: "0",
    });
  });

  it("fails an upload with its reason, leaving ingestDone at 0", async () => {
    const keys = await uploadWith({ windowsQueued: 4 });
    await failUpload(redis, keys, "u_test", "client disconnected after 99 rows", {
      ...finish,
      tailFlows: 49,
    });
    expect(await redis.hgetall(keys.upload("u_test"))).toMatchObject({
      state: "failed",
      error: "client disconnected after 99 rows",
      ingestDone: "0",
      tailFlows: "49",
      windowsQueued: "4",
    });
  });
});
