import { startRedisServer, type RedisServer } from "@floodwatch/platform";
import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { flowCsv, startIngest, type IngestHarness } from "./test-fixtures.ts";

describe("ingest when Redis goes away", () => {
  let server: RedisServer;
  let h: IngestHarness;

  beforeAll(async () => {
    server = await startRedisServer();
    h = await startIngest(server.url, {
      INGEST_REDIS_TIMEOUT_MS: "300",
      INGEST_ENTRY_FLOWS: "500",
      INGEST_MAX_BACKLOG_ENTRIES: "1",
    });
  });
  afterAll(async () => {
    await h?.close();
    await server?.stop();
  });

  it("fails an upload with 503 and the reason instead of hanging", async () => {
    // The upload queues one entry, then waits on the backlog (no detector runs) ...
    const pending = h.app.inject({
      method: "POST",
      url: "/api/uploads",
      headers: { "content-type": "text/csv" },
      payload: flowCsv({ flows: 3_000, seed: 31 }),
    });
    for (let i = 0; i < 500 && (await h.redis.xlen(h.keys.flows)) < 1; i++) await sleep(20);
    expect(await h.redis.xlen(h.keys.flows)).toBe(1);
    // ... when Redis dies.
    await server.kill();

    const response = await pending;
    expect(response.statusCode).toBe(503);
    expect(response.json()).toEqual({
      error: "redis_unavailable",
      message: "Redis did not answer within 300 ms (reading the detectors' backlog)",
    });

    const next = await h.app.inject({
      method: "POST",
      url: "/api/uploads",
      headers: { "content-type": "text/csv" },
      payload: flowCsv({ flows: 100 }),
    });
    expect(next.statusCode).toBe(503);
    expect(next.json()).toEqual({
      error: "redis_unavailable",
      message: "Redis did not answer within 300 ms (reading the active model version)",
    });

    const health = await h.app.inject({ method: "GET", url: "/health" });
    expect(health.statusCode).toBe(503);
    expect(health.json()).toMatchObject({ status: "unavailable", redis: "down" });
  });
});
