/**
 * The models a detector scores with: the active one, plus a few older versions that entries
 * shaped before an activation may still name. Each comes with its {@link WindowScorer}, whose
 * construction (thresholds mapped back to raw units) is too costly to repeat per entry.
 */
import {
  WindowScorer,
  modelFitsEntry,
  type FloodwatchModel,
  type FlowEntry,
  type RedisKeys,
} from "@floodwatch/core";
import { loadModel } from "@floodwatch/platform";
import type { Redis } from "ioredis";

/** A parsed model ready to score. */
export interface LoadedModel {
  readonly model: FloodwatchModel;
  readonly scorer: WindowScorer;
}

/**
 * Versions kept besides the active one. Entries name an older version only while an upload
 * shaped before an activation is still queued, so a handful covers every realistic overlap;
 * each model holds a forest of a few hundred KiB.
 */
const DEFAULT_CACHED_VERSIONS = 4;

/** Loads models from the registry and keeps the last few parsed. */
export class ModelStore {
  readonly #redis: Redis;
  readonly #keys: RedisKeys;
  readonly #capacity: number;
  /** Least recently used first. */
  readonly #cache = new Map<string, LoadedModel>();
  #active: LoadedModel | null = null;

  constructor(redis: Redis, keys: RedisKeys, capacity = DEFAULT_CACHED_VERSIONS) {
    this.#redis = redis;
    this.#keys = keys;
    this.#capacity = capacity;
  }

  /** The model that scores every entry it fits, or null before the first activation. */
  get active(): LoadedModel | null {
    return this.#active;
  }

  /**
   * One version, from the cache or the registry. Throws `UnknownModelError` when the registry
   * lacks it and `ModelFileError` when its file is unusable.
   */
  async load(version: string): Promise<LoadedModel> {
    if (this.#active?.model.version === version) return this.#active;
    const cached = this.#cache.get(version);
    if (cached) {
      this.#cache.delete(version);
      this.#cache.set(version, cached);
      return cached;
    }
    const model = await loadModel(this.#redis, this.#keys, version);
    const loaded: LoadedModel = { model, scorer: new WindowScorer(model) };
    this.#remember(loaded);
    return loaded;
  }

  /** Makes `version` the active model. */
  async activate(version: string): Promise<LoadedModel> {
    const loaded = await this.load(version);
    const previous = this.#active;
    this.#active = loaded;
    this.#cache.delete(version);
    if (previous && previous !== loaded) this.#remember(previous);
    return loaded;
  }

  /** The active model when it fits the entry, else the version the entry names. */
  async forEntry(entry: FlowEntry): Promise<LoadedModel> {
    const active = this.#active;
    if (active && modelFitsEntry(active.model, entry)) return active;
    return this.load(entry.meta.modelVersion);
  }

  #remember(loaded: LoadedModel): void {
    this.#cache.set(loaded.model.version, loaded);
    while (this.#cache.size > this.#capacity) {
      const oldest = this.#cache.keys().next().value!;
      this.#cache.delete(oldest);
    }
  }
}
