/**
 * The zone of naive timestamps as a field of a real multipart upload (FormData over HTTP, as the
 * dashboard sends it): it moves the windows' traffic times, the query parameter wins over it,
 * and an unknown zone is refused naming the field.
 */
import type { AddressInfo } from "node:net";
import {
  errorBodySchema,
  parseFlowTimestamp,
  scoreFlowEntry,
  uploadAcceptedSchema,
  type FloodwatchModel,
  type WindowResult,
} from "@floodwatch/core";
import {
  loadActiveModel,
  readUploadStatus,
  startRedisServer,
  type RedisServer,
} from "@floodwatch/platform";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { flowCsv, readFlowEntries, startIngest, type IngestHarness } from "./test-fixtures.ts";

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

const CSV = flowCsv({ flows: 200, attack: "none", seed: 7 });
const ZONE = "America/Halifax";

/** POSTs the CSV as a multipart form over HTTP, with the fields before the file. */
async function post(baseUrl: string, fields: Record<string, string>, query = "") {
  const form = new FormData();
  for (const [name, value] of Object.entries(fields)) form.append(name, value);
  form.append("file", new Blob([CSV], { type: "text/csv" }), "capture.csv");
  return fetch(`${baseUrl}/api/uploads${query}`, { method: "POST", body: form });
}

/** The upload's windows, scored from its queued entries as a detector scores them. */
async function windowsOf(harness: IngestHarness, model: FloodwatchModel, uploadId: string) {
  const entries = (await readFlowEntries(harness.redis, harness.keys)).filter(
    (entry) => entry.meta.uploadId === uploadId,
  );
  return entries.flatMap((entry) => scoreFlowEntry(entry, model, { explain: "none" }).results);
}

const times = (windows: WindowResult[]) => windows.map((w) => [w.start, w.end]);

describe("POST /api/uploads with a timestampZone form field", () => {
  it("takes naive timestamps in the field's zone; the query parameter wins over it", async () => {
    h = await startIngest(server.url);
    await h.app.listen({ port: 0, host: "127.0.0.1" });
    const baseUrl = `http://127.0.0.1:${(h.app.server.address() as AddressInfo).port}`;
    const model = (await loadActiveModel(h.redis, h.keys))!;

    const ids: Record<string, string> = {};
    for (const [label, fields, query] of [
      ["utc", {}, ""],
      ["zoned", { name: "zoned", timestampZone: ZONE }, ""],
      ["query wins", { timestampZone: ZONE }, "?timestampZone=UTC"],
    ] as const) {
      const response = await post(baseUrl, fields, query);
      expect(response.status).toBe(201);
      ids[label] = uploadAcceptedSchema.parse(await response.json()).uploadId;
    }
    const utc = await windowsOf(h, model, ids.utc!);
    const zoned = await windowsOf(h, model, ids.zoned!);
    expect(utc).toHaveLength(4);
    expect(zoned).toHaveLength(4);
    expect(utc.every((w) => w.start !== null && w.end !== null)).toBe(true);

    // Every window's start and end move by the zone's offset on the file's dates.
    const [header, first] = CSV.split("\n") as [string, string];
    const column = header.split(",").findIndex((name) => name.trim() === "Timestamp");
    const stamp = first.split(",")[column]!.trim();
    const shift = parseFlowTimestamp(stamp, ZONE) - parseFlowTimestamp(stamp);
    expect(shift).toBeGreaterThanOrEqual(3 * 3_600_000);
    const moved = (iso: string | null) => new Date(Date.parse(iso!) + shift).toISOString();
    expect(times(zoned)).toEqual(utc.map((w) => [moved(w.start), moved(w.end)]));
    expect(times(await windowsOf(h, model, ids["query wins"]!))).toEqual(times(utc));
  });

  it("refuses an unknown zone in the field with 400 naming the field, queuing nothing", async () => {
    h = await startIngest(server.url);
    await h.app.listen({ port: 0, host: "127.0.0.1" });
    const baseUrl = `http://127.0.0.1:${(h.app.server.address() as AddressInfo).port}`;
    const response = await post(baseUrl, { timestampZone: "Mars/Olympus" });
    expect(response.status).toBe(400);
    const body = errorBodySchema.parse(await response.json());
    expect(body.message).toBe(
      'the timestampZone field must be UTC, a ±hh:mm offset or an IANA time zone name; got "Mars/Olympus"',
    );
    expect(await h.redis.xlen(h.keys.flows)).toBe(0);
  });

  it("reports the timestamps it could not read in the answer and the upload's status", async () => {
    h = await startIngest(server.url);
    const [header, ...rows] = CSV.trimEnd().split("\n") as [string, ...string[]];
    const column = header.split(",").findIndex((name) => name.trim() === "Timestamp");
    // 12 rows whose time is unreadable: accepted all the same, their windows without times.
    const broken = rows.map((row, i) => {
      if (i % 10 !== 3 || i > 120) return row;
      const cells = row.split(",");
      cells[column] = "sometime in July";
      return cells.join(",");
    });
    const form = new FormData();
    form.append("file", new Blob([[header, ...broken].join("\n")]), "late.csv");
    await h.app.listen({ port: 0, host: "127.0.0.1" });
    const baseUrl = `http://127.0.0.1:${(h.app.server.address() as AddressInfo).port}`;
    const response = await fetch(`${baseUrl}/api/uploads`, { method: "POST", body: form });
    expect(response.status).toBe(201);
    const answer = uploadAcceptedSchema.parse(await response.json());
    expect(answer).toMatchObject({ rowsAccepted: 200, rowsRejected: 0, timestampsUnparsed: 12 });
    const status = await readUploadStatus(h.redis, h.keys, answer.uploadId);
    expect(status!.timestampsUnparsed).toBe(12);
    const model = (await loadActiveModel(h.redis, h.keys))!;
    const windows = await windowsOf(h, model, answer.uploadId);
    // Rows 3, 13, ..., 113 fall in windows 0-2; window 3 (rows 150-199) keeps its times.
    expect(windows.map((w) => w.start === null)).toEqual([true, true, true, false]);
  });
});
