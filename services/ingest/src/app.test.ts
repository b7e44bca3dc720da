import { loadActiveModel, startRedisServer, type RedisServer } from "@floodwatch/platform";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { flowCsv, startIngest, type IngestHarness } from "./test-fixtures.ts";

/** The value of an unlabelled or labelled sample in Prometheus text, or undefined. */
function sample(metrics: string, name: string): number | undefined {
  const line = metrics.split("\n").find((l) => l.startsWith(`${name} `));
  return line === undefined ? undefined : Number(line.slice(name.length + 1));
}

describe("ingest app", () => {
  let server: RedisServer;
  let h: IngestHarness | undefined;

  beforeAll(async () => {
    server = await startRedisServer();
  });
  afterEach(async () => {
    await h?.close();
    h = undefined;
  });
  afterAll(async () => {
    await server?.stop();
  });

  it("is healthy with Redis up and a model active", async () => {
    h = await startIngest(server.url);
    const model = (await loadActiveModel(h.redis, h.keys))!;
    const response = await h.app.inject({ method: "GET", url: "/health" });
    expect(response.statusCode).toBe(200);
    expect(response.json()).toEqual({
      status: "ok",
      redis: "up",
      model: model.version,
      window: model.window,
      uploadsInFlight: 0,
    });
  });

  it("is unavailable without an active model", async () => {
    h = await startIngest(server.url, {}, { activateDefaultModel: false });
    const response = await h.app.inject({ method: "GET", url: "/health" });
    expect(response.statusCode).toBe(503);
    expect(response.json()).toEqual({
      status: "unavailable",
      redis: "up",
      model: null,
      reason: "no model is active yet: publish or activate a model, then retry",
    });
  });

  it("counts uploads, flows, rejected rows, bytes and the backlog in its metrics", async () => {
    h = await startIngest(server.url);
    const csv = `${flowCsv({ flows: 500, seed: 4 })}1,2,3\n`;
    expect(
      (
        await h.app.inject({
          method: "POST",
          url: "/api/uploads",
          headers: { "content-type": "text/csv" },
          payload: csv,
        })
      ).statusCode,
    ).toBe(201);
    expect(
      (
        await h.app.inject({
          method: "POST",
          url: "/api/uploads",
          headers: { "content-type": "text/csv" },
          payload: "a,b\n1,2\n",
        })
      ).statusCode,
    ).toBe(422);
    expect(
      (
        await h.app.inject({
          method: "POST",
          url: "/api/uploads",
          headers: { "content-type": "application/json" },
          payload: "{}",
        })
      ).statusCode,
    ).toBe(415);

    const response = await h.app.inject({ method: "GET", url: "/metrics" });
    expect(response.statusCode).toBe(200);
    expect(response.headers["content-type"]).toMatch(/^text\/plain/);
    const text = response.body;
    expect(sample(text, "floodwatch_flows_ingested_total")).toBe(500);
    expect(sample(text, "floodwatch_rows_rejected_total")).toBe(1);
    expect(sample(text, 'floodwatch_uploads_total{outcome="accepted"}')).toBe(1);
    expect(sample(text, 'floodwatch_uploads_total{outcome="rejected"}')).toBe(2);
    expect(sample(text, "floodwatch_upload_bytes_total")).toBe(Buffer.byteLength(csv) + 8);
    // One entry (10 windows) waits for detectors that are not running.
    expect(sample(text, "floodwatch_backlog_entries")).toBe(1);
    expect(sample(text, 'floodwatch_upload_duration_seconds_count{outcome="accepted"}')).toBe(1);
    expect(text).toContain("process_cpu_user_seconds_total");
  });

  it("allows the dashboard origin only, and sets security headers", async () => {
    h = await startIngest(server.url, {
      DASHBOARD_ORIGIN: "http://localhost:3000, https://floodwatch.example",
    });
    const preflight = (origin: string) =>
      h!.app.inject({
        method: "OPTIONS",
        url: "/api/uploads",
        headers: { origin, "access-control-request-method": "POST" },
      });
    for (const origin of ["http://localhost:3000", "https://floodwatch.example"]) {
      const allowed = await preflight(origin);
      expect(allowed.statusCode).toBe(204);
      expect(allowed.headers["access-control-allow-origin"]).toBe(origin);
    }
    const other = await preflight("http://elsewhere.example");
    expect(other.headers["access-control-allow-origin"]).toBeUndefined();

    const health = await h.app.inject({ method: "GET", url: "/health" });
    expect(health.headers["x-content-type-options"]).toBe("nosniff");
  });

  it("needs the bearer token for uploads when one is set, with CORS headers on the 401", async () => {
    const token = "ingest-token-0123456789";
    h = await startIngest(server.url, { FLOODWATCH_API_TOKEN: token });
    const csv = flowCsv({ flows: 120 });
    const upload = (headers: Record<string, string>) =>
      h!.app.inject({
        method: "POST",
        url: "/api/uploads",
        headers: { "content-type": "text/csv", origin: "http://localhost:3000", ...headers },
        payload: csv,
      });
    const anonymous = await upload({});
    expect(anonymous.statusCode).toBe(401);
    expect(anonymous.json()).toMatchObject({ error: "unauthorized" });
    expect(anonymous.headers["access-control-allow-origin"]).toBe("http://localhost:3000");
    expect((await upload({ authorization: "Bearer wrong-token-0123456789" })).statusCode).toBe(401);
    expect(await h.redis.exists(h.keys.flows, h.keys.uploads)).toBe(1); // the stream, no upload
    const accepted = await upload({ authorization: `Bearer ${token}` });
    expect(accepted.statusCode).toBe(201);
    // Reads stay open unless FLOODWATCH_PROTECT_READS is set.
    expect((await h.app.inject({ method: "GET", url: "/health" })).statusCode).toBe(200);
  });

  it("limits uploads per client per minute with 429", async () => {
    h = await startIngest(server.url, { UPLOAD_RATE_LIMIT_PER_MINUTE: "2" });
    const csv = flowCsv({ flows: 60 });
    const codes: number[] = [];
    for (let i = 0; i < 3; i++) {
      const response = await h.app.inject({
        method: "POST",
        url: "/api/uploads",
        headers: { "content-type": "text/csv" },
        payload: csv,
      });
      codes.push(response.statusCode);
      if (response.statusCode === 429) {
        expect(response.json()).toMatchObject({ error: "rate_limited" });
        expect(Number(response.headers["retry-after"])).toBeGreaterThan(0);
      }
    }
    expect(codes).toEqual([201, 201, 429]);
  });

  it("answers unknown routes with the error body", async () => {
    h = await startIngest(server.url);
    const response = await h.app.inject({ method: "GET", url: "/api/nothing" });
    expect(response.statusCode).toBe(404);
    expect(response.json()).toEqual({ error: "not_found", message: "no route GET /api/nothing" });
  });
});
