/**
 * The API's one reader of the incident events stream: a blocking `XREAD` from the stream's end
 * at start (clients get the current incidents over REST), on its own connection, handing each
 * event to a callback that fans it out to WebSocket clients.
 */
import { incidentEventSchema, type IncidentEvent } from "@floodwatch/core";
import type { Logger } from "@floodwatch/platform";
import type { Redis } from "ioredis";

/** What {@link IncidentRelay} needs. */
export interface IncidentRelayOptions {
  /** A connection for the relay alone; the relay closes it. */
  redis: Redis;
  stream: string;
  logger: Logger;
  onEvent: (event: IncidentEvent) => void;
  blockMs?: number;
}

const RETRY_MS = 500;

/** See the module comment. */
export class IncidentRelay {
  readonly #o: IncidentRelayOptions;
  #lastId = "$";
  #closing = false;
  #loop: Promise<void> | undefined;
  #stop: () => void = () => undefined;
  /** Resolves on `close()`: every wait in the loop races it. */
  readonly #stopped = new Promise<null>((resolve) => {
    this.#stop = () => resolve(null);
  });

  constructor(options: IncidentRelayOptions) {
    this.#o = options;
    options.redis.on("error", (error) =>
      options.logger.warn({ err: error }, "incident relay connection"),
    );
  }

  /** Starts relaying what is added from now on. */
  async start(): Promise<void> {
    // Pin the start to the newest id now, so nothing added between start and the first read is lost.
    const newest = (await this.#o.redis.xrevrange(this.#o.stream, "+", "-", "COUNT", 1)) as [
      string,
      string[],
    ][];
    this.#lastId = newest[0]?.[0] ?? "0-0";
    this.#loop = this.#run();
  }

  /** Stops and closes the relay's connection. Idempotent. */
  async close(): Promise<void> {
    if (!this.#closing) {
      this.#closing = true;
      this.#stop();
      // A connection that is reconnecting never settles its queued XREAD (ioredis), which is
      // why the loop races `stopped` instead of waiting for the reply.
      this.#o.redis.disconnect();
    }
    await this.#loop;
  }

  async #run(): Promise<void> {
    const { redis, stream, logger, onEvent } = this.#o;
    while (!this.#closing) {
      let reply: [string, [string, string[]][]][] | null;
      try {
        const read = redis.xread(
          "COUNT",
          100,
          "BLOCK",
          this.#o.blockMs ?? 5_000,
          "STREAMS",
          stream,
          this.#lastId,
        ) as Promise<[string, [string, string[]][]][] | null>;
        read.catch(() => undefined);
        reply = await Promise.race([read, this.#stopped]);
        if (this.#closing) return;
      } catch (error) {
        if (this.#closing) return;
        logger.warn({ err: error }, "reading incident events failed; retrying");
        await Promise.race([new Promise((r) => setTimeout(r, RETRY_MS)), this.#stopped]);
        continue;
      }
      for (const [, entries] of reply ?? []) {
        for (const [id, fields] of entries) {
          this.#lastId = id;
          const index = fields.indexOf("event");
          try {
            const parsed = incidentEventSchema.safeParse(JSON.parse(fields[index + 1] ?? ""));
            if (parsed.success) onEvent(parsed.data);
            else logger.warn({ entryId: id }, "incident event breaks the contract; skipped");
          } catch (error) {
            logger.warn({ err: error, entryId: id }, "relaying an incident event failed");
          }
        }
      }
    }
  }
}
