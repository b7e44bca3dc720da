/**
 * Test helpers: write Redis state exactly as ingest and the detectors do (docs/architecture.md),
 * and build the app against a private redis-server.
 */
import { randomUUID } from "node:crypto";
import { redisKeys, type RedisKeys, type WindowResult } from "@floodwatch/core";
import { connectRedis, createLogger } from "@floodwatch/platform";
import type { Redis } from "ioredis";
import type { Logger } from "pino";
import { loadApiConfig, type ApiConfig } from "./env.ts";

/** A logger that writes nothing. */
export const quietLogger: Logger = createLogger("api-test", "silent");

/** A fresh key prefix, so tests sharing a Redis never see each other's keys. */
export function testPrefix(name: string): string {
  return `t-${name}-${randomUUID().slice(0, 8)}`;
}

/** A config for tests: the private Redis, a fresh prefix, quiet logs. */
export function testConfig(redisUrl: string, prefix: string, env: Record<string, string> = {}) {
  const config: ApiConfig = loadApiConfig({
    REDIS_URL: redisUrl,
    FLOODWATCH_KEY_PREFIX: prefix,
    LOG_LEVEL: "silent",
    ...env,
  });
  return { config, keys: redisKeys(prefix) };
}

/** A connection as the services open them. */
export function testRedis(url: string): Redis {
  return connectRedis(url, "api-test");
}

/** A window result as a detector writes it. */
export function windowResult(
  uploadId: string,
  window: number,
  overrides: Partial<WindowResult> = {},
): WindowResult {
  const score = overrides.score ?? 0.1 - (window % 7) * 0.01;
  return {
    uploadId,
    window,
    firstLine: 2 + window * 50,
    lastLine: 51 + window * 50,
    score,
    anomaly: score < 0,
    pc1: window * 0.5,
    pc2: 0.25 - window * 0.25,
    modelVersion: "m-test",
    signals: { packetsPerSecond: 1200.5 + window, synCount: 0.5 },
    receivedAt: 1_700_000_000_000 + window,
    scoredAt: 1_700_000_000_020 + window,
    start: null,
    end: null,
    victims: null,
    sources: null,
    ports: null,
    explanation: null,
    explanationFeatures: null,
    ...overrides,
  };
}

/** The windows `[first, first + count)` of an upload. */
export function windowRun(
  uploadId: string,
  first: number,
  count: number,
  overrides: (window: number) => Partial<WindowResult> = () => ({}),
): WindowResult[] {
  return Array.from({ length: count }, (_, i) =>
    windowResult(uploadId, first + i, overrides(first + i)),
  );
}

/** Appends one results entry, as a detector's commit does. Returns its id. */
export async function addResults(
  redis: Redis,
  keys: RedisKeys,
  windows: readonly WindowResult[],
): Promise<string> {
  const id = await redis.xadd(
    keys.results,
    "*",
    "uploadId",
    windows[0]!.uploadId,
    "windows",
    JSON.stringify(windows),
  );
  return id!;
}

/** Fields of an upload hash as ingest creates it, then the detectors update it. */
export interface SeededUpload {
  id: string;
  name?: string;
  createdAt: number;
  updatedAt?: number;
  fields?: Record<string, string | number>;
}

/** Writes an upload hash and its place in the uploads index. */
export async function seedUpload(redis: Redis, keys: RedisKeys, upload: SeededUpload) {
  await redis
    .multi()
    .hset(keys.upload(upload.id), {
      name: upload.name ?? `${upload.id}.csv`,
      createdAt: upload.createdAt,
      updatedAt: upload.updatedAt ?? upload.createdAt,
      state: "scoring",
      labelled: "0",
      modelVersion: "m-test",
      windowSize: 50,
      windowStride: 50,
      rowsAccepted: 0,
      rowsRejected: 0,
      rejected: "[]",
      tailFlows: 0,
      entriesQueued: 0,
      windowsQueued: 0,
      flowsQueued: 0,
      ...upload.fields,
    })
    .zadd(keys.uploads, upload.createdAt, upload.id)
    .exec();
}
