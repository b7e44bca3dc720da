import { Readable } from "node:stream";
import { errorBodySchema, uploadAcceptedSchema } from "@floodwatch/core";
import { loadActiveModel, startRedisServer, type RedisServer } from "@floodwatch/platform";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { flowCsv, multipartBody, startIngest, type IngestHarness } from "./test-fixtures.ts";

/** Uploads a body with the given content type (none when undefined). */
function upload(
  h: IngestHarness,
  payload: string | Buffer | Readable,
  contentType?: string,
  url?: string,
) {
  return h.app.inject({
    method: "POST",
    url: url ?? "/api/uploads",
    headers: contentType === undefined ? {} : { "content-type": contentType },
    payload,
  });
}

/** Nothing of any upload is in Redis: no entry, no upload hash, no index, no counter. */
async function expectNothingStored(h: IngestHarness): Promise<void> {
  expect(await h.redis.xlen(h.keys.flows)).toBe(0);
  expect(await h.redis.keys(`${h.keys.prefix}:upload:*`)).toEqual([]);
  expect(await h.redis.zcard(h.keys.uploads)).toBe(0);
  expect(await h.redis.hgetall(h.keys.counters)).toEqual({});
}

/** A good upload still succeeds: the service keeps serving after the refusal. */
async function expectStillServing(h: IngestHarness): Promise<void> {
  const response = await upload(h, flowCsv({ flows: 600, seed: 3 }), "text/csv");
  expect(response.statusCode).toBe(201);
  expect(uploadAcceptedSchema.parse(response.json())).toMatchObject({
    rowsAccepted: 600,
    windowsQueued: 12,
  });
}

describe("POST /api/uploads refusals", () => {
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

  it("refuses other media types with 415", async () => {
    h = await startIngest(server.url);
    const json = await upload(h, '{"flows":[]}', "application/json");
    expect(json.statusCode).toBe(415);
    const body = errorBodySchema.parse(json.json());
    expect(body.error).toBe("unsupported_media_type");
    expect(body.message).toContain('unsupported Content-Type "application/json"');
    expect(body.message).toContain("multipart/form-data");

    const none = await upload(h, flowCsv({ flows: 10 }));
    expect(none.statusCode).toBe(415);
    expect(none.json()).toMatchObject({ error: "unsupported_media_type" });
    expect(none.json().message).toMatch(/^no Content-Type/);
    await expectNothingStored(h);
    await expectStillServing(h);
  });

  it("refuses an empty body with 400", async () => {
    h = await startIngest(server.url);
    const response = await upload(h, "", "text/csv");
    expect(response.statusCode).toBe(400);
    expect(errorBodySchema.parse(response.json())).toEqual({
      error: "empty",
      message: "the input is empty: no header line",
      line: 1,
    });
    await expectNothingStored(h);
    await expectStillServing(h);
  });

  it("refuses a header-only file with 400", async () => {
    h = await startIngest(server.url);
    const header = flowCsv({ flows: 0 });
    const response = await upload(h, header, "text/csv");
    expect(response.statusCode).toBe(400);
    expect(errorBodySchema.parse(response.json())).toEqual({
      error: "no_data_rows",
      message: "the file has a header but no data rows: nothing to score",
      line: 2,
    });
    await expectNothingStored(h);
    await expectStillServing(h);
  });

  it("refuses binary garbage with 400", async () => {
    h = await startIngest(server.url);
    const garbage = Buffer.alloc(4096);
    for (let i = 0; i < garbage.length; i++) garbage[i] = (i * 7919 + 13) % 256;
    const response = await upload(h, garbage, "application/octet-stream");
    expect(response.statusCode).toBe(400);
    const body = errorBodySchema.parse(response.json());
    expect(body.error).toBe("binary");
    expect(body.message).toMatch(/^not a CSV text file/);
    expect(body.line).toBe(1);
    await expectNothingStored(h);
    await expectStillServing(h);
  });

  it("refuses with 413 an upload whose Content-Length is over the limit", async () => {
    h = await startIngest(server.url, { INGEST_MAX_UPLOAD_BYTES: String(512 * 1024) });
    const big = flowCsv({ flows: 2_000, seed: 5 });
    const response = await upload(h, big, "text/csv");
    expect(response.statusCode).toBe(413);
    expect(response.headers.connection).toBe("close");
    const body = errorBodySchema.parse(response.json());
    expect(body.error).toBe("upload_too_large");
    expect(body.message).toBe(
      `upload exceeds the limit of ${512 * 1024} bytes: the request declares ${big.length} bytes; nothing was read`,
    );
    await expectNothingStored(h);
    await expectStillServing(h);
  });

  it("refuses with 413 a multipart file over the limit, counting the file's bytes", async () => {
    h = await startIngest(server.url, { INGEST_MAX_UPLOAD_BYTES: String(100 * 1024) });
    // Under the declared-length check (limit + envelope allowance), over the limit in the file.
    const form = multipartBody([
      { field: "file", value: flowCsv({ flows: 400, seed: 6 }), filename: "x.csv" },
    ]);
    expect(form.body.length).toBeGreaterThan(100 * 1024);
    expect(form.body.length).toBeLessThan(164 * 1024);
    // Sent in two pieces, so rows are read (and the upload recorded) before the limit is hit.
    const pieces = [form.body.subarray(0, 20_000), form.body.subarray(20_000)];
    const response = await upload(h, Readable.from(pieces), form.contentType);
    expect(response.statusCode).toBe(413);
    expect(response.json().message).toMatch(
      /^upload exceeds the limit of 102400 bytes: stopped after \d+ rows; nothing was queued$/,
    );
    // Fewer than 2,048 rows were read: no batch, so no entry; the upload itself was recorded.
    expect(await h.redis.xlen(h.keys.flows)).toBe(0);
    const [uploadKey] = await h.redis.keys(`${h.keys.prefix}:upload:*`);
    expect(await h.redis.hmget(uploadKey!, "state", "ingestDone")).toEqual(["failed", "0"]);
  });

  it("refuses with 422 a file missing model columns, naming them, and stores nothing", async () => {
    h = await startIngest(server.url);
    const model = (await loadActiveModel(h.redis, h.keys))!;
    const csv = " Destination Port, Flow Packets/s, Label\n80,12.5,BENIGN\n443,3,DDoS\n";
    const response = await upload(h, csv, "text/csv");
    expect(response.statusCode).toBe(422);
    const body = errorBodySchema.parse(response.json());
    expect(body.error).toBe("missing_columns");
    expect(body.missing).toEqual(model.features.filter((f) => f !== "Flow Packets/s"));
    expect(body.seen).toEqual(["Destination Port", "Flow Packets/s", "Label"]);
    expect(body.message).toMatch(/^missing required columns: Flow Duration, /);
    await expectNothingStored(h);
    await expectStillServing(h);
  });

  it("refuses a record running past 1 MiB with 400, naming its line", async () => {
    h = await startIngest(server.url);
    // inject delivers the body as one chunk: the reader fails on it before any row is stored.
    const csv = `${flowCsv({ flows: 10 })}"${"x".repeat(1.1 * 1024 * 1024)}\n`;
    const response = await upload(h, csv, "text/csv");
    expect(response.statusCode).toBe(400);
    const body = errorBodySchema.parse(response.json());
    expect(body).toMatchObject({ error: "record_too_long", line: 12 });
    expect(body.message).toBe(
      "line 12: record longer than 1048576 bytes (an unbalanced quote, or not a CSV file)",
    );
    await expectNothingStored(h);
    await expectStillServing(h);
  });

  it("refuses a multipart body without a file field with 400", async () => {
    h = await startIngest(server.url);
    const fieldOnly = multipartBody([{ field: "name", value: "no file here" }]);
    const noFile = await upload(h, fieldOnly.body, fieldOnly.contentType);
    expect(noFile.statusCode).toBe(400);
    expect(noFile.json()).toMatchObject({ error: "missing_file" });

    const wrongField = multipartBody([
      { field: "csv", value: flowCsv({ flows: 60 }), filename: "flows.csv" },
    ]);
    const wrong = await upload(h, wrongField.body, wrongField.contentType);
    expect(wrong.statusCode).toBe(400);
    expect(wrong.json()).toEqual({
      error: "missing_file",
      message: `the multipart body's file is in field "csv": name the field "file"`,
    });
    await expectNothingStored(h);
    await expectStillServing(h);
  });

  it("refuses an unusable name with 400", async () => {
    h = await startIngest(server.url);
    const response = await upload(
      h,
      flowCsv({ flows: 60 }),
      "text/csv",
      `/api/uploads?name=${"n".repeat(201)}`,
    );
    expect(response.statusCode).toBe(400);
    expect(response.json()).toEqual({
      error: "invalid_request",
      message: "the name parameter is longer than 200 characters",
    });
    await expectNothingStored(h);
    await expectStillServing(h);
  });

  it("answers 503 when no model is active, storing nothing", async () => {
    h = await startIngest(server.url, {}, { activateDefaultModel: false });
    const response = await upload(h, flowCsv({ flows: 60 }), "text/csv");
    expect(response.statusCode).toBe(503);
    expect(response.json()).toMatchObject({ error: "no_active_model" });
    await expectNothingStored(h);
  });
});
