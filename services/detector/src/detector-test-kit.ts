/**
 * Test kit of the detector: uploads generated and cut into entries as ingest cuts them, queued
 * through ingest's own pipeline-state steps (platform's `createUpload`, `queueFlowEntry`,
 * `finishUpload`), detector workers wired the way main.ts wires them, and readers of what the
 * detectors wrote.
 */
import {
  FlowCsvReader,
  FlowEntryBuilder,
  encodeFlowEntry,
  resultBatchSchema,
  type EncodedFlowEntry,
  type FloodwatchModel,
  type FlowEntry,
  type FlowEntryMeta,
  type RedisKeys,
  type WindowResult,
} from "@floodwatch/core";
import { generateFlowCsv, type AttackKind } from "@floodwatch/core/generator";
import {
  closeRedis,
  connectRedis,
  createLogger,
  createUpload,
  finishUpload,
  queueFlowEntries,
  queueFlowEntry,
  type UploadProgress,
} from "@floodwatch/platform";
import type { Redis } from "ioredis";
import { createDetectorMetrics, type DetectorMetrics } from "./metrics.ts";
import { DetectorWorker, type DetectorWorkerDeps, type DetectorWorkerOptions } from "./worker.ts";

/** A generated upload cut into flow entries, not yet queued. */
export interface PreparedUpload {
  uploadId: string;
  model: FloodwatchModel;
  /** The entries as ingest queues them. */
  flowEntries: FlowEntry[];
  /** The same entries as stream fields. */
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
  const flowEntries: FlowEntry[] = [];
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
      flowEntries.push(...builder.push(batch));
    }
  };
  for (const chunk of generateFlowCsv(csv)) take(reader.push(chunk));
  take(reader.end());
  const last = builder?.flush();
  if (last) flowEntries.push(last);
  const metas = flowEntries.map((entry) => entry.meta);
  return {
    uploadId,
    model,
    flowEntries,
    entries: flowEntries.map(encodeFlowEntry),
    metas,
    windows: builder?.windowsQueued ?? 0,
    flows: metas.reduce((sum, m) => sum + m.flowCount, 0),
    rowsAccepted: reader.stats.rowsAccepted,
    tailFlows: builder?.tailFlows ?? 0,
    labelled: reader.labelled,
  };
}

/** Row counts as of the whole upload read (rows are counted up front in these tests). */
function progressOf(upload: PreparedUpload, updatedAt = Date.now()): UploadProgress {
  return { rowsAccepted: upload.rowsAccepted, rowsRejected: 0, rowsRejectedDelta: 0, updatedAt };
}

/** Creates the upload record with ingest's step. */
export async function createUploadRecord(
  redis: Redis,
  keys: RedisKeys,
  upload: PreparedUpload,
  createdAt = Date.now(),
): Promise<void> {
  await createUpload(redis, keys, {
    uploadId: upload.uploadId,
    name: `${upload.uploadId}.csv`,
    createdAt,
    labelled: upload.labelled,
    modelVersion: upload.model.version,
    window: upload.model.window,
  });
}

/** Queues entries `[from, to)` of an upload with ingest's step. Returns the stream ids. */
export async function queueEntries(
  redis: Redis,
  keys: RedisKeys,
  upload: PreparedUpload,
  from = 0,
  to = upload.flowEntries.length,
): Promise<string[]> {
  const ids: string[] = [];
  for (let i = from; i < to; i++) {
    const id = await queueFlowEntry(redis, keys, upload.flowEntries[i]!, progressOf(upload));
    ids.push(id!);
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
  const ids = await queueFlowEntries(redis, keys, upload.flowEntries, progressOf(upload));
  return ids.map((id) => id!);
}

/** Marks the upload fully queued with ingest's final step. */
export async function finishIngest(
  redis: Redis,
  keys: RedisKeys,
  upload: PreparedUpload,
): Promise<void> {
  await finishUpload(redis, keys, upload.uploadId, {
    ...progressOf(upload),
    rejected: [],
    tailFlows: upload.tailFlows,
  });
}

/** Queues a whole upload: record, every entry, final step. */
export async function queueUpload(
  redis: Redis,
  keys: RedisKeys,
  upload: PreparedUpload,
): Promise<string[]> {
  await createUploadRecord(redis, keys, upload);
  const ids = await queueEntries(redis, keys, upload);
  await finishIngest(redis, keys, upload);
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
