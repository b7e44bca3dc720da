/**
 * The detectors' guarded pipeline-state steps (platform's) on their own: a redelivered entry never counts twice, the upload's
 * `done` rule holds whichever side finishes last, and trimming never drops what a group needs.
 */
import { readFileSync } from "node:fs";
import {
  DETECTOR_GROUP,
  decodeFlowEntry,
  encodeResultEntry,
  parseModel,
  redisKeys,
  scoreFlowEntry,
  type FloodwatchModel,
  type RedisKeys,
} from "@floodwatch/core";
import {
  closeRedis,
  commitScoredEntry,
  connectRedis,
  deadLetterEntry,
  defaultModelPath,
  trimAcknowledgedFlows,
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
  readResults,
  type PreparedUpload,
} from "./detector-test-kit.ts";

let server: RedisServer;
let redis: Redis;
let model: FloodwatchModel;
let prefixes = 0;
const freshKeys = () => redisKeys(`detector-commit-${++prefixes}`);
const LIMITS = { resultsMaxLength: 1_000 };

beforeAll(async () => {
  server = await startRedisServer();
  redis = connectRedis(server.url, "test-commit");
  model = parseModel(readFileSync(defaultModelPath(), "utf8"));
});

afterAll(async () => {
  if (redis) await closeRedis(redis);
  await server?.stop();
});

/** Queues the upload and delivers its entries to `consumer`, as XREADGROUP would. */
async function deliver(keys: RedisKeys, upload: PreparedUpload, consumer: string) {
  await redis.xgroup("CREATE", keys.flows, DETECTOR_GROUP, "0", "MKSTREAM");
  await createUploadRecord(redis, keys, upload);
  const ids = await queueEntries(redis, keys, upload);
  await redis.xreadgroup("GROUP", DETECTOR_GROUP, consumer, "STREAMS", keys.flows, ">");
  return ids;
}

/** Scores entry `i` of the upload and builds its commit. */
function scored(upload: PreparedUpload, id: string, i: number, at = 1_700_000_000_000) {
  const e = upload.entries[i]!;
  const entry = decodeFlowEntry({
    meta: e.meta,
    values: e.values,
    lines: e.lines,
    attack: e.attack,
  });
  const { results, tally } = scoreFlowEntry(entry, model, { now: at });
  return {
    entryId: id,
    uploadId: upload.uploadId,
    labelled: true,
    results: encodeResultEntry(results),
    tally,
    at,
  };
}

describe("commitScoredEntry", () => {
  it("counts an entry once however often it is committed", async () => {
    const keys = freshKeys();
    const upload = prepareUpload("twice", model, { flows: 500, seed: 5, attack: "syn" }, 10);
    const [id] = await deliver(keys, upload, "first");
    const commit = scored(upload, id!, 0);
    expect(await commitScoredEntry(redis, keys, commit, LIMITS)).toBe(true);
    // A redelivery: another detector claims the entry after the first one committed it.
    await redis.xclaim(keys.flows, DETECTOR_GROUP, "second", 0, id!);
    expect(await commitScoredEntry(redis, keys, { ...commit, at: commit.at + 5_000 }, LIMITS)).toBe(
      false,
    );
    expect(await commitScoredEntry(redis, keys, commit, LIMITS)).toBe(false);

    const counters = await redis.hgetall(keys.counters);
    expect(Number(counters.windowsScored)).toBe(10);
    expect(Number(counters.flowsScored)).toBe(500);
    expect(Number(counters.anomalies)).toBe(commit.tally.anomalies);
    const hash = await redis.hgetall(keys.upload("twice"));
    expect(hash.windowsScored).toBe("10");
    expect(hash.updatedAt).toBe(String(commit.at));
    expect(Number(hash.tp) + Number(hash.fp) + Number(hash.fn) + Number(hash.tn)).toBe(10);
    expect(await redis.xlen(keys.results)).toBe(1);
    expect(await redis.hgetall(keys.flowRate)).toEqual({ "1700000000": "500" });
    const results = await readResults(redis, keys);
    expect(results.map((r) => r.window)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  });

  it("keeps the lowest score as worstScore and the latest as lastScore, at full precision", async () => {
    const keys = freshKeys();
    const upload = prepareUpload("scores", model, { flows: 1_000, seed: 6, attack: "syn" }, 5);
    const ids = await deliver(keys, upload, "c");
    const commits = ids.map((id, i) => scored(upload, id, i));
    for (const commit of commits) await commitScoredEntry(redis, keys, commit, LIMITS);
    const worst = Math.min(...commits.map((c) => c.tally.worstScore));
    const hash = await redis.hgetall(keys.upload("scores"));
    expect(Number(hash.worstScore)).toBe(worst);
    expect(Number(hash.lastScore)).toBe(commits.at(-1)!.tally.lastScore);
    expect(Number((await redis.hgetall(keys.counters)).worstScore)).toBe(worst);
  });

  it("sets done when the last window is committed after ingest finished", async () => {
    const keys = freshKeys();
    const upload = prepareUpload("late", model, { flows: 500, seed: 7, attack: "none" }, 5);
    const ids = await deliver(keys, upload, "c");
    await finishIngest(redis, keys, upload);
    expect(await redis.hget(keys.upload("late"), "state")).toBe("scoring");
    await commitScoredEntry(redis, keys, scored(upload, ids[0]!, 0), LIMITS);
    expect(await redis.hget(keys.upload("late"), "state")).toBe("scoring");
    await commitScoredEntry(redis, keys, scored(upload, ids[1]!, 1), LIMITS);
    expect(await redis.hget(keys.upload("late"), "state")).toBe("done");
  });

  it("leaves done to ingest when the detectors finish first, and never overrides failed", async () => {
    const keys = freshKeys();
    const upload = prepareUpload("early", model, { flows: 500, seed: 8, attack: "none" }, 5);
    const ids = await deliver(keys, upload, "c");
    for (const [i, id] of ids.entries()) {
      await commitScoredEntry(redis, keys, scored(upload, id, i), LIMITS);
    }
    expect(await redis.hget(keys.upload("early"), "state")).toBe("streaming");
    await finishIngest(redis, keys, upload);
    expect(await redis.hget(keys.upload("early"), "state")).toBe("done");

    const failing = prepareUpload("failing", model, { flows: 500, seed: 9, attack: "none" }, 5);
    const keys2 = freshKeys();
    const ids2 = await deliver(keys2, failing, "c");
    await redis.hset(keys2.upload("failing"), {
      state: "failed",
      error: "body cut",
      ingestDone: 1,
    });
    for (const [i, id] of ids2.entries()) {
      await commitScoredEntry(redis, keys2, scored(failing, id, i), LIMITS);
    }
    expect(await redis.hmget(keys2.upload("failing"), "state", "windowsScored")).toEqual([
      "failed",
      "10",
    ]);
  });

  it("does not bring back a deleted upload hash, but still counts globally", async () => {
    const keys = freshKeys();
    const upload = prepareUpload("gone", model, { flows: 500, seed: 10, attack: "none" }, 10);
    const [id] = await deliver(keys, upload, "c");
    await redis.del(keys.upload("gone"));
    expect(await commitScoredEntry(redis, keys, scored(upload, id!, 0), LIMITS)).toBe(true);
    expect(await redis.exists(keys.upload("gone"))).toBe(0);
    expect(await redis.hget(keys.counters, "windowsScored")).toBe("10");
  });
});

describe("deadLetterEntry", () => {
  it("moves an entry once and counts its windows towards the upload", async () => {
    const keys = freshKeys();
    const upload = prepareUpload("letters", model, { flows: 500, seed: 11, attack: "none" }, 5);
    const ids = await deliver(keys, upload, "c");
    await finishIngest(redis, keys, upload);
    const letter = {
      entryId: ids[0]!,
      uploadId: "letters",
      windows: 5,
      reason: "failed 5 deliveries",
      deliveries: 5,
      at: 1_700_000_000_000,
    };
    expect(await deadLetterEntry(redis, keys, letter)).toBe(true);
    expect(await deadLetterEntry(redis, keys, letter)).toBe(false);
    await commitScoredEntry(redis, keys, scored(upload, ids[1]!, 1), LIMITS);
    expect(await redis.hgetall(keys.counters)).toMatchObject({
      deadLetters: "1",
      windowsDeadLettered: "5",
      windowsScored: "5",
    });
    expect(await redis.hgetall(keys.upload("letters"))).toMatchObject({
      entriesDeadLettered: "1",
      windowsDeadLettered: "5",
      state: "done",
    });
    const letters = await redis.xrange(keys.deadLetters, "-", "+");
    expect(letters).toHaveLength(1);
    expect(letters[0]![1]).toEqual([
      "entryId",
      ids[0],
      "uploadId",
      "letters",
      "reason",
      "failed 5 deliveries",
      "deliveries",
      "5",
      "at",
      "1700000000000",
    ]);
  });
});

describe("trimAcknowledgedFlows", () => {
  it("trims only below the oldest entry some group has not delivered and acknowledged", async () => {
    const keys = freshKeys();
    const upload = prepareUpload("trim", model, { flows: 500, seed: 12, attack: "none" }, 1);
    const ids = await deliver(keys, upload, "c"); // 10 entries, all pending in `detectors`
    await redis.xgroup("CREATE", keys.flows, "audit", "0");
    expect(await trimAcknowledgedFlows(redis, keys)).toBe(0);

    await redis.xack(keys.flows, DETECTOR_GROUP, ...ids.slice(0, 4));
    // `audit` has delivered nothing yet: it still needs every entry.
    expect(await trimAcknowledgedFlows(redis, keys)).toBe(0);

    await redis.xreadgroup("GROUP", "audit", "a", "COUNT", 6, "STREAMS", keys.flows, ">");
    await redis.xack(keys.flows, "audit", ...ids.slice(0, 2), ...ids.slice(3, 6));
    // detectors still need ids[4]; audit still needs ids[2].
    expect(await trimAcknowledgedFlows(redis, keys)).toBe(2);
    expect((await redis.xrange(keys.flows, "-", "+")).map(([id]) => id)).toEqual(ids.slice(2));

    await redis.xack(keys.flows, "audit", ids[2]!);
    await redis.xack(keys.flows, DETECTOR_GROUP, ...ids.slice(4));
    // audit has delivered up to ids[5] only: entries after it stay.
    expect(await trimAcknowledgedFlows(redis, keys)).toBe(4);
    expect((await redis.xrange(keys.flows, "-", "+")).map(([id]) => id)).toEqual(ids.slice(6));

    await redis.xreadgroup("GROUP", "audit", "a", "STREAMS", keys.flows, ">");
    await redis.xack(keys.flows, "audit", ...ids.slice(6));
    expect(await trimAcknowledgedFlows(redis, keys)).toBe(4);
    expect(await redis.xlen(keys.flows)).toBe(0);
    expect(await trimAcknowledgedFlows(redis, freshKeys())).toBe(0);
  });
});
