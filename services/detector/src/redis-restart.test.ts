/**
 * A Redis restart under a running detector: its connections come back, its scripts are loaded
 * again, and every window still counts exactly once.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { readFileSync } from "node:fs";
import { parseModel, redisKeys, type FloodwatchModel } from "@floodwatch/core";
import {
  closeRedis,
  connectRedis,
  defaultModelPath,
  publishModel,
  startRedisServer,
  type RedisServer,
} from "@floodwatch/platform";
import type { Redis } from "ioredis";
import { afterAll, beforeAll, expect, it } from "vitest";
import {
  createUploadRecord,
  finishIngest,
  prepareUpload,
  queueEntries,
  readResults,
  startTestDetector,
  totalsOf,
  waitFor,
  windowOccurrences,
} from "./detector-test-kit.ts";

let dir: string;
let server: RedisServer;
let admin: Redis;
let model: FloodwatchModel;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "floodwatch-detector-restart-"));
  server = await startRedisServer({ appendOnly: true, dir });
  admin = connectRedis(server.url, "test-admin");
  admin.on("error", () => undefined);
  model = parseModel(readFileSync(defaultModelPath(), "utf8"));
});

afterAll(async () => {
  if (admin) await closeRedis(admin);
  await server?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

it("rides out a Redis restart mid-stream and still counts every window exactly once", async () => {
  const keys = redisKeys("detector-restart");
  await publishModel(admin, keys, model);
  const upload = prepareUpload("restart", model, { flows: 5_000, seed: 21, attack: "syn" }, 1);
  expect(upload.entries.length).toBe(100);
  const detector = await startTestDetector(server.url, keys, "restart-1", { claimIdleMs: 800 });
  try {
    await createUploadRecord(admin, keys, upload);
    await queueEntries(admin, keys, upload, 0, 60);
    // Restart while the detector is working through the first 60 entries.
    await waitFor("some windows scored", async () => {
      return Number(await admin.hget(keys.upload("restart"), "windowsScored")) > 0;
    });
    await server.restart();
    await queueEntries(admin, keys, upload, 60);
    await finishIngest(admin, keys, upload);
    await waitFor(
      "upload done",
      async () => (await admin.hget(keys.upload("restart"), "state")) === "done",
      30_000,
    );

    const results = await readResults(admin, keys);
    const seen = windowOccurrences(results, "restart");
    expect(seen.size).toBe(100);
    expect([...seen.values()].every((count) => count === 1)).toBe(true);
    const totals = totalsOf(results);
    const hash = await admin.hgetall(keys.upload("restart"));
    expect(Number(hash.windowsScored)).toBe(100);
    expect(Number(hash.anomalies)).toBe(totals.anomalies);
    expect(Number(hash.tp) + Number(hash.fp) + Number(hash.fn) + Number(hash.tn)).toBe(100);
    const counters = await admin.hgetall(keys.counters);
    expect(Number(counters.windowsScored)).toBe(100);
    expect(Number(counters.flowsScored)).toBe(upload.flows);
    expect(Number(counters.anomalies)).toBe(totals.anomalies);
    expect((await admin.xpending(keys.flows, "detectors"))[0]).toBe(0);
    // The heartbeat resumed on the new server.
    await waitFor(
      "heartbeat",
      async () => (await admin.zscore(keys.detectors, "restart-1")) !== null,
    );
  } finally {
    await detector.stop();
  }
});
