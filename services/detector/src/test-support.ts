/**
 * Test fixtures: uploads queued the way ingest queues them (docs/architecture.md), detector
 * workers wired the way main.ts wires them, and readers of what the detectors wrote.
 */
import {
  FlowCsvReader,
  FlowEntryBuilder,
  encodeFlowEntry,
  generateFlowCsv,
  resultBatchSchema,
  type AttackKind,
  type EncodedFlowEntry,
  type FloodwatchModel,
  type FlowEntryMeta,
  type RedisKeys,
  type WindowResult,
} from "@floodwatch/core";
import { closeRedis, connectRedis, createLogger } from "@floodwatch/platform";
import type { Redis } from "ioredis";
import { createDetectorMetrics, type DetectorMetrics } from "./metrics.ts";
import { DetectorWorker, type DetectorWorkerDeps, type DetectorWorkerOptions } from "./worker.ts";

/** A generated upload cut into flow entries, not yet queued. */
export interface PreparedUpload {
  uploadId: string;
  model: FloodwatchModel;
  entries: EncodedFlowEntry[];
  metas: FlowEntryMeta[];
  windows: number;
  flows: number;
  rowsAccepted: number;
  tailFlows: number;
  labelled: boolean;
}

/** What {@link prepareUpload} generates. */
export interface GeneratedFlows {
  flows: number;
  seed: number;
  attack: AttackKind;
}

/** Reads a generated CSV with the model's features and cuts it into entries, as ingest does. */
export function prepareUpload(
  uploadId: string,
  model: FloodwatchModel,
  csv: GeneratedFlows,
  windowsPerEntry: number,
): PreparedUpload {
  const reader = new FlowCsvReader({ features: model.features });
  let builder: FlowEntryBuilder | undefined;
  const entries: EncodedFlowEntry[] = [];
  const metas: FlowEntryMeta[] = [];
  const take = (batches: ReturnType<FlowCsvReader["push"]>) => {
    for (const batch of batches) {
      builder ??= new FlowEntryBuilder({
        uploadId,
        featureCount: model.features.length,
        window: model.window,
        windowsPerEntry,
        modelVersion: model.version,
        labelled: reader.labelled,
      });
      for (const entry of builder.push(batch)) {
        entries.push(encodeFlowEntry(entry));
        metas.push(entry.meta);
      }
    }
  };
  for (const chunk of generateFlowCsv(csv)) take(reader.push(chunk));
  take(reader.end());
  const last = builder?.flush();
  if (last) {
    entries.push(encodeFlowEntry(last));
    metas.push(last.meta);
  }
  return {
    uploadId,
    model,
    entries,
    metas,
    windows: builder?.windowsQueued ?? 0,
    flows: metas.reduce((sum, m) => sum + m.flowCount, 0),
    rowsAccepted: reader.stats.rowsAccepted,
    tailFlows: builder?.tailFlows ?? 0,
    labelled: reader.labelled,
  };
}

/** Creates the upload hash and index entry ingest writes when an upload starts. */
export async function createUploadRecord(
  redis: Redis,
  keys: RedisKeys,
  upload: PreparedUpload,
  createdAt = Date.now(),
): Promise<void> {
  await redis
    .multi()
    .hset(keys.upload(upload.uploadId), {
      name: `${upload.uploadId}.csv`,
      createdAt,
      updatedAt: createdAt,
      state: "streaming",
      labelled: upload.labelled ? 1 : 0,
      modelVersion: upload.model.version,
      windowSize: upload.model.window.size,
      windowStride: upload.model.window.stride,
      rowsAccepted: upload.rowsAccepted,
      rowsRejected: 0,
      rejected: "[]",
      tailFlows: upload.tailFlows,
      entriesQueued: 0,
      windowsQueued: 0,
      flowsQueued: 0,
    })
    .zadd(keys.uploads, createdAt, upload.uploadId)
    .hincrby(keys.counters, "uploads", 1)
    .exec();
}

/** Stream fields of an entry, as ingest XADDs them. */
export function entryFields(entry: EncodedFlowEntry): (string | Buffer)[] {
  const bytes = (a: Uint8Array) => Buffer.from(a.buffer, a.byteOffset, a.byteLength);
  return [
    "meta",
    entry.meta,
    "values",
    bytes(entry.values),
    "lines",
    bytes(entry.lines),
    "attack",
    bytes(entry.attack),
    ...(entry.context === undefined ? [] : ["context", bytes(entry.context)]),
  ];
}

/**
 * Queues entries `[from, to)` of an upload: each XADD in one MULTI with the upload's queued
 * counters, as ingest does. Returns the stream ids.
 */
export async function queueEntries(
  redis: Redis,
  keys: RedisKeys,
  upload: PreparedUpload,
  from = 0,
  to = upload.entries.length,
): Promise<string[]> {
  const ids: string[] = [];
  for (let i = from; i < to; i++) {
    const meta = upload.metas[i]!;
    const replies = await redis
      .multi()
      .xadd(keys.flows, "*", ...entryFields(upload.entries[i]!))
      .hincrby(keys.upload(upload.uploadId), "entriesQueued", 1)
      .hincrby(keys.upload(upload.uploadId), "windowsQueued", meta.windowCount)
      .hincrby(keys.upload(upload.uploadId), "flowsQueued", meta.flowCount)
      .hincrby(keys.counters, "flowsIngested", meta.flowCount)
      .exec();
    ids.push(String(replies![0]![1]));
  }
  return ids;
}

/**
 * Queues every entry of an upload in one MULTI, so that detectors blocked in XREADGROUP each
 * wake to a full batch (Redis serves blocked readers after the transaction).
 */
export async function queueEntriesAtOnce(
  redis: Redis,
  keys: RedisKeys,
  upload: PreparedUpload,
): Promise<string[]> {
  const multi = redis.multi();
  upload.entries.forEach((entry, i) => {
    const meta = upload.metas[i]!;
    multi
      .xadd(keys.flows, "*", ...entryFields(entry))
      .hincrby(keys.upload(upload.uploadId), "entriesQueued", 1)
      .hincrby(keys.upload(upload.uploadId), "windowsQueued", meta.windowCount)
      .hincrby(keys.upload(upload.uploadId), "flowsQueued", meta.flowCount)
      .hincrby(keys.counters, "flowsIngested", meta.flowCount);
  });
  const replies = (await multi.exec()) ?? [];
  return replies.filter((_, i) => i % 5 === 0).map(([, id]) => String(id));
}

/** Ingest's final step: `ingestDone` = 1 and the same `done` rule as the detector's commit. */
const FINISH_INGEST_LUA = `
redis.call('HSET', KEYS[1], 'ingestDone', 1, 'updatedAt', ARGV[1])
local f = redis.call('HMGET', KEYS[1], 'windowsQueued', 'windowsScored', 'windowsDeadLettered', 'state')
if f[4] == 'streaming' then redis.call('HSET', KEYS[1], 'state', 'scoring') end
if (tonumber(f[2]) or 0) + (tonumber(f[3]) or 0) >= (tonumber(f[1]) or 0) then
  redis.call('HSET', KEYS[1], 'state', 'done')
end
return 1
`;

/** Marks the upload fully queued, as ingest does once the body is read. */
export async function finishIngest(redis: Redis, keys: RedisKeys, uploadId: string): Promise<void> {
  await redis.eval(FINISH_INGEST_LUA, 1, keys.upload(uploadId), Date.now());
}

/** Queues a whole upload: record, every entry, final step. */
export async function queueUpload(
  redis: Redis,
  keys: RedisKeys,
  upload: PreparedUpload,
): Promise<string[]> {
  await createUploadRecord(redis, keys, upload);
  const ids = await queueEntries(redis, keys, upload);
  await finishIngest(redis, keys, upload.uploadId);
  return ids;
}

/** Every window on the results stream, in stream order. */
export async function readResults(redis: Redis, keys: RedisKeys): Promise<WindowResult[]> {
  const entries = await redis.xrange(keys.results, "-", "+");
  const out: WindowResult[] = [];
  for (const [, fields] of entries) {
    const at = fields.indexOf("windows");
    out.push(...resultBatchSchema.parse(JSON.parse(fields[at + 1]!)));
  }
  return out;
}

/** Dead-letter records, oldest first. */
export async function readDeadLetters(
  redis: Redis,
  keys: RedisKeys,
): Promise<Record<string, string>[]> {
  const entries = await redis.xrange(keys.deadLetters, "-", "+");
  return entries.map(([, fields]) => {
    const record: Record<string, string> = {};
    for (let i = 0; i + 1 < fields.length; i += 2) record[fields[i]!] = fields[i + 1]!;
    return record;
  });
}

/** Polls `check` until it holds; fails with `what` after `timeoutMs`. */
export async function waitFor(
  what: string,
  check: () => Promise<boolean> | boolean,
  timeoutMs = 20_000,
  pollMs = 25,
): Promise<void> {
  const started = Date.now();
  while (!(await check())) {
    if (Date.now() - started > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, pollMs));
  }
}

/** Settings tests use unless they say otherwise: short waits, small batches. */
export const TEST_WORKER_OPTIONS: Omit<DetectorWorkerOptions, "name"> = {
  readCount: 4,
  blockMs: 200,
  claimIdleMs: 1_000,
  maxDeliveries: 3,
  resultsMaxLength: 100_000,
  heartbeatMs: 200,
  housekeepingMs: 500,
};

/** An in-process detector with its own connections, as main.ts wires one. */
export interface TestDetector {
  worker: DetectorWorker;
  redis: Redis;
  metrics: DetectorMetrics;
  /** Closes the worker, then its connections. */
  stop(): Promise<void>;
}

/** Builds and starts an in-process detector. */
export async function startTestDetector(
  url: string,
  keys: RedisKeys,
  name: string,
  options: Partial<DetectorWorkerOptions> = {},
  extra: Pick<DetectorWorkerDeps, "score"> = {},
): Promise<TestDetector> {
  const connections = {
    redis: connectRedis(url, `${name}`),
    reader: connectRedis(url, `${name}:reader`),
    subscriber: connectRedis(url, `${name}:models`),
  };
  // Reconnect attempts while a test restarts Redis are expected.
  for (const c of Object.values(connections)) c.on("error", () => undefined);
  const metrics = createDetectorMetrics({
    backlog: () => Promise.resolve(0),
    defaultMetrics: false,
  });
  const worker = new DetectorWorker({
    ...connections,
    keys,
    logger: createLogger(name, "silent"),
    metrics,
    options: { ...TEST_WORKER_OPTIONS, ...options, name },
    ...extra,
  });
  await worker.start();
  return {
    worker,
    redis: connections.redis,
    metrics,
    async stop() {
      await worker.close();
      await Promise.all(Object.values(connections).map((c) => closeRedis(c)));
    },
  };
}

/** What the counters must say about a set of results, computed from the results alone. */
export interface ResultTotals {
  windows: number;
  anomalies: number;
  worstScore: number;
  tp: number;
  fp: number;
  fn: number;
  tn: number;
}

/** Totals of results (confusion counts by window rule `any`). */
export function totalsOf(results: readonly WindowResult[]): ResultTotals {
  const totals: ResultTotals = {
    windows: results.length,
    anomalies: 0,
    worstScore: Number.POSITIVE_INFINITY,
    tp: 0,
    fp: 0,
    fn: 0,
    tn: 0,
  };
  for (const r of results) {
    if (r.anomaly) totals.anomalies++;
    totals.worstScore = Math.min(totals.worstScore, r.score);
    const attack = (r.attackFlows ?? 0) > 0;
    if (attack && r.anomaly) totals.tp++;
    else if (attack) totals.fn++;
    else if (r.anomaly) totals.fp++;
    else totals.tn++;
  }
  return totals;
}

/** How often each window index of an upload appears in the results. */
export function windowOccurrences(
  results: readonly WindowResult[],
  uploadId: string,
): Map<number, number> {
  const seen = new Map<number, number>();
  for (const r of results) {
    if (r.uploadId === uploadId) seen.set(r.window, (seen.get(r.window) ?? 0) + 1);
  }
  return seen;
}
