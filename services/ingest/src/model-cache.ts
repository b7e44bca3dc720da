/**
 * The active model for new uploads. The registry's active version is read at the start of every
 * upload (one GET), so an activation takes effect with the next upload; the parsed model is kept
 * by version, since a model file is a few hundred kilobytes of JSON.
 */
import type { FloodwatchModel, RedisKeys } from "@floodwatch/core";
import { activeModelVersion, loadModel, UnknownModelError } from "@floodwatch/platform";
import type { Redis } from "ioredis";
import { withRedisDeadline } from "./redis-deadline.ts";
import { NoActiveModelError } from "./upload-errors.ts";

/** A handful of versions: the active one and whatever was rolled back from recently. */
const CACHED_VERSIONS = 4;

/** Loads the active model, parsing each version once. */
export class ActiveModelCache {
  readonly #models = new Map<string, FloodwatchModel>();

  constructor(
    private readonly redis: Redis,
    private readonly keys: RedisKeys,
    private readonly timeoutMs: number,
  ) {}

  /**
   * The active model. Throws {@link NoActiveModelError} when none is active, and
   * `RedisUnavailableError` when Redis does not answer in time.
   */
  async active(): Promise<FloodwatchModel> {
    const version = await withRedisDeadline(
      activeModelVersion(this.redis, this.keys),
      this.timeoutMs,
      "reading the active model version",
    );
    if (version === null) throw new NoActiveModelError();
    const cached = this.#models.get(version);
    if (cached !== undefined) return cached;
    let model: FloodwatchModel;
    try {
      model = await withRedisDeadline(
        loadModel(this.redis, this.keys, version),
        this.timeoutMs,
        `loading model ${version}`,
      );
    } catch (error) {
      if (error instanceof UnknownModelError) {
        throw new NoActiveModelError(`the active model ${version} is not in the registry`);
      }
      throw error;
    }
    if (this.#models.size >= CACHED_VERSIONS) {
      // Maps iterate in insertion order: the first key is the least recently added.
      this.#models.delete(this.#models.keys().next().value!);
    }
    this.#models.set(version, model);
    return model;
  }
}
