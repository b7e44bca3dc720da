/**
 * Streams a training upload into Redis as it arrives: pieces of about a MiB pushed onto a list
 * with a TTL, so the trainer (possibly in another container) can read them back in order. The
 * API never holds more than one piece of an upload.
 */
import type { Redis } from "ioredis";
import { TRAINING_INPUT_CHUNK_BYTES, TRAINING_INPUT_TTL_SECONDS } from "@floodwatch/core";

/** The upload is larger than the configured limit. */
export class UploadTooLargeError extends Error {
  override readonly name = "UploadTooLargeError";
  constructor(readonly limitBytes: number) {
    super(`the training file is larger than the limit of ${limitBytes} bytes`);
  }
}

/** Writes one upload to the Redis list at `key`. */
export class TrainingInputWriter {
  #pending: Buffer[] = [];
  #pendingBytes = 0;
  #bytes = 0;
  #chunks = 0;

  constructor(
    private readonly redis: Redis,
    readonly key: string,
    private readonly maxBytes: number,
    private readonly ttlSeconds = TRAINING_INPUT_TTL_SECONDS,
  ) {}

  /** Bytes accepted so far. */
  get bytes(): number {
    return this.#bytes;
  }

  /** Pieces stored so far. */
  get chunks(): number {
    return this.#chunks;
  }

  /**
   * Adds bytes; stores a piece once a MiB is pending. Throws {@link UploadTooLargeError} as soon
   * as the total passes the limit (the caller then calls {@link discard}).
   */
  async write(chunk: Buffer): Promise<void> {
    if (chunk.length === 0) return;
    this.#bytes += chunk.length;
    if (this.#bytes > this.maxBytes) throw new UploadTooLargeError(this.maxBytes);
    this.#pending.push(chunk);
    this.#pendingBytes += chunk.length;
    if (this.#pendingBytes >= TRAINING_INPUT_CHUNK_BYTES) await this.#flush();
  }

  /** Stores what is pending. */
  async finish(): Promise<void> {
    await this.#flush();
  }

  /** Deletes everything stored (a refused or broken upload). Never throws. */
  async discard(): Promise<void> {
    this.#pending = [];
    this.#pendingBytes = 0;
    try {
      await this.redis.del(this.key);
    } catch {
      // the TTL reclaims it
    }
  }

  async #flush(): Promise<void> {
    if (this.#pendingBytes === 0) return;
    const piece =
      this.#pending.length === 1
        ? this.#pending[0]!
        : Buffer.concat(this.#pending, this.#pendingBytes);
    this.#pending = [];
    this.#pendingBytes = 0;
    // The TTL is renewed with every piece, so a slow upload never loses its head.
    const results = await this.redis
      .multi()
      .rpush(this.key, piece)
      .expire(this.key, this.ttlSeconds)
      .exec();
    const failed = results?.find(([error]) => error !== null)?.[0];
    if (failed) throw failed;
    this.#chunks++;
  }
}
