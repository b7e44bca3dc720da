import { DETECTOR_GROUP, redisKeys } from "@floodwatch/core";
import { closeRedis, connectRedis } from "../redis-connection.ts";
import { startRedisServer, type RedisServer } from "../redis-server.ts";
import type { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { backlog, ensureDetectorGroup } from "./detector-group.ts";

describe("flows stream", () => {
  let server: RedisServer;
  let redis: Redis;
  let prefixes = 0;

  beforeAll(async () => {
    server = await startRedisServer();
    redis = connectRedis(server.url, "flows-stream-test");
  });
  afterAll(async () => {
    if (redis) await closeRedis(redis);
    await server?.stop();
  });

  it("creates the detectors' group from the first entry, once", async () => {
    const keys = redisKeys(`flows-${++prefixes}`);
    await redis.xadd(keys.flows, "*", "meta", "{}");
    await ensureDetectorGroup(redis, keys);
    await ensureDetectorGroup(redis, keys);
    const groups = (await redis.xinfo("GROUPS", keys.flows)) as unknown[][];
    expect(groups.length).toBe(1);
    // Created at id 0: the entry added before the group is still delivered.
    const delivered = await redis.xreadgroup(
      "GROUP",
      DETECTOR_GROUP,
      "c",
      "STREAMS",
      keys.flows,
      ">",
    );
    expect((delivered as [string, unknown[]][])[0]![1].length).toBe(1);
  });

  it("counts the backlog as lag plus pending", async () => {
    const keys = redisKeys(`flows-${++prefixes}`);
    await ensureDetectorGroup(redis, keys);
    for (let i = 0; i < 3; i++) await redis.xadd(keys.flows, "*", "meta", String(i));
    expect(await backlog(redis, keys)).toBe(3);
    const reply = (await redis.xreadgroup(
      "GROUP",
      DETECTOR_GROUP,
      "c",
      "COUNT",
      2,
      "STREAMS",
      keys.flows,
      ">",
    )) as [string, [string, string[]][]][];
    expect(await backlog(redis, keys)).toBe(3); // 1 undelivered + 2 pending
    await redis.xack(keys.flows, DETECTOR_GROUP, reply[0]![1][0]![0]);
    expect(await backlog(redis, keys)).toBe(2);
  });

  it("counts undelivered entries itself when Redis cannot tell the lag", async () => {
    const keys = redisKeys(`flows-${++prefixes}`);
    await ensureDetectorGroup(redis, keys);
    const ids: string[] = [];
    for (let i = 0; i < 4; i++) ids.push((await redis.xadd(keys.flows, "*", "meta", String(i)))!);
    // Deleting an undelivered entry leaves the lag unknown (null) to Redis.
    await redis.xdel(keys.flows, ids[1]!);
    const groups = (await redis.xinfo("GROUPS", keys.flows)) as unknown[][];
    expect(groups[0]![groups[0]!.indexOf("lag") + 1]).toBeNull();
    expect(await backlog(redis, keys)).toBe(3);
  });

  it("counts 0 without the group, and the group is created again when the stream was deleted", async () => {
    const keys = redisKeys(`flows-${++prefixes}`);
    await ensureDetectorGroup(redis, keys);
    await redis.del(keys.flows);
    expect(await backlog(redis, keys)).toBe(0);
    // Ingest ensures the group before every upload's first entry, the detectors at start.
    expect(await ensureDetectorGroup(redis, keys)).toBe(true);
    expect(((await redis.xinfo("GROUPS", keys.flows)) as unknown[][]).length).toBe(1);
  });
});
