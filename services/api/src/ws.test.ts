import { readFile } from "node:fs/promises";
import {
  modelSummaryOf,
  modelVersionOf,
  parseModel,
  serverMessageSchema,
  type RedisKeys,
  type ServerMessage,
  type TrainingJobStatus,
  type WindowResult,
} from "@floodwatch/core";
import {
  activateModel,
  closeRedis,
  defaultModelPath,
  ensureActiveModel,
  publishModel,
  startRedisServer,
  type RedisServer,
  overwriteUploadFields,
} from "@floodwatch/platform";
import type { FastifyInstance } from "fastify";
import type { Redis } from "ioredis";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { WebSocket } from "ws";
import { buildApiApp } from "./app.ts";
import {
  addResults,
  quietLogger,
  seedUpload,
  testConfig,
  testPrefix,
  testRedis,
  windowRun,
} from "./api-test-kit.ts";

const DASHBOARD = "http://localhost:3000";

let server: RedisServer;
let redis: Redis;
const openApps: FastifyInstance[] = [];
const openClients: WebSocket[] = [];

beforeAll(async () => {
  server = await startRedisServer();
  redis = testRedis(server.url);
});

afterEach(async () => {
  for (const client of openClients.splice(0)) {
    // Terminating a refused (still connecting) socket reports an error nobody needs.
    client.on("error", () => undefined);
    client.terminate();
  }
  for (const app of openApps.splice(0)) await app.close();
});

afterAll(async () => {
  await closeRedis(redis);
  await server.stop();
});

/** A WebSocket client that validates and keeps every message it receives. */
class FeedClient {
  readonly messages: ServerMessage[] = [];
  private readonly waiters = new Set<() => void>();

  constructor(readonly socket: WebSocket) {
    socket.on("message", (data: Buffer) => {
      this.messages.push(serverMessageSchema.parse(JSON.parse(data.toString("utf8"))));
      for (const waiter of this.waiters) waiter();
    });
  }

  static async open(url: string, origin: string | undefined = DASHBOARD): Promise<FeedClient> {
    const socket = new WebSocket(url, origin === undefined ? {} : { origin });
    openClients.push(socket);
    const client = new FeedClient(socket);
    await new Promise<void>((resolve, reject) => {
      socket.once("open", () => resolve());
      socket.once("error", reject);
    });
    return client;
  }

  of<T extends ServerMessage["type"]>(type: T): Extract<ServerMessage, { type: T }>[] {
    return this.messages.filter((m): m is Extract<ServerMessage, { type: T }> => m.type === type);
  }

  /** Every window received in `window` messages, in order. */
  windows(): WindowResult[] {
    return this.of("window").flatMap((m) => m.windows);
  }

  /** Resolves once `condition` holds for the messages received; fails after `ms`. */
  until(condition: () => boolean, what: string, ms = 15_000): Promise<void> {
    if (condition()) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const check = () => {
        if (!condition()) return;
        clearTimeout(timer);
        this.waiters.delete(check);
        resolve();
      };
      const timer = setTimeout(() => {
        this.waiters.delete(check);
        reject(new Error(`timed out waiting for ${what}; got ${this.messages.length} messages`));
      }, ms);
      this.waiters.add(check);
    });
  }
}

async function liveApp(name: string, env: Record<string, string> = {}) {
  const { config, keys } = testConfig(server.url, testPrefix(name), env);
  await ensureActiveModel(redis, keys);
  return { config, keys };
}

async function listen(config: ReturnType<typeof testConfig>["config"]) {
  const app = await buildApiApp({
    config,
    redis,
    logger: quietLogger,
    timing: { tickMs: 150, flushMs: 20 },
  });
  openApps.push(app);
  await app.listen({ port: 0, host: "127.0.0.1" });
  const address = app.server.address();
  const port = typeof address === "object" && address ? address.port : 0;
  return { app, url: `ws://127.0.0.1:${port}/ws`, port };
}

const ids = (windows: WindowResult[]) => windows.map((w) => `${w.uploadId}#${w.window}`);

async function addRun(keys: RedisKeys, uploadId: string, first: number, count: number) {
  const windows = windowRun(uploadId, first, count);
  await addResults(redis, keys, windows);
  return windows;
}

describe("GET /ws", () => {
  it("sends history and a summary on connect, then every later window once, in order, to every client", async () => {
    const { config, keys } = await liveApp("feed", { API_WS_HISTORY_WINDOWS: "25" });
    const before: WindowResult[] = [];
    for (let e = 0; e < 3; e++) before.push(...(await addRun(keys, "hist", e * 10, 10)));
    const { url } = await listen(config);

    const a = await FeedClient.open(url);
    const b = await FeedClient.open(url);
    for (const client of [a, b]) {
      await client.until(() => client.of("history").length === 1, "history");
      await client.until(() => client.of("summary").length >= 1, "summary");
      expect(ids(client.of("history")[0]!.windows)).toEqual(ids(before.slice(-25)));
    }

    // 40 entries of two uploads, in bursts, some larger than one batch.
    const sent: WindowResult[] = [];
    for (let e = 0; e < 40; e++) {
      const uploadId = e % 2 === 0 ? "even" : "odd";
      const count = e % 10 === 9 ? 600 : 20;
      sent.push(...(await addRun(keys, uploadId, e * 1_000, count)));
      if (e % 10 === 0) await new Promise((r) => setTimeout(r, 30));
    }
    for (const client of [a, b]) {
      await client.until(() => client.windows().length >= sent.length, "every window");
      // Two more ticks: a duplicate or a straggler would have arrived by then.
      const summaries = client.of("summary").length;
      await client.until(() => client.of("summary").length >= summaries + 2, "two more summaries");
      expect(client.windows()).toEqual(sent);
      expect(Math.max(...client.of("window").map((m) => m.windows.length))).toBeLessThanOrEqual(
        500,
      );
    }

    // A client arriving later gets the newest windows as history, seamless with the feed.
    const c = await FeedClient.open(url);
    await c.until(() => c.of("history").length === 1, "late history");
    expect(ids(c.of("history")[0]!.windows)).toEqual(ids(sent.slice(-25)));
    const more = await addRun(keys, "even", 99_000, 3);
    await c.until(() => c.windows().length >= 3, "windows after the late history");
    expect(ids(c.windows())).toEqual(ids(more));
  });

  it("ticks a summary of the current counters", async () => {
    const { config, keys } = await liveApp("tick");
    const { url } = await listen(config);
    const client = await FeedClient.open(url);
    await client.until(() => client.of("summary").length >= 1, "first summary");
    await redis.hset(keys.counters, { windowsScored: 42, anomalies: 5, flowsScored: 2_100 });
    await client.until(
      () => client.of("summary").some((m) => m.summary.windowsScored === 42),
      "a summary with the new counters",
    );
    const latest = client.of("summary").at(-1)!.summary;
    expect(latest).toMatchObject({ windowsScored: 42, anomalies: 5, flowsScored: 2_100 });
  });

  it("sends an upload message when an upload is created or updated", async () => {
    const { config, keys } = await liveApp("upload");
    const { url } = await listen(config);
    const client = await FeedClient.open(url);
    await client.until(() => client.of("summary").length >= 2, "two ticks");
    await seedUpload(redis, keys, { id: "live-1", createdAt: 1_000, updatedAt: 1_000 });
    await client.until(() => client.of("upload").length === 1, "the new upload");
    await overwriteUploadFields(redis, keys, "live-1", {
      updatedAt: 2_000,
      windowsScored: 10,
      state: "done",
    });
    await client.until(() => client.of("upload").length === 2, "the updated upload");
    expect(
      client.of("upload").map((m) => [m.upload.uploadId, m.upload.state, m.upload.windowsScored]),
    ).toEqual([
      ["live-1", "scoring", 0],
      ["live-1", "done", 10],
    ]);
  });

  it("carries the count of unreadable timestamps in upload messages", async () => {
    const { config, keys } = await liveApp("upload-times");
    const { url } = await listen(config);
    const client = await FeedClient.open(url);
    await client.until(() => client.of("summary").length >= 2, "two ticks");
    await seedUpload(redis, keys, { id: "late", createdAt: 1_000, updatedAt: 1_000 });
    await client.until(() => client.of("upload").length === 1, "the new upload");
    await overwriteUploadFields(redis, keys, "late", { updatedAt: 2_000, timestampsUnparsed: 12 });
    await client.until(() => client.of("upload").length === 2, "the updated upload");
    expect(client.of("upload").map((m) => m.upload.timestampsUnparsed)).toEqual([undefined, 12]);
  });

  it("announces a newly activated model", async () => {
    const { config, keys } = await liveApp("model");
    const { url } = await listen(config);
    const client = await FeedClient.open(url);
    await client.until(() => client.of("summary").length >= 1, "first summary");

    const base = parseModel(await readFile(defaultModelPath(), "utf8"));
    const body = { ...base, threshold: { ...base.threshold, value: base.threshold.value - 0.01 } };
    const stricter = { ...body, version: modelVersionOf(body) };
    await publishModel(redis, keys, stricter, { activate: false });
    await activateModel(redis, keys, stricter.version);

    await client.until(() => client.of("model").length === 1, "the model message");
    expect(client.of("model")[0]!.model).toEqual(modelSummaryOf(stricter));
    await client.until(
      () => client.of("summary").at(-1)!.summary.model?.version === stricter.version,
      "a summary with the new model",
    );
    expect(client.of("summary").at(-1)!.summary.threshold).toBe(stricter.threshold.value);
  });

  it("relays valid training events and drops invalid ones", async () => {
    const { config, keys } = await liveApp("training");
    const { url } = await listen(config);
    const client = await FeedClient.open(url);
    await client.until(() => client.of("history").length === 1, "history");
    const job: TrainingJobStatus = {
      jobId: "17",
      state: "active",
      progress: { stage: "forest", rowsRead: 20_000, windows: 396, treesGrown: 40, trees: 100 },
    };
    await redis.publish(keys.trainingChannel, "{not json");
    await redis.publish(keys.trainingChannel, JSON.stringify({ jobId: "18", state: "exploded" }));
    await redis.publish(keys.trainingChannel, JSON.stringify(job));
    await client.until(() => client.of("training").length === 1, "the training event");
    expect(client.of("training")[0]!.job).toEqual(job);
  });

  it("refuses a foreign Origin with 403 and accepts the dashboard's and none", async () => {
    const { config } = await liveApp("origin", {
      DASHBOARD_ORIGIN: "http://localhost:3000, https://dash.example.org",
    });
    const { url, port } = await listen(config);

    const refused = new WebSocket(url, { origin: "https://evil.example.com" });
    openClients.push(refused);
    const status = await new Promise<number>((resolve, reject) => {
      refused.once("unexpected-response", (_request, response) =>
        resolve(response.statusCode ?? 0),
      );
      refused.once("open", () => reject(new Error("a foreign origin was let in")));
    });
    expect(status).toBe(403);

    for (const origin of ["https://dash.example.org", undefined]) {
      const client = await FeedClient.open(url, origin);
      await client.until(() => client.of("history").length === 1, `history for ${origin}`);
    }

    const elsewhere = new WebSocket(`ws://127.0.0.1:${port}/not-ws`, { origin: DASHBOARD });
    openClients.push(elsewhere);
    const wrongPath = await new Promise<number>((resolve, reject) => {
      elsewhere.once("unexpected-response", (_request, response) =>
        resolve(response.statusCode ?? 0),
      );
      elsewhere.once("open", () => reject(new Error("upgraded on another path")));
    });
    expect(wrongPath).toBe(404);
  });

  it("asks for the token on the live feed and on reads when reads are protected", async () => {
    const token = "s3cret-token-0123456789";
    const { config } = await liveApp("token", {
      FLOODWATCH_API_TOKEN: token,
      FLOODWATCH_PROTECT_READS: "true",
    });
    const { app, url } = await listen(config);

    const anonymous = new WebSocket(url, ["floodwatch"], { origin: DASHBOARD });
    openClients.push(anonymous);
    const status = await new Promise<number>((resolve, reject) => {
      anonymous.once("unexpected-response", (_request, response) =>
        resolve(response.statusCode ?? 0),
      );
      anonymous.once("open", () => reject(new Error("opened without the token")));
    });
    expect(status).toBe(401);

    const socket = new WebSocket(url, ["floodwatch", `bearer.${token}`], { origin: DASHBOARD });
    openClients.push(socket);
    const client = new FeedClient(socket);
    await new Promise<void>((resolve, reject) => {
      socket.once("open", () => resolve());
      socket.once("error", reject);
    });
    // The server picks "floodwatch" and never echoes the token back.
    expect(socket.protocol).toBe("floodwatch");
    await client.until(() => client.of("history").length === 1, "history with the token");

    expect((await app.inject("/api/summary")).statusCode).toBe(401);
    expect((await app.inject("/api/summary?x=1")).headers["www-authenticate"]).toMatch(/Bearer/);
    const wrong = await app.inject({
      url: "/api/summary",
      headers: { authorization: "Bearer not-the-token-at-all" },
    });
    expect(wrong.statusCode).toBe(401);
    const right = await app.inject({
      url: "/api/summary",
      headers: { authorization: `Bearer ${token}` },
    });
    expect(right.statusCode).toBe(200);
    expect((await app.inject("/health")).statusCode).toBe(200);
  });

  it("answers a plain GET /ws with 426", async () => {
    const { config } = await liveApp("plain");
    const app = await buildApiApp({ config, redis, logger: quietLogger });
    openApps.push(app);
    const response = await app.inject("/ws");
    expect(response.statusCode).toBe(426);
    expect(response.json()).toEqual({
      error: "upgrade_required",
      message: "GET /ws expects a WebSocket upgrade",
    });
  });
});
