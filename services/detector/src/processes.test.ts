/**
 * Detector processes as they run in production (`main.ts` under tsx): one killed with SIGKILL
 * while holding entries, whose entries the others claim; one stopped with SIGTERM, which
 * finishes what it holds and exits 0.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { readFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import {
  DETECTOR_GROUP,
  parseModel,
  redisKeys,
  type FloodwatchModel,
  type RedisKeys,
} from "@floodwatch/core";
import {
  closeRedis,
  connectRedis,
  defaultModelPath,
  publishModel,
  startRedisServer,
  type RedisServer,
} from "@floodwatch/platform";
import type { Redis } from "ioredis";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import {
  createUploadRecord,
  finishIngest,
  prepareUpload,
  queueEntriesAtOnce,
  readResults,
  startTestDetector,
  totalsOf,
  waitFor,
  windowOccurrences,
  type PreparedUpload,
} from "./detector-test-kit.ts";

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), "../../..");

let server: RedisServer;
let admin: Redis;
let model: FloodwatchModel;
const children: ChildProcess[] = [];

beforeAll(async () => {
  server = await startRedisServer();
  admin = connectRedis(server.url, "test-admin");
  model = parseModel(readFileSync(defaultModelPath(), "utf8"));
});

afterEach(() => {
  // A failed test must not leave detectors behind.
  for (const child of children.splice(0)) {
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
  }
});

afterAll(async () => {
  if (admin) await closeRedis(admin);
  await server?.stop();
});

interface DetectorProcess {
  child: ChildProcess;
  /** What it printed, for the failure message. */
  output: () => string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** Starts `main.ts` as a detector process and waits for its first heartbeat. */
async function spawnDetector(keys: RedisKeys, name: string): Promise<DetectorProcess> {
  const child = spawn(process.execPath, ["--import", "tsx", "services/detector/src/main.ts"], {
    cwd: REPO,
    env: {
      ...process.env,
      REDIS_URL: server.url,
      FLOODWATCH_KEY_PREFIX: keys.prefix,
      DETECTOR_NAME: name,
      DETECTOR_PORT: "0",
      DETECTOR_HOST: "127.0.0.1",
      DETECTOR_CLAIM_IDLE_MS: "1000",
      DETECTOR_READ_COUNT: "16",
      DETECTOR_BLOCK_MS: "200",
      LOG_LEVEL: "warn",
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  children.push(child);
  let output = "";
  child.stdout.on("data", (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on("data", (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((done) =>
    child.once("exit", (code, signal) => done({ code, signal })),
  );
  await waitFor(
    `detector ${name} heartbeat`,
    async () => {
      if (child.exitCode !== null) throw new Error(`detector ${name} exited early:\n${output}`);
      return (await admin.zscore(keys.detectors, name)) !== null;
    },
    30_000,
  );
  return { child, output: () => output, exited };
}

/** Pending entries per consumer of the detectors group. */
async function pendingByConsumer(keys: RedisKeys): Promise<Map<string, number>> {
  const [, , , consumers] = (await admin.xpending(keys.flows, DETECTOR_GROUP)) as [
    number,
    string | null,
    string | null,
    [string, string][] | null,
  ];
  return new Map((consumers ?? []).map(([name, count]) => [name, Number(count)]));
}

async function expectExactlyOnce(keys: RedisKeys, upload: PreparedUpload): Promise<void> {
  const results = await readResults(admin, keys);
  const seen = windowOccurrences(results, upload.uploadId);
  expect(seen.size).toBe(upload.windows);
  expect([...seen.values()].every((count) => count === 1)).toBe(true);
  const totals = totalsOf(results);
  const hash = await admin.hgetall(keys.upload(upload.uploadId));
  expect(hash.state).toBe("done");
  expect(Number(hash.windowsScored)).toBe(upload.windows);
  expect(Number(hash.anomalies)).toBe(totals.anomalies);
  const counters = await admin.hgetall(keys.counters);
  expect(Number(counters.windowsScored)).toBe(upload.windows);
  expect(Number(counters.flowsScored)).toBe(upload.flows);
  expect(Number(counters.anomalies)).toBe(totals.anomalies);
  expect((await admin.xpending(keys.flows, DETECTOR_GROUP))[0]).toBe(0);
}

describe("detector processes", () => {
  it("survive one of them being killed with SIGKILL: its entries are claimed and counted once", async () => {
    const keys = redisKeys("detector-kill");
    await publishModel(admin, keys, model);
    const upload = prepareUpload("kill", model, { flows: 6_000, seed: 31, attack: "syn" }, 1);
    const names = ["kill-a", "kill-b", "kill-c"];
    const detectors = await Promise.all(names.map((name) => spawnDetector(keys, name)));
    await createUploadRecord(admin, keys, upload);
    await queueEntriesAtOnce(admin, keys, upload);
    await finishIngest(admin, keys, upload);

    // Freeze a detector that holds entries, so it cannot finish them between look and kill.
    let victim: DetectorProcess | undefined;
    let held = 0;
    await waitFor(
      "a detector holding entries",
      async () => {
        const pending = await pendingByConsumer(keys);
        for (const [name, count] of pending) {
          if (count === 0) continue;
          const candidate = detectors[names.indexOf(name)]!;
          candidate.child.kill("SIGSTOP");
          const frozen = (await pendingByConsumer(keys)).get(name) ?? 0;
          if (frozen > 0) {
            victim = candidate;
            held = frozen;
            return true;
          }
          candidate.child.kill("SIGCONT");
        }
        return false;
      },
      20_000,
      2,
    );
    victim!.child.kill("SIGKILL");
    expect((await victim!.exited).signal).toBe("SIGKILL");
    const victimName = names[detectors.indexOf(victim!)]!;
    expect((await pendingByConsumer(keys)).get(victimName)).toBe(held);
    expect(held).toBeGreaterThan(0);

    await waitFor(
      "upload done",
      async () => (await admin.hget(keys.upload("kill"), "state")) === "done",
      30_000,
    );
    await expectExactlyOnce(keys, upload);
    expect((await pendingByConsumer(keys)).get(victimName) ?? 0).toBe(0);

    for (const detector of detectors) if (detector !== victim) detector.child.kill("SIGTERM");
    for (const detector of detectors) {
      if (detector === victim) continue;
      const { code } = await detector.exited;
      expect(code, detector.output()).toBe(0);
    }
  });

  it("stops on SIGTERM after committing the entries it holds, and exits 0", async () => {
    const keys = redisKeys("detector-term");
    await publishModel(admin, keys, model);
    const upload = prepareUpload("term", model, { flows: 6_000, seed: 32, attack: "syn" }, 1);
    const detector = await spawnDetector(keys, "term-a");
    await createUploadRecord(admin, keys, upload);
    await queueEntriesAtOnce(admin, keys, upload);
    await finishIngest(admin, keys, upload);
    await waitFor("first windows scored", async () => {
      return Number(await admin.hget(keys.upload("term"), "windowsScored")) > 0;
    });
    detector.child.kill("SIGTERM");
    const { code } = await detector.exited;
    expect(code, detector.output()).toBe(0);
    expect((await pendingByConsumer(keys)).get("term-a") ?? 0).toBe(0);
    expect(await admin.zscore(keys.detectors, "term-a")).toBeNull();
    const scoredBeforeExit = Number(await admin.hget(keys.upload("term"), "windowsScored"));
    expect(scoredBeforeExit).toBeGreaterThan(0);

    // Whatever it had not read is still there for the next detector, and counts once.
    const next = await startTestDetector(server.url, keys, "term-b");
    try {
      await waitFor(
        "upload done",
        async () => (await admin.hget(keys.upload("term"), "state")) === "done",
      );
      await expectExactlyOnce(keys, upload);
    } finally {
      await next.stop();
    }
  });
});
