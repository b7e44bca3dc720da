import { FlowEntryBuilder, redisKeys } from "@floodwatch/core";
import { closeRedis, connectRedis } from "../redis-connection.ts";
import { startRedisServer, type RedisServer } from "../redis-server.ts";
import type { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readUploadStatus } from "./upload-record.ts";
import { createUpload, failUpload, finishUpload, queueFlowEntry } from "./upload-steps.ts";

describe("upload steps (ingest's)", () => {
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
    await createUpload(redis, keys, {
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

  it("does nothing when a step is resent after a reconnect (Redis had run it)", async () => {
    const keys = await uploadWith({});
    // ioredis resends a command in flight when the connection dropped; each step runs twice here.
    await createUpload(redis, keys, {
      uploadId: "u_test",
      name: "again.csv",
      createdAt: 9_000,
      labelled: false,
      modelVersion: "zzz",
      window: { size: 50, stride: 50 },
    });
    expect(await redis.hget(keys.counters, "uploads")).toBe("1");
    expect(await redis.hget(keys.upload("u_test"), "name")).toBe("t.csv");

    const builder = new FlowEntryBuilder({
      uploadId: "u_test",
      featureCount: 1,
      window: { size: 50, stride: 50 },
      windowsPerEntry: 2,
      modelVersion: "abc",
      labelled: true,
    });
    const [entry] = builder.push({
      count: 100,
      featureCount: 1,
      values: new Float64Array(100),
      lines: Uint32Array.from({ length: 100 }, (_, i) => i + 2),
      attack: new Uint8Array(100),
    });
    const progress = { rowsAccepted: 100, rowsRejected: 0, rowsRejectedDelta: 0, updatedAt: 1_500 };
    expect(await queueFlowEntry(redis, keys, entry!, progress)).toMatch(/^\d+-\d+$/);
    expect(await queueFlowEntry(redis, keys, entry!, progress)).toBeNull();
    expect(await redis.xlen(keys.flows)).toBe(1);
    expect(await redis.hgetall(keys.upload("u_test"))).toMatchObject({
      entriesQueued: "1",
      windowsQueued: "2",
      flowsQueued: "100",
    });
    expect(await redis.hget(keys.counters, "flowsIngested")).toBe("100");

    const end = { ...finish, rowsRejectedDelta: 2 };
    expect(await finishUpload(redis, keys, "u_test", end)).toBe("scoring");
    expect(await finishUpload(redis, keys, "u_test", end)).toBe("scoring");
    expect(await redis.hget(keys.counters, "rowsRejected")).toBe("2");
  });

  it("counts a failed upload's rejected rows once when the step is resent", async () => {
    const keys = await uploadWith({});
    const progress = { ...finish, rowsRejectedDelta: 3 };
    await failUpload(redis, keys, "u_test", "client disconnected after 300 rows", progress);
    await failUpload(redis, keys, "u_test", "client disconnected after 300 rows", progress);
    expect(await redis.hget(keys.counters, "rowsRejected")).toBe("3");
    expect(await redis.hget(keys.upload("u_test"), "state")).toBe("failed");
  });

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

  it("carries the count of unparsed timestamps from each queue step to the end, as the status reports it", async () => {
    const keys = await uploadWith({});
    expect((await readUploadStatus(redis, keys, "u_test"))!.timestampsUnparsed).toBeUndefined();
    const builder = new FlowEntryBuilder({
      uploadId: "u_test",
      featureCount: 1,
      window: { size: 50, stride: 50 },
      windowsPerEntry: 1,
      modelVersion: "abc",
      labelled: false,
    });
    const entries = builder.push({
      count: 100,
      featureCount: 1,
      values: new Float64Array(100),
      lines: Uint32Array.from({ length: 100 }, (_, i) => i + 2),
      attack: new Uint8Array(100),
    });
    const progress = { rowsAccepted: 100, rowsRejected: 0, rowsRejectedDelta: 0, updatedAt: 1 };
    await queueFlowEntry(redis, keys, entries[0]!, { ...progress, timestampsUnparsed: 4 });
    expect(await redis.hget(keys.upload("u_test"), "timestampsUnparsed")).toBe("4");
    expect((await readUploadStatus(redis, keys, "u_test"))!.timestampsUnparsed).toBe(4);
    await queueFlowEntry(redis, keys, entries[1]!, { ...progress, timestampsUnparsed: 12 });
    await finishUpload(redis, keys, "u_test", { ...finish, timestampsUnparsed: 13 });
    const status = await readUploadStatus(redis, keys, "u_test");
    expect(status).toMatchObject({ state: "scoring", timestampsUnparsed: 13 });

    const failed = await uploadWith({});
    await failUpload(redis, failed, "u_test", "client went away", {
      ...finish,
      timestampsUnparsed: 2,
    });
    expect((await readUploadStatus(redis, failed, "u_test"))!.timestampsUnparsed).toBe(2);
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
