/**
 * The incidents service on a real redis-server: the tracker against the offline tracker under
 * shuffled, batched, redelivered and late results with two replicas; the notifier against a real
 * HTTP receiver (signatures, retries with one delivery id, muted incidents) and a UDP syslog
 * receiver.
 */
import { createHmac } from "node:crypto";
import { createSocket } from "node:dgram";
import { createServer, type Server } from "node:http";
import { createServer as createTcpServer, type AddressInfo } from "node:net";
import {
  INCIDENT_TRACKER_GROUP,
  incidentFacts,
  incidentSchema,
  incidentTrackerOptions,
  redisKeys,
  trackIncidents,
  webhookBodySchema,
  type RedisKeys,
  type WindowResult,
} from "@floodwatch/core";
import {
  closeRedis,
  connectRedis,
  createLogger,
  startRedisServer,
  type RedisServer,
} from "@floodwatch/platform";
import type { Redis } from "ioredis";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { Notifier } from "./notifier.ts";
import { configuredEndpoints } from "./senders.ts";
import { bufferResults } from "./tracker-store.ts";
import { TrackerWorker } from "./tracker-worker.ts";

const logger = createLogger("incidents-test", process.env.TEST_LOG ?? "silent");
const WINDOW = { size: 50, stride: 50 };
let server: RedisServer;
let redis: Redis;
const cleanups: (() => Promise<unknown>)[] = [];
let prefixCount = 0;

beforeAll(async () => {
  server = await startRedisServer();
  redis = connectRedis(server.url, "incidents-test");
});
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});
afterAll(async () => {
  await closeRedis(redis);
  await server.stop();
});

function freshKeys(): RedisKeys {
  return redisKeys(`inc-${process.pid}-${++prefixCount}`);
}

/** A scored window as detectors write it, with the who-fields a victim needs. */
function windowResult(
  uploadId: string,
  index: number,
  anomaly: boolean,
  victim: string,
): WindowResult {
  return {
    uploadId,
    window: index,
    firstLine: index * 50 + 2,
    lastLine: index * 50 + 51,
    score: anomaly ? -0.1 - index / 1000 : 0.05,
    anomaly,
    pc1: 0,
    pc2: 0,
    modelVersion: "m1",
    signals: { packetsPerSecond: null, synCount: null },
    receivedAt: 0,
    scoredAt: 0,
    start: null,
    end: null,
    sources: null,
    explanation: null,
    explanationFeatures: null,
    victims: [{ ip: victim, flows: 50 }],
    ports: [{ port: 80, protocol: 6, flows: 50 }],
  };
}

/** `A` anomalous, `.` normal. */
function uploadWindows(uploadId: string, pattern: string, victim = "192.168.10.50") {
  return [...pattern].map((c, i) => windowResult(uploadId, i, c === "A", victim));
}

/** The upload hash as ingest and the detectors leave it once the upload is over. */
async function markUploadDone(keys: RedisKeys, uploadId: string, windows: number) {
  await redis.hset(keys.upload(uploadId), {
    state: "done",
    ingestDone: "1",
    windowsQueued: windows,
    windowsScored: windows,
    windowsDeadLettered: 0,
    windowSize: WINDOW.size,
    windowStride: WINDOW.stride,
  });
}

async function markUploadScoring(keys: RedisKeys, uploadId: string, windows: number) {
  await redis.hset(keys.upload(uploadId), {
    state: "scoring",
    windowsQueued: windows,
    windowsScored: 0,
    windowSize: WINDOW.size,
    windowStride: WINDOW.stride,
  });
}

/** Adds the windows to the results stream in entries of `per`, entries in a shuffled order. */
async function addResults(keys: RedisKeys, windows: WindowResult[], per: number, seed: number) {
  const entries: WindowResult[][] = [];
  for (let i = 0; i < windows.length; i += per) entries.push(windows.slice(i, i + per));
  let s = seed;
  for (let i = entries.length - 1; i > 0; i--) {
    s = (s * 1103515245 + 12345) % 2 ** 31;
    const j = s % (i + 1);
    [entries[i], entries[j]] = [entries[j]!, entries[i]!];
  }
  for (const entry of entries) {
    await redis.xadd(
      keys.results,
      "*",
      "uploadId",
      entry[0]!.uploadId,
      "windows",
      JSON.stringify(entry),
    );
  }
}

function startTracker(keys: RedisKeys, name: string): TrackerWorker {
  const reader = connectRedis(server.url, `${name}-reader`);
  const tracker = new TrackerWorker({
    redis,
    reader,
    keys,
    logger,
    name,
    closeAfterWindows: 3,
    claimIdleMs: 500,
    blockMs: 100,
  });
  cleanups.push(async () => {
    await tracker.close();
    await closeRedis(reader);
  });
  return tracker;
}

async function waitFor<T>(
  read: () => Promise<T> | T,
  done: (value: T) => boolean,
  ms = 20_000,
): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await read();
    if (done(value)) return value;
    if (Date.now() > deadline) throw new Error(`timed out; last value ${JSON.stringify(value)}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function storedIncidents(keys: RedisKeys, uploadId: string) {
  const ids = await redis.zrange(keys.incidents.ofUpload(uploadId), 0, -1);
  const texts =
    ids.length > 0 ? await redis.mget(ids.map((id) => keys.incidents.incident(id))) : [];
  return texts.map((t) => incidentSchema.parse(JSON.parse(t!)));
}

async function trackerFinished(keys: RedisKeys, uploadId: string): Promise<boolean> {
  return (
    (await redis.sismember(keys.incidents.sources, uploadId)) === 0 &&
    (await redis.exists(keys.incidents.tracker(uploadId))) === 1
  );
}

function offline(windows: WindowResult[]) {
  return trackIncidents(windows[0]!.uploadId, windows, incidentTrackerOptions(WINDOW));
}

const PATTERN =
  "..AAA.A..A....AAAAAAAA.AA...A....A.A.A....." + "AAAA".repeat(10) + "...A..A...A.." + "A";

describe("tracker", () => {
  it("gives the offline incidents with two replicas, shuffled entries, late windows and redelivery", async () => {
    const keys = freshKeys();
    const uploadId = "u1";
    const windows = uploadWindows(uploadId, PATTERN);
    await markUploadScoring(keys, uploadId, windows.length);
    const [head, tail] = [windows.slice(0, 60), windows.slice(60)];
    await addResults(keys, head, 3, 7);
    await startTracker(keys, "t1").start();
    await startTracker(keys, "t2").start();
    // Late windows: the rest arrives after the trackers have worked on the head.
    await new Promise((r) => setTimeout(r, 300));
    await addResults(keys, tail, 2, 11);
    await markUploadDone(keys, uploadId, windows.length);
    await waitFor(() => trackerFinished(keys, uploadId), Boolean);

    const expected = offline(windows).map(incidentFacts);
    const live = await storedIncidents(keys, uploadId);
    expect(expected.length).toBeGreaterThan(3);
    expect(live.map(incidentFacts)).toEqual(expected);
    expect(live.every((i) => i.state === "closed" && !i.muted)).toBe(true);
    expect(live.map((i) => i.id)).toEqual(expected.map((_, n) => `${uploadId}-${n + 1}`));
    expect(live[0]!.victims[0]).toEqual({
      ip: "192.168.10.50",
      flows: 50 * live[0]!.anomalousWindows,
    });

    // Every incident's window list holds its windows once, in order.
    for (const incident of live) {
      const list = await redis.lrange(keys.incidents.windows(incident.id), 0, -1);
      expect(list.map((w) => (JSON.parse(w) as WindowResult).window)).toEqual(
        Array.from({ length: incident.windows }, (_, i) => incident.firstWindow + i),
      );
    }
    // One opened and one closed event per incident on the events stream.
    const events = (await redis.xrange(keys.incidents.events, "-", "+")).map(
      ([, fields]) => JSON.parse(fields[1]!) as { event: string; incident: { id: string } },
    );
    for (const incident of live) {
      const mine = events.filter((e) => e.incident.id === incident.id).map((e) => e.event);
      expect(mine.filter((e) => e === "incident.opened")).toHaveLength(1);
      expect(mine.filter((e) => e === "incident.closed")).toHaveLength(1);
      expect(mine.at(-1)).toBe("incident.closed");
    }
  });

  it("buffers a redelivered results entry once", async () => {
    const keys = freshKeys();
    await redis.xgroup("CREATE", keys.results, INCIDENT_TRACKER_GROUP, "0", "MKSTREAM");
    const windows = uploadWindows("u2", "AA");
    const id = await redis.xadd(
      keys.results,
      "*",
      "uploadId",
      "u2",
      "windows",
      JSON.stringify(windows),
    );
    await redis.xreadgroup("GROUP", INCIDENT_TRACKER_GROUP, "c", "STREAMS", keys.results, ">");
    const buffered = windows.map((w) => ({ index: w.window, json: JSON.stringify(w) }));
    expect(await bufferResults(redis, keys, INCIDENT_TRACKER_GROUP, id!, "u2", buffered)).toBe(2);
    expect(await bufferResults(redis, keys, INCIDENT_TRACKER_GROUP, id!, "u2", buffered)).toBe(-1);
    expect(await redis.hget(keys.incidents.tracker("u2"), "received")).toBe("2");
  });

  it("moves over dead-lettered windows once the upload is over", async () => {
    const keys = freshKeys();
    const windows = uploadWindows("u3", "AA...AA.");
    // Windows 2-4 were dead-lettered: never in the results stream.
    await addResults(keys, [...windows.slice(0, 2), ...windows.slice(5)], 1, 3);
    await redis.hset(keys.upload("u3"), {
      state: "done",
      windowsQueued: 8,
      windowsScored: 5,
      windowsDeadLettered: 3,
      windowSize: 50,
      windowStride: 50,
    });
    await startTracker(keys, "t").start();
    await waitFor(() => trackerFinished(keys, "u3"), Boolean);
    const live = await storedIncidents(keys, "u3");
    expect(live.map((i) => [i.firstWindow, i.lastWindow, i.anomalousWindows])).toEqual([[0, 6, 4]]);
  });
});

/** A webhook receiver: answers `statusFor(n)` to the n-th request (from 0) and keeps every one. */
async function startReceiver(statusFor: (n: number) => number) {
  const received: {
    headers: Record<string, string | string[] | undefined>;
    body: string;
    status: number;
  }[] = [];
  const http: Server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on("data", (c: Buffer) => chunks.push(c));
    request.on("end", () => {
      const status = statusFor(received.length);
      received.push({
        headers: request.headers,
        body: Buffer.concat(chunks).toString("utf8"),
        status,
      });
      response.writeHead(status).end();
    });
  });
  await new Promise<void>((resolve) => http.listen(0, "127.0.0.1", resolve));
  cleanups.push(() => new Promise((resolve) => http.close(resolve)));
  return { url: `http://127.0.0.1:${(http.address() as AddressInfo).port}/hook?token=x`, received };
}

function startNotifier(keys: RedisKeys, webhooks: string[], syslog = "") {
  const reader = connectRedis(server.url, "notifier-reader");
  const notifier = new Notifier({
    redis,
    reader,
    keys,
    logger,
    name: "n1",
    endpoints: configuredEndpoints(webhooks, syslog),
    webhookSecret: "s3cret",
    updateIntervalMs: 60_000,
    retryForMs: 3_600_000,
    retryBaseMs: 50,
    claimIdleMs: 500,
    tickMs: 20,
  });
  cleanups.push(async () => {
    await notifier.close();
    await closeRedis(reader);
  });
  return notifier;
}

/** Runs an upload through a tracker and returns its incidents once tracking finished. */
async function trackUpload(keys: RedisKeys, uploadId: string, pattern: string, victim?: string) {
  const windows = uploadWindows(uploadId, pattern, victim);
  await markUploadDone(keys, uploadId, windows.length);
  await addResults(keys, windows, 4, 5);
  await startTracker(keys, `t-${uploadId}`).start();
  await waitFor(() => trackerFinished(keys, uploadId), Boolean);
  return storedIncidents(keys, uploadId);
}

function expectSigned(request: { headers: Record<string, unknown>; body: string }) {
  const expected = `sha256=${createHmac("sha256", "s3cret").update(request.body).digest("hex")}`;
  expect(request.headers["x-floodwatch-signature"]).toBe(expected);
}

describe("notifier", () => {
  it("posts exactly one signed opened and closed per incident", async () => {
    const keys = freshKeys();
    const receiver = await startReceiver(() => 200);
    await startNotifier(keys, [receiver.url]).start();
    const incidents = await trackUpload(keys, "n1", "AAA....AA.A....A");
    expect(incidents).toHaveLength(3);
    await waitFor(
      () => receiver.received.filter((r) => JSON.parse(r.body).event === "incident.closed").length,
      (n) => n === 3,
    );
    for (const request of receiver.received) {
      expectSigned(request);
      const body = webhookBodySchema.parse(JSON.parse(request.body));
      expect(request.headers["x-floodwatch-event"]).toBe(body.event);
      expect(body.text).toContain(`incident ${body.incident.id}`);
      expect(body.text).toContain("victim 192.168.10.50:80");
    }
    for (const incident of incidents) {
      const events = receiver.received
        .map((r) => webhookBodySchema.parse(JSON.parse(r.body)))
        .filter((b) => b.incident.id === incident.id)
        .map((b) => b.event);
      expect(events.filter((e) => e === "incident.opened")).toHaveLength(1);
      expect(events.filter((e) => e === "incident.closed")).toHaveLength(1);
    }
    const deliveryIds = receiver.received.map((r) => r.headers["x-floodwatch-delivery"]);
    expect(new Set(deliveryIds).size).toBe(deliveryIds.length);
    // The last outcome per endpoint is recorded, without the URL's path and query.
    const last = await redis.hgetall(keys.incidents.endpointLast);
    expect(Object.keys(last)).toEqual([`webhook 1 ${new URL(receiver.url).origin}`]);
  });

  it("retries through 500s with the same delivery id until every event arrives", async () => {
    const keys = freshKeys();
    const receiver = await startReceiver((n) => (n < 7 ? 500 : 200));
    await startNotifier(keys, [receiver.url]).start();
    const incidents = await trackUpload(keys, "n2", "AA....A");
    const ok = () => receiver.received.filter((r) => r.status === 200);
    await waitFor(
      () => ok().length,
      (n) => n >= 4,
    );
    await new Promise((r) => setTimeout(r, 300));
    const delivered = ok().map((r) => webhookBodySchema.parse(JSON.parse(r.body)));
    expect(delivered.map((b) => `${b.incident.id} ${b.event}`).sort()).toEqual(
      incidents.flatMap((i) => [`${i.id} incident.closed`, `${i.id} incident.opened`]).sort(),
    );
    // Each failed request was retried with its own delivery id and the very same body.
    const bodyById = new Map<string, string>();
    for (const r of receiver.received) {
      const id = String(r.headers["x-floodwatch-delivery"]);
      if (bodyById.has(id)) expect(r.body).toBe(bodyById.get(id));
      bodyById.set(id, r.body);
      expectSigned(r);
    }
    expect(bodyById.size).toBe(4);
    expect(receiver.received.length).toBe(7 + 4);
    // Every attempt is recorded on the delivery.
    const ids = await redis.zrange(keys.incidents.deliveries, 0, -1);
    const attempts = await Promise.all(
      ids.map(
        async (id) =>
          JSON.parse((await redis.get(keys.incidents.delivery(id)))!) as {
            attempts: unknown[];
            state: string;
          },
      ),
    );
    expect(attempts.every((d) => d.state === "delivered")).toBe(true);
    expect(attempts.reduce((sum, d) => sum + d.attempts.length, 0)).toBe(11);
  });

  it("does not notify an incident whose top victim is muted", async () => {
    const keys = freshKeys();
    const receiver = await startReceiver(() => 200);
    await redis.hset(
      keys.incidents.mutes,
      "m1",
      JSON.stringify({
        id: "m1",
        cidr: "10.9.0.0/16",
        port: null,
        until: Date.now() + 60_000,
        reason: "lab",
        createdAt: 0,
      }),
    );
    await startNotifier(keys, [receiver.url]).start();
    const muted = await trackUpload(keys, "n3", "AA....", "10.9.8.7");
    const loud = await trackUpload(keys, "n4", "AA....", "10.8.8.7");
    expect(muted.map((i) => i.muted)).toEqual([true]);
    expect(loud.map((i) => i.muted)).toEqual([false]);
    await waitFor(
      () => receiver.received.length,
      (n) => n === 2,
    );
    await new Promise((r) => setTimeout(r, 300));
    expect(receiver.received.map((r) => JSON.parse(r.body).incident.id)).toEqual(["n4-1", "n4-1"]);
  });

  it("sends valid RFC 5424 lines to a UDP syslog receiver", async () => {
    const keys = freshKeys();
    const socket = createSocket("udp4");
    const lines: string[] = [];
    socket.on("message", (message) => lines.push(message.toString("utf8")));
    await new Promise<void>((resolve) => socket.bind(0, "127.0.0.1", resolve));
    cleanups.push(() => new Promise<void>((resolve) => socket.close(() => resolve())));
    await startNotifier(keys, [], `udp://127.0.0.1:${socket.address().port}`).start();
    await trackUpload(keys, "s1", "AA....");
    await waitFor(
      () => lines.length,
      (n) => n === 2,
    );
    // RFC 5424: <PRI>VERSION SP TIMESTAMP SP HOSTNAME SP APP-NAME SP PROCID SP MSGID SP SD SP MSG
    const rfc5424 =
      /^<(\d{1,3})>1 (\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z) ([\x21-\x7e]{1,255}) ([\x21-\x7e]{1,48}) ([\x21-\x7e]{1,128}) ([\x21-\x7e]{1,32}) (\[[^ \]]+( [^ =\]]+="(?:[^"\\\]]|\\["\\\]])*")*\]) (.+)$/;
    const parsed = lines.map((line) => rfc5424.exec(line));
    expect(parsed.every((m) => m !== null)).toBe(true);
    expect(parsed.map((m) => m![6])).toEqual(["incident-opened", "incident-closed"]);
    expect(parsed.map((m) => Number(m![1]))).toEqual([16 * 8 + 2, 16 * 8 + 5]);
    expect(lines[0]).toContain('victim="192.168.10.50"');
    expect(lines[0]).toContain('id="s1-1"');
  });

  it("frames syslog lines with octet counting over TCP", async () => {
    const keys = freshKeys();
    let received = "";
    const tcp = createTcpServer((socket) =>
      socket.on("data", (d: Buffer) => (received += d.toString("utf8"))),
    );
    await new Promise<void>((resolve) => tcp.listen(0, "127.0.0.1", resolve));
    cleanups.push(() => new Promise((resolve) => tcp.close(resolve)));
    const port = (tcp.address() as AddressInfo).port;
    await startNotifier(keys, [], `tcp://127.0.0.1:${port}`).start();
    await trackUpload(keys, "s2", "AA....");
    const frames = await waitFor(
      () => {
        const out: string[] = [];
        let rest = Buffer.from(received, "utf8");
        for (;;) {
          const space = rest.indexOf(0x20);
          if (space < 0) break;
          const length = Number(rest.subarray(0, space).toString());
          if (rest.length < space + 1 + length) break;
          out.push(rest.subarray(space + 1, space + 1 + length).toString("utf8"));
          rest = rest.subarray(space + 1 + length);
        }
        return out;
      },
      (out) => out.length === 2,
    );
    expect(frames.map((f) => f.slice(0, 7))).toEqual(["<130>1 ", "<133>1 "]);
    expect(frames[1]).toContain('[incident@32473 event="incident.closed" id="s2-1"');
  });
});
