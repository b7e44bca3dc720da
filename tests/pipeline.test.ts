/**
 * The whole pipeline across real processes: uploads over HTTP to ingest, detectors scoring from
 * the Redis stream, results read back through the API's REST reads and WebSocket. Each test has
 * its own stack and key prefix on one private append-only Redis; every count is compared with
 * the same input scored in this process by the core library (what `floodwatch score` prints).
 */
import { createReadStream, existsSync } from "node:fs";
import { resolve } from "node:path";
import {
  DETECTOR_GROUP,
  redisKeys,
  type FloodwatchModel,
  type UploadStatus,
  type WindowResult,
} from "@floodwatch/core";
import { generateFlowCsv, type FlowGeneratorOptions } from "@floodwatch/core/generator";
import { closeRedis, connectRedis, publishModel } from "@floodwatch/platform";
import { afterAll, afterEach, beforeAll, describe, expect, it, onTestFailed } from "vitest";
import {
  LiveFeed,
  postUpload,
  readSummary,
  readWindows,
  uploadCsv,
  waitForUploadInProgress,
  waitForUploadEnd,
  waitUntil,
  type CsvSource,
} from "./pipeline-client.ts";
import {
  loadDefaultModel,
  scoreReference,
  trainGeneratedModel,
  type ReferenceScores,
} from "./reference-scoring.ts";
import {
  PipelineStack,
  SHARED_DATA,
  startPipelineRedis,
  type PipelineRedis,
  type StackOptions,
} from "./stack.ts";

const FRIDAY_DDOS = resolve(SHARED_DATA, "cicids2017/friday-ddos.csv");
const realDataPresent = existsSync(FRIDAY_DDOS);
if (!realDataPresent) {
  console.warn(
    `pipeline test on friday-ddos.csv skipped: ${FRIDAY_DDOS} is absent (no ../shared beside this checkout)`,
  );
}

type AdminRedis = ReturnType<typeof connectRedis>;

let redis: PipelineRedis;
let admin: AdminRedis;
let stack: PipelineStack | undefined;
const defaultModel = loadDefaultModel();
/** Flows per window and per step of the shipped model (50/50). */
const WINDOW = defaultModel.window.size;

beforeAll(async () => {
  redis = await startPipelineRedis();
  admin = connectRedis(redis.url, "pipeline-test-admin");
});

afterEach(async () => {
  await stack?.stop();
  stack = undefined;
});

afterAll(async () => {
  if (admin) await closeRedis(admin);
  await redis?.close();
});

/** Starts this test's stack on its own prefix; its processes' output is printed if it fails. */
async function startStack(
  name: string,
  options: Omit<StackOptions, "redisUrl" | "prefix"> = {},
): Promise<PipelineStack> {
  const started = await PipelineStack.start({
    redisUrl: redis.url,
    prefix: `pipe-${name}`,
    ...options,
  });
  stack = started;
  onTestFailed(() => {
    console.error(`services of the failed test "${name}":\n${started.diagnostics()}`);
  });
  return started;
}

/** A generated CSV; equal options give the same bytes for the upload and the reference. */
function generated(options: FlowGeneratorOptions): () => CsvSource {
  return () => generateFlowCsv(options);
}

/** Window index -> how often it occurs among the results. */
function occurrences(windows: readonly WindowResult[]): Map<number, number> {
  const seen = new Map<number, number>();
  for (const w of windows) seen.set(w.window, (seen.get(w.window) ?? 0) + 1);
  return seen;
}

/** Window indexes seen more than once. */
function repeated(seen: ReadonlyMap<number, number>): number[] {
  return [...seen].filter(([, count]) => count > 1).map(([window]) => window);
}

/** The confusion counts the detectors keep for a labelled upload (window rule `any`). */
function confusionOf(windows: readonly WindowResult[]) {
  const counts = { tp: 0, fp: 0, fn: 0, tn: 0 };
  for (const w of windows) {
    const attack = (w.attackFlows ?? 0) > 0;
    if (w.anomaly) counts[attack ? "tp" : "fp"]++;
    else counts[attack ? "fn" : "tn"]++;
  }
  return counts;
}

/**
 * The upload is done and its results, its counters and the in-process reference agree exactly:
 * every window once, with the reference's anomaly verdict, score and attack count.
 */
async function expectExactUpload(
  live: PipelineStack,
  status: UploadStatus,
  reference: ReferenceScores,
): Promise<WindowResult[]> {
  const expectedWindows = Math.floor(reference.rowsAccepted / WINDOW);
  expect(status.state).toBe("done");
  expect(status.rowsAccepted).toBe(reference.rowsAccepted);
  expect(status.rowsRejected).toBe(reference.rowsRejected);
  expect(reference.windowsScored).toBe(expectedWindows);
  expect(status.windowsQueued).toBe(expectedWindows);
  expect(status.windowsScored).toBe(expectedWindows);
  expect(status.tailFlows).toBe(reference.rowsAccepted - expectedWindows * WINDOW);
  expect(status.deadLetters).toBe(0);

  const windows = await readWindows(live, status.uploadId);
  const seen = occurrences(windows);
  expect(seen.size).toBe(expectedWindows);
  expect(repeated(seen), "windows in the results more than once").toEqual([]);
  expect(Math.max(...seen.keys())).toBe(expectedWindows - 1);

  const anomalies = windows.filter((w) => w.anomaly).length;
  expect(status.anomalies).toBe(anomalies);
  expect(anomalies).toBe(reference.anomalies);
  for (const w of windows) {
    const expected = reference.windows.get(w.window)!;
    expect({ window: w.window, anomaly: w.anomaly, attackFlows: w.attackFlows ?? 0 }).toEqual({
      window: w.window,
      anomaly: expected.anomaly,
      attackFlows: expected.attackFlows,
    });
    expect(w.score).toBeCloseTo(expected.score, 12);
  }
  if (reference.labelled) {
    const { tp, fp, fn, tn } = status.quality!;
    expect({ tp, fp, fn, tn }).toEqual(confusionOf(windows));
  }
  return windows;
}

/** `/api/summary` holds exactly the sum of the given uploads' counts. */
async function expectSummaryOf(live: PipelineStack, uploads: readonly UploadStatus[]) {
  const summary = await readSummary(live);
  const windowsScored = uploads.reduce((sum, u) => sum + u.windowsScored, 0);
  expect(summary.windowsScored).toBe(windowsScored);
  expect(summary.flowsScored).toBe(windowsScored * WINDOW);
  expect(summary.anomalies).toBe(uploads.reduce((sum, u) => sum + u.anomalies, 0));
  expect(summary.deadLetters).toBe(0);
  expect(summary.backlog).toBe(0);
}

/**
 * Yields `source`, but holds back everything after the first `headBytes` until `gate` resolves:
 * a body whose second part the test releases when it has done something mid-upload.
 */
async function* gated(
  source: CsvSource,
  headBytes: number,
  gate: Promise<void>,
  onHeadSent: (flows: number) => void = () => undefined,
): AsyncGenerator<string | Uint8Array> {
  let sent = 0;
  let lines = 0;
  let released = false;
  for await (const chunk of source) {
    if (!released && sent >= headBytes) {
      // Lines sent so far, less the header: the flows ingest has read when the gate holds.
      onHeadSent(lines - 1);
      await gate;
      released = true;
    }
    sent += chunk.length;
    if (!released) lines += countLines(chunk);
    yield chunk;
  }
}

function countLines(chunk: string | Uint8Array): number {
  let lines = 0;
  if (typeof chunk === "string") {
    for (let i = chunk.indexOf("\n"); i !== -1; i = chunk.indexOf("\n", i + 1)) lines++;
  } else {
    for (const byte of chunk) if (byte === 10) lines++;
  }
  return lines;
}

/** A promise and the function that resolves it. */
function latch(): { promise: Promise<void>; open: () => void } {
  let open!: () => void;
  const promise = new Promise<void>((resolve) => (open = resolve));
  return { promise, open };
}

/** Pending (delivered, unacknowledged) flow entries per detector. */
async function pendingByDetector(prefix: string): Promise<Map<string, number>> {
  const reply = (await admin.xpending(redisKeys(prefix).flows, DETECTOR_GROUP)) as [
    number,
    string | null,
    string | null,
    [string, string][] | null,
  ];
  return new Map((reply[3] ?? []).map(([name, count]) => [name, Number(count)]));
}

/** Whether a detector's reader connection is blocked in XREADGROUP (`CLIENT LIST`). */
async function readerBlocked(detectorName: string): Promise<boolean> {
  const clients = (await admin.client("LIST")) as string;
  return clients
    .split("\n")
    .some(
      (line) =>
        line.includes(` name=detector:${detectorName}:reader `) &&
        / flags=\w*b/.test(line) &&
        line.includes(" cmd=xreadgroup"),
    );
}

describe("pipeline across processes", { timeout: 120_000 }, () => {
  it.skipIf(!realDataPresent)(
    "scores CIC-IDS2017 friday-ddos.csv exactly as floodwatch score does",
    async () => {
      const live = await startStack("friday");
      const reference = await scoreReference(createReadStream(FRIDAY_DDOS), defaultModel);
      const accepted = await uploadCsv(live, createReadStream(FRIDAY_DDOS), "friday-ddos.csv");
      expect(accepted.rowsAccepted).toBe(5_886);
      expect(accepted.windowsQueued).toBe(117); // floor(5886 / 50)
      expect(accepted.labelled).toBe(true);
      expect(accepted.modelVersion).toBe(defaultModel.version);

      const status = await waitForUploadEnd(live, accepted.uploadId);
      await expectExactUpload(live, status, reference);
      expect(status.anomalies).toBeGreaterThan(0);
      await expectSummaryOf(live, [status]);
    },
  );

  it("scores a generated SYN flood exactly as floodwatch score does", async () => {
    const live = await startStack("generated");
    const csv = generated({ flows: 6_123, attack: "syn", seed: 11 });
    const reference = await scoreReference(csv(), defaultModel);
    const accepted = await uploadCsv(live, csv(), "syn.csv");
    expect(accepted.rowsAccepted).toBe(6_123);
    expect(accepted.windowsQueued).toBe(122);
    expect(accepted.tailFlows).toBe(23);

    const status = await waitForUploadEnd(live, accepted.uploadId);
    await expectExactUpload(live, status, reference);
    expect(status.anomalies).toBeGreaterThan(0);
    await expectSummaryOf(live, [status]);
  });

  it("scores every window exactly once with three detectors, even when one is killed with SIGKILL mid-stream", async () => {
    const live = await startStack("detectors", { detectors: 2 });
    // The third detector blocks in XREADGROUP for up to 30 s between claim passes (its own claim
    // idle time is long; the other two keep the stack's 2 s), so once frozen it stays blocked
    // and is the first in Redis's queue of blocked readers: it is handed the upload's first
    // entry, which it can then never finish.
    const victim = await live.addDetector({
      DETECTOR_CLAIM_IDLE_MS: "60000",
      DETECTOR_BLOCK_MS: "60000",
    });

    const calm = generated({ flows: 20_000, attack: "udp", seed: 21 });
    const calmReference = await scoreReference(calm(), defaultModel);
    const calmAccepted = await uploadCsv(live, calm(), "three-detectors.csv");
    const calmStatus = await waitForUploadEnd(live, calmAccepted.uploadId);
    await expectExactUpload(live, calmStatus, calmReference);
    expect(calmStatus.windowsScored).toBe(400);

    await waitUntil(
      `${victim.name} frozen while blocked in XREADGROUP`,
      async () => {
        victim.signal("SIGSTOP");
        if (await readerBlocked(victim.name)) return true;
        victim.signal("SIGCONT");
        return undefined;
      },
      60_000,
      50,
    );
    const big = generated({ flows: 50_000, attack: "syn", seed: 22 });
    const reference = await scoreReference(big(), defaultModel);
    const posting = uploadCsv(live, big(), "kill-one.csv");
    const held = await waitUntil(
      `${victim.name} to be handed flow entries`,
      async () => {
        const count = (await pendingByDetector(live.prefix)).get(victim.name) ?? 0;
        return count > 0 ? count : undefined;
      },
      30_000,
      5,
    );
    const streaming = await waitForUploadInProgress(
      live,
      (s) => s.windowsScored > 0,
      "the first results of the upload",
      30_000,
      5,
    );
    expect((await victim.crash()).signal).toBe("SIGKILL");
    expect(held).toBeGreaterThan(0);

    const accepted = await posting;
    expect(accepted.uploadId).toBe(streaming.uploadId);
    expect(accepted.windowsQueued).toBe(1_000);
    const status = await waitForUploadEnd(live, accepted.uploadId);
    await expectExactUpload(live, status, reference);
    // The killed detector's entries were claimed and acknowledged by the survivors.
    expect((await pendingByDetector(live.prefix)).get(victim.name) ?? 0).toBe(0);
    expect(live.detectors.filter((d) => d.running)).toHaveLength(2);
    await expectSummaryOf(live, [calmStatus, status]);
  });

  it("rides out a Redis restart during an upload without counting anything twice", async () => {
    const live = await startStack("redis-restart", { detectors: 2 });
    const csv = generated({ flows: 30_000, attack: "http", seed: 31 });
    const reference = await scoreReference(csv(), defaultModel);
    const gate = latch();
    const posting = postUpload(
      live.ingest.url,
      gated(csv(), 5_000_000, gate.promise),
      "restart.csv",
    );

    const streaming = await waitForUploadInProgress(
      live,
      (s) => s.windowsScored > 0,
      "the first results before the restart",
    );
    expect(streaming.state).toBe("streaming");
    await redis.server.restart();
    gate.open();
    const answer = await posting;
    // Either outcome is allowed; a failure must say why.
    if (answer.status !== 201) expect(JSON.parse(answer.body).message).toEqual(expect.any(String));

    const status = await waitForUploadEnd(live, streaming.uploadId, 90_000);
    expect(["done", "failed"]).toContain(status.state);
    if (status.state === "failed") expect(status.error).toMatch(/\S/);
    // A command Redis executed but could not answer before it stopped is sent again after the
    // reconnect (ioredis resends unanswered commands): a step that is not idempotent then
    // queues or counts the same flows twice.
    const windows = await readWindows(live, status.uploadId);
    const seen = occurrences(windows);
    expect(repeated(seen), "windows in the results more than once").toEqual([]);
    expect(status.windowsScored).toBe(seen.size);
    expect(status.windowsScored).toBeLessThanOrEqual(status.windowsQueued);
    expect(status.windowsQueued).toBeLessThanOrEqual(Math.floor(reference.rowsAccepted / WINDOW));
    expect(status.anomalies).toBe(windows.filter((w) => w.anomaly).length);
    for (const w of windows) {
      expect(w.anomaly).toBe(reference.windows.get(w.window)!.anomaly);
    }
    if (status.state === "done") {
      expect(answer.status).toBe(201);
      await expectExactUpload(live, status, reference);
    }

    // After the restart the stack works as before.
    const after = generated({ flows: 8_000, attack: "syn", seed: 32 });
    const afterReference = await scoreReference(after(), defaultModel);
    const accepted = await uploadCsv(live, after(), "after-restart.csv");
    const afterStatus = await waitForUploadEnd(live, accepted.uploadId);
    await expectExactUpload(live, afterStatus, afterReference);
    expect(afterStatus.windowsScored).toBe(160);
    await expectSummaryOf(live, [status, afterStatus]);
  });

  it("keeps separate, exact counters for five concurrent uploads", async () => {
    const live = await startStack("concurrent", { detectors: 2 });
    const inputs: FlowGeneratorOptions[] = [
      { flows: 4_321, attack: "syn", seed: 41 },
      { flows: 5_000, attack: "udp", seed: 42 },
      { flows: 6_789, attack: "http", seed: 43 },
      { flows: 3_333, attack: "slowloris", seed: 44 },
      { flows: 7_050, attack: "none", seed: 45 },
    ];
    const references = await Promise.all(
      inputs.map((options) => scoreReference(generateFlowCsv(options), defaultModel)),
    );
    const accepted = await Promise.all(
      inputs.map((options, i) => uploadCsv(live, generateFlowCsv(options), `concurrent-${i}.csv`)),
    );
    expect(new Set(accepted.map((a) => a.uploadId)).size).toBe(5);
    expect(accepted.map((a) => a.windowsQueued)).toEqual([86, 100, 135, 66, 141]);

    const statuses = await Promise.all(accepted.map((a) => waitForUploadEnd(live, a.uploadId)));
    for (const [i, status] of statuses.entries()) {
      await expectExactUpload(live, status, references[i]!);
    }
    expect(statuses.map((s) => s.anomalies)).toEqual(references.map((r) => r.anomalies));
    await expectSummaryOf(live, statuses);
  });

  it("scores with a model published mid-stream from then on, and with the old one before", async () => {
    const live = await startStack("model-switch", { detectors: 2 });
    const next: FloodwatchModel = trainGeneratedModel({
      features: defaultModel.features,
      window: defaultModel.window,
      flows: 20_000,
      seed: 5_151,
      trainStride: 10,
    });
    expect(next.version).not.toBe(defaultModel.version);

    const csv = generated({ flows: 20_000, attack: "syn", seed: 51 });
    const [oldReference, newReference] = await Promise.all([
      scoreReference(csv(), defaultModel),
      scoreReference(csv(), next),
    ]);
    const gate = latch();
    let flowsBeforeGate = -1;
    const posting = uploadCsv(
      live,
      gated(csv(), 4_000_000, gate.promise, (flows) => (flowsBeforeGate = flows)),
      "model-switch.csv",
    );

    // Every entry of the first part scored: ingest holds the rest of the body (and a partial
    // entry), so nothing is in flight when the new model is published.
    const entryFlows = 2_000; // INGEST_ENTRY_FLOWS' default: 40 windows of 50 flows
    const before = await waitForUploadInProgress(
      live,
      (s) =>
        flowsBeforeGate > 0 &&
        s.windowsQueued === Math.floor(flowsBeforeGate / entryFlows) * (entryFlows / WINDOW) &&
        s.windowsScored === s.windowsQueued,
      "the first part of the upload to be scored",
    );
    expect(before.state).toBe("streaming");
    expect(before.windowsScored).toBeGreaterThan(0);
    expect(before.windowsScored).toBeLessThan(400);
    await publishModel(admin, redisKeys(live.prefix), next);
    for (const detector of live.detectors) {
      await waitUntil(
        `${detector.name} to load model ${next.version}`,
        async () => {
          const health = (await (await fetch(`${detector.url}/health`)).json()) as {
            model: string | null;
          };
          return health.model === next.version ? true : undefined;
        },
        30_000,
      );
    }
    gate.open();

    const accepted = await posting;
    expect(accepted.modelVersion).toBe(defaultModel.version);
    const status = await waitForUploadEnd(live, accepted.uploadId);
    expect(status.state).toBe("done");
    expect(status.windowsScored).toBe(400);
    const windows = await readWindows(live, status.uploadId);
    const seen = occurrences(windows);
    expect(seen.size).toBe(400);
    expect(repeated(seen), "windows in the results more than once").toEqual([]);

    const boundary = before.windowsScored;
    let anomalies = 0;
    for (const w of windows) {
      const old = w.window < boundary;
      expect({ window: w.window, modelVersion: w.modelVersion }).toEqual({
        window: w.window,
        modelVersion: old ? defaultModel.version : next.version,
      });
      const expected = (old ? oldReference : newReference).windows.get(w.window)!;
      expect(w.anomaly).toBe(expected.anomaly);
      expect(w.score).toBeCloseTo(expected.score, 12);
      if (expected.anomaly) anomalies++;
    }
    expect(status.anomalies).toBe(anomalies);
    await expectSummaryOf(live, [status]);
  });

  it("sends every window of an upload exactly once on the WebSocket", async () => {
    const live = await startStack("websocket", { detectors: 2 });
    const feed = await LiveFeed.connect(live.api.url);
    try {
      const csv = generated({ flows: 15_000, attack: "syn", seed: 61 });
      const accepted = await uploadCsv(live, csv(), "websocket.csv");
      const status = await waitForUploadEnd(live, accepted.uploadId);
      expect(status.windowsScored).toBe(300);
      await waitUntil(
        "every window on the WebSocket",
        () => (feed.occurrences(accepted.uploadId).size >= 300 ? true : undefined),
        30_000,
      );
      // A duplicate would come in a later batch: give the relay a few flushes to send one.
      await new Promise((r) => setTimeout(r, 500));
      const seen = feed.occurrences(accepted.uploadId);
      expect(seen.size).toBe(300);
      expect(repeated(seen), "windows received more than once").toEqual([]);
      expect(feed.invalidMessages).toBe(0);
      const windows = await readWindows(live, accepted.uploadId);
      expect(status.anomalies).toBe(windows.filter((w) => w.anomaly).length);
    } finally {
      feed.close();
    }
  });
});
