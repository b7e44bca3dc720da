/**
 * Reads a training upload back from Redis, piece by piece, in the order the API stored it. The
 * API and the trainer may run in different containers; Redis is the only medium they share.
 */
import type { Redis } from "ioredis";

/** The input is gone (expired or deleted) or not the one the job describes. */
export class TrainingInputError extends Error {
  override readonly name = "TrainingInputError";
}

/**
 * Yields the pieces of the list at `key`, one `LRANGE` each, so at most one piece (about 1 MiB)
 * is held at a time. Throws {@link TrainingInputError} when the list does not hold exactly
 * `expectedChunks` pieces: an expired input must fail the job, not train on nothing.
 */
export async function* readTrainingInput(
  redis: Redis,
  key: string,
  expectedChunks: number,
): AsyncGenerator<Buffer> {
  const stored = await redis.llen(key);
  if (stored !== expectedChunks) {
    throw new TrainingInputError(
      stored === 0
        ? `training input ${key} is gone (expired or already used); upload the file again`
        : `training input ${key} holds ${stored} pieces, the job expects ${expectedChunks}`,
    );
  }
  for (let index = 0; index < expectedChunks; index++) {
    const [piece] = await redis.lrangeBuffer(key, index, index);
    if (piece === undefined) {
      throw new TrainingInputError(`training input ${key} vanished while being read`);
    }
    yield piece;
  }
}
