/**
 * Test kit of the API: uploads recorded through platform's pipeline-state steps, results as a
 * detector's commit appends them, and the app built against a private redis-server.
 */
import { randomUUID } from "node:crypto";
import {
  decodeResultEntry,
  encodeResultEntry,
  redisKeys,
  resultEntryArgs,
  type RedisKeys,
  type ResultEntryWindows,
  type WindowResult,
} from "@floodwatch/core";
import {
  connectRedis,
  createLogger,
  createUpload,
  overwriteUploadFields,
  type UploadHashField,
} from "@floodwatch/platform";
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
  const id = await redis.xadd(keys.results, "*", ...resultEntryArgs(encodeResultEntry(windows)));
  return id!;
}

/** Windows as the results relay hands them on: the detector's encoding, cut into texts. */
export function relayedWindows(windows: readonly WindowResult[]): ResultEntryWindows {
  const fields = encodeResultEntry(windows);
  return decodeResultEntry((name) => fields[name]);
}

/** An upload to record: ingest's creation step, then the fields a test needs it to have. */
export interface SeededUpload {
  id: string;
  name?: string;
  createdAt: number;
  updatedAt?: number;
  /**
   * Fields to overwrite after creation (state `scoring` unless given): a state the real steps
   * reach only after a long run, or never (a corrupted record).
   */
  fields?: Partial<Record<UploadHashField, string | number>>;
}

/** Records an upload with ingest's creation step, then overwrites the fields the test gives. */
export async function seedUpload(redis: Redis, keys: RedisKeys, upload: SeededUpload) {
  await createUpload(redis, keys, {
    uploadId: upload.id,
    name: upload.name ?? `${upload.id}.csv`,
    createdAt: upload.createdAt,
    labelled: upload.fields?.labelled === "1",
    modelVersion: "m-test",
    window: { size: 50, stride: 50 },
  });
  await overwriteUploadFields(redis, keys, upload.id, {
    state: "scoring",
    updatedAt: upload.updatedAt ?? upload.createdAt,
    ...upload.fields,
  });
}
