/**
 * The detector worker: one consumer in the `detectors` group on the flows stream. It scores each
 * flow entry alone and commits it with one guarded Lua step, so every window counts exactly once
 * however often its entry is delivered. Entries of a detector that died are claimed after
 * `claimIdleMs`; entries that cannot be scored go to the dead-letter stream.
 *
 * Three connections, each with one job: `reader` only blocks in XREADGROUP (so `close()` can
 * unblock it without disturbing anything else), `subscriber` only listens for model
 * activations (./model-follower.ts), `redis` does everything else. The commit and dead-letter
 * steps are platform's pipeline-state steps, which own the upload hash and the counters.
 */
import {
  DETECTOR_GROUP,
  FlowEntryError,
  ModelFileError,
  ResultEntryError,
  decodeFlowEntry,
  encodeResultEntry,
  scoreFlowEntry,
  type EntryTally,
  type ExplainMode,
  type FlowEntry,
  type RedisKeys,
  type ResultEntryFields,
} from "@floodwatch/core";
import {
  UnknownModelError,
  commitScoredEntry,
  deadLetterEntry,
  ensureDetectorGroup,
  trimAcknowledgedFlows,
  type Logger,
} from "@floodwatch/platform";
import type { Redis } from "ioredis";
import type { DetectorMetrics } from "./metrics.ts";
import { ModelFollower } from "./model-follower.ts";
import { ModelStore } from "./model-store.ts";
import {
  parseAutoClaimReply,
  parsePendingDeliveries,
  parseReadGroupReply,
  type RawStreamEntry,
} from "./stream-replies.ts";
import { InterruptibleSleep, TIMED_OUT, within } from "./timing.ts";

/** Settings of a {@link DetectorWorker}; the first six come from the environment. */
export interface DetectorWorkerOptions {
  /** Consumer name, unique per process. */
  name: string;
  /** Entries per XREADGROUP and per XAUTOCLAIM. */
  readCount: number;
  /** Longest blocking wait of one XREADGROUP. */
  blockMs: number;
  /** Idle time after which a pending entry is claimed. */
  claimIdleMs: number;
  /** Deliveries an entry may fail before it is dead-lettered. */
  maxDeliveries: number;
  /** Approximate cap of the results stream. */
  resultsMaxLength: number;
  /** Heartbeat period (default 2 s: a detector counts as live for 15 s after one). */
  heartbeatMs?: number;
  /** Period of the active-model check that covers a missed activation message (default 10 s). */
  modelCheckMs?: number;
  /** Period of stream trimming and flow-rate pruning (default 2 s). */
  housekeepingMs?: number;
  /** How long `close()` waits for the entry in hand before giving up on it (default 10 s). */
  drainMs?: number;
  /** Which windows get an explanation (default `anomalies`). */
  explain?: ExplainMode;
}

/** What a worker is built from. */
export interface DetectorWorkerDeps {
  /** Commands: commits, claims, heartbeats, model loads. */
  redis: Redis;
  /** Used only for the blocking XREADGROUP. */
  reader: Redis;
  /** Used only to subscribe to model activations. */
  subscriber: Redis;
  keys: RedisKeys;
  logger: Logger;
  metrics: DetectorMetrics;
  options: DetectorWorkerOptions;
  /** Scores one entry; {@link scoreFlowEntry} unless a test injects failures. */
  score?: typeof scoreFlowEntry;
  /** Clock (ms since epoch). */
  now?: () => number;
}

const DEFAULT_HEARTBEAT_MS = 2_000;
const DEFAULT_MODEL_CHECK_MS = 10_000;
/**
 * Trimming acknowledged flow entries this often keeps the stream to a few seconds of traffic: with
 * 10 s between trims, a 2 GB upload at ~150,000 flows/s held ~315 MiB of acknowledged entries in
 * Redis before each trim.
 */
const DEFAULT_HOUSEKEEPING_MS = 2_000;
const DEFAULT_DRAIN_MS = 10_000;
/** Flow-rate seconds older than this are deleted; readers only average the last few seconds. */
const FLOW_RATE_KEEP_SECONDS = 300;
/** Backoff after a failed loop turn, doubling up to the cap: rides out a Redis restart. */
const FIRST_BACKOFF_MS = 100;
const MAX_BACKOFF_MS = 2_000;
/** XAUTOCLAIM calls per recovery pass, so a huge pending list does not starve new entries. */
const MAX_CLAIM_CALLS_PER_PASS = 10;
/** Bounded waits of the shutdown steps: Redis may be down while we stop. */
const SHUTDOWN_STEP_MS = 2_000;

function isNoGroupError(error: unknown): boolean {
  return error instanceof Error && error.message.startsWith("NOGROUP");
}

function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/**
 * A field as a plain `Uint8Array` view of the reply's bytes. Not a `Buffer`: the decoder copies
 * unaligned bytes with `slice()`, which on a `Buffer` returns a view of the whole reply pool
 * instead of a copy.
 */
function fieldBytes(entry: RawStreamEntry, name: string): Uint8Array | undefined {
  const bytes = entry.fields?.get(name);
  return bytes && new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** Upload id and window count from an entry's raw meta, as far as it can be read. */
function identifyEntry(entry: RawStreamEntry): { uploadId: string | null; windows: number } {
  const meta = entry.fields?.get("meta");
  if (!meta) return { uploadId: null, windows: 0 };
  try {
    const raw = JSON.parse(meta.toString("utf8")) as { uploadId?: unknown; windowCount?: unknown };
    const uploadId =
      typeof raw.uploadId === "string" && raw.uploadId.length > 0 ? raw.uploadId : null;
    const windows =
      Number.isSafeInteger(raw.windowCount) && (raw.windowCount as number) > 0
        ? (raw.windowCount as number)
        : 0;
    return { uploadId, windows };
  } catch {
    return { uploadId: null, windows: 0 };
  }
}

/** An entry scored and encoded, ready for its commit. */
interface ScoredRawEntry {
  raw: RawStreamEntry;
  deliveries: number;
  entry: FlowEntry;
  tally: EntryTally;
  results: ResultEntryFields;
  /** When it was scored (ms since epoch): the results' `scoredAt`, the commit's clock. */
  at: number;
}

/** A consumer of the flows stream; see the module comment. */
export class DetectorWorker {
  readonly #redis: Redis;
  readonly #reader: Redis;
  readonly #keys: RedisKeys;
  readonly #log: Logger;
  readonly #metrics: DetectorMetrics;
  readonly #options: Required<DetectorWorkerOptions>;
  readonly #scoreEntry: typeof scoreFlowEntry;
  readonly #now: () => number;
  readonly #models: ModelStore;
  readonly #follower: ModelFollower;
  readonly #sleep = new InterruptibleSleep();
  readonly #timers: NodeJS.Timeout[] = [];
  readonly #onReaderClose = () => {
    this.#readerClientId = undefined;
  };
  #started = false;
  #closing = false;
  #loop: Promise<void> | undefined;
  #closed: Promise<void> | undefined;
  /** `CLIENT ID` of the reader's current connection, for `CLIENT UNBLOCK`. */
  #readerClientId: number | undefined;
  #reading = false;

  constructor(deps: DetectorWorkerDeps) {
    this.#redis = deps.redis;
    this.#reader = deps.reader;
    this.#keys = deps.keys;
    this.#log = deps.logger;
    this.#metrics = deps.metrics;
    this.#options = {
      heartbeatMs: DEFAULT_HEARTBEAT_MS,
      modelCheckMs: DEFAULT_MODEL_CHECK_MS,
      housekeepingMs: DEFAULT_HOUSEKEEPING_MS,
      drainMs: DEFAULT_DRAIN_MS,
      explain: "anomalies",
      ...deps.options,
    };
    this.#scoreEntry = deps.score ?? scoreFlowEntry;
    this.#now = deps.now ?? Date.now;
    this.#models = new ModelStore(deps.redis, deps.keys);
    this.#follower = new ModelFollower({
      redis: deps.redis,
      subscriber: deps.subscriber,
      keys: deps.keys,
      store: this.#models,
      metrics: deps.metrics,
      logger: deps.logger,
    });
  }

  /** Consumer name. */
  get name(): string {
    return this.#options.name;
  }

  /** Version of the active model, or null before one is loaded. */
  get modelVersion(): string | null {
    return this.#follower.version;
  }

  /**
   * Joins the group, loads the active model (publishing the shipped default when none is
   * active), subscribes to activations and starts consuming. Resolves once consuming started.
   */
  async start(): Promise<void> {
    if (this.#started) throw new Error("detector worker already started");
    this.#started = true;
    await this.#ensureGroup();
    this.#reader.on("close", this.#onReaderClose);
    await this.#follower.start();
    await this.#heartbeat();
    // Stopped while starting (a SIGTERM during a slow start): do not begin consuming.
    if (this.#closing) return;
    this.#every(this.#options.heartbeatMs, () => this.#heartbeat());
    this.#every(this.#options.modelCheckMs, () => this.#follower.sync());
    this.#every(this.#options.housekeepingMs, () => this.#housekeeping());
    this.#log.info(
      { detector: this.name, model: this.modelVersion, group: DETECTOR_GROUP },
      "detector consuming",
    );
    this.#loop = this.#consume();
  }

  /**
   * Stops consuming: the entries in hand are finished and committed, the heartbeat is removed
   * and the model subscription dropped. The connections stay open (their owner closes them).
   * Idempotent.
   */
  close(): Promise<void> {
    this.#closed ??= this.#close();
    return this.#closed;
  }

  async #close(): Promise<void> {
    this.#closing = true;
    for (const timer of this.#timers) clearInterval(timer);
    this.#sleep.interrupt();
    await this.#unblockReader();
    if (this.#loop) {
      if ((await within(this.#loop, this.#options.drainMs)) === TIMED_OUT) {
        this.#log.warn(
          { drainMs: this.#options.drainMs },
          "entry in hand not finished in time; it stays pending for another detector",
        );
        this.#reader.disconnect();
      }
    }
    this.#reader.off("close", this.#onReaderClose);
    await this.#bounded("unsubscribe", this.#follower.stop());
    if (this.#started) {
      await this.#bounded("heartbeat removal", this.#redis.zrem(this.#keys.detectors, this.name));
    }
    this.#log.info({ detector: this.name }, "detector stopped");
  }

  /** Ends a blocking XREADGROUP at once, as if it had timed out: nothing delivered is lost. */
  async #unblockReader(): Promise<void> {
    if (!this.#reading) return;
    const id = this.#readerClientId;
    if (id === undefined) return; // reconnecting: the read ends within blockMs anyway
    await this.#bounded("reader unblock", this.#redis.client("UNBLOCK", id));
  }

  async #bounded(step: string, promise: Promise<unknown>): Promise<void> {
    try {
      if ((await within(promise, SHUTDOWN_STEP_MS)) === TIMED_OUT) {
        this.#log.warn({ step }, "shutdown step timed out");
      }
    } catch (error) {
      this.#log.warn({ step, err: errorMessage(error) }, "shutdown step failed");
    }
  }

  /** Runs `task` every `ms`, never two at once, logging failures. */
  #every(ms: number, task: () => Promise<void>): void {
    let running = false;
    const timer = setInterval(() => {
      if (running || this.#closing) return;
      running = true;
      task()
        .catch((error: unknown) =>
          this.#log.warn({ err: errorMessage(error) }, "periodic task failed"),
        )
        .finally(() => {
          running = false;
        });
    }, ms);
    timer.unref();
    this.#timers.push(timer);
  }

  /** Creates the group at the start of the stream; a group that exists is left as it is. */
  async #ensureGroup(): Promise<void> {
    if (await ensureDetectorGroup(this.#redis, this.#keys)) {
      this.#log.info({ group: DETECTOR_GROUP, stream: this.#keys.flows }, "consumer group created");
    }
  }

  // ---------------------------------------------------------------- consuming

  async #consume(): Promise<void> {
    const recoveryEveryMs = Math.max(1, Math.floor(this.#options.claimIdleMs / 2));
    let nextRecoveryAt = 0;
    let backoffMs = 0;
    while (!this.#closing) {
      try {
        if (this.#now() >= nextRecoveryAt) {
          await this.#recoverStalled();
          nextRecoveryAt = this.#now() + recoveryEveryMs;
        }
        const blockMs = Math.max(1, Math.min(this.#options.blockMs, nextRecoveryAt - this.#now()));
        // Each entry is a fresh delivery; and once read, an entry is finished even when closing,
        // so a clean stop leaves nothing pending. While Redis runs one entry's commit, the next
        // entry is scored: the commit's round trip (as long as the scoring itself at stride 50,
        // Redis being busy with ingest's entries) no longer idles the detector. Commits still go
        // out one at a time, in stream order.
        let committing: Promise<void> | undefined;
        for (const entry of await this.#readNew(blockMs)) {
          const scored = await this.#score(entry, 1);
          await committing;
          committing = scored && this.#commit(scored);
        }
        await committing;
        backoffMs = 0;
      } catch (error) {
        if (this.#closing) break;
        let failure = error;
        if (isNoGroupError(error)) {
          // The stream or the group is gone (Redis lost its data): join again from the start.
          this.#log.warn({ err: errorMessage(error) }, "consumer group missing; recreating it");
          try {
            await this.#ensureGroup();
            continue;
          } catch (retryError) {
            failure = retryError;
          }
        }
        backoffMs = Math.min(backoffMs === 0 ? FIRST_BACKOFF_MS : backoffMs * 2, MAX_BACKOFF_MS);
        this.#log.warn({ err: errorMessage(failure), backoffMs }, "consume loop failed; retrying");
        await this.#sleep.sleep(backoffMs);
      }
    }
  }

  async #readNew(blockMs: number): Promise<RawStreamEntry[]> {
    if (this.#readerClientId === undefined) {
      this.#readerClientId = await this.#reader.client("ID");
    }
    if (this.#closing) return [];
    this.#reading = true;
    try {
      const reply = await this.#reader.callBuffer(
        "XREADGROUP",
        "GROUP",
        DETECTOR_GROUP,
        this.name,
        "COUNT",
        this.#options.readCount,
        "BLOCK",
        blockMs,
        "STREAMS",
        this.#keys.flows,
        ">",
      );
      return parseReadGroupReply(reply);
    } finally {
      this.#reading = false;
    }
  }

  /**
   * Claims entries idle longer than `claimIdleMs` (their detector died or keeps failing on
   * them) and processes them; an entry delivered more than `maxDeliveries` times is
   * dead-lettered instead.
   */
  async #recoverStalled(): Promise<void> {
    const { claimIdleMs, readCount, maxDeliveries } = this.#options;
    let cursor = "0-0";
    for (let call = 0; call < MAX_CLAIM_CALLS_PER_PASS && !this.#closing; call++) {
      const reply = parseAutoClaimReply(
        await this.#redis.callBuffer(
          "XAUTOCLAIM",
          this.#keys.flows,
          DETECTOR_GROUP,
          this.name,
          claimIdleMs,
          cursor,
          "COUNT",
          readCount,
        ),
      );
      // Ids whose entries were deleted from the stream: nothing is left to score, and a
      // pending id without an entry would be claimed forever.
      const gone = [
        ...reply.deleted,
        ...reply.claimed.filter((e) => e.fields === null).map((e) => e.id),
      ];
      if (gone.length > 0) {
        await this.#redis.xack(this.#keys.flows, DETECTOR_GROUP, ...gone);
        this.#log.warn({ entries: gone }, "pending entries no longer in the stream; acknowledged");
      }
      const claimed = reply.claimed.filter((e) => e.fields !== null);
      if (claimed.length > 0) {
        const deliveries = parsePendingDeliveries(
          await this.#redis.xpending(
            this.#keys.flows,
            DETECTOR_GROUP,
            claimed[0]!.id,
            claimed[claimed.length - 1]!.id,
            claimed.length,
            this.name,
          ),
        );
        this.#log.info({ entries: claimed.length }, "claimed stalled entries");
        for (const entry of claimed) {
          const delivered = deliveries.get(entry.id) ?? 1;
          if (delivered > maxDeliveries) {
            // This delivery is not attempted: the entry already failed `delivered - 1` times.
            const failed = delivered - 1;
            try {
              await this.#deadLetter(entry, `failed ${failed} deliveries`, failed, null);
            } catch (error) {
              this.#log.warn(
                { entry: entry.id, err: errorMessage(error) },
                "cannot dead-letter an entry; left pending",
              );
            }
          } else {
            await this.#handle(entry, delivered);
          }
        }
      }
      cursor = reply.next;
      if (cursor === "0-0") break;
    }
  }

  /**
   * Decodes, scores and commits one entry. Deterministic failures dead-letter it at once;
   * anything else (Redis errors, bugs) leaves it pending, to be claimed again after
   * `claimIdleMs` until `maxDeliveries` runs out.
   */
  async #handle(raw: RawStreamEntry, deliveries: number): Promise<void> {
    const scored = await this.#score(raw, deliveries);
    if (scored) await this.#commit(scored);
  }

  /**
   * Decodes and scores one entry and encodes its results: the commit to make, or undefined when
   * the entry was dead-lettered or failed (logged; it stays pending). Never throws.
   */
  async #score(raw: RawStreamEntry, deliveries: number): Promise<ScoredRawEntry | undefined> {
    try {
      let entry: FlowEntry;
      try {
        entry = decodeFlowEntry({
          meta: fieldBytes(raw, "meta"),
          values: fieldBytes(raw, "values"),
          lines: fieldBytes(raw, "lines"),
          attack: fieldBytes(raw, "attack"),
          context: fieldBytes(raw, "context"),
        });
      } catch (error) {
        if (!(error instanceof FlowEntryError)) throw error;
        await this.#deadLetter(raw, `undecodable entry: ${error.message}`, deliveries, null);
        return undefined;
      }
      let loaded;
      try {
        loaded = await this.#models.forEntry(entry);
      } catch (error) {
        if (!(error instanceof UnknownModelError) && !(error instanceof ModelFileError))
          throw error;
        await this.#deadLetter(raw, error.message, deliveries, entry);
        return undefined;
      }
      const at = this.#now();
      try {
        const scored = this.#scoreEntry(entry, loaded.model, {
          scorer: loaded.scorer,
          now: at,
          explain: this.#options.explain,
        });
        // The one place a result is validated and encoded: the API relays this text as it is.
        const results = encodeResultEntry(scored.results);
        return { raw, deliveries, entry, tally: scored.tally, results, at };
      } catch (error) {
        if (!(error instanceof FlowEntryError) && !(error instanceof ResultEntryError)) throw error;
        await this.#deadLetter(raw, error.message, deliveries, entry);
        return undefined;
      }
    } catch (error) {
      this.#failed(raw, deliveries, error);
      return undefined;
    }
  }

  /** Commits a scored entry (see `commitScoredEntry`). Never throws: a failure is logged. */
  async #commit(scored: ScoredRawEntry): Promise<void> {
    const { raw, entry, tally, results, at } = scored;
    try {
      const counted = await commitScoredEntry(
        this.#redis,
        this.#keys,
        {
          entryId: raw.id,
          uploadId: entry.meta.uploadId,
          labelled: entry.meta.labelled,
          results,
          tally,
          at,
        },
        { resultsMaxLength: this.#options.resultsMaxLength },
      );
      if (counted) {
        this.#metrics.windowsScored.inc(tally.windows);
        this.#metrics.anomalies.inc(tally.anomalies);
        this.#metrics.processingLatency.observe(
          Math.max(0, this.#now() - entry.meta.receivedAt) / 1000,
        );
      } else {
        this.#log.debug({ entry: raw.id }, "entry already acknowledged; nothing counted");
      }
    } catch (error) {
      this.#failed(raw, scored.deliveries, error);
    }
  }

  #failed(raw: RawStreamEntry, deliveries: number, error: unknown): void {
    this.#log.warn(
      { entry: raw.id, deliveries, err: errorMessage(error) },
      "entry failed; left pending for a retry",
    );
  }

  async #deadLetter(
    raw: RawStreamEntry,
    reason: string,
    deliveries: number,
    entry: FlowEntry | null,
  ): Promise<void> {
    const { uploadId, windows } = entry
      ? { uploadId: entry.meta.uploadId, windows: entry.meta.windowCount }
      : identifyEntry(raw);
    const moved = await deadLetterEntry(this.#redis, this.#keys, {
      entryId: raw.id,
      uploadId,
      windows,
      reason,
      deliveries,
      at: this.#now(),
    });
    if (moved) {
      this.#metrics.entriesDeadLettered.inc();
      this.#log.warn({ entry: raw.id, uploadId, reason, deliveries }, "entry dead-lettered");
    }
  }

  // ---------------------------------------------------------------- liveness and upkeep

  async #heartbeat(): Promise<void> {
    await this.#redis.zadd(this.#keys.detectors, this.#now(), this.name);
  }

  /** Trims acknowledged flow entries and prunes old flow-rate seconds. */
  async #housekeeping(): Promise<void> {
    const trimmed = await trimAcknowledgedFlows(this.#redis, this.#keys);
    if (trimmed > 0) this.#log.debug({ trimmed }, "trimmed acknowledged flow entries");
    const oldest = Math.floor(this.#now() / 1000) - FLOW_RATE_KEEP_SECONDS;
    const stale = (await this.#redis.hkeys(this.#keys.flowRate)).filter((s) => Number(s) < oldest);
    if (stale.length > 0) await this.#redis.hdel(this.#keys.flowRate, ...stale);
  }
}
