/**
 * A consumer in one Redis consumer group: a `while (!closing)` loop around a blocking
 * `XREADGROUP`, which also claims entries left pending by a process that died. The handler must
 * acknowledge an entry itself, in the same atomic step as its effect; an entry it fails on stays
 * pending and comes back (at least once, made exactly once by the handler's guard).
 */
import type { Logger } from "@floodwatch/platform";
import type { Redis } from "ioredis";

/** A stream entry as ioredis returns it in string mode. */
export interface StreamEntry {
  id: string;
  fields: Record<string, string>;
}

/** Settings of a {@link GroupConsumer}. */
export interface GroupConsumerOptions {
  /** Connection for the blocking read alone: `close()` disconnects it to stop a read. */
  reader: Redis;
  /** Connection for group creation and claims. */
  redis: Redis;
  stream: string;
  group: string;
  consumer: string;
  logger: Logger;
  /** Pending entries idle this long are claimed from their consumer. */
  claimIdleMs: number;
  /** Handles one entry; throwing leaves it pending. */
  handle: (entry: StreamEntry) => Promise<void>;
  /** Longest wait of one read (ms); also how often `idle` runs when nothing arrives. */
  blockMs?: number;
  count?: number;
  /** Runs after every turn of the loop (a periodic sweep, say). */
  idle?: () => Promise<void>;
}

const BACKOFF_MS = 500;

function toEntries(list: unknown): StreamEntry[] {
  if (!Array.isArray(list)) return [];
  const out: StreamEntry[] = [];
  for (const item of list as unknown[]) {
    if (!Array.isArray(item)) continue;
    const [id, flat] = item as [string, string[] | null];
    const fields: Record<string, string> = {};
    if (Array.isArray(flat))
      for (let i = 0; i + 1 < flat.length; i += 2) fields[flat[i]!] = flat[i + 1]!;
    out.push({ id, fields });
  }
  return out;
}

/** See the module comment. */
export class GroupConsumer {
  readonly #o: Required<Omit<GroupConsumerOptions, "idle">> & Pick<GroupConsumerOptions, "idle">;
  #closing = false;
  #loop: Promise<void> | undefined;
  #wake: (() => void) | undefined;

  constructor(options: GroupConsumerOptions) {
    this.#o = { blockMs: 1_000, count: 50, ...options };
  }

  /** Creates the group at the start of the stream (when missing) and starts the loop. */
  async start(): Promise<void> {
    await this.#ensureGroup();
    this.#loop = this.#run();
  }

  /** Stops after the entry in hand; the reader connection is left to its owner. Idempotent. */
  async close(): Promise<void> {
    this.#closing = true;
    this.#wake?.();
    // A read blocked for up to blockMs ends by itself; the loop checks `closing` after it.
    await this.#loop;
  }

  async #ensureGroup(): Promise<void> {
    try {
      await this.#o.redis.xgroup("CREATE", this.#o.stream, this.#o.group, "0", "MKSTREAM");
    } catch (error) {
      if (!(error instanceof Error) || !error.message.startsWith("BUSYGROUP")) throw error;
    }
  }

  async #run(): Promise<void> {
    const o = this.#o;
    let nextClaimAt = 0;
    while (!this.#closing) {
      try {
        if (Date.now() >= nextClaimAt) {
          await this.#claimStalled();
          nextClaimAt = Date.now() + Math.max(1, Math.floor(o.claimIdleMs / 2));
        }
        const reply = (await o.reader.xreadgroup(
          "GROUP",
          o.group,
          o.consumer,
          "COUNT",
          o.count,
          "BLOCK",
          o.blockMs,
          "STREAMS",
          o.stream,
          ">",
        )) as [string, unknown][] | null;
        for (const entry of reply ? toEntries(reply[0]![1]) : []) await o.handle(entry);
        await o.idle?.();
      } catch (error) {
        if (this.#closing) break;
        const message = error instanceof Error ? error.message : String(error);
        if (message.startsWith("NOGROUP")) {
          await this.#ensureGroup().catch(() => undefined);
          continue;
        }
        o.logger.warn({ err: message, stream: o.stream }, "consumer loop failed; retrying");
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, BACKOFF_MS);
          this.#wake = () => {
            clearTimeout(timer);
            resolve();
          };
        });
      }
    }
  }

  /** Entries another consumer took and never acknowledged (it died): handled here again. */
  async #claimStalled(): Promise<void> {
    const o = this.#o;
    let cursor = "0-0";
    do {
      const reply = (await o.redis.xautoclaim(
        o.stream,
        o.group,
        o.consumer,
        o.claimIdleMs,
        cursor,
        "COUNT",
        o.count,
      )) as [string, unknown, unknown?];
      cursor = reply[0];
      for (const entry of toEntries(reply[1])) {
        // An entry trimmed from the stream while pending comes back without fields: drop it.
        if (Object.keys(entry.fields).length === 0) {
          await o.redis.xack(o.stream, o.group, entry.id);
          continue;
        }
        await o.handle(entry);
      }
    } while (cursor !== "0-0" && !this.#closing);
  }
}
