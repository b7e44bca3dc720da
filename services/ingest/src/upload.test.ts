import {
  modelVersionOf,
  parseFlowTimestamp,
  resolveFlowColumns,
  uploadAcceptedSchema,
  windowsPerEntry,
  type FloodwatchModel,
  type UploadAccepted,
} from "@floodwatch/core";
import {
  loadActiveModel,
  publishModel,
  startRedisServer,
  type RedisServer,
} from "@floodwatch/platform";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import {
  flowCsv,
  flowSequenceOf,
  multipartBody,
  readFlowEntries,
  startIngest,
  type IngestHarness,
} from "./test-fixtures.ts";

/** A data row of a test CSV as the reader should take it. */
interface ExpectedFlow {
  line: number;
  attack: number;
  fields: string[];
}

/** A generated CSV with a ragged row and a row with a non-number inserted. */
function csvWithBrokenRows(flows: number, seed: number) {
  const [headerLine, ...rows] = flowCsv({ flows, seed }).trimEnd().split("\n");
  const header = headerLine!.split(",");
  const durationColumn = header.findIndex((name) => name.trim() === "Flow Duration");
  const notANumber = rows[2_999]!.split(",");
  notANumber[durationColumn] = "12x";
  const dataRows = [
    ...rows.slice(0, 100),
    "1,2,3",
    ...rows.slice(100, 3_000),
    notANumber.join(","),
    ...rows.slice(3_000),
  ];
  // Physical line of dataRows[i] is i + 2 (the header is line 1).
  const raggedLine = 100 + 2;
  const notANumberLine = 3_001 + 2;
  const accepted: ExpectedFlow[] = [];
  dataRows.forEach((row, i) => {
    const line = i + 2;
    if (line === raggedLine || line === notANumberLine) return;
    const fields = row.split(",");
    accepted.push({ line, attack: fields.at(-1)!.trim() === "BENIGN" ? 0 : 1, fields });
  });
  return {
    text: `${headerLine}\n${dataRows.join("\n")}\n`,
    header,
    accepted,
    raggedLine,
    notANumberLine,
    durationColumn,
  };
}

/** The model's feature values of a row, as the reader parses them. */
function featureValues(header: string[], fields: string[], model: FloodwatchModel): number[] {
  const { featureColumns } = resolveFlowColumns(header, model.features);
  return Array.from(featureColumns, (column) => Number(fields[column]!.trim()));
}

/**
 * Checks that the stream holds every accepted flow of the upload exactly once, in file order,
 * with its label and values, and that the answer and the upload hash agree with it.
 */
async function expectQueuedExactly(
  h: IngestHarness,
  answer: UploadAccepted,
  expected: { accepted: ExpectedFlow[]; header: string[]; model: FloodwatchModel },
): Promise<void> {
  const { size, stride } = expected.model.window;
  const flows = expected.accepted.length;
  const windows = flows < size ? 0 : Math.floor((flows - size) / stride) + 1;
  const covered = windows === 0 ? 0 : (windows - 1) * stride + size;
  expect(answer.rowsAccepted).toBe(flows);
  expect(answer.windowsQueued).toBe(windows);
  expect(answer.tailFlows).toBe(flows - covered);
  expect(answer.modelVersion).toBe(expected.model.version);

  const entries = (await readFlowEntries(h.redis, h.keys)).filter(
    (entry) => entry.meta.uploadId === answer.uploadId,
  );
  const sequence = flowSequenceOf(entries);
  expect(sequence.windows).toBe(windows);
  const queued = expected.accepted.slice(0, covered);
  expect(sequence.lines).toEqual(queued.map((flow) => flow.line));
  expect(sequence.attack).toEqual(queued.map((flow) => flow.attack));
  expect(sequence.values).toEqual(
    queued.map((flow) => featureValues(expected.header, flow.fields, expected.model)),
  );
  for (const entry of entries) {
    expect(entry.meta.labelled).toBe(answer.labelled);
    expect(entry.meta.window).toEqual(expected.model.window);
    expect(entry.meta.modelVersion).toBe(expected.model.version);
  }

  const hash = await h.redis.hgetall(h.keys.upload(answer.uploadId));
  expect(hash).toMatchObject({
    name: answer.name,
    state: windows === 0 ? "done" : "scoring",
    ingestDone: "1",
    labelled: answer.labelled ? "1" : "0",
    modelVersion: expected.model.version,
    windowSize: String(size),
    windowStride: String(stride),
    rowsAccepted: String(flows),
    rowsRejected: String(answer.rowsRejected),
    tailFlows: String(answer.tailFlows),
    entriesQueued: String(entries.length),
    windowsQueued: String(windows),
    flowsQueued: String(covered),
  });
  expect(hash.error).toBeUndefined();
  expect(JSON.parse(hash.rejected!)).toEqual(answer.rejected);
  expect(await h.redis.zscore(h.keys.uploads, answer.uploadId)).toBe(hash.createdAt);
}

describe("POST /api/uploads", () => {
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

  it("queues every accepted text/csv flow exactly once at stride 50 and reports rejected rows", async () => {
    h = await startIngest(server.url, { INGEST_ENTRY_FLOWS: "500" });
    const model = (await loadActiveModel(h.redis, h.keys))!;
    const csv = csvWithBrokenRows(4_990, 11);

    const response = await h.app.inject({
      method: "POST",
      url: "/api/uploads?name=friday-afternoon.csv",
      headers: { "content-type": "text/csv" },
      payload: csv.text,
    });

    expect(response.statusCode).toBe(201);
    const answer = uploadAcceptedSchema.parse(response.json());
    expect(answer.uploadId).toMatch(/^u_[0-9a-z]{9}[0-9a-f]{10}$/);
    expect(answer.name).toBe("friday-afternoon.csv");
    expect(answer.labelled).toBe(true);
    expect(answer.rowsRejected).toBe(2);
    expect(answer.rejected).toEqual([
      { line: csv.raggedLine, reason: "ragged row: 3 fields, the header has 85" },
      {
        line: csv.notANumberLine,
        column: csv.durationColumn + 1,
        reason: `column ${csv.durationColumn + 1} (Flow Duration): not a number: "12x"`,
      },
    ]);
    // 4,990 flows: 99 windows of 50, 40 flows left over.
    expect(answer.windowsQueued).toBe(99);
    expect(answer.tailFlows).toBe(40);
    await expectQueuedExactly(h, answer, { accepted: csv.accepted, header: csv.header, model });
    // 10 windows per entry at 500 flows: 9 full entries and the flushed rest.
    expect(await h.redis.xlen(h.keys.flows)).toBe(10);
    expect(await h.redis.hgetall(h.keys.counters)).toEqual({
      uploads: "1",
      flowsIngested: String(99 * 50),
      rowsRejected: "2",
    });
  });

  it("reads a multipart upload, taking its name field, the same way", async () => {
    h = await startIngest(server.url);
    const model = (await loadActiveModel(h.redis, h.keys))!;
    const csv = csvWithBrokenRows(4_990, 12);
    const form = multipartBody([
      { field: "name", value: "capture from the SOC" },
      { field: "file", value: csv.text, filename: "capture.csv", contentType: "text/csv" },
    ]);

    const response = await h.app.inject({
      method: "POST",
      url: "/api/uploads",
      headers: { "content-type": form.contentType },
      payload: form.body,
    });

    expect(response.statusCode).toBe(201);
    const answer = uploadAcceptedSchema.parse(response.json());
    expect(answer.name).toBe("capture from the SOC");
    expect(answer.rowsRejected).toBe(2);
    expect(answer.rejected.map((row) => row.line)).toEqual([csv.raggedLine, csv.notANumberLine]);
    await expectQueuedExactly(h, answer, { accepted: csv.accepted, header: csv.header, model });
    // The default 2,000 flows per entry: 40 windows each, 99 windows in 3 entries.
    expect(await h.redis.xlen(h.keys.flows)).toBe(3);
  });

  it("names a multipart upload after its file when no name is given", async () => {
    h = await startIngest(server.url);
    const form = multipartBody([
      { field: "file", value: flowCsv({ flows: 120 }), filename: "monday.csv" },
    ]);
    const response = await h.app.inject({
      method: "POST",
      url: "/api/uploads",
      headers: { "content-type": form.contentType },
      payload: form.body,
    });
    expect(response.statusCode).toBe(201);
    expect(response.json()).toMatchObject({
      name: "monday.csv",
      rowsAccepted: 120,
      windowsQueued: 2,
    });
  });

  it("overlaps entries by size - stride flows for a stride-10 model, windows numbered on", async () => {
    h = await startIngest(server.url, { INGEST_ENTRY_FLOWS: "500" });
    const base = (await loadActiveModel(h.redis, h.keys))!;
    const strided: FloodwatchModel = { ...base, window: { size: 50, stride: 10 } };
    strided.version = modelVersionOf(strided);
    await publishModel(h.redis, h.keys, strided);
    const csv = csvWithBrokenRows(3_198, 13);

    const response = await h.app.inject({
      method: "POST",
      url: "/api/uploads",
      headers: { "content-type": "application/csv" },
      payload: csv.text,
    });

    expect(response.statusCode).toBe(201);
    const answer = uploadAcceptedSchema.parse(response.json());
    expect(answer.modelVersion).toBe(strided.version);
    // 3,198 flows: floor((3198 - 50) / 10) + 1 = 315 windows; the last one ends at flow 3,190.
    expect(answer.windowsQueued).toBe(315);
    expect(answer.tailFlows).toBe(8);
    await expectQueuedExactly(h, answer, {
      accepted: csv.accepted,
      header: csv.header,
      model: strided,
    });
    const entries = await readFlowEntries(h.redis, h.keys);
    // Full entries of windowsPerEntry windows (about 500 flows), then the flushed rest.
    const perEntry = windowsPerEntry(strided.window, 500);
    const counts: number[] = [];
    for (let left = 315; left > 0; left -= perEntry) counts.push(Math.min(perEntry, left));
    expect(entries.map((entry) => entry.meta.windowCount)).toEqual(counts);
    expect(entries.length).toBeGreaterThan(1);
    for (let i = 1; i < entries.length; i++) {
      const previous = entries[i - 1]!;
      expect(entries[i]!.meta.firstWindow).toBe(
        previous.meta.firstWindow + previous.meta.windowCount,
      );
      expect(Array.from(entries[i]!.lines.subarray(0, 40))).toEqual(
        Array.from(previous.lines.subarray(previous.meta.flowCount - 40)),
      );
    }
  });

  it("keeps separate exact counters for concurrent uploads", async () => {
    h = await startIngest(server.url, { INGEST_ENTRY_FLOWS: "300" });
    const harness = h;
    const sizes = [1_234, 2_345, 3_456];
    const responses = await Promise.all(
      sizes.map((flows, i) =>
        harness.app.inject({
          method: "POST",
          url: `/api/uploads?name=upload-${i}`,
          headers: { "content-type": "text/csv" },
          payload: flowCsv({ flows, seed: 100 + i, attack: i === 1 ? "none" : "udp" }),
        }),
      ),
    );

    const entries = await readFlowEntries(h.redis, h.keys);
    let flowsIngested = 0;
    for (const [i, response] of responses.entries()) {
      expect(response.statusCode).toBe(201);
      const answer = uploadAcceptedSchema.parse(response.json());
      const flows = sizes[i]!;
      const windows = Math.floor(flows / 50);
      flowsIngested += windows * 50;
      expect(answer).toMatchObject({
        name: `upload-${i}`,
        rowsAccepted: flows,
        rowsRejected: 0,
        windowsQueued: windows,
        tailFlows: flows % 50,
      });
      const own = entries.filter((entry) => entry.meta.uploadId === answer.uploadId);
      const sequence = flowSequenceOf(own);
      expect(sequence.windows).toBe(windows);
      expect(sequence.lines).toEqual(Array.from({ length: windows * 50 }, (_, k) => k + 2));
      expect(await h.redis.hgetall(h.keys.upload(answer.uploadId))).toMatchObject({
        rowsAccepted: String(flows),
        windowsQueued: String(windows),
        flowsQueued: String(windows * 50),
        entriesQueued: String(own.length),
        tailFlows: String(flows % 50),
        state: "scoring",
      });
    }
    expect(entries.length).toBe(
      responses.reduce((sum, r) => sum + Math.ceil(r.json<UploadAccepted>().windowsQueued / 6), 0),
    );
    expect(await h.redis.hgetall(h.keys.counters)).toEqual({
      uploads: "3",
      flowsIngested: String(flowsIngested),
    });
    expect(await h.redis.zcard(h.keys.uploads)).toBe(3);
  });

  it("marks an upload shorter than one window done at once and reports its tail", async () => {
    h = await startIngest(server.url);
    const response = await h.app.inject({
      method: "POST",
      url: "/api/uploads",
      headers: { "content-type": "text/plain; charset=utf-8" },
      payload: flowCsv({ flows: 30, attack: "none" }),
    });
    expect(response.statusCode).toBe(201);
    const answer = uploadAcceptedSchema.parse(response.json());
    expect(answer).toMatchObject({ rowsAccepted: 30, windowsQueued: 0, tailFlows: 30 });
    expect(await h.redis.xlen(h.keys.flows)).toBe(0);
    expect(await h.redis.hmget(h.keys.upload(answer.uploadId), "state", "ingestDone")).toEqual([
      "done",
      "1",
    ]);
  });

  it("reads an unlabelled file and says so", async () => {
    h = await startIngest(server.url);
    const [header, ...rows] = flowCsv({ flows: 100, attack: "none" }).trimEnd().split("\n");
    const dropLabel = (line: string) => line.split(",").slice(0, -1).join(",");
    const response = await h.app.inject({
      method: "POST",
      url: "/api/uploads",
      headers: { "content-type": "application/octet-stream" },
      payload: [header!, ...rows].map(dropLabel).join("\r\n"),
    });
    expect(response.statusCode).toBe(201);
    expect(response.json()).toMatchObject({ labelled: false, rowsAccepted: 100, windowsQueued: 2 });
    const entries = await readFlowEntries(h.redis, h.keys);
    expect(entries.map((entry) => entry.meta.labelled)).toEqual([false]);
  });

  it("carries each flow's addresses, port, protocol and time, naive times in the zone asked for", async () => {
    h = await startIngest(server.url);
    const csv = flowCsv({ flows: 100, attack: "none" });
    const response = await h.app.inject({
      method: "POST",
      url: "/api/uploads?timestampZone=-03:00",
      headers: { "content-type": "text/csv" },
      payload: csv,
    });
    expect(response.statusCode).toBe(201);
    const [headerLine, ...rows] = csv.trimEnd().split("\n");
    const header = headerLine!.split(",").map((name) => name.trim());
    const cell = (row: string, name: string) => row.split(",")[header.indexOf(name)]!.trim();
    const [entry] = await readFlowEntries(h.redis, h.keys);
    const c = entry!.context!;
    expect(c.has).toEqual({
      dstIp: true,
      srcIp: true,
      dstPort: true,
      protocol: true,
      timestamp: true,
    });
    rows.forEach((row, i) => {
      expect(c.strings[c.dstIp[i]!]).toBe(cell(row, "Destination IP"));
      expect(c.strings[c.srcIp[i]!]).toBe(cell(row, "Source IP"));
      expect(c.dstPort[i]).toBe(Number(cell(row, "Destination Port")));
      expect(c.protocol[i]).toBe(Number(cell(row, "Protocol")));
      expect(c.time[i]).toBe(parseFlowTimestamp(cell(row, "Timestamp"), "-03:00"));
      expect(c.time[i]).toBe(parseFlowTimestamp(cell(row, "Timestamp")) + 3 * 3_600_000);
    });
  });

  it("refuses a timestamp zone it cannot read, before reading the body", async () => {
    h = await startIngest(server.url);
    const response = await h.app.inject({
      method: "POST",
      url: "/api/uploads?timestampZone=Mars%2FOlympus",
      headers: { "content-type": "text/csv" },
      payload: flowCsv({ flows: 100, attack: "none" }),
    });
    expect(response.statusCode).toBe(400);
    expect(response.json().message).toMatch(/timestampZone must be UTC/);
    expect(await h.redis.xlen(h.keys.flows)).toBe(0);
  });
});
