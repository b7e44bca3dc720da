import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Redis } from "ioredis";
import { closeRedis, connectRedis } from "./redis-connection.ts";
import { RedisScript } from "./redis-script.ts";
import { startRedisServer, type RedisServer } from "./redis-server.ts";

let server: RedisServer;
let redis: Redis;

beforeAll(async () => {
  server = await startRedisServer();
  redis = connectRedis(server.url, "script-test");
});
afterAll(async () => {
  await closeRedis(redis);
  await server.stop();
});

describe("RedisScript", () => {
  it("loads itself on first use and after the script cache is flushed", async () => {
    const script = new RedisScript("return redis.call('INCRBY', KEYS[1], ARGV[1])");
    expect(await redis.script("EXISTS", script.sha)).toEqual([0]);
    expect(await script.run(redis, ["n"], [2])).toBe(2);
    expect(await redis.script("EXISTS", script.sha)).toEqual([1]);
    expect(await script.run(redis, ["n"], [3])).toBe(5);
    await redis.script("FLUSH");
    expect(await script.run(redis, ["n"], [4])).toBe(9);
  });

  it("passes errors of the script itself through", async () => {
    const script = new RedisScript("return redis.error_reply('refused: ' .. ARGV[1])");
    await expect(script.run(redis, [], ["why"])).rejects.toThrow("refused: why");
  });
});
