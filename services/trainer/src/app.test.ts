/**
 * The trainer's /health and /metrics through app.inject(), with a real worker on a real Redis.
 */
import { startRedisServer, type RedisServer } from "@floodwatch/platform";
import { createLogger } from "@floodwatch/platform";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildTrainerApp } from "./app.ts";
import { generatedCsv, openTrainerTestBed, type TrainerTestBed } from "./trainer-test-support.ts";

let server: RedisServer;
let bed: TrainerTestBed;

beforeAll(async () => {
  server = await startRedisServer();
  bed = await openTrainerTestBed(server.url, "trainer-app");
});
afterAll(async () => {
  await bed.close();
  await server.stop();
});

describe("trainer app", () => {
  it("is healthy while its worker runs, counts jobs in /metrics, and unhealthy once closed", async () => {
    const { worker, metrics } = bed.startWorker(1);
    const app = buildTrainerApp({
      redis: bed.redis,
      worker,
      metrics,
      logger: createLogger("trainer-app-test", "silent"),
      concurrency: 1,
    });
    await worker.waitUntilReady();

    const health = await app.inject({ method: "GET", url: "/health" });
    expect(health.statusCode).toBe(200);
    expect(health.json()).toEqual({
      status: "ok",
      redis: "ok",
      worker: "running",
      concurrency: 1,
      activeJobs: 0,
    });

    const ok = await bed.submit(generatedCsv(3000, 4), { trees: 20 });
    const bad = await bed.submit(generatedCsv(100, 4));
    await bed.finished(ok);
    await bed.finished(bad);
    const exposition = await app.inject({ method: "GET", url: "/metrics" });
    expect(exposition.statusCode).toBe(200);
    expect(exposition.headers["content-type"]).toMatch(/^text\/plain/);
    expect(exposition.body).toContain('floodwatch_training_jobs_total{outcome="completed"} 1');
    expect(exposition.body).toContain('floodwatch_training_jobs_total{outcome="failed"} 1');
    expect(exposition.body).toContain("floodwatch_training_jobs_active 0");
    expect(exposition.body).toContain("process_cpu_user_seconds_total");

    await worker.close();
    const closed = await app.inject({ method: "GET", url: "/health" });
    expect(closed.statusCode).toBe(503);
    expect(closed.json()).toMatchObject({ status: "unavailable", worker: "stopped" });
    await app.close();
  });
});
