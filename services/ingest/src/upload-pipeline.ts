/**
 * One upload from bytes to flow entries: CSV chunks -> `FlowCsvReader` (the active model's
 * features) -> `FlowEntryBuilder` (its window) -> XADD, with the upload hash kept in step.
 *
 * Memory stays flat whatever the size: one chunk, one reader batch and one entry are held at a
 * time, and the next chunk is not read until the previous entries are stored. When the detectors
 * fall behind, the pipeline stops reading (the caller's stream stops, and TCP pushes back on the
 * client) instead of buffering or dropping flows.
 */
import { setTimeout as sleep } from "node:timers/promises";
import {
  FlowCsvError,
  FlowCsvReader,
  FlowEntryBuilder,
  uploadAcceptedSchema,
  windowsPerEntry,
  type FloodwatchModel,
  type FlowBatch,
  type FlowEntry,
  type RedisKeys,
  type UploadAccepted,
} from "@floodwatch/core";
import type { Redis } from "ioredis";
import type { BaseLogger } from "pino";
import { detectorBacklog } from "./flows-stream.ts";
import type { IngestMetrics, UploadOutcome } from "./ingest-metrics.ts";
import { withRedisDeadline } from "./redis-deadline.ts";
import {
  NoDataRowsError,
  RedisUnavailableError,
  UploadError,
  UploadInterruptedError,
  UploadTooLargeError,
  type UploadInterruption,
} from "./upload-errors.ts";
import {
  createUploadRecord,
  failUpload,
  finishUpload,
  queueFlowEntry,
  type UploadProgress,
} from "./upload-ledger.ts";

/** Knobs of the pipeline, from the service configuration. */
export interface UploadPipelineSettings {
  /** Target flows per stream entry (`INGEST_ENTRY_FLOWS`). */
  entryFlows: number;
  /** Backlog at which reading stops (`INGEST_MAX_BACKLOG_ENTRIES`). */
  maxBacklogEntries: number;
  /** Largest CSV accepted, in bytes (`INGEST_MAX_UPLOAD_BYTES`). */
  maxUploadBytes: number;
  /** Longest wait for one Redis step (`INGEST_REDIS_TIMEOUT_MS`). */
  redisTimeoutMs: number;
  /** Backlog poll interval while waiting for the detectors (default 50 ms). */
  backlogPollMs?: number;
}

/** What the pipeline works with. */
export interface UploadPipelineDeps {
  redis: Redis;
  keys: RedisKeys;
  settings: UploadPipelineSettings;
  metrics: IngestMetrics;
  logger: Pick<BaseLogger, "info" | "warn" | "error">;
  /** Clock (ms since epoch) for record times and entry `receivedAt`. */
  now: () => number;
}

/** One upload to ingest. */
export interface UploadInput {
  uploadId: string;
  name: string;
  /** The active model at the start of the upload: its features and window shape the entries. */
  model: FloodwatchModel;
  /** The CSV bytes, as they arrive. */
  source: AsyncIterable<Uint8Array>;
  /** Aborted, with an {@link UploadInterruption} as reason, when the upload must stop. */
  signal?: AbortSignal;
  /** Whether the client has gone away; asked when reading the source fails. */
  clientGone?: () => boolean;
}

/**
 * 50 ms between backlog polls: a detector scores an entry in a few milliseconds, so the backlog
 * moves noticeably within one poll, and 20 XINFO calls a second per waiting upload cost nothing.
 */
const DEFAULT_BACKLOG_POLL_MS = 50;

/**
 * Reads an upload to the end and queues its flows. Resolves with the `201` answer; rejects with an
 * {@link UploadError} or a core `FlowCsvError` saying what was wrong (the upload hash, if already
 * created, is then `failed` with the reason, and what was queued is still scored).
 */
export async function ingestUpload(
  input: UploadInput,
  deps: UploadPipelineDeps,
): Promise<UploadAccepted> {
  return new UploadRun(input, deps).run();
}

/** The next step of `iterator`, or a rejection as soon as `signal` aborts. */
function nextUnlessAborted<T>(
  iterator: AsyncIterator<T>,
  signal: AbortSignal,
): Promise<IteratorResult<T>> {
  // A fresh listener per step: racing every step against one long-lived promise would pile a
  // reaction (holding that step's chunk) onto it per chunk, keeping the whole upload in memory.
  return new Promise((resolve, reject) => {
    const onAbort = () => reject(new Error("upload aborted"));
    if (signal.aborted) {
      onAbort();
      return;
    }
    signal.addEventListener("abort", onAbort, { once: true });
    iterator
      .next()
      .then(resolve, reject)
      .finally(() => signal.removeEventListener("abort", onAbort));
  });
}

/** Iterates `source` until it ends or `signal` aborts, whichever comes first. */
async function* readUntilAborted<T>(
  source: AsyncIterable<T>,
  signal: AbortSignal | undefined,
): AsyncGenerator<T> {
  if (signal === undefined) {
    yield* source;
    return;
  }
  const iterator = source[Symbol.asyncIterator]();
  let reading = false;
  try {
    for (;;) {
      reading = true;
      const step = await nextUnlessAborted(iterator, signal);
      reading = false;
      if (step.done === true) return;
      yield step.value;
    }
  } finally {
    // Returning releases the source (a request stream stops being read, so the rest of its body
    // can be discarded). After an abort in the middle of a read, the return waits for that read:
    // let it finish in the background instead of holding up the answer.
    const returning = iterator.return?.();
    if (reading) returning?.catch(() => undefined);
    else await returning;
  }
}

class UploadRun {
  readonly #input: UploadInput;
  readonly #deps: UploadPipelineDeps;
  readonly #reader: FlowCsvReader;
  readonly #startedAt = performance.now();
  #builder: FlowEntryBuilder | undefined;
  /** Whether the upload hash may exist (its creation was sent, even if unanswered). */
  #recordSent = false;
  #bytes = 0;
  /** End (exclusive flow index) of the flows already on the stream. */
  #queuedFlowEnd = 0;
  /** Rejected rows already added to the global counter. */
  #rejectedCounted = 0;
  /** Kept rejected rows already written to the upload hash. */
  #rejectedWritten = 0;

  constructor(input: UploadInput, deps: UploadPipelineDeps) {
    this.#input = input;
    this.#deps = deps;
    this.#reader = new FlowCsvReader({ features: input.model.features });
  }

  get #rowsRead(): number {
    const stats = this.#reader.stats;
    return stats.rowsAccepted + stats.rowsRejected;
  }

  async run(): Promise<UploadAccepted> {
    const { uploadId, name, model } = this.#input;
    try {
      for await (const chunk of readUntilAborted(this.#input.source, this.#input.signal)) {
        this.#countBytes(chunk.byteLength);
        await this.#absorb(this.#reader.push(chunk));
        // Rows of a partly filled batch move on now: a slow (live) upload would otherwise hold
        // up to a batch of flows back before their entry can be queued.
        await this.#absorb(this.#reader.flush());
      }
      await this.#absorb(this.#reader.end());
      const builder = this.#builder;
      if (builder === undefined) throw new NoDataRowsError();
      const last = builder.flush();
      if (last !== null) await this.#queue(last);
      const stats = this.#reader.stats;
      const progress = this.#progress();
      const state = await this.#redisStep(
        finishUpload(this.#deps.redis, this.#deps.keys, uploadId, {
          ...progress,
          rejected: stats.rejected,
          tailFlows: builder.tailFlows,
        }),
        "finishing the upload",
      );
      this.#deps.metrics.rowsRejected.inc(progress.rowsRejectedDelta);
      const accepted = uploadAcceptedSchema.parse({
        uploadId,
        name,
        rowsAccepted: stats.rowsAccepted,
        rowsRejected: stats.rowsRejected,
        rejected: stats.rejected,
        windowsQueued: builder.windowsQueued,
        tailFlows: builder.tailFlows,
        labelled: this.#reader.labelled,
        modelVersion: model.version,
      });
      const seconds = this.#finish("accepted");
      this.#deps.logger.info(
        { ...accepted, rejected: undefined, state, bytes: this.#bytes, seconds },
        "upload ingested",
      );
      return accepted;
    } catch (error) {
      const failure = this.#explain(error);
      const outcome: UploadOutcome = this.#recordSent ? "failed" : "rejected";
      if (this.#recordSent) await this.#recordFailure(failure);
      const seconds = this.#finish(outcome);
      this.#deps.logger.warn(
        {
          uploadId,
          outcome,
          reason: failure instanceof Error ? failure.message : String(failure),
          rowsRead: this.#rowsRead,
          windowsQueued: this.#builder?.windowsQueued ?? 0,
          bytes: this.#bytes,
          seconds,
        },
        "upload not ingested",
      );
      throw failure;
    }
  }

  #countBytes(bytes: number): void {
    this.#bytes += bytes;
    this.#deps.metrics.uploadBytes.inc(bytes);
    const limit = this.#deps.settings.maxUploadBytes;
    if (this.#bytes > limit) {
      const windows = this.#builder?.windowsQueued ?? 0;
      throw new UploadTooLargeError(
        limit,
        `stopped after ${this.#rowsRead} rows; ` +
          (windows > 0
            ? `the ${windows} windows queued before that are still scored`
            : "nothing was queued"),
      );
    }
  }

  /** Takes batches from the reader; the upload starts (in Redis) with its first data row. */
  async #absorb(batches: FlowBatch[]): Promise<void> {
    let builder = this.#builder;
    if (builder === undefined) {
      if (this.#rowsRead === 0) return; // header only so far (or nothing): nothing to record
      builder = await this.#start();
    }
    for (const batch of batches) {
      for (const entry of builder.push(batch)) await this.#queue(entry);
    }
  }

  async #start(): Promise<FlowEntryBuilder> {
    const { uploadId, name, model } = this.#input;
    const deps = this.#deps;
    const builder = new FlowEntryBuilder({
      uploadId,
      featureCount: model.features.length,
      window: model.window,
      windowsPerEntry: windowsPerEntry(model.window, deps.settings.entryFlows),
      modelVersion: model.version,
      labelled: this.#reader.labelled,
      now: deps.now,
    });
    this.#recordSent = true;
    await this.#redisStep(
      createUploadRecord(deps.redis, deps.keys, {
        uploadId,
        name,
        createdAt: deps.now(),
        labelled: this.#reader.labelled,
        modelVersion: model.version,
        window: model.window,
      }),
      "creating the upload record",
    );
    this.#builder = builder;
    return builder;
  }

  async #queue(entry: FlowEntry): Promise<void> {
    await this.#waitForBacklogRoom();
    const { window, firstWindow, windowCount } = entry.meta;
    const entryEnd = (firstWindow + windowCount - 1) * window.stride + window.size;
    const newFlows = entryEnd - this.#queuedFlowEnd;
    const progress = this.#progress();
    await this.#redisStep(
      queueFlowEntry(this.#deps.redis, this.#deps.keys, entry, newFlows, progress),
      "queueing a flow entry",
    );
    this.#queuedFlowEnd = entryEnd;
    this.#deps.metrics.flowsIngested.inc(newFlows);
    this.#deps.metrics.rowsRejected.inc(progress.rowsRejectedDelta);
  }

  /** Row counts to write now; claims the rejected rows not yet added to the global counter. */
  #progress(): UploadProgress {
    const stats = this.#reader.stats;
    const rowsRejectedDelta = stats.rowsRejected - this.#rejectedCounted;
    this.#rejectedCounted = stats.rowsRejected;
    const progress: UploadProgress = {
      rowsAccepted: stats.rowsAccepted,
      rowsRejected: stats.rowsRejected,
      rowsRejectedDelta,
      updatedAt: this.#deps.now(),
    };
    if (stats.rejected.length !== this.#rejectedWritten) {
      this.#rejectedWritten = stats.rejected.length;
      progress.rejected = stats.rejected;
    }
    return progress;
  }

  /**
   * Waits while the detectors' backlog is at the limit. Not reading meanwhile is the point: the
   * request stream stops, and so does the client.
   */
  async #waitForBacklogRoom(): Promise<void> {
    const { redis, keys, settings, metrics, logger } = this.#deps;
    const pollMs = settings.backlogPollMs ?? DEFAULT_BACKLOG_POLL_MS;
    let announced = false;
    for (;;) {
      const backlog = await this.#redisStep(
        detectorBacklog(redis, keys, settings.maxBacklogEntries + 1),
        "reading the detectors' backlog",
      );
      metrics.backlogEntries.set(backlog);
      if (backlog < settings.maxBacklogEntries) return;
      if (!announced) {
        announced = true;
        logger.info(
          { uploadId: this.#input.uploadId, backlog, limit: settings.maxBacklogEntries },
          "detectors are behind: upload paused until the backlog drains",
        );
      }
      await sleep(pollMs, undefined, { signal: this.#input.signal });
    }
  }

  #redisStep<T>(operation: Promise<T>, step: string): Promise<T> {
    return withRedisDeadline(operation, this.#deps.settings.redisTimeoutMs, step);
  }

  /** The error the client is told about. */
  #explain(error: unknown): unknown {
    const signal = this.#input.signal;
    if (signal?.aborted) {
      const reason: UploadInterruption =
        signal.reason === "shutdown" ? "shutdown" : "client-disconnected";
      return new UploadInterruptedError(reason, this.#rowsRead);
    }
    if (error instanceof UploadError || error instanceof FlowCsvError) return error;
    if (this.#input.clientGone?.()) {
      return new UploadInterruptedError("client-disconnected", this.#rowsRead);
    }
    return error;
  }

  /** Marks the upload hash `failed`; bounded by the Redis deadline, never throws. */
  async #recordFailure(failure: unknown): Promise<void> {
    const { redis, keys, logger, settings } = this.#deps;
    const reason =
      failure instanceof UploadError || failure instanceof FlowCsvError
        ? failure.message
        : `internal error after ${this.#rowsRead} rows`;
    const progress = this.#progress();
    const writing = failUpload(redis, keys, this.#input.uploadId, reason, {
      ...progress,
      rejected: this.#reader.stats.rejected,
      // Flows read but not queued: the partial entry and the last incomplete window.
      tailFlows: this.#reader.stats.rowsAccepted - this.#queuedFlowEnd,
    }).then(
      () => this.#deps.metrics.rowsRejected.inc(progress.rowsRejectedDelta),
      (error: unknown) => {
        logger.error({ err: error, uploadId: this.#input.uploadId }, "cannot mark upload failed");
      },
    );
    // With Redis away the write stays queued on the connection and lands when Redis is back;
    // the client should hear about the outage now, not after another timeout.
    if (failure instanceof RedisUnavailableError) return;
    await withRedisDeadline(writing, settings.redisTimeoutMs, "marking the upload failed").catch(
      () => undefined,
    );
  }

  /** Counts the outcome; returns the upload's duration in seconds. */
  #finish(outcome: UploadOutcome): number {
    const seconds = (performance.now() - this.#startedAt) / 1000;
    this.#deps.metrics.uploads.inc({ outcome });
    this.#deps.metrics.uploadDuration.observe({ outcome }, seconds);
    return seconds;
  }
}
