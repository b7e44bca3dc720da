/**
 * The bookkeeping of one upload: what ingest has told Redis about it so far (the record, the
 * entries and flows queued, the rejected rows counted and written) and the pipeline-state steps
 * that tell it more. The upload pipeline decides when to read and store; this decides what each
 * step writes, so the figures never count a row or a flow twice.
 */
import {
  flowsAddedBy,
  type FloodwatchModel,
  type FlowEntry,
  type RedisKeys,
  type RejectedRow,
  type UploadState,
} from "@floodwatch/core";
import {
  createUpload,
  ensureDetectorGroup,
  failUpload,
  finishUpload,
  queueFlowEntry,
  type UploadProgress,
} from "@floodwatch/platform";
import type { Redis } from "ioredis";
import type { IngestMetrics } from "./ingest-metrics.ts";
import type { ParseStats } from "./parse-protocol.ts";
import { withRedisDeadline } from "./redis-deadline.ts";

/** The reader's totals as of the last reply the pipeline took. */
export interface ReaderTotals {
  stats: ParseStats;
  /** The kept rejected rows. */
  rejected: RejectedRow[];
}

/** What the ledger writes with. */
export interface UploadLedgerDeps {
  redis: Redis;
  keys: RedisKeys;
  metrics: IngestMetrics;
  /** Clock (ms since epoch) for record times. */
  now: () => number;
  /** Longest wait for one Redis step (`INGEST_REDIS_TIMEOUT_MS`). */
  redisTimeoutMs: number;
}

/** One upload's record in Redis, kept in step with what was queued. */
export class UploadLedger {
  readonly #deps: UploadLedgerDeps;
  readonly #uploadId: string;
  #recordSent = false;
  /** End (exclusive flow index) of the flows already on the stream. */
  #queuedFlowEnd = 0;
  #windowsQueued = 0;
  /** Rejected rows already added to the global counter. */
  #rejectedCounted = 0;
  /** Kept rejected rows already written to the upload hash. */
  #rejectedWritten = 0;

  constructor(uploadId: string, deps: UploadLedgerDeps) {
    this.#uploadId = uploadId;
    this.#deps = deps;
  }

  /** Whether the upload hash may exist (its creation was sent, even if unanswered). */
  get recordSent(): boolean {
    return this.#recordSent;
  }

  /** Windows already on the stream. */
  get windowsQueued(): number {
    return this.#windowsQueued;
  }

  /** Runs one Redis step under the service's deadline. */
  step<T>(operation: Promise<T>, what: string): Promise<T> {
    return withRedisDeadline(operation, this.#deps.redisTimeoutMs, what);
  }

  /**
   * Creates the upload record (state `streaming`), once the first data row is read. The
   * detectors' group is ensured first, so entries queued after a stream was deleted are still
   * delivered from the first one.
   */
  async start(name: string, model: FloodwatchModel, labelled: boolean): Promise<void> {
    const { redis, keys } = this.#deps;
    this.#recordSent = true;
    await this.step(ensureDetectorGroup(redis, keys), "creating the detectors' group");
    await this.step(
      createUpload(redis, keys, {
        uploadId: this.#uploadId,
        name,
        createdAt: this.#deps.now(),
        labelled,
        modelVersion: model.version,
        window: model.window,
      }),
      "creating the upload record",
    );
  }

  /** Queues one entry with the row counts so far. */
  async queue(entry: FlowEntry, totals: ReaderTotals): Promise<void> {
    const { redis, keys, metrics } = this.#deps;
    const progress = this.#progress(totals);
    await this.step(queueFlowEntry(redis, keys, entry, progress), "queueing a flow entry");
    const { window, firstWindow, windowCount } = entry.meta;
    this.#queuedFlowEnd = (firstWindow + windowCount - 1) * window.stride + window.size;
    this.#windowsQueued = firstWindow + windowCount;
    metrics.flowsIngested.inc(flowsAddedBy(entry.meta));
    metrics.rowsRejected.inc(progress.rowsRejectedDelta);
  }

  /** Marks the upload fully read; returns its state (`done` when nothing is left to score). */
  async finish(
    totals: ReaderTotals,
    tailFlows: number,
  ): Promise<Extract<UploadState, "scoring" | "done">> {
    const progress = this.#progress(totals);
    const state = await this.step(
      finishUpload(this.#deps.redis, this.#deps.keys, this.#uploadId, {
        ...progress,
        rejected: totals.rejected,
        tailFlows,
      }),
      "finishing the upload",
    );
    this.#deps.metrics.rowsRejected.inc(progress.rowsRejectedDelta);
    return state;
  }

  /**
   * Marks the upload `failed` with `reason`. The returned write is not bounded: the caller
   * decides how long to wait for it.
   */
  fail(reason: string, totals: ReaderTotals): Promise<void> {
    const progress = this.#progress(totals);
    return failUpload(this.#deps.redis, this.#deps.keys, this.#uploadId, reason, {
      ...progress,
      rejected: totals.rejected,
      // Flows read but not queued: the partial entry and the last incomplete window.
      tailFlows: totals.stats.rowsAccepted - this.#queuedFlowEnd,
    }).then(() => this.#deps.metrics.rowsRejected.inc(progress.rowsRejectedDelta));
  }

  /** Row counts to write now; claims the rejected rows not yet added to the global counter. */
  #progress({ stats, rejected }: ReaderTotals): UploadProgress {
    const rowsRejectedDelta = stats.rowsRejected - this.#rejectedCounted;
    this.#rejectedCounted = stats.rowsRejected;
    const progress: UploadProgress = {
      rowsAccepted: stats.rowsAccepted,
      rowsRejected: stats.rowsRejected,
      timestampsUnparsed: stats.timestampsUnparsed,
      rowsRejectedDelta,
      updatedAt: this.#deps.now(),
    };
    if (rejected.length !== this.#rejectedWritten) {
      this.#rejectedWritten = rejected.length;
      progress.rejected = rejected;
    }
    return progress;
  }
}
