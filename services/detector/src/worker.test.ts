/**
 * In-process detectors against a real redis-server: exactly-once counting, dead letters, model
 * hot reload and a lost stream. Entries are produced as ingest produces them.
 */
import { readFileSync } from "node:fs";
import {
  DETECTOR_GROUP,
  FlowCsvReader,
  FlowEntryBuilder,
  TrainingFlows,
  parseModel,
  redisKeys,
  scoreFlowCsv,
  explainerFor,
  windowFindings,
  type WindowFindings,
  trainModel,
  type FloodwatchModel,
  type RedisKeys,
} from "@floodwatch/core";
import { generateFlowCsv } from "@floodwatch/core/generator";
import {
  backlog,
  closeRedis,
  connectRedis,
  createUpload,
  defaultModelPath,
  finishUpload,
  publishModel,
  queueFlowEntry,
  startRedisServer,
  type RedisServer,
} from "@floodwatch/platform";
import type { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

import {
  createUploadRecord,
  finishIngest,
  prepareUpload,
  queueEntries,
  queueUpload,
  readDeadLetters,
  readResults,
  startTestDetector,
  totalsOf,
  waitFor,
  windowOccurrences,
  type GeneratedFlows,
  type PreparedUpload,
} from "./detector-test-kit.ts";

let server: RedisServer;
let admin: Redis;
let defaultModel: FloodwatchModel;
let prefixes = 0;
const freshKeys = () => redisKeys(`detector-worker-${++prefixes}`);

/** A syn flood in the middle of benign traffic: 4,000 flows, 80 windows. */
const SYN_FLOWS: GeneratedFlows = { flows: 4_000, seed: 11, attack: "syn" };

beforeAll(async () => {
  server = await startRedisServer();
  admin = connectRedis(server.url, "test-admin");
  defaultModel = parseModel(readFileSync(defaultModelPath(), "utf8"));
});

afterAll(async () => {
  if (admin) await closeRedis(admin);
  await server?.stop();
});

/** A second model: same features and window, other training flows and seed. */
function trainSecondModel(): FloodwatchModel {
  const reader = new FlowCsvReader({ features: defaultModel.features });
  const flows = new TrainingFlows(defaultModel.features.length);
  for (const chunk of generateFlowCsv({ flows: 4_000, attack: "none", seed: 7 })) {
    for (const batch of reader.push(chunk)) flows.add(batch);
  }
  for (const batch of reader.end()) flows.add(batch);
  flows.endSequence();
  return trainModel(flows, {
    features: defaultModel.features,
    window: defaultModel.window,
    trainStride: 10,
    trees: 25,
    seed: 99,
    createdAt: "2026-01-01T00:00:00.000Z",
    toolVersion: "test",
    contentHash: "sha256:test",
    sources: ["generated"],
  });
}

async function waitForState(keys: RedisKeys, uploadId: string, state: string): Promise<void> {
  await waitFor(`upload ${uploadId} ${state}`, async () => {
    return (await admin.hget(keys.upload(uploadId), "state")) === state;
  });
}

/**
 * Every window of the upload on the results stream exactly once, and the counters equal to the
 * sums over those results. Returns the upload's results.
 */
async function expectExactlyOnce(keys: RedisKeys, upload: PreparedUpload) {
  const results = (await readResults(admin, keys)).filter((r) => r.uploadId === upload.uploadId);
  const seen = windowOccurrences(results, upload.uploadId);
  expect([...seen.keys()].sort((a, b) => a - b)).toEqual(
    Array.from({ length: upload.windows }, (_, i) => i),
  );
  expect([...seen.values()].every((count) => count === 1)).toBe(true);
  const totals = totalsOf(results);
  const hash = await admin.hgetall(keys.upload(upload.uploadId));
  expect(Number(hash.windowsScored)).toBe(upload.windows);
  expect(Number(hash.flowsScored)).toBe(upload.flows);
  expect(Number(hash.anomalies)).toBe(totals.anomalies);
  expect(Number(hash.worstScore)).toBe(totals.worstScore);
  expect([hash.tp, hash.fp, hash.fn, hash.tn].map(Number)).toEqual([
    totals.tp,
    totals.fp,
    totals.fn,
    totals.tn,
  ]);
  expect(hash.state).toBe("done");
  return { results, totals, hash };
}

async function counters(keys: RedisKeys): Promise<Record<string, string>> {
  return admin.hgetall(keys.counters);
}

describe("DetectorWorker", () => {
  it("scores every window exactly once, with counters equal to the results and to in-process scoring", async () => {
    const keys = freshKeys();
    const upload = prepareUpload("solo", defaultModel, SYN_FLOWS, 3);
    // No model is active yet: the worker publishes the shipped default.
    const detector = await startTestDetector(server.url, keys, "solo-1");
    try {
      expect(await admin.get(keys.activeModel)).toBe(defaultModel.version);
      expect(detector.worker.modelVersion).toBe(defaultModel.version);
      await queueUpload(admin, keys, upload);
      await waitForState(keys, "solo", "done");

      const { results, totals } = await expectExactlyOnce(keys, upload);
      const findings = new Map<number, WindowFindings>();
      const inProcess = await scoreFlowCsv(generateFlowCsv(SYN_FLOWS), defaultModel, (scored) => {
        for (let w = 0; w < scored.windows.count; w++) {
          findings.set(
            scored.windows.index[w]!,
            windowFindings(scored, w, "anomalies", explainerFor(defaultModel)),
          );
        }
      });
      // Who, when and why went through the stream entries and the results intact.
      for (const r of results) {
        const expected = findings.get(r.window)!;
        expect(r.victims).not.toBeNull();
        expect(r.start).not.toBeNull();
        expect(r.explanation === null).toBe(!r.anomaly);
        expect({
          start: r.start,
          end: r.end,
          victims: r.victims,
          sources: r.sources,
          ports: r.ports,
          explanation: r.explanation,
          explanationFeatures: r.explanationFeatures,
        }).toEqual(expected);
      }
      expect(upload.windows).toBe(80);
      expect(inProcess.windowsScored).toBe(upload.windows);
      expect(totals.anomalies).toBe(inProcess.anomalies);
      expect(totals.anomalies).toBeGreaterThan(0);
      expect(totals.tp).toBeGreaterThan(0);
      expect(results.every((r) => r.modelVersion === defaultModel.version)).toBe(true);

      const global = await counters(keys);
      expect(Number(global.windowsScored)).toBe(upload.windows);
      expect(Number(global.flowsScored)).toBe(upload.flows);
      expect(Number(global.anomalies)).toBe(totals.anomalies);
      expect(Number(global.worstScore)).toBe(totals.worstScore);
      expect(global.deadLetters).toBeUndefined();
      const rate = Object.values(await admin.hgetall(keys.flowRate)).map(Number);
      expect(rate.reduce((a, b) => a + b, 0)).toBe(upload.flows);
      expect(await admin.xlen(keys.results)).toBe(upload.entries.length);
      expect((await detector.metrics.windowsScored.get()).values[0]!.value).toBe(upload.windows);
      expect((await detector.metrics.anomalies.get()).values[0]!.value).toBe(totals.anomalies);
      expect(await admin.zscore(keys.detectors, "solo-1")).not.toBeNull();
      expect((await admin.xpending(keys.flows, "detectors"))[0]).toBe(0);
    } finally {
      await detector.stop();
    }
    expect(await admin.zscore(keys.detectors, "solo-1")).toBeNull();
  });

  it("three workers together still score every window exactly once", async () => {
    const keys = freshKeys();
    await publishModel(admin, keys, defaultModel);
    const upload = prepareUpload("trio", defaultModel, { ...SYN_FLOWS, flows: 6_000 }, 1);
    const detectors = await Promise.all(
      ["trio-1", "trio-2", "trio-3"].map((name) => startTestDetector(server.url, keys, name)),
    );
    try {
      await queueUpload(admin, keys, upload);
      await waitForState(keys, "trio", "done");
      const { totals } = await expectExactlyOnce(keys, upload);
      const global = await counters(keys);
      expect(Number(global.windowsScored)).toBe(120);
      expect(Number(global.anomalies)).toBe(totals.anomalies);
      let committedByWorkers = 0;
      for (const d of detectors) {
        committedByWorkers += (await d.metrics.windowsScored.get()).values[0]?.value ?? 0;
      }
      expect(committedByWorkers).toBe(120);
    } finally {
      await Promise.all(detectors.map((d) => d.stop()));
    }
  });

  it("scores a read's entries in stream order, and their results follow in that order", async () => {
    const keys = freshKeys();
    await publishModel(admin, keys, defaultModel);
    // 80 entries of one window, all queued before the detector starts: every read returns a
    // full batch, whose entries are scored while the one before is committed.
    const upload = prepareUpload("order", defaultModel, SYN_FLOWS, 1);
    await queueUpload(admin, keys, upload);
    const { scoreFlowEntry } = await import("@floodwatch/core");
    const scoredOrder: number[] = [];
    const detector = await startTestDetector(
      server.url,
      keys,
      "order-1",
      { readCount: 8 },
      {
        score: (entry, model, options) => {
          scoredOrder.push(entry.meta.firstWindow);
          return scoreFlowEntry(entry, model, options);
        },
      },
    );
    try {
      await waitForState(keys, "order", "done");
      const inOrder = Array.from({ length: upload.windows }, (_, i) => i);
      expect(scoredOrder).toEqual(inOrder);
      expect((await readResults(admin, keys)).map((r) => r.window)).toEqual(inOrder);
      await expectExactlyOnce(keys, upload);
      expect(Number((await counters(keys)).windowsScored)).toBe(upload.windows);
    } finally {
      await detector.stop();
    }
  });

  it("dead-letters undecodable entries and entries for an unknown model, and still finishes the upload", async () => {
    const keys = freshKeys();
    await publishModel(admin, keys, defaultModel);
    const upload = prepareUpload("mixed", defaultModel, { ...SYN_FLOWS, flows: 1_000 }, 2);
    expect(upload.entries.length).toBe(10);
    // Entry 4 arrives with its values cut short; its meta still names the upload.
    const broken = upload.flowEntries[4]!;
    upload.flowEntries[4] = { ...broken, values: broken.values.subarray(0, 10) };

    // An upload shaped by a model the registry never had, with a window no model here fits.
    const reader = new FlowCsvReader({ features: defaultModel.features });
    const builder = new FlowEntryBuilder({
      uploadId: "orphan",
      featureCount: defaultModel.features.length,
      window: { size: 40, stride: 40 },
      windowsPerEntry: 5,
      modelVersion: "0000deadbeef",
      labelled: true,
    });
    const orphanEntries = [];
    for (const chunk of generateFlowCsv({ flows: 200, attack: "none", seed: 3 })) {
      for (const batch of reader.push(chunk)) orphanEntries.push(...builder.push(batch));
    }
    for (const batch of reader.end()) orphanEntries.push(...builder.push(batch));
    expect(orphanEntries.length).toBe(1);

    const detector = await startTestDetector(server.url, keys, "dead-1");
    try {
      await createUploadRecord(admin, keys, upload);
      await queueEntries(admin, keys, upload);
      await finishIngest(admin, keys, upload);
      const orphanProgress = { rowsAccepted: 200, rowsRejected: 0, rowsRejectedDelta: 0 };
      await createUpload(admin, keys, {
        uploadId: "orphan",
        name: "orphan.csv",
        createdAt: Date.now(),
        labelled: true,
        modelVersion: "0000deadbeef",
        window: { size: 40, stride: 40 },
      });
      await queueFlowEntry(admin, keys, orphanEntries[0]!, {
        ...orphanProgress,
        updatedAt: Date.now(),
      });
      await finishUpload(admin, keys, "orphan", {
        ...orphanProgress,
        rejected: [],
        tailFlows: 0,
        updatedAt: Date.now(),
      });
      const garbageId = await admin.xadd(
        keys.flows,
        "*",
        "meta",
        "{not json",
        "values",
        "x",
        "lines",
        "y",
        "attack",
        "z",
      );
      await waitForState(keys, "mixed", "done");
      await waitForState(keys, "orphan", "done");
      await waitFor("three dead letters", async () => (await admin.xlen(keys.deadLetters)) === 3);

      const letters = await readDeadLetters(admin, keys);
      const byUpload = new Map(letters.map((l) => [l.uploadId, l]));
      expect(byUpload.get("mixed")!.reason).toBe(
        "undecodable entry: values holds 80 bytes, expected 20000",
      );
      expect(byUpload.get("orphan")!.reason).toBe(
        "model version 0000deadbeef is not in the registry",
      );
      expect(byUpload.get("")).toMatchObject({
        entryId: garbageId,
        reason: "undecodable entry: entry meta is not JSON",
        deliveries: "1",
      });
      for (const letter of letters) expect(Number(letter.at)).toBeGreaterThan(0);

      const global = await counters(keys);
      expect(Number(global.deadLetters)).toBe(3);
      expect(Number(global.windowsDeadLettered)).toBe(2 + 5);
      expect(Number(global.windowsScored)).toBe(upload.windows - 2);
      const mixed = await admin.hgetall(keys.upload("mixed"));
      expect(mixed).toMatchObject({ entriesDeadLettered: "1", windowsDeadLettered: "2" });
      expect(Number(mixed.windowsScored)).toBe(upload.windows - 2);
      const seen = windowOccurrences(await readResults(admin, keys), "mixed");
      expect([...seen.keys()].sort((a, b) => a - b)).toEqual(
        Array.from({ length: upload.windows }, (_, i) => i).filter((w) => w !== 8 && w !== 9),
      );
      expect(await admin.hget(keys.upload("orphan"), "windowsDeadLettered")).toBe("5");
      expect((await detector.metrics.entriesDeadLettered.get()).values[0]!.value).toBe(3);
      expect((await admin.xpending(keys.flows, "detectors"))[0]).toBe(0);
    } finally {
      await detector.stop();
    }
  });

  it("retries an entry that keeps failing and dead-letters it after maxDeliveries", async () => {
    const keys = freshKeys();
    await publishModel(admin, keys, defaultModel);
    const healthy = prepareUpload("healthy", defaultModel, { ...SYN_FLOWS, flows: 500 }, 5);
    const poison = prepareUpload("poison", defaultModel, { ...SYN_FLOWS, flows: 250 }, 5);
    let poisonAttempts = 0;
    const { scoreFlowEntry } = await import("@floodwatch/core");
    const detector = await startTestDetector(
      server.url,
      keys,
      "retry-1",
      { claimIdleMs: 300, maxDeliveries: 3 },
      {
        score: (entry, model, options) => {
          if (entry.meta.uploadId === "poison") {
            poisonAttempts++;
            throw new Error("scoring crashed");
          }
          return scoreFlowEntry(entry, model, options);
        },
      },
    );
    try {
      await queueUpload(admin, keys, poison);
      await queueUpload(admin, keys, healthy);
      await waitForState(keys, "healthy", "done");
      await waitForState(keys, "poison", "done");
      expect(poisonAttempts).toBe(3);
      const letters = await readDeadLetters(admin, keys);
      expect(letters).toHaveLength(1);
      expect(letters[0]).toMatchObject({
        uploadId: "poison",
        reason: "failed 3 deliveries",
        deliveries: "3",
      });
      expect(await admin.hget(keys.upload("poison"), "windowsDeadLettered")).toBe("5");
      expect(Number((await counters(keys)).windowsScored)).toBe(healthy.windows);
      expect((await admin.xpending(keys.flows, "detectors"))[0]).toBe(0);
    } finally {
      await detector.stop();
    }
  });

  it("dead-letters at once an entry whose results break core's schema, writing no result", async () => {
    const keys = freshKeys();
    await publishModel(admin, keys, defaultModel);
    const upload = prepareUpload("invalid", defaultModel, { ...SYN_FLOWS, flows: 500 }, 5);
    const { scoreFlowEntry } = await import("@floodwatch/core");
    const detector = await startTestDetector(
      server.url,
      keys,
      "invalid-1",
      { maxDeliveries: 3 },
      {
        score: (entry, model, options) => {
          const scored = scoreFlowEntry(entry, model, options);
          // The second entry's first window gets a score no JSON can carry.
          if (entry.meta.seq === 1) scored.results[0]!.score = Number.NaN;
          return scored;
        },
      },
    );
    try {
      await queueUpload(admin, keys, upload);
      await waitForState(keys, "invalid", "done");
      const letters = await readDeadLetters(admin, keys);
      expect(letters).toHaveLength(1);
      expect(letters[0]).toMatchObject({ uploadId: "invalid", deliveries: "1" });
      expect(letters[0]!.reason).toMatch(/^window result 0\.score: /);
      expect(await admin.hget(keys.upload("invalid"), "windowsDeadLettered")).toBe("5");
      const seen = windowOccurrences(await readResults(admin, keys), "invalid");
      expect([...seen.keys()].sort((a, b) => a - b)).toEqual([0, 1, 2, 3, 4]);
    } finally {
      await detector.stop();
    }
  });

  it("switches to a model published mid-stream: later results carry the new version", async () => {
    const keys = freshKeys();
    await publishModel(admin, keys, defaultModel);
    const second = trainSecondModel();
    expect(second.version).not.toBe(defaultModel.version);
    const upload = prepareUpload("reload", defaultModel, SYN_FLOWS, 4);
    const detector = await startTestDetector(server.url, keys, "reload-1");
    try {
      await createUploadRecord(admin, keys, upload);
      const half = upload.entries.length / 2;
      await queueEntries(admin, keys, upload, 0, half);
      await waitFor("first half scored", async () => {
        return Number(await admin.hget(keys.upload("reload"), "windowsScored")) === half * 4;
      });
      await publishModel(admin, keys, second);
      await waitFor("switch", () => detector.worker.modelVersion === second.version);
      await queueEntries(admin, keys, upload, half);
      await finishIngest(admin, keys, upload);
      await waitForState(keys, "reload", "done");

      const { results } = await expectExactlyOnce(keys, upload);
      for (const r of results) {
        expect(r.modelVersion).toBe(r.window < half * 4 ? defaultModel.version : second.version);
      }
      const info = await detector.metrics.modelInfo.get();
      expect(info.values).toEqual([{ labels: { version: second.version }, value: 1 }]);
    } finally {
      await detector.stop();
    }
  });

  it("finds an activation it missed by checking the registry periodically", async () => {
    const keys = freshKeys();
    await publishModel(admin, keys, defaultModel);
    const second = trainSecondModel();
    const detector = await startTestDetector(server.url, keys, "check-1", { modelCheckMs: 100 });
    try {
      await publishModel(admin, keys, second, { activate: false });
      await admin.set(keys.activeModel, second.version); // no announcement
      await waitFor("switch", () => detector.worker.modelVersion === second.version);
    } finally {
      await detector.stop();
    }
  });

  it("keeps scoring with the current model when the activated one cannot be loaded", async () => {
    const keys = freshKeys();
    await publishModel(admin, keys, defaultModel);
    const upload = prepareUpload("steady", defaultModel, { ...SYN_FLOWS, flows: 500 }, 2);
    const detector = await startTestDetector(server.url, keys, "steady-1", { modelCheckMs: 100 });
    try {
      await admin.set(keys.model("0badf11e0000"), "{}");
      await admin.set(keys.activeModel, "0badf11e0000");
      await admin.publish(keys.modelChannel, "0badf11e0000");
      await queueUpload(admin, keys, upload);
      await waitForState(keys, "steady", "done");
      expect(detector.worker.modelVersion).toBe(defaultModel.version);
      const { results } = await expectExactlyOnce(keys, upload);
      expect(new Set(results.map((r) => r.modelVersion))).toEqual(new Set([defaultModel.version]));
    } finally {
      await detector.stop();
    }
  });

  it("recreates the consumer group when the stream is lost and scores what arrives after", async () => {
    const keys = freshKeys();
    await publishModel(admin, keys, defaultModel);
    const before = prepareUpload("before", defaultModel, { ...SYN_FLOWS, flows: 500 }, 2);
    const after = prepareUpload("after", defaultModel, { ...SYN_FLOWS, flows: 500, seed: 12 }, 2);
    const detector = await startTestDetector(server.url, keys, "lost-1");
    try {
      await queueUpload(admin, keys, before);
      await waitForState(keys, "before", "done");
      await admin.del(keys.flows); // as a Redis restarted without its data would have it
      await queueUpload(admin, keys, after);
      await waitForState(keys, "after", "done");
      await expectExactlyOnce(keys, after);
      const groups = (await admin.xinfo("GROUPS", keys.flows)) as unknown[][];
      expect(groups.map((g) => g[1])).toEqual(["detectors"]);
    } finally {
      await detector.stop();
    }
  });

  it("acknowledges claimed ids whose entries were deleted from the stream", async () => {
    const keys = freshKeys();
    await publishModel(admin, keys, defaultModel);
    const upload = prepareUpload("deleted", defaultModel, { ...SYN_FLOWS, flows: 500 }, 5);
    await admin.xgroup("CREATE", keys.flows, DETECTOR_GROUP, "0", "MKSTREAM");
    const ids = await queueEntries(admin, keys, upload);
    // A detector that read both entries and died; then one entry was deleted by hand.
    await admin.xreadgroup("GROUP", DETECTOR_GROUP, "ghost", "STREAMS", keys.flows, ">");
    await admin.xdel(keys.flows, ids[0]!);
    const detector = await startTestDetector(server.url, keys, "deleted-1", { claimIdleMs: 100 });
    try {
      await waitFor("nothing pending", async () => {
        return (await admin.xpending(keys.flows, DETECTOR_GROUP))[0] === 0;
      });
      const seen = windowOccurrences(await readResults(admin, keys), "deleted");
      expect([...seen.keys()].sort((a, b) => a - b)).toEqual([5, 6, 7, 8, 9]);
      expect(await admin.xlen(keys.deadLetters)).toBe(0);
    } finally {
      await detector.stop();
    }
  });

  it("trims acknowledged flow entries and prunes flow-rate seconds older than 5 minutes", async () => {
    const keys = freshKeys();
    await publishModel(admin, keys, defaultModel);
    const nowSecond = Math.floor(Date.now() / 1000);
    await admin.hset(keys.flowRate, { [nowSecond - 301]: 7, [nowSecond - 10]: 9 });
    const upload = prepareUpload("trimmed", defaultModel, { ...SYN_FLOWS, flows: 1_000 }, 2);
    const detector = await startTestDetector(server.url, keys, "trim-1", { housekeepingMs: 100 });
    try {
      await queueUpload(admin, keys, upload);
      await waitForState(keys, "trimmed", "done");
      await waitFor("flows trimmed", async () => (await admin.xlen(keys.flows)) === 0);
      await waitFor(
        "old second pruned",
        async () => !(await admin.hexists(keys.flowRate, String(nowSecond - 301))),
      );
      expect(await admin.hget(keys.flowRate, String(nowSecond - 10))).toBe("9");
      await expectExactlyOnce(keys, upload);
    } finally {
      await detector.stop();
    }
  });

  it("reports the backlog as the group's lag plus its pending entries", async () => {
    const keys = freshKeys();
    expect(await backlog(admin, keys)).toBe(0);
    const upload = prepareUpload("backlog", defaultModel, { ...SYN_FLOWS, flows: 500 }, 1);
    await admin.xgroup("CREATE", keys.flows, DETECTOR_GROUP, "0", "MKSTREAM");
    const ids = await queueEntries(admin, keys, upload);
    expect(await backlog(admin, keys)).toBe(10);
    await admin.xreadgroup("GROUP", DETECTOR_GROUP, "c", "COUNT", 4, "STREAMS", keys.flows, ">");
    expect(await backlog(admin, keys)).toBe(10);
    await admin.xack(keys.flows, DETECTOR_GROUP, ...ids.slice(0, 3));
    expect(await backlog(admin, keys)).toBe(7);
  });
});
