/**
 * The one reader of the results stream per API process: a blocking `XREAD` loop on its own
 * connection, handing every scored window to a callback that fans it out to WebSocket clients.
 */
import type { RedisKeys, ResultEntryWindows } from "@floodwatch/core";
import type { Redis } from "ioredis";
import type { Logger } from "pino";
import { InvalidResultEntryError, parseResultEntry, type StreamEntry } from "./windows.ts";

/** Results entries one `XREAD` returns at most, so a catch-up after a stall comes in pieces. */
const READ_ENTRIES = 200;
/** Results entries the history preload walks back at most. */
const MAX_HISTORY_ENTRIES = 2_000;
/** Pause after a failed read before the next one, so an outage does not spin the loop. */
const RETRY_MS = 500;
const STOPPED = Symbol("stopped");

/** What {@link ResultsRelay} needs. */
export interface ResultsRelayOptions {
  /** A connection for the relay alone (it blocks on it); the relay closes it. */
  redis: Redis;
  keys: RedisKeys;
  logger: Logger;
  /** Windows of history {@link ResultsRelay.start} returns. */
  historyWindows: number;
  /** Receives the windows (JSON texts) of each results entry, in stream order. */
  onWindows: (windows: ResultEntryWindows) => void;
  /** How long one `XREAD` blocks (ms); `close()` interrupts it anyway. */
  blockMs?: number;
}

/**
 * Relays the results stream. It first reads the recent history and then reads on from the newest
 * entry of that history (not from `$`), and every later read starts from the last id it
 * received: no entry between the history and the live feed, or between two reads, is skipped.
 */
export class ResultsRelay {
  private readonly redis: Redis;
  private readonly keys: RedisKeys;
  private readonly logger: Logger;
  private readonly historyWindows: number;
  private readonly onWindows: (windows: ResultEntryWindows) => void;
  private readonly blockMs: number;
  private lastId = "0-0";
  private closing = false;
  private loop: Promise<void> | undefined;
  /** Resolves when `close()` is called: every wait in the loop races it. */
  private readonly stopped: Promise<typeof STOPPED>;
  private stop: () => void = () => undefined;

  constructor(options: ResultsRelayOptions) {
    this.redis = options.redis;
    this.keys = options.keys;
    this.logger = options.logger;
    this.historyWindows = options.historyWindows;
    this.onWindows = options.onWindows;
    this.blockMs = options.blockMs ?? 5_000;
    // The connection reconnects by itself; an outage is logged, not thrown.
    this.redis.on("error", (error) => this.logger.warn({ err: error }, "results relay connection"));
    this.stopped = new Promise((resolve) => {
      this.stop = () => resolve(STOPPED);
    });
  }

  /**
   * Reads the recent history (the windows' JSON texts, oldest first) and starts relaying what
   * follows it.
   */
  async start(): Promise<string[]> {
    if (this.loop) throw new Error("the results relay is already started");
    const history = await this.readHistory();
    this.loop = this.run();
    return history;
  }

  /** Stops the loop and closes the relay's connection. Idempotent. */
  async close(): Promise<void> {
    if (!this.closing) {
      this.closing = true;
      this.stop();
      // A connection that is reconnecting when disconnected never settles its queued XREAD
      // (ioredis), which is why the loop races `stopped` instead of waiting for the reply.
      this.redis.disconnect();
    }
    await this.loop;
  }

  private parse(entry: StreamEntry): ResultEntryWindows | null {
    try {
      return parseResultEntry(entry);
    } catch (error) {
      if (!(error instanceof InvalidResultEntryError)) throw error;
      this.logger.warn({ entryId: error.entryId, reason: error.message }, "skipping a result");
      return null;
    }
  }

  private async readHistory(): Promise<string[]> {
    const batches: string[][] = [];
    let windows = 0;
    let scanned = 0;
    let end = "+";
    while (windows < this.historyWindows && scanned < MAX_HISTORY_ENTRIES) {
      const page = (await this.redis.xrevrange(
        this.keys.results,
        end,
        "-",
        "COUNT",
        100,
      )) as StreamEntry[];
      if (page.length === 0) break;
      if (scanned === 0) this.lastId = page[0]![0];
      scanned += page.length;
      end = `(${page[page.length - 1]![0]}`;
      for (const entry of page) {
        const batch = this.parse(entry);
        if (!batch) continue;
        batches.push(batch.texts);
        windows += batch.texts.length;
        if (windows >= this.historyWindows) break;
      }
    }
    const history = batches.reverse().flat();
    return history.slice(Math.max(0, history.length - this.historyWindows));
  }

  private async run(): Promise<void> {
    while (!this.closing) {
      const read = this.redis
        .xread(
          "COUNT",
          READ_ENTRIES,
          "BLOCK",
          this.blockMs,
          "STREAMS",
          this.keys.results,
          this.lastId,
        )
        .then(
          (reply) => ({ reply }),
          (error: unknown) => ({ error }),
        );
      const outcome = await Promise.race([read, this.stopped]);
      if (outcome === STOPPED || this.closing) break;
      if ("error" in outcome) {
        this.logger.error({ err: outcome.error }, "reading the results stream failed; retrying");
        let timer: NodeJS.Timeout | undefined;
        await Promise.race([
          new Promise((resolve) => (timer = setTimeout(resolve, RETRY_MS))),
          this.stopped,
        ]);
        clearTimeout(timer);
        continue;
      }
      if (!outcome.reply) continue;
      for (const [, entries] of outcome.reply) {
        for (const entry of entries) {
          this.lastId = entry[0];
          const windows = this.parse(entry);
          if (!windows || windows.texts.length === 0) continue;
          try {
            this.onWindows(windows);
          } catch (error) {
            // A failing consumer must not stop the relay for everyone else.
            this.logger.error({ err: error, entryId: entry[0] }, "relaying results failed");
          }
        }
      }
    }
  }
}
