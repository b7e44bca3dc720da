import {
  errorBodySchema,
  incidentTrackerOptions,
  muteSchema,
  serverMessageSchema,
  trackIncidents,
  type Incident,
  type ServerMessage,
} from "@floodwatch/core";
import {
  closeRedis,
  ensureActiveModel,
  startRedisServer,
  type RedisServer,
} from "@floodwatch/platform";
import type { FastifyInstance } from "fastify";
import type { Redis } from "ioredis";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { WebSocket } from "ws";
import { buildApiApp } from "../app.ts";
import { quietLogger, testConfig, testPrefix, testRedis } from "../test-fixtures.ts";

const TOKEN = "s3cret-token-0123456789";
const NOW = 1_800_000_000_000;
let server: RedisServer;
let redis: Redis;
const apps: FastifyInstance[] = [];
const sockets: WebSocket[] = [];

beforeAll(async () => {
  server = await startRedisServer();
  redis = testRedis(server.url);
});
afterEach(async () => {
  for (const s of sockets.splice(0)) s.terminate();
  for (const app of apps.splice(0)) await app.close();
});
afterAll(async () => {
  await closeRedis(redis);
  await server.stop();
});

async function incidentsApp(name: string, env: Record<string, string> = {}) {
  const { config, keys } = testConfig(server.url, testPrefix(name), env);
  const app = await buildApiApp({ config, redis, logger: quietLogger, clock: () => NOW });
  apps.push(app);
  return { app, keys };
}

describe("mutes", () => {
  it("adds, lists and removes mutes behind the token; bad ones are refused with the reason", async () => {
    const { app } = await incidentsApp("mutes", { FLOODWATCH_API_TOKEN: TOKEN });
    const auth = { authorization: `Bearer ${TOKEN}` };
    const body = { cidr: "192.168.10.0/24", port: 80, until: NOW + 60_000, reason: "load test" };

    const anonymous = await app.inject({ method: "POST", url: "/api/mutes", payload: body });
    expect(anonymous.statusCode).toBe(401);

    const created = await app.inject({
      method: "POST",
      url: "/api/mutes",
      payload: body,
      headers: auth,
    });
    expect(created.statusCode).toBe(201);
    const mute = muteSchema.parse(created.json());
    expect(mute).toMatchObject({
      cidr: "192.168.10.0/24",
      port: 80,
      until: NOW + 60_000,
      createdAt: NOW,
    });

    const v6 = await app.inject({
      method: "POST",
      url: "/api/mutes",
      payload: { cidr: "2001:db8::/32", until: new Date(NOW + 1_000).toISOString(), reason: "v6" },
      headers: auth,
    });
    expect(v6.statusCode).toBe(201);
    expect(v6.json()).toMatchObject({ port: null, until: NOW + 1_000 });

    for (const [bad, message] of [
      [{ ...body, cidr: "192.168.10.0/40" }, "cidr: prefix length must be 0-32"],
      [{ ...body, until: NOW - 1 }, "until: must be in the future"],
      [{ ...body, reason: undefined }, "reason:"],
    ] as const) {
      const answer = await app.inject({
        method: "POST",
        url: "/api/mutes",
        payload: bad,
        headers: auth,
      });
      expect(answer.statusCode).toBe(400);
      expect(errorBodySchema.parse(answer.json()).message).toContain(message);
    }

    const listed = await app.inject("/api/mutes");
    expect(
      listed
        .json()
        .map((m: { cidr: string }) => m.cidr)
        .sort(),
    ).toEqual(["192.168.10.0/24", "2001:db8::/32"]);

    expect((await app.inject({ method: "DELETE", url: `/api/mutes/${mute.id}` })).statusCode).toBe(
      401,
    );
    expect(
      (await app.inject({ method: "DELETE", url: `/api/mutes/${mute.id}`, headers: auth }))
        .statusCode,
    ).toBe(204);
    expect(
      (await app.inject({ method: "DELETE", url: `/api/mutes/${mute.id}`, headers: auth }))
        .statusCode,
    ).toBe(404);
    expect((await app.inject("/api/mutes")).json()).toHaveLength(1);
  });

  it("stops listing a mute once it expires", async () => {
    const { app, keys } = await incidentsApp("expiry");
    await redis.hset(
      keys.incidents.mutes,
      "old",
      JSON.stringify({
        id: "old",
        cidr: "10.0.0.0/8",
        port: null,
        until: NOW,
        reason: "r",
        createdAt: 0,
      }),
    );
    expect((await app.inject("/api/mutes")).json()).toEqual([]);
    expect(await redis.hexists(keys.incidents.mutes, "old")).toBe(0);
  });
});

describe("incidents", () => {
  it("answers 404 for an unknown incident and an empty list before any", async () => {
    const { app } = await incidentsApp("empty");
    expect((await app.inject("/api/incidents")).json()).toEqual([]);
    const missing = await app.inject("/api/incidents/nope-1");
    expect(missing.statusCode).toBe(404);
    expect(missing.json()).toMatchObject({ error: "UnknownIncident" });
    expect((await app.inject("/api/incidents?state=maybe")).statusCode).toBe(400);
  });

  it("relays incident events to WebSocket clients", async () => {
    const { app, keys } = await incidentsApp("ws");
    await ensureActiveModel(redis, keys);
    await app.listen({ port: 0, host: "127.0.0.1" });
    const address = app.server.address();
    const port = typeof address === "object" && address ? address.port : 0;
    const socket = new WebSocket(`ws://127.0.0.1:${port}/ws`);
    sockets.push(socket);
    const messages: ServerMessage[] = [];
    const arrived = new Promise<void>((resolve) =>
      socket.on("message", (data: Buffer) => {
        const message = serverMessageSchema.parse(JSON.parse(data.toString("utf8")));
        messages.push(message);
        if (message.type === "incident") resolve();
      }),
    );
    await new Promise((resolve) => socket.once("open", resolve));
    const [incident] = trackIncidents(
      "u1",
      [{ window: 0, score: -0.2, anomaly: true, modelVersion: "m" }],
      incidentTrackerOptions({ size: 50, stride: 50 }),
    ) as [Incident];
    // As the incidents service appends it.
    await redis.xadd(
      keys.incidents.events,
      "*",
      "event",
      JSON.stringify({ event: "incident.closed", incident }),
    );
    await arrived;
    expect(messages.filter((m) => m.type === "incident")).toEqual([
      { type: "incident", event: "incident.closed", incident },
    ]);
  });
});
