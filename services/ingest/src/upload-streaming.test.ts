import { request as httpRequest, type ClientRequest } from "node:http";
import type { AddressInfo, Socket } from "node:net";
import { setTimeout as sleep } from "node:timers/promises";
import {
  DETECTOR_GROUP,
  errorBodySchema,
  uploadAcceptedSchema,
  type FlowEntry,
} from "@floodwatch/core";
import {
  backlog as detectorBacklog,
  closeRedis,
  connectRedis,
  startRedisServer,
  type RedisServer,
} from "@floodwatch/platform";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import {
  decodeStreamFields,
  flowCsv,
  flowSequenceOf,
  startIngest,
  type IngestHarness,
} from "./test-fixtures.ts";

/** Polls `check` every 20 ms until it holds; fails after 15 s saying what was awaited. */
async function until(what: string, check: () => boolean | Promise<boolean>): Promise<void> {
  for (let waited = 0; waited < 15_000; waited += 20) {
    if (await check()) return;
    await sleep(20);
  }
  throw new Error(`timed out waiting until ${what}`);
}

interface HttpAnswer {
  status: number;
  body: unknown;
}

/** Opens a streaming upload on a real socket; the caller writes and ends (or destroys) it. */
function openUpload(
  baseUrl: string,
  headers: Record<string, string>,
): { request: ClientRequest; answer: Promise<HttpAnswer> } {
  const request = httpRequest(`${baseUrl}/api/uploads`, { method: "POST", headers });
  const answer = new Promise<HttpAnswer>((resolve, reject) => {
    request.on("error", reject);
    request.on("response", (response) => {
      const chunks: Buffer[] = [];
      response.on("data", (chunk: Buffer) => chunks.push(chunk));
      response.on("error", reject);
      response.on("end", () => {
        const text = Buffer.concat(chunks).toString("utf8");
        resolve({ status: response.statusCode ?? 0, body: JSON.parse(text) as unknown });
      });
    });
  });
  return { request, answer };
}

/**
 * Watches the server's connections; the returned function waits until one of them has read at
 * least `bytes`, i.e. the server read (and discarded) the rest of a body it had answered early.
 */
function bodyDrainWatch(harness: IngestHarness): (bytes: number) => Promise<void> {
  const sockets: Socket[] = [];
  harness.app.server.on("connection", (socket: Socket) => sockets.push(socket));
  return (bytes) =>
    until("the server has read the whole body", () =>
      sockets.some((socket) => socket.bytesRead >= bytes),
    );
}

async function onlyUploadKey(h: IngestHarness): Promise<string | undefined> {
  const keys = await h.redis.keys(`${h.keys.prefix}:upload:*`);
  return keys[0];
}

describe("streaming uploads over HTTP", () => {
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

  async function listen(harness: IngestHarness): Promise<string> {
    await harness.app.listen({ port: 0, host: "127.0.0.1" });
    return `http://127.0.0.1:${(harness.app.server.address() as AddressInfo).port}`;
  }

  it("stops reading while the detectors' backlog is full, then queues every flow once", async () => {
    h = await startIngest(server.url, {
      INGEST_ENTRY_FLOWS: "500",
      INGEST_MAX_BACKLOG_ENTRIES: "2",
    });
    const harness = h;
    const baseUrl = await listen(h);
    // 5,000 flows: 100 windows, 10 entries of 10 windows.
    const csv = flowCsv({ flows: 5_000, seed: 21 });
    const { request, answer } = openUpload(baseUrl, { "content-type": "text/csv" });
    let settled = false;
    const answered = answer.finally(() => {
      settled = true;
    });
    request.end(csv);

    await until(
      "two entries wait",
      async () => (await harness.redis.xlen(harness.keys.flows)) === 2,
    );
    // Nobody consumes: the upload must stay paused at the limit.
    await sleep(300);
    expect(await h.redis.xlen(h.keys.flows)).toBe(2);
    expect(settled).toBe(false);

    const consumer = connectRedis(server.url, "detector-stand-in");
    const consumed: FlowEntry[] = [];
    const consumeOnce = async (block: boolean): Promise<number> => {
      const reply = (await consumer.callBuffer("XREADGROUP", [
        "GROUP",
        DETECTOR_GROUP,
        "stand-in",
        "COUNT",
        "1",
        ...(block ? ["BLOCK", "100"] : []),
        "STREAMS",
        harness.keys.flows,
        ">",
      ])) as [Buffer, [Buffer, Buffer[]][]][] | null;
      const entries = reply?.[0]?.[1] ?? [];
      for (const [id, fields] of entries) {
        consumed.push(decodeStreamFields(fields));
        await consumer.xack(harness.keys.flows, DETECTOR_GROUP, id);
      }
      return entries.length;
    };
    try {
      while (!settled) {
        await consumeOnce(true);
        // Ingest never lets more than the limit wait for the detectors.
        expect(await detectorBacklog(harness.redis, harness.keys)).toBeLessThanOrEqual(2);
      }
      while ((await consumeOnce(false)) > 0);
    } finally {
      await closeRedis(consumer);
    }
    const { status, body } = await answered;
    expect(status).toBe(201);
    const accepted = uploadAcceptedSchema.parse(body);
    expect(accepted).toMatchObject({ rowsAccepted: 5_000, windowsQueued: 100, tailFlows: 0 });
    const sequence = flowSequenceOf(consumed);
    expect(consumed.length).toBe(10);
    expect(sequence.windows).toBe(100);
    expect(sequence.lines).toEqual(Array.from({ length: 5_000 }, (_, k) => k + 2));
    expect(await h.redis.hmget(h.keys.upload(accepted.uploadId), "state", "windowsQueued")).toEqual(
      ["scoring", "100"],
    );
  });

  it("fails an upload whose client disconnects, keeping what it queued", async () => {
    h = await startIngest(server.url, { INGEST_ENTRY_FLOWS: "500" });
    const harness = h;
    const baseUrl = await listen(h);
    const csv = flowCsv({ flows: 6_000, seed: 22 });
    // The header and 3,000 rows, then the client goes away.
    let cut = 0;
    for (let row = 0; row <= 3_000; row++) cut = csv.indexOf("\n", cut) + 1;
    const { request, answer } = openUpload(baseUrl, { "content-type": "text/csv" });
    answer.catch(() => undefined);
    request.write(csv.slice(0, cut));

    let uploadKey: string | undefined;
    await until("entries are queued", async () => {
      uploadKey = await onlyUploadKey(harness);
      if (uploadKey === undefined) return false;
      return Number(await harness.redis.hget(uploadKey, "entriesQueued")) >= 4;
    });
    request.destroy();

    await until("the upload is failed", async () => {
      return (await harness.redis.hget(uploadKey!, "state")) === "failed";
    });
    const hash = await h.redis.hgetall(uploadKey!);
    const rows = Number(/^client disconnected after (\d+) rows$/.exec(hash.error ?? "")?.[1]);
    // Rows move on chunk by chunk, so every complete 500-flow entry of what arrived is queued.
    expect(rows).toBeGreaterThanOrEqual(2_000);
    expect(rows).toBeLessThanOrEqual(3_000);
    const entries = Math.floor(rows / 500);
    expect(hash).toMatchObject({
      ingestDone: "0",
      entriesQueued: String(entries),
      windowsQueued: String(entries * 10),
      flowsQueued: String(entries * 500),
    });
    expect(await h.redis.xlen(h.keys.flows)).toBe(entries);
  });

  it("drops a connection that goes quiet for the idle timeout, keeping what it queued", async () => {
    h = await startIngest(server.url, {
      INGEST_ENTRY_FLOWS: "500",
      INGEST_IDLE_TIMEOUT_MS: "3000",
    });
    const harness = h;
    const baseUrl = await listen(h);
    const csv = flowCsv({ flows: 6_000, seed: 23 });
    let cut = 0;
    for (let row = 0; row <= 3_000; row++) cut = csv.indexOf("\n", cut) + 1;
    const { request, answer } = openUpload(baseUrl, { "content-type": "text/csv" });
    answer.catch(() => undefined);
    request.write(csv.slice(0, cut)); // ... and then nothing more

    let uploadKey: string | undefined;
    await until("the quiet upload is failed", async () => {
      uploadKey = await onlyUploadKey(harness);
      return uploadKey !== undefined && (await harness.redis.hget(uploadKey, "state")) === "failed";
    });
    const hash = await h.redis.hgetall(uploadKey!);
    expect(hash.error).toMatch(/after \d+ rows/);
    expect(Number(hash.entriesQueued)).toBeGreaterThanOrEqual(4);
    expect(await h.redis.xlen(h.keys.flows)).toBe(Number(hash.entriesQueued));
    request.destroy();
  });

  it("answers 413 mid-stream, failing the upload but keeping what it queued", async () => {
    h = await startIngest(server.url, {
      INGEST_ENTRY_FLOWS: "500",
      INGEST_MAX_UPLOAD_BYTES: "1200000",
    });
    const baseUrl = await listen(h);
    // About 1.95 MB without a Content-Length: the limit is found by counting, near row 3,080.
    const csv = flowCsv({ flows: 5_000, seed: 23 });
    const drained = bodyDrainWatch(h);
    const { request, answer } = openUpload(baseUrl, {
      "content-type": "text/csv",
      "transfer-encoding": "chunked",
    });
    request.end(csv);
    const { status, body } = await answer;
    await drained(csv.length);

    expect(status).toBe(413);
    const error = errorBodySchema.parse(body);
    expect(error.error).toBe("upload_too_large");
    const told =
      /^upload exceeds the limit of 1200000 bytes: stopped after (\d+) rows; the (\d+) windows queued before that are still scored$/.exec(
        error.message,
      );
    expect(told).not.toBeNull();
    const [rows, windows] = [Number(told![1]), Number(told![2])];
    // Entries of 500 flows (10 windows) are queued as rows arrive, up to the chunk that crossed
    // the limit (near row 3,080).
    expect(rows).toBeGreaterThan(2_900);
    expect(rows).toBeLessThan(3_200);
    expect(windows).toBe(Math.floor(rows / 500) * 10);
    const hash = await h.redis.hgetall((await onlyUploadKey(h))!);
    expect(hash).toMatchObject({
      state: "failed",
      error: error.message,
      ingestDone: "0",
      entriesQueued: String(windows / 10),
      windowsQueued: String(windows),
    });
    expect(await h.redis.xlen(h.keys.flows)).toBe(windows / 10);
  });

  it("delivers a 422 to a client still sending a large body", async () => {
    h = await startIngest(server.url);
    const baseUrl = await listen(h);
    const rows = "80,12.5,BENIGN\n".repeat(200_000); // 3 MB after a header the model cannot use
    const csv = `Destination Port,Flow Packets/s,Label\n${rows}`;
    const { request, answer } = openUpload(baseUrl, {
      "content-type": "text/csv",
      "content-length": String(Buffer.byteLength(csv)),
    });
    const drained = bodyDrainWatch(h);
    request.end(csv);
    const { status, body } = await answer;
    expect(status).toBe(422);
    await drained(csv.length);
    expect(errorBodySchema.parse(body)).toMatchObject({
      error: "missing_columns",
      seen: ["Destination Port", "Flow Packets/s", "Label"],
    });
    expect(await h.redis.xlen(h.keys.flows)).toBe(0);
  });

  it("fails uploads in flight at shutdown with 503, then drains the rest of the body", async () => {
    h = await startIngest(server.url, {
      INGEST_ENTRY_FLOWS: "500",
      INGEST_MAX_BACKLOG_ENTRIES: "1",
    });
    const harness = h;
    const baseUrl = await listen(h);
    // About 7.8 MB: more than the socket buffers hold, so most of it arrives after the answer.
    const csv = flowCsv({ flows: 20_000, seed: 24 });
    const drained = bodyDrainWatch(h);
    const { request, answer } = openUpload(baseUrl, { "content-type": "text/csv" });
    request.end(csv);
    await until("the upload waits for the detectors", async () => {
      return (await harness.redis.xlen(harness.keys.flows)) === 1 && harness.inFlight.size === 1;
    });

    expect(h.inFlight.abortAll("shutdown")).toBe(1);
    const { status, body } = await answer;
    await drained(csv.length);

    expect(status).toBe(503);
    expect(errorBodySchema.parse(body).error).toBe("shutting_down");
    const hash = await h.redis.hgetall((await onlyUploadKey(h))!);
    expect(hash.state).toBe("failed");
    expect(hash.error).toMatch(/^ingest shut down after \d+ rows; upload again to score the rest$/);
    expect(hash.entriesQueued).toBe("1");
  });
});
