/**
 * One upload from bytes to flow entries, as flow control: CSV chunks -> a parse worker
 * (`FlowCsvReader` with the active model's features, `FlowEntryBuilder` with its window) -> the
 * upload's ledger (./upload-ledger.ts), which queues each entry and keeps the upload hash in
 * step. The main thread reads the request and does the Redis steps while the worker parses the
 * chunks behind it.
 *
 * Memory stays flat whatever the size: at most a few chunks wait at the worker, and the request
 * is not read further until their entries are stored. When the detectors fall behind, the
 * pipeline stops reading (the caller's stream stops, and TCP pushes back on the client) instead
 * of buffering or dropping flows.
 */
import { setTimeout as sleep } from "node:timers/promises";
import {
  FlowCsvError,
  uploadAcceptedSchema,
  windowsPerEntry,
  type FloodwatchModel,
  type RedisKeys,
  type RejectedRow,
  type UploadAccepted,
} from "@floodwatch/core";
import { backlog as detectorBacklog } from "@floodwatch/platform";
import type { Redis } from "ioredis";
import type { BaseLogger } from "pino";
import type { IngestMetrics, UploadOutcome } from "./ingest-metrics.ts";
import type { ParseJobHandle, ParsePool } from "./parse-pool.ts";
import { parseFailureError, type ParseEnd, type ParseStats } from "./parse-protocol.ts";
import { withRedisDeadline } from "./redis-deadline.ts";
import {
  NoDataRowsError,
  RedisUnavailableError,
  UploadError,
  UploadInterruptedError,
  UploadTooLargeError,
  type UploadInterruption,
} from "./upload-errors.ts";
import { UploadLedger, type ReaderTotals } from "./upload-ledger.ts";

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
  /** The worker threads that parse the CSV. */
  parsePool: ParsePool;
  /** Clock (ms since epoch) for record times (entries are stamped by their builder). */
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
  /** Zone of naive timestamps in the CSV (`UTC` when absent), already checked. */
  timestampZone?: string;
}

/**
 * 50 ms between backlog polls: a detector scores an entry in a few milliseconds, so the backlog
 * moves noticeably within one poll, and 20 XINFO calls a second per waiting upload cost nothing.
 */
const DEFAULT_BACKLOG_POLL_MS = 50;

/**
 * Messages of CSV an upload may have sent to its parse worker and not stored yet before the
 * request stops being read: enough that the worker keeps parsing while the main thread waits on
 * Redis (with one chunk a message and 4 of them, it ran dry and ingest was 20 % slower), few
 * enough that an upload holds at most a few MiB of CSV and entries whatever its size.
 */
const MAX_MESSAGES_IN_FLIGHT = 8;

/**
 * While the worker is busy, request chunks (at most 64 KiB each) are gathered up to 256 KiB a
 * message: each message costs the worker a reply and the reader a copy of its partial last row.
 */
const GATHER_BYTES = 256 * 1024;

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
  readonly #startedAt = performance.now();
  #job: ParseJobHandle | undefined;
  /** Messages (chunks, and the end) sent to the worker whose entries are not all stored yet. */
  #unstored = 0;
  /** Chunks read but not sent yet, while the worker is busy. */
  #held: Uint8Array[] = [];
  #heldBytes = 0;
  /** Wakes the reading side when a chunk's entries are stored (or storing failed). */
  #onStored: (() => void) | undefined;
  /** Why storing failed, when it did: the upload's failure. */
  #storeFailure: { error: unknown } | undefined;
  /** Set when reading failed: storing stops after the entry in hand. */
  #stopping = false;
  /** The reader's totals as of the last reply taken. */
  #stats: ParseStats = { rowsAccepted: 0, rowsRejected: 0, timestampsUnparsed: 0, labelled: false };
  #rejected: RejectedRow[] = [];
  #bytes = 0;
  readonly #ledger: UploadLedger;

  constructor(input: UploadInput, deps: UploadPipelineDeps) {
    this.#input = input;
    this.#deps = deps;
    this.#ledger = new UploadLedger(input.uploadId, {
      redis: deps.redis,
      keys: deps.keys,
      metrics: deps.metrics,
      now: deps.now,
      redisTimeoutMs: deps.settings.redisTimeoutMs,
    });
  }

  get #totals(): ReaderTotals {
    return { stats: this.#stats, rejected: this.#rejected };
  }

  get #rowsRead(): number {
    return this.#stats.rowsAccepted + this.#stats.rowsRejected;
  }

  async run(): Promise<UploadAccepted> {
    const { uploadId, name, model } = this.#input;
    try {
      const end = await this.#parseAndStore();
      if (!end.sawRows) throw new NoDataRowsError();
      const stats = this.#stats;
      const state = await this.#ledger.finish(this.#totals, end.tailFlows);
      const accepted = uploadAcceptedSchema.parse({
        uploadId,
        name,
        rowsAccepted: stats.rowsAccepted,
        rowsRejected: stats.rowsRejected,
        rejected: this.#rejected,
        windowsQueued: this.#ledger.windowsQueued,
        tailFlows: end.tailFlows,
        ...(stats.timestampsUnparsed > 0 ? { timestampsUnparsed: stats.timestampsUnparsed } : {}),
        labelled: stats.labelled,
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
      const outcome: UploadOutcome = this.#ledger.recordSent ? "failed" : "rejected";
      if (this.#ledger.recordSent) await this.#recordFailure(failure);
      const seconds = this.#finish(outcome);
      this.#deps.logger.warn(
        {
          uploadId,
          outcome,
          reason: failure instanceof Error ? failure.message : String(failure),
          rowsRead: this.#rowsRead,
          windowsQueued: this.#ledger.windowsQueued,
          bytes: this.#bytes,
          seconds,
        },
        "upload not ingested",
      );
      throw failure;
    } finally {
      this.#job?.close();
    }
  }

  #countBytes(bytes: number): void {
    this.#bytes += bytes;
    this.#deps.metrics.uploadBytes.inc(bytes);
    const limit = this.#deps.settings.maxUploadBytes;
    if (this.#bytes > limit) {
      const windows = this.#ledger.windowsQueued;
      throw new UploadTooLargeError(
        limit,
        `stopped after ${this.#rowsRead} rows; ` +
          (windows > 0
            ? `the ${windows} windows queued before that are still scored`
            : "nothing was queued"),
      );
    }
  }

  /**
   * Reads the request into the parse worker while the entries it sends back are stored, each at
   * its own pace; the request waits only while {@link MAX_MESSAGES_IN_FLIGHT} messages are not
   * stored yet. Resolves with how the upload ended once its last entry is stored.
   */
  async #parseAndStore(): Promise<ParseEnd> {
    const { uploadId, model, source } = this.#input;
    const settings = this.#deps.settings;
    const job = this.#deps.parsePool.open({
      uploadId,
      features: model.features,
      window: model.window,
      windowsPerEntry: windowsPerEntry(model.window, settings.entryFlows),
      modelVersion: model.version,
      ...(this.#input.timestampZone === undefined
        ? {}
        : { timestampZone: this.#input.timestampZone }),
    });
    this.#job = job;
    // A failed store stops the reading at once, even in the middle of waiting for the client.
    const storeStopped = new AbortController();
    const storing = this.#storeReplies(job, storeStopped);
    storing.catch(() => undefined); // awaited below; this only marks the rejection handled
    const input = this.#input.signal;
    const signal =
      input === undefined ? storeStopped.signal : AbortSignal.any([input, storeStopped.signal]);
    try {
      for await (const chunk of readUntilAborted(source, signal)) {
        // Everything sent before is stored first, so a 413 says exactly what was queued.
        if (this.#bytes + chunk.byteLength > settings.maxUploadBytes) {
          this.#sendHeld();
          await this.#whenStored(1);
        }
        this.#countBytes(chunk.byteLength);
        this.#held.push(chunk);
        this.#heldBytes += chunk.byteLength;
        // An idle worker gets the chunk at once (a live upload's rows move on); a busy one gets
        // chunks gathered into larger messages, which costs it less per byte.
        if (this.#unstored === 0 || this.#heldBytes >= GATHER_BYTES) this.#sendHeld();
        await this.#whenStored(MAX_MESSAGES_IN_FLIGHT);
      }
      this.#sendHeld();
      this.#unstored++;
      job.end();
    } catch (error) {
      // Stop storing after the entry in hand, so the failure is written after the last entry.
      this.#stopping = true;
      job.close();
      await storing.catch(() => undefined);
      throw this.#storeFailure?.error ?? error;
    }
    return await storing;
  }

  /** Resolves once fewer than `limit` chunks are sent but not stored; throws if storing failed. */
  async #whenStored(limit: number): Promise<void> {
    for (;;) {
      if (this.#storeFailure !== undefined) throw this.#storeFailure.error;
      if (this.#unstored < limit) return;
      await new Promise<void>((resolve) => {
        this.#onStored = resolve;
      });
    }
  }

  /** Sends the chunks gathered so far to the worker. */
  #sendHeld(): void {
    if (this.#held.length === 0) return;
    this.#unstored++;
    this.#job!.push(this.#held);
    this.#held = [];
    this.#heldBytes = 0;
  }

  #wakeReader(): void {
    const wake = this.#onStored;
    this.#onStored = undefined;
    wake?.();
  }

  /**
   * Takes the worker's replies in order and stores their entries; the upload starts (in Redis)
   * with its first data row. Resolves with the last reply's account of the end.
   */
  async #storeReplies(job: ParseJobHandle, stopped: AbortController): Promise<ParseEnd> {
    try {
      for (;;) {
        const reply = await job.next(this.#input.signal);
        if (reply.kind === "failed") throw parseFailureError(reply.failure);
        this.#stats = reply.stats;
        if (reply.stats.rejected !== undefined) this.#rejected = reply.stats.rejected;
        if (!this.#ledger.recordSent && this.#rowsRead > 0) {
          await this.#ledger.start(this.#input.name, this.#input.model, this.#stats.labelled);
        }
        for (const entry of reply.entries) {
          if (this.#stopping) throw new Error("upload stopped");
          // `receivedAt` is the entry builder's stamp, taken in the worker as the entry's last
          // flow was read: the one stamp of a window's latency start.
          await this.#waitForBacklogRoom();
          await this.#ledger.queue(entry, this.#totals);
        }
        this.#unstored--;
        // The worker has caught up: what was gathered meanwhile goes now, not with the next chunk.
        if (this.#unstored === 0) this.#sendHeld();
        this.#wakeReader();
        if (reply.end !== undefined) return reply.end;
      }
    } catch (error) {
      if (!this.#stopping) this.#storeFailure = { error };
      stopped.abort();
      this.#wakeReader();
      throw error;
    }
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
      const backlog = await this.#ledger.step(
        detectorBacklog(redis, keys),
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
    const { logger, settings } = this.#deps;
    const reason =
      failure instanceof UploadError || failure instanceof FlowCsvError
        ? failure.message
        : `internal error after ${this.#rowsRead} rows`;
    const writing = this.#ledger.fail(reason, this.#totals).catch((error: unknown) => {
      logger.error({ err: error, uploadId: this.#input.uploadId }, "cannot mark upload failed");
    });
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
